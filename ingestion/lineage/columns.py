"""Column lineage from every mart column back to the MySQL columns it is made from.

Two halves meet at the dbt sources:

* inside the warehouse, each model's compiled SQL says which columns of which relations each of
  its columns reads (``ingestion.lineage.sql``); following those hops from a mart column through
  intermediate, snapshot and staging models ends at a source, a seed, or a constant;
* from a source back to MySQL, the curate contract says what the pipeline did: the column's
  MySQL name (the warehouse-name rule), and the normalising rules it got (trimmed, lowercased,
  hashed, moved to UTC, zero dates made NULL), read from the table's configuration and its
  newest raw manifest (the MySQL types the extract recorded).

The result (``target/column_lineage.json``) maps each mart node id to its columns, each to its
origins: ``{"origin": "mysql", "source": "<db>.<table>", "column": "<mysql column>", "path":
["<node>.<column>", …], "transforms": [{"at": …, "kinds": […]}, …]}``; ``origin`` is ``mysql``,
``seed`` (a dbt seed), ``pipeline`` (a column the pipeline adds, or its own audit tables) or
``computed`` (constants, generated calendars, snapshot validity: no input column).
"""

from __future__ import annotations

from ingestion.lineage.contract import CURATE, SourceLookup
from ingestion.lineage.sql import COPIED, ROWS, Input, ModelLineage, model_lineage

MART_FOLDER = "marts"
ORIGIN_ORDER = ("mysql", "seed", "pipeline", "computed")


def schema_of(catalog: dict) -> dict:
    """The warehouse's columns of every relation dbt knows, as sqlglot's schema mapping."""
    schema: dict = {}
    for node in [*catalog.get("nodes", {}).values(), *catalog.get("sources", {}).values()]:
        meta = node["metadata"]
        tables = schema.setdefault(meta["database"], {}).setdefault(meta["schema"], {})
        tables[meta["name"]] = {name: col["type"] for name, col in node["columns"].items()}
    return schema


def mart_nodes(manifest: dict) -> list[str]:
    """The mart models: every model under models/marts/."""
    return sorted(
        key
        for key, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1:2] == [MART_FOLDER]
    )


class LineageGraph:
    """The hops of a dbt project's nodes, followed back to their origins (memoised per node and
    column: marts share most of their upstream)."""

    def __init__(self, manifest: dict, catalog: dict, source_column: SourceLookup):
        self.manifest = manifest
        self.schema = schema_of(catalog)
        self.dialect = (
            "redshift" if manifest["metadata"].get("adapter_type") == "redshift" else "postgres"
        )
        self.source_column = source_column
        self.nodes = {**manifest["nodes"], **manifest["sources"]}
        self.by_relation = {
            (
                n["database"].lower(),
                n["schema"].lower(),
                (n.get("alias") or n.get("identifier") or n["name"]).lower(),
            ): key
            for key, n in self.nodes.items()
            if n["resource_type"] in ("model", "seed", "snapshot", "source")
        }
        self._models: dict[str, ModelLineage] = {}
        self._traced: dict[tuple[str, str], list[dict]] = {}

    def model(self, key: str) -> ModelLineage:
        if key not in self._models:
            self._models[key] = model_lineage(
                self.nodes[key]["compiled_code"], self.schema, self.dialect
            )
        return self._models[key]

    def inputs(self, key: str) -> dict[str, list[Input]]:
        """One node's direct inputs per column (what an OpenLineage column facet carries)."""
        return self.model(key).columns

    def node_of(self, relation: tuple[str, str, str]) -> str | None:
        return self.by_relation.get(relation)

    def trace(self, key: str, column: str) -> list[dict]:
        """Every origin of one column of one node, each with its path and hops."""
        memo = (key, column)
        if memo not in self._traced:
            self._traced[memo] = self._trace(key, column)
        return self._traced[memo]

    def _trace(self, key: str, column: str) -> list[dict]:
        node = self.nodes[key]
        here = f"{key}.{column}"
        kind = node["resource_type"]
        if kind == "source":
            found = self.source_column(node, column)
            mysql = f"{found.origin}.{found.source}.{found.column}"
            hop = {"at": CURATE, "from": mysql, "kinds": list(found.kinds)}
            if found.mysql_type:
                hop["mysql_type"] = found.mysql_type
            return [_origin(found.origin, found.source, found.column, [here, mysql], [hop])]
        if kind == "seed":
            return [_origin("seed", f"seed.{node['name']}", column, [here], [])]
        if not node.get("compiled_code"):
            return [_computed(here, "not compiled in this run")]
        columns = self.inputs(key)
        if column == ROWS:
            rows = self.model(key).rows
            columns = {ROWS: [Input(rows, ROWS, (COPIED,))] if rows else []}
        if column not in columns:  # added by dbt itself (a snapshot's validity columns)
            return [
                _computed(
                    here, "written by dbt's snapshot" if kind == "snapshot" else "written by dbt"
                )
            ]
        if not columns[column]:
            return [_computed(here, "no input column (constants, the clock, a generated series)")]
        origins = []
        for item in columns[column]:
            parent = self.node_of(item.relation)
            if parent == key:  # an incremental model reading its own rows: not an origin
                continue
            hop = {
                "at": key,
                "from": f"{parent or '.'.join(item.relation)}.{item.column}",
                "kinds": list(item.kinds),
            }
            if item.expressions:
                hop["sql"] = list(item.expressions)
            if parent is None:  # a table dbt does not manage (e.g. its own run log)
                table = ".".join(item.relation[1:])
                origins.append(
                    _origin(
                        "pipeline",
                        table,
                        item.column,
                        [here, f"pipeline.{table}.{item.column}"],
                        [hop],
                    )
                )
                continue
            for upstream in self.trace(parent, item.column):
                origins.append(
                    {
                        **upstream,
                        "path": [here, *upstream["path"]],
                        "transforms": [hop, *upstream["transforms"]],
                    }
                )
        return origins

    def traced(self, key: str, column: str) -> list[dict]:
        """A column's origins, MySQL first, then seeds, the pipeline's, computed."""
        return sorted(self.trace(key, column), key=lambda o: ORIGIN_ORDER.index(o["origin"]))

    def marts(self) -> dict[str, dict[str, list[dict]]]:
        """``{mart node id: {column: [origin, …]}}`` for every column of every mart."""
        return {
            key: {column: self.traced(key, column) for column in self.inputs(key)}
            for key in mart_nodes(self.manifest)
        }


def _computed(here: str, note: str) -> dict:
    return {**_origin("computed", None, None, [here], []), "note": note}


def _origin(
    origin: str, source: str | None, column: str | None, path: list[str], transforms: list[dict]
) -> dict:
    return {
        "origin": origin,
        "source": source,
        "column": column,
        "path": path,
        "transforms": transforms,
    }
