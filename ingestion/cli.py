"""Command line: ``python -m ingestion <command>`` (the Makefile's targets call these).

Project errors become one clear line on stderr and exit code 1; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ingestion.config.credentials import source_endpoint
from ingestion.config.settings import REPO_ROOT, Runtime, Settings
from ingestion.config.source import load_source, table_list
from ingestion.errors import ConfigError, PlatformError, TableError
from ingestion.events import BatchCurated, BatchLoaded, Event
from ingestion.lake.layout import table_rejects_prefix
from ingestion.lake.storage import open_lake
from ingestion.pipeline import Ingest, Reporter, TableRun, reset_source

DEFAULT_SOURCE = REPO_ROOT / "ingestion" / "sources" / "jlr_ops.yml"
# Off a terminal (CI, logs) rich would wrap at 80 columns and cut the summary table.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


# ------------------------------------------------------------------ seed / changes
def cmd_seed(args: argparse.Namespace) -> int:
    from ingestion.demo.generator import seed_database

    settings = Settings.load()
    config = load_source(DEFAULT_SOURCE)
    database = args.database or settings.source_database(config.database)
    summary = Table(title=f"demo source {database} (SCALE={args.scale}, SEED={args.seed})")
    for name in ("table", "rows", "seconds"):
        summary.add_column(name, justify="left" if name == "table" else "right")
    started = time.perf_counter()
    with console.status(f"generating {database} ...") as status:

        def on_table(table: str, rows: int, seconds: float) -> None:
            status.update(f"generated {table} ({rows:,} rows)")
            summary.add_row(table, f"{rows:,}", f"{seconds:.1f}")

        seed_database(settings.mysql, database, args.scale, args.seed, on_table)
    console.print(summary)
    if database == settings.source_database(config.database):
        reset_source(config, settings)
        console.print(
            f"reset the lake and staging schema {config.warehouse_schema} of "
            f"{config.name}: the next ingest starts afresh from the new source"
        )
    console.print(
        f"seeded {database} on {settings.mysql.host}:{settings.mysql.port} in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    from ingestion.demo.changes import apply_changes

    settings = Settings.load()
    database = args.database or settings.source_database(load_source(DEFAULT_SOURCE).database)
    with console.status(f"applying {args.days} day(s) of change to {database} ..."):
        totals = apply_changes(settings.mysql, database, args.days, args.seed)
    summary = Table(title=f"{args.days} day(s) of change applied to {database}")
    summary.add_column("change")
    summary.add_column("rows", justify="right")
    for name, count in totals.items():
        summary.add_row(name, f"{count:,}")
    console.print(summary)
    return 0


# ------------------------------------------------------------------ ingest
class RichReporter(Reporter):
    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def stage(self, name: str, detail: str = "") -> None:
        self.progress.console.print(f"[bold]{name}[/bold]  {escape(detail)}")

    def extract_started(self, table: str, estimate: int) -> None:
        self.tasks[table] = self.progress.add_task(
            f"extract {escape(table)}", total=max(estimate, 1)
        )

    def extract_rows(self, table: str, rows: int) -> None:
        self.progress.advance(self.tasks[table], rows)

    def extract_done(self, table: str, rows: int) -> None:
        self.progress.update(self.tasks[table], total=rows, completed=rows)

    def event(self, stage: str, event: Event) -> None:
        if isinstance(event, BatchCurated):
            self.progress.console.print(
                f"  curated  {escape(event.table):<16} {event.curated:>10,} rows  "
                f"rejected {event.rejected:,}  duplicates {event.duplicates_removed:,}"
            )
        elif isinstance(event, BatchLoaded):
            self.progress.console.print(
                f"  {event.status:<8} {escape(event.table):<16} {event.rows_loaded:>10,} rows"
            )


def print_summary(runs: list[TableRun], seconds: float, source: str, lake_uri: str) -> None:
    """Counts reconcile when extracted = curated + rejected + duplicates and
    curated = loaded + deletes (rows marking a deletion, applied as deletes)."""
    table = Table(title="ingest summary", title_justify="left")
    columns = (
        "table",
        "mode",
        "extracted",
        "zero dates→null",
        "curated",
        "rejected",
        "duplicates",
        "loaded",
        "deletes",
        "seconds",
        "rows/s",
        "status",
    )
    for name in columns:
        table.add_column(name, justify="left" if name in ("table", "mode", "status") else "right")
    for r in runs:
        colour = {"ok": "green", "failed": "red"}.get(r.status, "yellow")
        table.add_row(
            escape(r.table),
            r.mode or "-",
            f"{r.extracted:,}",
            f"{r.zero_dates:,}",
            f"{r.curated:,}",
            f"{r.rejected:,}",
            f"{r.duplicates:,}",
            f"{r.loaded:,}",
            f"{r.deletes_applied:,}",
            f"{r.seconds:.1f}",
            f"{r.extracted / r.seconds:,.0f}" if r.seconds else "-",
            f"[{colour}]{r.status}[/{colour}]",
        )
    console.print(table)
    failed = [r for r in runs if r.status != "ok"]
    for r in failed:
        why = r.error or (
            f"counts do not reconcile: extracted {r.extracted} != curated "
            f"{r.curated} + rejected {r.rejected} + duplicates {r.duplicates}, "
            f"or curated != loaded {r.loaded} + deletes {r.deletes_applied}"
        )
        err_console.print(f"[red]{escape(r.table)}[/red]: {escape(why)}", soft_wrap=True)
    for r in runs:
        if r.rejected:
            console.print(
                f"{escape(r.table)}: {r.rejected:,} rows quarantined with their reasons under "
                f"{lake_uri}/{table_rejects_prefix(source, r.table)}",
                highlight=False,
            )
    for r in runs:
        if r.note:
            console.print(f"{escape(r.table)}: {escape(r.note)}", highlight=False, soft_wrap=True)
        if r.capture:
            console.print(capture_line(r.table, r.capture), highlight=False, soft_wrap=True)
    catch_up = sum(r.catch_up for r in runs)
    note = f"; also finished {catch_up} batch(es) left by an interrupted run" if catch_up else ""
    console.print(f"{len(runs) - len(failed)}/{len(runs)} tables ok in {seconds:.1f}s{note}")


def stages_line(seconds: dict[str, float]) -> str:
    """Where the run's time went, stage by stage (wall seconds)."""
    return "stages: " + " · ".join(f"{stage} {s:.1f}s" for stage, s in seconds.items())


