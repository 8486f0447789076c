"""Settings: the only reader of the environment, for the stack script, the CLI, the Lambda, the
Glue jobs, dbt and tests. Everything else receives a ``Settings`` (or one of its parts).

Every value comes from an environment variable when set. Otherwise non-secret values take the
documented defaults below, and passwords come from ``<JLR_LOCAL_DIR>/stack.env``, which
``make up`` writes once with random passwords (mode 0600, git-ignored). No password is written in
code, and ``Settings.__repr__`` never shows one.

``python -m ingestion.config.settings --shell`` prints ``export`` lines for shells (the stack
script and the venv's activate script use it); ``--init`` creates ``stack.env`` when missing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ingestion.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

GENERATED = None  # a secret: generated into stack.env, never a default in code
# name -> default
DEFAULTS: dict[str, str | None] = {
    "JLR_LOCAL_DIR": str(REPO_ROOT / ".local"),
    "JLR_MYSQL_HOST": "127.0.0.1",
    "JLR_MYSQL_PORT": "3307",
    "JLR_MYSQL_USER": "jlr",
    "JLR_MYSQL_PASSWORD": GENERATED,
    "JLR_MYSQL_DATABASE": "jlr_ops",
    "JLR_PG_HOST": "127.0.0.1",
    "JLR_PG_PORT": "5433",
    "JLR_PG_USER": "jlr",
    "JLR_PG_PASSWORD": GENERATED,
    "JLR_PG_DATABASE": "jlr_warehouse",
    "JLR_PG_SOCKET_DIR": "",  # default derived below: the local stack's socket, when it is up
    "JLR_LAKE_URI": "",  # default derived from JLR_LOCAL_DIR below
    "JLR_PII_SALT": GENERATED,  # salt of the curated zone's PII hashes
}
SECRET_NAMES = tuple(name for name, default in DEFAULTS.items() if default is None)
# Settings that are not the local stack's (not exported by --shell): name -> default.
OPTIONS: dict[str, str] = {
    "JLR_MYSQL_TLS_MODE": "disabled",  # see ingestion.source.mysql.tls_context
    "JLR_MYSQL_TLS_CA": "",
    "JLR_MYSQL_CONNECT_ATTEMPTS": "4",
    "JLR_MYSQL_CONNECT_BACKOFF": "1",
    "JLR_SOURCE_CONFIG": "",  # the Lambda's source file (default: the packaged one)
    # where source files live on AWS (s3://bucket/prefix/sources, uploaded by deploy): the
    # Lambda reads <JLR_SOURCES_URI>/<source>.yml
    "JLR_SOURCES_URI": "",
    "JLR_STOP_MARGIN_MS": "60000",  # the Lambda stops this long before its deadline
    "JLR_SPARK_MASTER": "local[2]",  # local mode only; Glue has its own
    "JLR_SPARK_DRIVER_MEMORY": "2g",
    "JLR_CURATED_ROWS_PER_FILE": "2000000",
    # OpenLineage (ingestion.lineage.runs): where the local file transport writes (default
    # <JLR_LOCAL_DIR>/lineage), and the ingest run a job's runs belong to (set by the pipeline)
    "JLR_LINEAGE_DIR": "",
    "JLR_LINEAGE_PARENT": "",
}
# where OpenLineage events go (JSON transport config; may hold a key, so never in a repr)
OPENLINEAGE_TRANSPORT = "JLR_OPENLINEAGE_TRANSPORT"
# the ARNs of the source's credentials and of the PII salt in Secrets Manager (AWS); empty: none
SECRET_ARNS = ("JLR_MYSQL_SECRET_ARN", "JLR_PII_SALT_SECRET_ARN")
OPTIONS.update(dict.fromkeys(SECRET_ARNS, ""))
REDSHIFT_PREFIX = "JLR_REDSHIFT_"  # the Redshift target (ingestion.warehouse.redshift)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def local_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("JLR_LOCAL_DIR") or DEFAULTS["JLR_LOCAL_DIR"]).resolve()


def init_stack_env(environ: dict[str, str] | None = None) -> Path:
    """Create stack.env with random passwords (or the ones given in the environment)."""
    env = os.environ if environ is None else environ
    path = local_dir(env) / "stack.env"
    stored = _read_env_file(path)
    if path.exists() and all(name in stored for name in SECRET_NAMES):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Local stack secrets, generated once by `make up`. Environment variables win."]
    for name in SECRET_NAMES:  # keeps existing values, adds any new secret
        lines.append(f"{name}={stored.get(name) or env.get(name) or secrets.token_urlsafe(18)}")
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def resolve(environ: dict[str, str] | None = None) -> dict[str, str]:
    """All JLR_* settings with environment > stack.env > defaults."""
    env = os.environ if environ is None else environ
    ldir = local_dir(env)
    stored = _read_env_file(ldir / "stack.env")
    values: dict[str, str] = {}
    for name, default in DEFAULTS.items():
        value = env.get(name) or stored.get(name) or default or ""
        values[name] = value
    values["JLR_LOCAL_DIR"] = str(ldir)
    if not values["JLR_LAKE_URI"]:
        values["JLR_LAKE_URI"] = f"file://{ldir / 'lake'}"
    if not values["JLR_PG_SOCKET_DIR"]:
        values["JLR_PG_SOCKET_DIR"] = local_pg_socket_dir(ldir, values)
    return values


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_pg_socket_dir(ldir: Path, values: dict[str, str]) -> str:
    """The directory of the local stack's PostgreSQL socket when dbt should connect through it:
    the server is on this machine (JLR_PG_HOST is loopback) and its socket is there (the stack
    is up; a socket in another user's private directory counts as absent). Empty otherwise, and
    dbt connects over TCP.

    dbt opens a new connection for every node it runs (about 180 a build). Over TCP each one
    authenticates with SCRAM, whose key derivation costs both ends several milliseconds of CPU;
    over the socket the stack authenticates the OS user who started it by `peer` (pg_hba.conf,
    written by scripts/stack.sh), as Debian's own PostgreSQL does for local connections."""
    socket_dir = ldir / "postgres"
    if values["JLR_PG_HOST"] not in LOOPBACK:
        return ""
    try:
        present = (socket_dir / f".s.PGSQL.{values['JLR_PG_PORT']}").exists()
    except OSError:
        present = False
    return str(socket_dir) if present else ""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    # how the MySQL client connects (the PostgreSQL endpoint ignores these)
    tls_mode: str = "disabled"
    tls_ca: str | None = None
    connect_attempts: int = 4
    connect_backoff: float = 1.0

    def __repr__(self) -> str:  # never show the password
        return f"Endpoint({self.user}@{self.host}:{self.port}/{self.database})"


def _endpoint(values: dict[str, str], prefix: str, **client) -> Endpoint:
    """The endpoint the ``<prefix>_HOST/_PORT/_USER/_PASSWORD/_DATABASE`` settings describe."""
    return Endpoint(
        values[f"{prefix}_HOST"],
        int(values[f"{prefix}_PORT"]),
        values[f"{prefix}_USER"],
        values[f"{prefix}_PASSWORD"],
        values[f"{prefix}_DATABASE"],
        **client,
    )


@dataclass(frozen=True)
class Settings:
    local_dir: Path
    lake_uri: str
    mysql: Endpoint
    postgres: Endpoint
    pii_salt: str = field(default="", repr=False)
    pg_socket_dir: str = ""  # dbt's way to the local stack's PostgreSQL (see local_pg_socket_dir)
    options: dict[str, str] = field(default_factory=lambda: dict(OPTIONS))
    redshift: dict[str, str] = field(default_factory=dict)  # the JLR_REDSHIFT_* values
    openlineage_transport: str = field(default="", repr=False)
    given: frozenset[str] = frozenset()  # the names the environment itself set

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        v = resolve(env)
        options = {name: env.get(name) or default for name, default in OPTIONS.items()}
        try:
            attempts = max(1, int(options["JLR_MYSQL_CONNECT_ATTEMPTS"]))
            backoff = max(0.0, float(options["JLR_MYSQL_CONNECT_BACKOFF"]))
        except ValueError:
            raise ConfigError("JLR_MYSQL_CONNECT_ATTEMPTS and _BACKOFF must be numbers") from None
        return cls(
            local_dir=Path(v["JLR_LOCAL_DIR"]),
            lake_uri=v["JLR_LAKE_URI"],
            mysql=_endpoint(
                v,
                "JLR_MYSQL",
                tls_mode=options["JLR_MYSQL_TLS_MODE"].strip().lower() or "disabled",
                tls_ca=options["JLR_MYSQL_TLS_CA"] or None,
                connect_attempts=attempts,
                connect_backoff=backoff,
            ),
            postgres=_endpoint(v, "JLR_PG"),
            pii_salt=v["JLR_PII_SALT"],
            pg_socket_dir=v["JLR_PG_SOCKET_DIR"],
            options=options,
            redshift={k: val for k, val in env.items() if k.startswith(REDSHIFT_PREFIX)},
            openlineage_transport=env.get(OPENLINEAGE_TRANSPORT, ""),
            given=frozenset(k for k in (*DEFAULTS, *OPTIONS) if env.get(k)),
        )

    # what the code reads, by name
    @property
    def mysql_secret_arn(self) -> str | None:
        return self.options["JLR_MYSQL_SECRET_ARN"] or None

    @property
    def pii_salt_secret_arn(self) -> str | None:
        return self.options["JLR_PII_SALT_SECRET_ARN"] or None

    def source_file(self, source: str) -> str | None:
        """The source file to read for ``source``: JLR_SOURCE_CONFIG (a path or an s3:// URI),
        else ``<JLR_SOURCES_URI>/<source>.yml``, else None (the packaged one)."""
        if self.options["JLR_SOURCE_CONFIG"]:
            return self.options["JLR_SOURCE_CONFIG"]
        if self.options["JLR_SOURCES_URI"]:
            return f"{self.options['JLR_SOURCES_URI'].rstrip('/')}/{source}.yml"
        return None

    @property
    def stop_margin_ms(self) -> int:
        return int(self.options["JLR_STOP_MARGIN_MS"])

    @property
    def spark_master(self) -> str:
        return self.options["JLR_SPARK_MASTER"]

    @property
    def spark_driver_memory(self) -> str:
        return self.options["JLR_SPARK_DRIVER_MEMORY"]

    @property
    def curated_rows_per_file(self) -> int:
        return int(self.options["JLR_CURATED_ROWS_PER_FILE"])

    @property
    def lineage_dir(self) -> Path:
        return Path(self.options["JLR_LINEAGE_DIR"] or self.local_dir / "lineage")

    def source_database(self, configured: str | None) -> str:
        """The source database: the source file's; JLR_MYSQL_DATABASE only fills in for a file
        that names none."""
        return configured or self.mysql.database

    def to_env(self) -> dict[str, str]:
        """The JLR_* variables that describe these settings (for job subprocesses and dbt)."""
        env = {
            "JLR_LOCAL_DIR": str(self.local_dir),
            "JLR_LAKE_URI": self.lake_uri,
            "JLR_PII_SALT": self.pii_salt,
            "JLR_PG_SOCKET_DIR": self.pg_socket_dir,
            "JLR_LINEAGE_DIR": str(self.lineage_dir),
        }
        if self.openlineage_transport:
            env[OPENLINEAGE_TRANSPORT] = self.openlineage_transport
        for prefix, ep in (("JLR_MYSQL", self.mysql), ("JLR_PG", self.postgres)):
            env.update(
                {
                    f"{prefix}_HOST": ep.host,
                    f"{prefix}_PORT": str(ep.port),
                    f"{prefix}_USER": ep.user,
                    f"{prefix}_PASSWORD": ep.password,
                    f"{prefix}_DATABASE": ep.database,
                }
            )
        return env

    def with_databases(
        self, mysql_db: str | None = None, pg_db: str | None = None, lake_uri: str | None = None
    ) -> Settings:
        """A copy pointing at other databases / another lake (tests use their own)."""

        def swap(ep: Endpoint, db: str | None) -> Endpoint:
            return ep if db is None else replace(ep, database=db)

        return replace(
            self,
            lake_uri=lake_uri or self.lake_uri,
            mysql=swap(self.mysql, mysql_db),
            postgres=swap(self.postgres, pg_db),
        )


@dataclass(frozen=True)
class Runtime:
    """Where the code runs and how it reports: read where a Settings object is not at hand (log
    set-up, metric records, crash points). LOG_FORMAT=json: JSON lines instead of progress
    bars; JLR_METRICS=emf: CloudWatch metric records locally too; JLR_CRASH_AT: tests only, a
    crash point to die at (ingestion.faults)."""

    on_aws: bool  # in Lambda or Glue: JSON logs, metrics as CloudWatch EMF records
    log_format: str
    metrics: str
    crash_at: str

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> Runtime:
        env = os.environ if environ is None else environ
        return cls(
            on_aws="AWS_LAMBDA_FUNCTION_NAME" in env or "GLUE_VERSION" in env,
            log_format=env.get("LOG_FORMAT", ""),
            metrics=env.get("JLR_METRICS", ""),
            crash_at=env.get("JLR_CRASH_AT", ""),
        )


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.config.settings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--init", action="store_true", help="create stack.env if missing")
    parser.add_argument("--shell", action="store_true", help="print export lines")
    args = parser.parse_args(argv)
    if args.init:
        init_stack_env()
    if args.shell:
        for name, value in resolve().items():
            print(f"export {name}={_shell_quote(value)}")
    elif not args.init:
        settings = Settings.load()
        for f in fields(settings):
            value = getattr(settings, f.name) if f.repr else "*** (hidden)"
            print(f"{f.name}: {value!r}" if f.repr else f"{f.name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
