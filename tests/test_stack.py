"""`make up` twice, `make down`, `make up` again: data survives, nothing errors.

Runs a second, short-lived stack on other ports with its own data directory under .local/
(reachable by the servers' unprivileged users when run as root), so the main one is untouched.
"""

import os
import shutil
import subprocess
import uuid

import pytest

from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.source.mysql import connect

STACK = ["bash", str(REPO_ROOT / "scripts" / "stack.sh")]


@pytest.mark.integration
def test_up_twice_down_up_keeps_data():
    local = REPO_ROOT / ".local" / f"test-stack-{uuid.uuid4().hex[:8]}"
    local.mkdir(parents=True)
    os.chmod(local.parent, 0o755)
    os.chmod(local, 0o755)
    env = {
        **os.environ,
        "JLR_LOCAL_DIR": str(local),
        "JLR_MYSQL_PORT": "3317",
        "JLR_PG_PORT": "5443",
    }
    env = {k: v for k, v in env.items() if not k.endswith("_PASSWORD")}

    def stack(command):
        return subprocess.run(
            [*STACK, command], env=env, capture_output=True, text=True, check=False, timeout=120
        )

    try:
        first = stack("up")
        assert first.returncode == 0, first.stderr
        assert "initialising" in first.stdout
        second = stack("up")
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout and "initialising" not in second.stdout
        assert stack("status").returncode == 0

        settings = Settings.load(env)
        with connect(settings.mysql, "jlr_ops") as conn, conn.cursor() as cur:
            cur.execute("create table survives (v varchar(10))")
            cur.execute("insert into survives values ('kept')")
        pg = settings.postgres
        psql = [
            "psql",
            "-X",
            "-q",
            "-tA",
            "-h",
            pg.host,
            "-p",
            str(pg.port),
            "-U",
            pg.user,
            "-d",
            pg.database,
        ]
        pg_env = {**env, "PGPASSWORD": pg.password}
        # dbt's way in: the stack's socket, where the OS user who runs the stack is let in by
        # peer authentication whatever the password; over TCP the password is checked
        assert "reloaded" not in second.stdout  # the rules were in place after the first up
        assert settings.pg_socket_dir == str(local / "postgres")
        wrong = {**env, "PGPASSWORD": "not-the-password"}
        by_socket = [*psql[:5], settings.pg_socket_dir, *psql[6:], "-c", "select 'peer'"]
        peer = subprocess.run(by_socket, env=wrong, capture_output=True, text=True)
        assert peer.stdout == "peer\n", peer.stderr
        tcp = subprocess.run([*psql, "-c", "select 1"], env=wrong, capture_output=True, text=True)
        assert tcp.returncode != 0 and "password authentication failed" in tcp.stderr
        subprocess.run(
            [*psql, "-c", "create table survives as select 'kept' as v"], env=pg_env, check=True
        )

        assert stack("down").returncode == 0
        assert stack("status").returncode == 1
        assert stack("up").returncode == 0
        with connect(settings.mysql, "jlr_ops") as conn, conn.cursor() as cur:
            cur.execute("select v from survives")
            assert cur.fetchall() == (("kept",),)
        out = subprocess.run(
            [*psql, "-c", "select v from survives"],
            env=pg_env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert out.stdout.strip() == "kept"
    finally:
        stack("down")
        shutil.rmtree(local, ignore_errors=True)