def capture_line(table: str, capture: dict) -> str:
    """A cdc table's binlog reading at a glance: position, events by operation, lag."""
    events = capture["events"]
    position = capture["position"]
    last = capture.get("last_event_at")
    lag = ""
    if last:
        behind = (datetime.now(UTC) - datetime.fromisoformat(last)).total_seconds()
        lag = f"; last change committed {last} ({behind:,.0f} s ago)"
    return (
        f"{escape(table)}: binlog read to {position['file']}:{position['pos']}: "
        f"{events['c']:,} inserts, {events['u']:,} updates, {events['d']:,} deletes{lag}"
    )


def cmd_dry_run(config, settings: Settings, tables: list[str], full_refresh: bool) -> int:
    """What `ingest` would do, checked against the live source; no data moves."""
    from ingestion.lake.state import TableState
    from ingestion.source.mysql import connect
    from ingestion.source.plan import plan_table

    database = settings.source_database(config.database)
    lake = open_lake(settings.lake_uri)
    table = Table(title=f"dry run: {config.name} ({escape(database)}) -> {settings.lake_uri}")
    for column in ("table", "mode", "primary key", "cursor", "columns", "deletes"):
        table.add_column(column)
    unsupported = []
    with connect(source_endpoint(config, settings), database) as conn:
        for name in tables:
            try:
                plan = plan_table(config, conn, database, name)
            except TableError as exc:  # that table only: the others are still shown
                unsupported.append(f"{name}: {exc}")
                table.add_row(escape(name), "[red]cannot be copied[/red]", "", "", "", "")
                continue
            tcfg = plan.config
            watermark = (TableState(lake, config.name, name).watermark() or {}).get("high")
            if tcfg.mode == "full":
                mode = "full snapshot"
            elif full_refresh or not watermark:
                mode = f"{tcfg.mode}: first/full run"
            else:
                mode = f"{tcfg.mode} since {watermark} - {tcfg.lookback_seconds}s"
            deletes = ", ".join(
                d
                for d, on in (
                    ("key comparison", tcfg.hard_deletes),
                    (f"soft: {tcfg.soft_delete_column}", bool(tcfg.soft_delete_column)),
                )
                if on
            )
            staging = plan.warehouse_table
            table.add_row(
                escape(name if staging == name else f"{name} → {staging}"),
                mode,
                escape(",".join(plan.primary_key)) or "(none: rows copied as they are)",
                escape(tcfg.cursor or ""),
                str(len(plan.columns)),
                escape(deletes) or "-",
            )
    console.print(table)
    for line in unsupported:
        err_console.print(f"[red]{escape(line)}[/red]", soft_wrap=True, highlight=False)
    console.print(f"{len(tables)} tables checked against the source; nothing was extracted")
    return 1 if unsupported else 0


