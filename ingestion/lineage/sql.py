"""Column lineage inside one model: which columns of which relations each output column is made
from, and what the SQL does to them on the way, read from the model's compiled SQL by sqlglot's
lineage (the parser and optimizer that qualify every column and expand ``select *`` from the
warehouse's own column lists).

A hop's kinds, from the expressions between the output column and the input column:

* ``copied`` — the same column under the same name;
* ``renamed`` — the same value under another name;
* ``cast`` — the value converted to another type;
* ``aggregated`` — an aggregate function over rows (``sum``, ``count`` …);
* ``hashed`` — a hash function (``md5``, ``sha2`` …);
* ``looked up`` — the value comes from a joined relation, not the select's own rows;
* ``derived`` — any other expression (arithmetic, ``coalesce``, ``case`` …).

``count(*)`` reads no column: its input is the rows of the relation it counts, column ``*``.
An output column made of constants has no inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from ingestion.errors import PlatformError
from ingestion.lineage.contract import COPIED, RENAMED, ROWS

CAST, AGGREGATED = "cast", "aggregated"
HASHED, LOOKED_UP, DERIVED = "hashed", "looked up", "derived"
KIND_ORDER = (COPIED, RENAMED, CAST, AGGREGATED, HASHED, LOOKED_UP, DERIVED)
_HASHES = (exp.MD5, exp.MD5Digest, exp.SHA, exp.SHA2)
_HASH_NAMES = {"sha256", "sha512", "digest", "func_sha1", "fnv_hash", "crc32"}

Relation = tuple[str, str, str]  # (database, schema, identifier), lower case


@dataclass(frozen=True)
class Input:
    """One input of an output column: a relation's column, and what happened to it."""

    relation: Relation
    column: str
    kinds: tuple[str, ...]
    expressions: tuple[str, ...] = ()  # the non-trivial SQL on the way, outermost first


@dataclass
class ModelLineage:
    """Every output column of one model with its inputs (empty: made of constants)."""

    columns: dict[str, list[Input]] = field(default_factory=dict)
    rows: Relation | None = None  # where its rows come from (what a count(*) of it counts)


def relation_of(table: exp.Table) -> Relation:
    return (table.catalog.lower(), table.db.lower(), table.name.lower())


def model_lineage(sql: str, schema: dict, dialect: str) -> ModelLineage:
    """The lineage of every output column of one compiled model (or snapshot) query. ``schema``
    maps database -> schema -> relation -> {column: type} for every relation it reads."""
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
        roots = lineage(None, tree, schema=schema, dialect=dialect)
    except SqlglotError as exc:
        raise PlatformError(f"column lineage: the SQL could not be analysed: {exc}") from exc
    result = ModelLineage(rows=from_relation(tree, tree))
    for column, root in roots.items():
        found: dict[tuple[Relation, str], Input] = {}
        _walk(root, tree, dialect, frozenset(), (), found)
        result.columns[column] = list(found.values())
    return result


def _walk(
    node: Node,
    tree: exp.Expr,
    dialect: str,
    kinds: frozenset[str],
    expressions: tuple[str, ...],
    found: dict[tuple[Relation, str], Input],
) -> None:
    if isinstance(node.expression, exp.Table):
        column = node.name.rsplit(".", 1)[-1]
        _add(found, Input(relation_of(node.expression), column, _ordered(kinds), expressions))
        return
    step, text = _expression_kinds(node.expression, dialect)
    kinds, expressions = kinds | step, expressions + ((text,) if text else ())
    if not node.downstream:
        counted = _counted_relation(node, tree)
        if counted is not None:
            _add(found, Input(counted, ROWS, _ordered(kinds), expressions))
        return
    joined = _joined_aliases(node.source)
    for child in node.downstream:
        alias = child.name.split(".", 1)[0] if "." in child.name else ""
        extra = {LOOKED_UP} if alias and alias in joined else set()
        _walk(child, tree, dialect, kinds | extra, expressions, found)


def _add(found: dict[tuple[Relation, str], Input], item: Input) -> None:
    """One input reached along two paths (e.g. both branches of a union) keeps every kind."""
    key = (item.relation, item.column)
    if key in found:
        earlier = found[key]
        item = Input(
            item.relation,
            item.column,
            _ordered(frozenset(earlier.kinds) | frozenset(item.kinds)),
            earlier.expressions
            + tuple(e for e in item.expressions if e not in earlier.expressions),
        )
    found[key] = item


def _ordered(kinds: frozenset[str]) -> tuple[str, ...]:
    """The kinds in a fixed order; ``copied`` only when nothing else happened."""
    named = [k for k in KIND_ORDER if k in kinds and k != COPIED]
    return tuple(named) or (COPIED,)


def _expression_kinds(expression: exp.Expr, dialect: str) -> tuple[set[str], str]:
    """What one projection does to its inputs, and its SQL when it is more than a column."""
    if not isinstance(expression, exp.Alias):
        return set(), ""
    name, inner = expression.alias, expression.this
    kinds: set[str] = set()
    if inner.find(exp.AggFunc):
        kinds.add(AGGREGATED)
    if inner.find(*_HASHES) or any(
        f.name.lower() in _HASH_NAMES for f in inner.find_all(exp.Anonymous)
    ):
        kinds.add(HASHED)
    bare = inner
    while isinstance(bare, exp.Cast):
        kinds.add(CAST)
        bare = bare.this
    if isinstance(bare, exp.Column):
        kinds.add(RENAMED if bare.name != name else COPIED)
        return kinds, (inner.sql(dialect=dialect) if CAST in kinds else "")
    if not kinds or kinds == {CAST}:
        kinds.add(DERIVED)
    return kinds, inner.sql(dialect=dialect)


def _joined_aliases(source: exp.Expr | None) -> set[str]:
    """The aliases a select reads through its joins (not its FROM)."""
    if not isinstance(source, exp.Select):
        return set()
    return {join.this.alias_or_name for join in source.args.get("joins") or []}


def _counted_relation(node: Node, tree: exp.Expr) -> Relation | None:
    """The relation whose rows a ``count(*)`` counts: the select's FROM, through its CTEs."""
    if not isinstance(node.expression, exp.Alias) or not any(
        isinstance(c.this, exp.Star) for c in node.expression.find_all(exp.Count)
    ):
        return None
    return from_relation(node.source, tree)


def from_relation(select: exp.Expr | None, tree: exp.Expr) -> Relation | None:
    """The relation a select's rows come from: its FROM (a union's first branch), followed
    through the query's CTEs to a table; none for a select of no table (constants, a generated
    series)."""
    ctes = {cte.alias: cte.this for cte in tree.find_all(exp.CTE)}
    for _ in range(len(ctes) + 1):
        while isinstance(select, exp.Union):
            select = select.left
        source = select.args.get("from_") if isinstance(select, exp.Select) else None
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table):
            return None
        if table.db or table.name not in ctes:
            return relation_of(table)
        select = ctes[table.name]
    return None
