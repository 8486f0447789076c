"""The binlog reader's helpers that need no server: keys kept between steps, the run summary."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ingestion.errors import SourceError
from ingestion.source.binlog import (
    Position,
    capture_summary,
    from_param,
    param_value,
    raw_value,
)


@pytest.mark.parametrize(
    ("decoded", "kept", "bound", "raw"),
    [
        (7, 7, 7, 7),
        ("ABC-1", "ABC-1", "ABC-1", "ABC-1"),
        (Decimal("12.50"), "12.50", "12.50", "12.50"),
        (datetime(2024, 1, 2, 3, 4, 5, 6), "2024-01-02 03:04:05.000006", None, None),
        (date(2024, 1, 2), "2024-01-02", None, None),
        (timedelta(hours=-838, minutes=-59), "-838:59:00", None, None),
        (b"\x00\xff", {"b64": "AP8="}, b"\x00\xff", "AP8="),
    ],
)
def test_a_key_is_kept_bound_and_written_as_the_raw_zone_does(decoded, kept, bound, raw):
    assert param_value(decoded) == kept
    assert from_param(kept) == (kept if bound is None else bound)
    assert raw_value(kept) == (kept if raw is None else raw)


def test_an_unkeepable_key_is_a_clear_error():
    with pytest.raises(SourceError, match="primary key value of type set"):
        param_value({"a"})


def test_the_summary_of_a_run_says_where_it_got_and_how_late():
    window = {"low": {"file": "b.000001", "pos": 4}, "high": {"file": "b.000002", "pos": 99}}
    ten_minutes_ago = int(datetime.now(UTC).timestamp()) - 600
    changes = {"upserts": [[1], [2]], "deletes": [[3]], "events": {"c": 1, "u": 2, "d": 1},
               "last_event_at": ten_minutes_ago}  # fmt: skip
    summary = capture_summary(window, changes)
    assert summary["position"] == window["high"] and summary["keys_deleted"] == 1
    assert 599 <= summary["lag_seconds"] < 660
    quiet = capture_summary(window, {**changes, "last_event_at": None})
    assert quiet["lag_seconds"] == 0.0 and quiet["last_event_at"] is None
    assert Position("b.000002", 4).key() > Position("b.000001", 900).key()
