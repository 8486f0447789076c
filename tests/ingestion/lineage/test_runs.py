"""OpenLineage run events: valid against the spec's JSON Schemas, START then COMPLETE or FAIL,
datasets named by OpenLineage's naming rules, and a transport that fails never stops a run."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ingestion.config.settings import Settings
from ingestion.errors import ConfigError
from ingestion.lineage.runs import (
    DatasetRef,
    InputColumn,
    LineageEmitter,
    lake_dataset,
    transport_config,
    warehouse_dataset,
)
from tests.openlineage_spec import event_errors, read_events


@pytest.fixture
def settings(tmp_path) -> Settings:
    secrets = {"JLR_MYSQL_PASSWORD": "x", "JLR_PG_PASSWORD": "x", "JLR_PII_SALT": "s"}
    base = Settings.load({"JLR_LOCAL_DIR": str(tmp_path), **secrets})
    return replace(base, options={**base.options, "JLR_LINEAGE_DIR": str(tmp_path / "lineage")})


def test_a_run_that_completes_and_one_that_fails(settings, tmp_path):
    emitter = LineageEmitter.from_settings(settings)
    parent = emitter.start("shop.ingest", [])
    emitter.parent = (parent.job, parent.run_id)
    source = DatasetRef("mysql://db:3306", "shop.people", [("email", "varchar(190)")])
    with emitter.run("shop.people.curate", [source]) as run:
        out = lake_dataset("file:///lake", "curated/shop/people")
        out.fields = [("email", "string")]
        out.columns = {"email": [InputColumn(source.namespace, source.name, "email", ("hashed",))]}
        out.rows = 3
        run.outputs = [out]
    with pytest.raises(ValueError, match="bad value"), emitter.run("shop.orders.curate", [source]):
        raise ValueError("bad value")
    emitter.complete(parent)

    events = read_events(Path(settings.lineage_dir))
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("shop.ingest", "START"),
        ("shop.people.curate", "START"),
        ("shop.people.curate", "COMPLETE"),
        ("shop.orders.curate", "START"),
        ("shop.orders.curate", "FAIL"),
        ("shop.ingest", "COMPLETE"),
    ]
    assert [p for e in events for p in event_errors(e)] == []
    done = events[2]
    assert done["run"]["facets"]["parent"]["run"]["runId"] == parent.run_id
    (output,) = done["outputs"]
    assert (output["namespace"], output["name"]) == ("file", "/lake/curated/shop/people")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3
    (field,) = output["facets"]["columnLineage"]["fields"]["email"]["inputFields"]
    assert field["transformations"][0]["masking"] is True
    assert events[4]["run"]["facets"]["errorMessage"]["message"] == "bad value"


def test_the_validator_refuses_an_event_that_breaks_the_spec(settings):
    emitter = LineageEmitter.from_settings(settings)
    emitter.complete(emitter.start("job", []))
    (event, _) = read_events(Path(settings.lineage_dir))
    event["eventType"] = "DONE"
    event["run"]["facets"]["mine"] = {"_producer": "x", "_schemaURL": "https://example/x.json"}
    problems = event_errors(event)
    assert any("eventType" in p for p in problems)
    assert any("no spec schema" in p for p in problems)


def test_dataset_names_chain_between_the_load_and_dbt(settings):
    staging = warehouse_dataset(settings, "postgres", "wh", "shop_staging", "people")
    assert (staging.namespace, staging.name) == (
        f"postgres://{settings.postgres.host}:{settings.postgres.port}",
        "wh.shop_staging.people",
    )
    host = "jlr.123456789012.eu-west-2.redshift-serverless.amazonaws.com"
    redshift = replace(settings, redshift={"JLR_REDSHIFT_HOST": host})
    named = warehouse_dataset(redshift, "redshift", "dev", "s", "t")
    assert (named.namespace, named.name) == ("redshift://jlr.eu-west-2:5439", "dev.s.t")
    s3 = lake_dataset("s3://bucket/jlr", "raw/shop/people")
    assert (s3.namespace, s3.name) == ("s3://bucket", "jlr/raw/shop/people")


def test_the_transport_is_chosen_by_one_setting(settings):
    assert transport_config(settings)["type"] == "file"
    off = replace(settings, openlineage_transport="none")
    assert transport_config(off) is None and not LineageEmitter.from_settings(off).enabled
    config = {"type": "http", "url": "https://x", "auth": {"type": "api_key", "apiKey": "k3y"}}
    http = replace(settings, openlineage_transport=json.dumps(config))
    assert transport_config(http)["url"] == "https://x"
    assert "k3y" not in repr(http)  # the transport may hold a key
    with pytest.raises(ConfigError, match="JLR_OPENLINEAGE_TRANSPORT"):
        transport_config(replace(settings, openlineage_transport="{not json"))


def test_a_failing_transport_never_stops_the_run(tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the transport wants a directory
    emitter = LineageEmitter(
        {"type": "file", "log_file_path": str(blocked / "x.jsonl"), "append": True}
    )
    with emitter.run("job", []) as run:
        run.outputs = []
    emitter.complete(emitter.start("again", []))
    err = capsys.readouterr().err
    assert err.count("lineage: an OpenLineage event could not be sent") == 1
