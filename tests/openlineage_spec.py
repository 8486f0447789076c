"""Validation of OpenLineage run events against the spec's JSON Schemas (tests/fixtures).

An event is checked against ``OpenLineage.json``'s RunEvent, and each facet in it against the
schema its ``_schemaURL`` names; a facet whose schema is not among the fixtures is an error, so a
new facet cannot slip through unchecked.
"""

import json
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SPEC = Path(__file__).parent / "fixtures" / "openlineage"
_SCHEMAS = {s["$id"]: s for s in (json.loads(p.read_text()) for p in SPEC.glob("*.json"))}
_REGISTRY = Registry().with_resources(
    (uri, Resource.from_contents(schema)) for uri, schema in _SCHEMAS.items()
)
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _errors(instance: dict, ref: str) -> list[str]:
    validator = Draft202012Validator({"$ref": ref}, registry=_REGISTRY)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def _facets(event: dict):
    yield "run", event["run"].get("facets", {})
    yield "job", event["job"].get("facets", {})
    for side in ("inputs", "outputs"):
        for dataset in event.get(side, []):
            for key in ("facets", "inputFacets", "outputFacets"):
                yield f"{side} {dataset['name']} {key}", dataset.get(key, {})


def event_errors(event: dict) -> list[str]:
    """Every way an event breaks the spec (empty: it is valid)."""
    problems = _errors(event, RUN_EVENT)
    for where, facets in _facets(event):
        for name, facet in facets.items():
            url = facet.get("_schemaURL", "")
            if url.split("#")[0] not in _SCHEMAS:
                problems.append(f"{where} facet {name}: no spec schema for {url!r}")
                continue
            problems += [f"{where} facet {name}: {p}" for p in _errors(facet, url)]
    return problems


def read_events(directory: Path) -> list[dict]:
    """The events the file transport wrote under ``directory``, in time order."""
    events = [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return sorted(events, key=lambda e: e["eventTime"])