def _source_tables(config, settings: Settings, wanted: str | None) -> list[str]:
    """The file's tables resolved against the live catalog (``source_tables``), its warnings
    shown."""
    from ingestion.source.mysql import connect
    from ingestion.source.plan import source_tables

    database = settings.source_database(config.database)
    with connect(source_endpoint(config, settings), database) as conn:
        tables, warnings = source_tables(
            config, conn, database, table_list(wanted, "--tables") if wanted else None
        )
    for line in warnings:
        err_console.print(
            f"[yellow]warning: {escape(line)}[/yellow]", soft_wrap=True, highlight=False
        )
    return tables


def cmd_ingest(args: argparse.Namespace) -> int:
    config = load_source(args.source)
    settings = Settings.load()
    tables = _source_tables(config, settings, args.tables)
    if args.dry_run:
        return cmd_dry_run(config, settings, tables, args.full_refresh)
    if args.log_format == "json":
        return cmd_ingest_json(config, settings, tables, args.full_refresh, args.wait)
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        ingest = Ingest(
            config,
            settings,
            settings.source_database(config.database),
            tables,
            RichReporter(progress),
            full_refresh=args.full_refresh,
            lock_wait_seconds=args.wait,
        )
        runs = ingest.run()
    print_summary(runs, time.perf_counter() - started, config.name, settings.lake_uri)
    console.print(stages_line(ingest.stage_seconds), highlight=False)
    return 0 if all(r.status == "ok" for r in runs) else 1


def cmd_ingest_json(
    config, settings: Settings, tables: list[str], full_refresh: bool, wait: float
) -> int:
    """For machines: one JSON line per table at the end, no progress bars."""
    ingest = Ingest(
        config,
        settings,
        settings.source_database(config.database),
        tables,
        full_refresh=full_refresh,
        lock_wait_seconds=wait,
    )
    runs = ingest.run()
    # the run's wall seconds per stage ride along on each table's line (one line per table)
    stages = {stage: round(s, 2) for stage, s in ingest.stage_seconds.items()}
    for run in runs:
        record = {"event": "table_ingested", "source": config.name, **asdict(run)}
        print(json.dumps({**record, "status": run.status, "run_stages": stages}), flush=True)
    return 0 if all(r.status == "ok" for r in runs) else 1


def cmd_reconcile(args: argparse.Namespace) -> int:
    from ingestion.reconcile import reconcile

    config = load_source(args.source)
    settings = Settings.load()
    tables = _source_tables(config, settings, args.tables)
    database = settings.source_database(config.database)
    started = time.perf_counter()
    with console.status("reconciling") as status:

        def on_table(result) -> None:
            status.update(f"reconciled {result.table}")
            if args.log_format == "json":
                print(json.dumps({"event": "table_reconciled", **result.as_dict()}), flush=True)

        results = reconcile(
            config, settings, database, open_lake(settings.lake_uri), tables, on_table
        )
    if args.log_format != "json":
        print_reconciliation(results, time.perf_counter() - started, config.name, database)
    return 0 if all(r.equal for r in results) else 1


