"""Logging: structured JSON lines (Lambda, Glue, LOG_FORMAT=json) or plain lines for people.

Secrets are kept out twice: code never logs them, and every record also passes a filter that
masks any value registered with ``register_secret`` (passwords once they are resolved).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from ingestion.config.settings import Runtime

_SECRETS: set[str] = set()
MASK = "***"


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if isinstance(value, str) and key not in ("msg", "name", "levelname"):
                setattr(record, key, redact(value))
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (not the one at set-up, which may be gone)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become top-level keys."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._standard})
        if record.exc_info:
            payload["error"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


def configure(json_lines: bool | None = None, level: int = logging.INFO) -> None:
    """Set up the root logger once; JSON when asked, in Lambda, or with LOG_FORMAT=json."""
    if json_lines is None:
        runtime = Runtime.load()
        json_lines = runtime.log_format == "json" or runtime.on_aws
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_jlr", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._jlr = True  # type: ignore[attr-defined]
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(message)s"))
    root.setLevel(max(level, logging.WARNING))  # libraries: warnings and errors only
    logging.getLogger("jlr").setLevel(level)  # the project's own loggers


METRICS_NAMESPACE = "JLR/DataPlatform"
_UNITS = {"seconds": "Seconds", "capture_lag_seconds": "Seconds"}


def metrics_record(stage: str, table: str, **values: float) -> dict:
    """A CloudWatch embedded-metric-format record: metrics by stage and table, plus the same
    values as plain fields for Logs Insights. CloudWatch turns these log lines into metrics."""
    return {
        "_aws": {
            "Timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Stage", "Table"], ["Stage"]],
                    "Metrics": [
                        {"Name": name, "Unit": _UNITS.get(name, "Count")} for name in values
                    ],
                }
            ],
        },
        "Stage": stage,
        "Table": table,
        **{name: float(value) for name, value in values.items()},
    }


def emit_metrics(stage: str, table: str, **values: float) -> None:
    """Print one EMF record on stdout, where Lambda and Glue ship log lines from; locally only
    when JLR_METRICS=emf (the terminal shows a summary instead)."""
    runtime = Runtime.load()
    if runtime.on_aws or runtime.metrics == "emf":
        print(json.dumps(metrics_record(stage, table, **values)), flush=True)
