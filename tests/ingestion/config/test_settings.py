import os
import stat

from ingestion.config.settings import Endpoint, Settings, init_stack_env, resolve


def test_stack_env_is_generated_once_private_and_env_wins(tmp_path):
    env = {"JLR_LOCAL_DIR": str(tmp_path)}
    path = init_stack_env(env)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = resolve(env)
    assert len(first["JLR_PG_PASSWORD"]) >= 20
    init_stack_env(env)
    assert resolve(env)["JLR_PG_PASSWORD"] == first["JLR_PG_PASSWORD"]  # not regenerated
    assert resolve({**env, "JLR_PG_PASSWORD": "from-env"})["JLR_PG_PASSWORD"] == "from-env"
    assert resolve(env)["JLR_LAKE_URI"] == f"file://{tmp_path}/lake"


def test_dbt_takes_the_local_stacks_socket_only_when_it_is_there(tmp_path):
    env = {"JLR_LOCAL_DIR": str(tmp_path), "JLR_PG_PORT": "5433"}
    assert resolve(env)["JLR_PG_SOCKET_DIR"] == ""  # stack down: TCP
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / ".s.PGSQL.5433").touch()
    assert resolve(env)["JLR_PG_SOCKET_DIR"] == str(tmp_path / "postgres")
    assert Settings.load(env).to_env()["JLR_PG_SOCKET_DIR"] == str(tmp_path / "postgres")
    assert resolve({**env, "JLR_PG_PORT": "6543"})["JLR_PG_SOCKET_DIR"] == ""  # another server
    assert resolve({**env, "JLR_PG_HOST": "db.example.internal"})["JLR_PG_SOCKET_DIR"] == ""
    assert resolve({**env, "JLR_PG_SOCKET_DIR": "/run/pg"})["JLR_PG_SOCKET_DIR"] == "/run/pg"


def test_repr_never_shows_a_password(tmp_path):
    settings = Settings.load(
        {
            "JLR_LOCAL_DIR": str(tmp_path),
            "JLR_PG_PASSWORD": "s3cr3t-value",
            "JLR_MYSQL_PASSWORD": "s3cr3t-value",
        }
    )
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in repr(Endpoint("h", 1, "u", "s3cr3t-value", "d"))


def test_settings_are_the_only_reader_of_the_environment():
    """Every JLR_* (and LOG_FORMAT, AWS runtime marker) is read in ingestion/config/settings.py;
    the rest of the code receives Settings. Passing the environment on to a child process, and
    the Glue jobs turning --JLR_* arguments into it, are not reads."""
    import re

    from ingestion.config.settings import REPO_ROOT

    reads = re.compile(
        r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]*\](?!\s*=[^=])|\bin os\.environ\b"
    )
    readers = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for folder in ("ingestion", "glue_jobs", "infra")
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if path != REPO_ROOT / "ingestion" / "config" / "settings.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert readers == []