def print_reconciliation(results, seconds: float, source: str, database: str) -> None:
    table = Table(title=f"reconcile: MySQL {escape(database)} vs warehouse staging ({source})")
    for name in (
        "table",
        "source rows",
        "staging rows",
        "rejected",
        "missing",
        "extra",
        "dup keys",
        "columns",
        "result",
    ):
        table.add_column(name, justify="left" if name in ("table", "result") else "right")
    for r in results:
        if r.error:
            verdict = f"[red]error[/red] {escape(r.error)}"
        elif r.equal:
            verdict = "[green]equal[/green]"
        else:
            verdict = "[red]differs[/red]" + (
                f" in {escape(', '.join(r.columns_differing))}" if r.columns_differing else ""
            )
        table.add_row(
            escape(r.table),
            f"{r.source_rows:,}",
            f"{r.staging_rows:,}",
            f"{r.rejected:,}",
            f"{len(r.missing):,}",
            f"{len(r.extra):,}",
            f"{len(r.duplicate_keys):,}",
            f"{r.columns_compared - len(r.columns_differing)}/{r.columns_compared} equal",
            verdict,
        )
    console.print(table)
    for r in results:
        for label, keys in (
            ("missing", r.missing),
            ("extra", r.extra),
            ("duplicate key", r.duplicate_keys),
        ):
            if keys:
                shown = ", ".join(str(k) for k in keys[:5])
                console.print(
                    f"  {escape(r.table)}: {label} (first {min(5, len(keys))}): {escape(shown)}",
                    highlight=False,
                    soft_wrap=True,
                )
    equal = sum(r.equal for r in results)
    console.print(
        f"{equal} of {len(results)} tables equal in {seconds:.1f} s"
        + ("" if equal == len(results) else "; differences above are not explained by rejects")
    )


