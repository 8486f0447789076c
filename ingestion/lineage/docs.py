"""``target/column_lineage.json`` and the docs site's view of it.

Written after ``dbt docs generate`` (``make docs``, ``make demo``): the lineage of every mart
column is computed from the manifest's compiled SQL, the catalog's column lists and the curate
contract, written as JSON, and added to each mart column's description in ``manifest.json`` (the
served site reads it) and in ``static_index.html`` (rebuilt from dbt's own page template the way
``dbt docs generate --static`` builds it), so an analyst reading a column sees where it comes
from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import PlatformError
from ingestion.lineage.columns import LineageGraph
from ingestion.lineage.contract import SourceLookup

LINEAGE_FILE = "column_lineage.json"
MARKER = "\n\n**Lineage**"  # where the added text starts (a second run replaces it)
ORIGIN_NAMES = {"mysql": "MySQL", "seed": "dbt seed", "pipeline": "pipeline"}


@dataclass(frozen=True)
class LineageSummary:
    marts: int
    columns: int
    mysql_columns: int  # distinct MySQL columns the marts are made from
    path: Path


def read_artifacts(target: Path) -> tuple[dict, dict]:
    """The manifest (with compiled SQL) and catalog of a ``dbt docs generate`` in ``target``."""
    try:
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlatformError(
            f"column lineage needs {exc.filename}: run `dbt docs generate` first (make docs)"
        ) from None
    return manifest, catalog


def write_lineage(target: Path, lookup: SourceLookup) -> LineageSummary:
    manifest, catalog = read_artifacts(target)
    lineage = LineageGraph(manifest, catalog, lookup).marts()
    path = target / LINEAGE_FILE
    path.write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")
    for key, columns in lineage.items():
        documented = manifest["nodes"][key]["columns"]
        for column, origins in columns.items():
            entry = documented.setdefault(column, {"name": column, "description": ""})
            text = entry.get("description", "").split(MARKER)[0]
            entry["description"] = text + MARKER + "\n\n" + describe(origins)
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _rebuild_static_site(target)
    mysql = {
        (o["source"], o["column"])
        for columns in lineage.values()
        for origins in columns.values()
        for o in origins
        if o["origin"] == "mysql"
    }
    return LineageSummary(
        marts=len(lineage),
        columns=sum(len(c) for c in lineage.values()),
        mysql_columns=len(mysql),
        path=path,
    )


def describe(origins: list[dict]) -> str:
    """One markdown line per origin: where it starts, then each hop up to this column with what
    the hop did (``transforms[i]`` makes ``path[i]`` from ``path[i + 1]``)."""
    lines = []
    for origin in origins:
        if origin["origin"] == "computed":
            lines.append(f"- computed in this model: {origin['note']}")
            continue
        steps = [f"`{_label(origin['path'][-1])}` ({ORIGIN_NAMES[origin['origin']]})"]
        for i in reversed(range(len(origin["transforms"]))):
            steps.append(
                f"`{_label(origin['path'][i])}` ({', '.join(origin['transforms'][i]['kinds'])})"
            )
        lines.append("- " + " → ".join(steps))
    return "\n".join(lines)


def _label(step: str) -> str:
    """A path step as an analyst reads it: a model's or snapshot's name and column, ``staging``
    before a dbt source's table, the MySQL or pipeline table as it is."""
    kind, _, rest = step.partition(".")
    if kind in ("model", "snapshot", "seed"):
        return rest.split(".", 1)[1]
    if kind == "source":
        return "staging " + rest.split(".", 1)[1]
    return rest


def _rebuild_static_site(target: Path) -> None:
    """static_index.html again, with the updated manifest (only when dbt wrote one)."""
    static = target / "static_index.html"
    if not static.exists():
        return
    from dbt.task.docs import DOCS_INDEX_FILE_PATH

    page = Path(DOCS_INDEX_FILE_PATH).read_text(encoding="utf-8")
    page = page.replace(
        '"MANIFEST.JSON INLINE DATA"', (target / "manifest.json").read_text(encoding="utf-8")
    )
    page = page.replace(
        '"CATALOG.JSON INLINE DATA"', (target / "catalog.json").read_text(encoding="utf-8")
    )
    static.write_text(page, encoding="utf-8")
