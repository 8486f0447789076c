"""What a person sees from the command line when they get something wrong."""

import subprocess
import sys

from ingestion.settings import REPO_ROOT


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ingestion", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_a_bad_configuration_is_one_clear_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: x\ndatabase: x\nwarehouse_schema: x\ntables:\n  t:\n    mode: sometimes\n"
    )
    result = run_cli("ingest", "--source", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}: tables.t.mode: Input should be 'full'" in " ".join(result.stderr.split())


def test_unknown_table_is_named(tmp_path):
    result = run_cli("ingest", "--tables", "sales_orders,nonsense")
    assert result.returncode == 1
    assert "nonsense not configured" in " ".join(result.stderr.split())


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("seed", "changes", "ingest", "where"):
        assert command in result.stdout


def test_a_wrong_password_is_reported_and_never_printed(stack):
    import os

    password = "Recognisable-Passw0rd-4242"
    env = {**os.environ, "JLR_MYSQL_PASSWORD": password, "LOG_FORMAT": "json"}
    result = run_cli("ingest", "--tables", "dealers", env=env)
    assert result.returncode == 1
    assert "wrong user or password" in " ".join(result.stderr.split())
    assert password not in result.stdout + result.stderr
