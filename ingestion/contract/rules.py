"""The normalising rules: what the curate job does to a source value on its way to staging, in
one place. The curate job applies them with Spark (``glue_jobs/curation.py``), reconcile with
Python (``python_rule`` below) to predict what staging holds; which rules a column gets, and in
which order, is decided here for both, and a test runs both implementations on the same values.

Per column, in order:

* ``trim`` — spaces (U+0020 only, as Spark's ``trim``) cut from both ends of text, when the table
  sets ``trim_strings``;
* ``email`` — trimmed and lowercased, empty becomes NULL, for ``email_columns`` (instead of
  ``trim``);
* ``hash`` — the hex SHA-256 of the salt followed by the value, for ``pii_columns`` (after the
  text rules, so equal emails hash alike);

and, for the source's DATETIME columns when the source names its ``source_time_zone``, the
value read in that zone and stored as a UTC instant (``to_utc``). Full zero dates are NULL from
the extract on; a DATE/DATETIME with a zero year, month or day (``ZERO_IN_DATE``) is made NULL
by the curate job (or rejected, with ``zero_dates: reject``); both are counted in the manifests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass

TRIM, EMAIL, HASH = "trim", "email", "hash"
SPACE = " "  # what Spark's trim removes; tabs and other white space stay
# a zero year, month or day at the start of a DATE/DATETIME text (``2019-00-00``,
# ``0000-00-00 14:02:10``); one pattern for Spark's ``rlike`` and Python's ``re``
ZERO_IN_DATE = r"^(0000-[0-9]{2}-[0-9]{2}|[0-9]{4}-00-[0-9]{2}|[0-9]{4}-[0-9]{2}-00)"


@dataclass(frozen=True)
class TextRules:
    """What a table's configuration asks of its text columns."""

    trim_strings: bool = False
    email_columns: Collection[str] = ()
    pii_columns: Collection[str] = ()


def is_plain_text(types: dict[str, str]) -> bool:
    """Text the rules may change: not JSON, TIME, binary, or a decimal too wide for Spark (which
    all travel as strings but stay exactly as they came)."""
    return types["raw"] == "text" and types["spark"] == "string"


def column_rules(name: str, types: dict[str, str], rules: TextRules) -> tuple[str, ...]:
    """The rules applied to one column, in order."""
    steps: list[str] = []
    if is_plain_text(types):
        if name in rules.email_columns:
            steps.append(EMAIL)
        elif rules.trim_strings:
            steps.append(TRIM)
    if name in rules.pii_columns:
        steps.append(HASH)
    return tuple(steps)


def to_utc(types: dict[str, str], source_time_zone: str | None) -> bool:
    """Whether a column's values are moved from the source's zone to UTC: DATETIME (zone-less,
    Spark's ``timestamp_ntz``) when the source names its zone. TIMESTAMP is UTC already."""
    return bool(source_time_zone) and types["spark"] == "timestamp_ntz"


def _trim(text: str) -> str:
    return text.strip(SPACE)


def _email(text: str) -> str | None:
    return text.strip(SPACE).lower() or None


def python_rule(step: str, salt: str = "") -> Callable[[str], str | None]:
    """One rule on a value's text, in Python (reconcile's side of the contract)."""
    if step == TRIM:
        return _trim
    if step == EMAIL:
        return _email
    if step == HASH:
        return lambda text: hashlib.sha256((salt + text).encode("utf-8")).hexdigest()
    raise ValueError(f"unknown normalising rule {step!r}")


def apply_python(steps: tuple[str, ...], text: str | None, salt: str = "") -> str | None:
    for step in steps:
        if text is None:
            return None
        text = python_rule(step, salt)(text)
    return text
