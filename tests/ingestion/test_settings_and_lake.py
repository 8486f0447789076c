import os
import stat

import pytest

from ingestion.config.settings import Endpoint, Settings, init_stack_env, resolve
from ingestion.errors import LakeError
from ingestion.lake.storage import open_lake


def test_stack_env_is_generated_once_private_and_env_wins(tmp_path):
    env = {"JLR_LOCAL_DIR": str(tmp_path)}
    path = init_stack_env(env)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = resolve(env)
    assert len(first["JLR_PG_PASSWORD"]) >= 20
    init_stack_env(env)
    assert resolve(env)["JLR_PG_PASSWORD"] == first["JLR_PG_PASSWORD"]  # not regenerated
    assert resolve({**env, "JLR_PG_PASSWORD": "from-env"})["JLR_PG_PASSWORD"] == "from-env"
    assert resolve(env)["JLR_LAKE_URI"] == f"file://{tmp_path}/lake"


def test_dbt_takes_the_local_stacks_socket_only_when_it_is_there(tmp_path):
    env = {"JLR_LOCAL_DIR": str(tmp_path), "JLR_PG_PORT": "5433"}
    assert resolve(env)["JLR_PG_SOCKET_DIR"] == ""  # stack down: TCP
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / ".s.PGSQL.5433").touch()
    assert resolve(env)["JLR_PG_SOCKET_DIR"] == str(tmp_path / "postgres")
    assert Settings.load(env).to_env()["JLR_PG_SOCKET_DIR"] == str(tmp_path / "postgres")
    assert resolve({**env, "JLR_PG_PORT": "6543"})["JLR_PG_SOCKET_DIR"] == ""  # another server
    assert resolve({**env, "JLR_PG_HOST": "db.example.internal"})["JLR_PG_SOCKET_DIR"] == ""
    assert resolve({**env, "JLR_PG_SOCKET_DIR": "/run/pg"})["JLR_PG_SOCKET_DIR"] == "/run/pg"


def test_repr_never_shows_a_password(tmp_path):
    settings = Settings.load(
        {
            "JLR_LOCAL_DIR": str(tmp_path),
            "JLR_PG_PASSWORD": "s3cr3t-value",
            "JLR_MYSQL_PASSWORD": "s3cr3t-value",
        }
    )
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in repr(Endpoint("h", 1, "u", "s3cr3t-value", "d"))


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
