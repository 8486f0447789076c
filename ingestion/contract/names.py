"""The warehouse-name rule: how a MySQL table or column name is spelled from the lake on.

MySQL accepts almost any text as a quoted name (spaces, hyphens, quotes, backticks, ``/``, ``%``,
any Unicode, mixed case: ``Order Lines``, ``ship-to``, ``Größe``). The source side always uses
the name as it is, quoted. Everything downstream (lake keys, the catalog, curated Parquet columns,
staging tables and columns, dbt) uses one normalised spelling, ``warehouse_name``:

1. accents are dropped (Unicode NFKD, combining marks removed: ``é`` -> ``e``) and the text is
   case-folded (``Größe`` -> ``grosse``, ``OrderID`` -> ``orderid``);
2. every character other than ``a-z``, ``0-9`` and ``_`` becomes ``_`` (``ship-to`` ->
   ``ship_to``, ``Order Lines`` -> ``order_lines``, ``订单`` -> ``__``);
3. the result is cut to 63 bytes, PostgreSQL's limit (Redshift's is 127): the same name in either
   warehouse.

The result is a name Redshift, PostgreSQL, Glue, Athena and Spark all take as it is, lower case as
Redshift and Glue fold names anyway. A name that is already of that shape is unchanged (the rule
is idempotent). Two source names with the same warehouse name, or a column named like a column
the pipeline adds, is an error naming both (``collisions``): never a silent merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_BYTES = 63
_OTHER = re.compile(r"[^a-z0-9_]")
# columns the pipeline adds to every curated batch and staging table, or uses while curating
RESERVED_COLUMNS = frozenset(
    {
        "_batch_id",
        "_extracted_at",
        "_source_file",
        "_is_deleted",
        "_corrupt_record",
        "_raw",
        "_errors",
        "_reject_reason",
        "_rank",
    }
)


def warehouse_name(name: str) -> str:
    """The one spelling of a MySQL name in the lake, the catalog and the warehouse."""
    decomposed = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _OTHER.sub("_", folded)[:MAX_BYTES] or "_"


def collisions(names: Iterable[str], reserved: Iterable[str] = ()) -> list[str]:
    """One message per warehouse name that two source names (or a source name and a name the
    pipeline reserves) would share, e.g. ``'Order' and 'order' are both "order"``."""
    taken: dict[str, str] = {}
    problems = []
    for name in names:
        wname = warehouse_name(name)
        if wname in reserved:
            problems.append(f"{name!r} would be {wname!r}, a column the pipeline adds")
        elif wname in taken:
            problems.append(f"{taken[wname]!r} and {name!r} are both {wname!r} in the warehouse")
        else:
            taken[wname] = name
    return problems
