"""Glue-style job arguments (``--NAME value``), read the same way in Glue and locally.

In Glue, ``awsglue.utils.getResolvedOptions`` is used; elsewhere an equivalent parser that, like
it, takes the names of required options, accepts ``--NAME value`` and ``--NAME=value``, and
ignores the other arguments Glue passes (``--job-bookmark-option`` ...). Optional arguments take
the defaults given. Arguments named ``--JLR_*`` are exported as environment variables (Glue
jobs have none of their own).
"""

from __future__ import annotations

import os
import re
import sys
import traceback

from ingestion.errors import ConfigError, PlatformError

try:  # pragma: no cover - only inside AWS Glue
    from awsglue.utils import getResolvedOptions as _glue_resolve
except ImportError:  # local: the same contract, our parser
    _glue_resolve = None


def _parse(argv: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                    value = argv[i + 1]
                    i += 1
                else:
                    value = ""
            values[name] = value
        i += 1
    return values


def resolve_args(
    argv: list[str] | None, required: list[str], optional: dict[str, str] | None = None
) -> dict[str, str]:
    argv = sys.argv if argv is None else argv
    given = _parse(argv[1:])
    # Glue jobs have no environment variables of their own: --JLR_* arguments become them
    # (e.g. --JLR_REDSHIFT_WORKGROUP), so the settings code reads the same names everywhere.
    settings = [n for n in given if n.startswith("JLR_")]
    names = list(required) + [n for n in (optional or {}) if n in given] + settings
    if _glue_resolve is not None:
        resolved = _glue_resolve(argv, names)
    else:
        missing = [n for n in required if n not in given]
        if missing:
            raise ConfigError("missing job arguments: " + ", ".join(f"--{n}" for n in missing))
        resolved = {n: given[n] for n in names}
    for name in settings:
        os.environ[name] = resolved.pop(name)
    return {**(optional or {}), **resolved}


JAVA_CAUSE = re.compile(r"(java\.[\w.$]+(?:Exception|Error): [^\n]*)")


def failure_summary(job: str, exc: BaseException) -> str:
    """One line for a job's failure, also written to its log. Ours (PlatformError) are already
    one line; for anything else (a disk, Spark, a driver) the traceback goes to the log and the
    line names the operating system's error and file, or the Java exception under Spark's."""
    if isinstance(exc, PlatformError):
        message = str(exc)
    else:
        traceback.print_exc(file=sys.stderr)
        causes = JAVA_CAUSE.findall(str(exc))
        lines = str(exc).strip().splitlines()
        if isinstance(exc, OSError):
            message = f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".rstrip(": ")
        elif causes:
            message = causes[0]
        else:
            message = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    print(f"{job}: {message}", file=sys.stderr)
    return message
