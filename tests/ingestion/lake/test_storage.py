import pytest

from ingestion.errors import LakeError
from ingestion.lake.storage import open_lake


def test_lake_writes_atomically_and_lists_committed_files(tmp_path):
    lake = open_lake(f"file://{tmp_path}")
    lake.put_json("raw/src/t/run=1/_manifest.json", {"rows": 1})
    (tmp_path / "raw/src/t/run=1/.tmp-part").write_text("half written")
    assert lake.list("raw/src/t/", "_manifest.json") == ["raw/src/t/run=1/_manifest.json"]
    assert lake.list("raw/") == ["raw/src/t/run=1/_manifest.json"]
    assert lake.get_json("raw/src/t/run=1/_manifest.json") == {"rows": 1}


def test_lake_urls_keep_partition_names_readable_for_spark(tmp_path):
    lake = open_lake(f"file://{tmp_path}")
    url = lake.url("curated/s/t/batch=1/part-0.parquet")
    assert url == f"file://{tmp_path}/curated/s/t/batch=1/part-0.parquet"  # no %3D
    assert lake.key_of(url) == "curated/s/t/batch=1/part-0.parquet"
    assert lake.key_of(f"file:{tmp_path}/a/b") == "a/b"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b"])
def test_lake_rejects_keys_that_escape_it(tmp_path, key):
    with pytest.raises(LakeError, match="invalid lake key"):
        open_lake(f"file://{tmp_path}").put_bytes(key, b"x")


def test_unsupported_lake_uri():
    with pytest.raises(LakeError, match="unsupported lake URI"):
        open_lake("ftp://example/lake")