def cmd_discover(args: argparse.Namespace) -> int:
    """A complete source file from information_schema (see ingestion/source/discover.py)."""
    from ingestion.source.discover import discover, render, source_name
    from ingestion.source.mysql import connect

    settings = Settings.load()
    include, exclude = (
        [p for p in (v or "").split(",") if p] for v in (args.include, args.exclude)
    )
    out = Path(args.out) if args.out else None
    if out and out.exists() and not args.force:
        raise ConfigError(f"{out} exists: pass --force to replace it (it may hold your edits)")
    with connect(settings.mysql, args.database) as conn:
        found = discover(conn, args.database, include, exclude)
    name = args.name or source_name(args.database)
    summary = Table(title=f"discover: {escape(args.database)} on {settings.mysql.host}")
    for column in ("table", "staging name", "rows", "primary key", "mode", "notes"):
        summary.add_column(column, justify="right" if column == "rows" else "left")
    for t in found.tables:
        mode = "" if t.skipped else (f"incremental ({t.cursor})" if t.incremental else "full")
        notes = (
            f"[yellow]left out: {escape(t.skipped)}[/yellow]"
            if t.skipped
            else escape("; ".join(t.notes))
        )
        staging = "" if t.skipped or t.warehouse_name == t.name else t.warehouse_name
        summary.add_row(
            escape(t.name), staging, f"{t.rows:,}", escape(",".join(t.primary_key)), mode, notes
        )
    for view in found.views:
        summary.add_row(escape(view), "", "", "", "", "[yellow]left out: a view[/yellow]")
    err_console.print(summary)
    if not found.copied:
        raise ConfigError(
            f"no table of {args.database!r} can be copied yet (see the reasons above)"
        )
    text = render(found, name, args.schema or f"{name}_staging")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        load_source(out)  # what was written is a valid source file
        err_console.print(
            f"wrote {out}: {len(found.copied)} tables; next: "
            f"python -m ingestion ingest --source {out}  (make ingest SOURCE={out})"
        )
    else:
        print(text, end="")
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    settings = Settings.load()
    config = load_source(DEFAULT_SOURCE)
    pg, my = settings.postgres, settings.mysql
    docs = REPO_ROOT / "target" / "static_index.html"
    console.print("[bold]The demo is up.[/bold]")
    console.print(
        f"  source     MariaDB   {my.user}@{my.host}:{my.port}/"
        f"{settings.source_database(config.database)}"
    )
    console.print(f"  lake       {settings.lake_uri}")
    console.print(
        f"  warehouse  PostgreSQL {pg.user}@{pg.host}:{pg.port}/{pg.database}  "
        f"(staging: {config.warehouse_schema}, marts: analytics_marts, "
        "audit: ops.load_audit)"
    )
    console.print(
        f"  docs       {docs if docs.exists() else '(run make docs)'}  "
        "or `make docs` to serve http://127.0.0.1:8080"
    )
    console.print(
        "  passwords  in .local/stack.env; `source .venv/bin/activate` exports them, "
        "then `dbt run`, `dbt test`, `psql`"
    )
    console.print("  stop       make down   (data stays in .local/; make clean deletes it)")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    """Column lineage of every mart column (after `dbt docs generate`), into the docs site."""
    from ingestion.lineage.contract import read_contracts, source_lookup
    from ingestion.lineage.docs import write_lineage

    settings = Settings.load()
    configs = [load_source(path) for path in args.source]
    lake = open_lake(settings.lake_uri)
    contracts = read_contracts(lake, configs, settings.mysql.database)
    summary = write_lineage(args.target_path, source_lookup(contracts))
    console.print(
        f"lineage: {summary.columns} columns of {summary.marts} marts traced to "
        f"{summary.mysql_columns} MySQL columns -> {summary.path}; the docs site shows each "
        "column's lineage in its description"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("seed", help="(re)create the demo source database with generated data")
    p.add_argument(
        "--scale",
        type=float,
        default=0.01,
        help="1.0 = about 1,000,000 sales orders (default 0.01)",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--database", help="database name (default: the source config's)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("changes", help="apply days of realistic change to the demo source")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--seed", type=int, default=None, help="default: the seed used by `seed`")
    p.add_argument("--database")
    p.set_defaults(func=cmd_changes)

    p = sub.add_parser("ingest", help="extract -> crawl -> curate -> load for the source's tables")
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="source YAML file")
    p.add_argument(
        "--tables", help='subset of the configured tables: a,b or a JSON array ["a", "b"]'
    )
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="extract incremental tables in full (and drop unfinished runs)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the configuration against the live source and show the plan; move nothing",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="when another ingest of the source is running, wait this long for it to finish "
        "(default 0: stop at once, naming it)",
    )
    p.add_argument(
        "--log-format",
        choices=["human", "json"],
        default=Runtime.load().log_format or "human",
        help="human: progress bars and a summary table; json: one JSON line per table "
        "(default: $LOG_FORMAT or human)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "reconcile",
        help="compare every table's source rows with its staging table (counts, keys, "
        "per-column checksums); exit 1 on a difference not explained by recorded rejects",
    )
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="source YAML file")
    p.add_argument(
        "--tables", help='subset of the configured tables: a,b or a JSON array ["a", "b"]'
    )
    p.add_argument(
        "--log-format", choices=["human", "json"], default=Runtime.load().log_format or "human"
    )
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser(
        "discover", help="write a source file for a MySQL database from its information_schema"
    )
    p.add_argument("--database", required=True, help="the MySQL database (schema) to describe")
    p.add_argument("--include", help="comma-separated table name patterns (glob) to keep")
    p.add_argument("--exclude", help="comma-separated table name patterns (glob) to leave out")
    p.add_argument("--out", help="the source file to write (default: standard output)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--name", help="the source's name (default: from the database's)")
    p.add_argument("--schema", help="the staging schema (default: <name>_staging)")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser(
        "lineage",
        help="column lineage of every mart column back to MySQL, written to "
        "target/column_lineage.json and into the docs site (after `dbt docs generate`)",
    )
    p.add_argument(
        "--source",
        type=Path,
        action="append",
        default=None,
        help="source YAML file(s) whose tables the dbt sources of the same name are (default: "
        "the demo source)",
    )
    p.add_argument("--target-path", type=Path, default=REPO_ROOT / "target")
    p.set_defaults(func=cmd_lineage)

    sub.add_parser(
        "dbt",
        help="dbt with OpenLineage events: `python -m ingestion dbt build [dbt options]` "
        "(make build, make demo)",
        add_help=False,
    )

    p = sub.add_parser("where", help="where the demo's warehouse, lake and docs are")
    p.set_defaults(func=cmd_where)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dbt"]:  # every later argument is dbt's
        from ingestion.lineage.dbt_runs import run_dbt

        try:
            return run_dbt(argv[1:], Settings.load())
        except PlatformError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return 2
    args = build_parser().parse_args(argv)
    if getattr(args, "source", ...) is None:  # an appending option's default
        args.source = [DEFAULT_SOURCE]
    try:
        return args.func(args)
    except PlatformError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted: committed work is kept; run the command again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
