#!/usr/bin/env bash
# make setup: system packages (MariaDB, PostgreSQL, Java 17, Chromium, Python venv support) and the
# .venv.
# Idempotent: when everything is present it only checks, in about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"
STAMP="$VENV/.jlr-installed"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------- system packages
pick_python() {
  local p
  for p in "${PYTHON:-}" python3.11 python3.12 python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 || continue
    if "$p" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)'; then
      echo "$p"; return 0
    fi
  done
  return 1
}

missing=()
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the docs-site test's browser
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the local source's TLS certificate
if ! java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then missing+=(openjdk-17-jre-headless); fi
PY="$(pick_python || true)"
if [ -z "$PY" ]; then missing+=(python3); PY=python3; fi
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "missing system packages; run: sudo apt-get install -y ${missing[*]}"; fi
  command -v apt-get >/dev/null || die "missing system packages (${missing[*]}) and no apt-get here: install them with your package manager"
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  PY="$(pick_python)" || die "no Python 3.11 or 3.12 after installing packages"
fi
# PostGIS for the server's own major version: spatial columns land as geometry, as on Redshift
PGV="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! ls "/usr/share/postgresql/$PGV/extension/postgis.control" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "PostGIS is missing; run: sudo apt-get install -y postgresql-$PGV-postgis-3"; fi
  say "installing postgresql-$PGV-postgis-3 with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  [ ${#missing[@]} -gt 0 ] || "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "postgresql-$PGV-postgis-3" >/dev/null
fi

# --------------------------------------------------------------- IaC checkers
# cfn-lint and checkov in their own venv: checkov pins versions that conflict with dbt's.
IAC_VENV="$ROOT/.venv-iac"
IAC_LOCK="$ROOT/requirements-iac.lock"
iac_want="$(sha256sum <"$IAC_LOCK" | cut -c1-16)"
if [ ! -x "$IAC_VENV/bin/python" ] || [ "$(cat "$IAC_VENV/.jlr-installed" 2>/dev/null)" != "$iac_want" ]; then
  say "installing cfn-lint and checkov into .venv-iac"
  [ -x "$IAC_VENV/bin/python" ] || "$PY" -m venv "$IAC_VENV"
  "$IAC_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$IAC_LOCK"
  echo "$iac_want" >"$IAC_VENV/.jlr-installed"
fi

# --------------------------------------------------------------- Python environment
# Activating the venv also exports the local stack's settings, so `dbt run` works as is. The
# snippet is rewritten when it names another settings module (a venv made before a move).
activate_exports_settings() {
  local activate="$VENV/bin/activate"
  grep -q 'python -m ingestion.config.settings --shell' "$activate" && return 0
  sed -i '/^# JLR data platform: local stack settings/,$d' "$activate"
  cat >>"$activate" <<'EOF'
# JLR data platform: local stack settings (ports, users, generated passwords) for dbt and the CLI.
if [ -f "$VIRTUAL_ENV/../ingestion/config/settings.py" ]; then
  eval "$(cd "$VIRTUAL_ENV/.." && "$VIRTUAL_ENV/bin/python" -m ingestion.config.settings --shell)"
fi
EOF
}

want="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  activate_exports_settings
  say "ok: system packages and .venv are up to date"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating .venv with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi
say "installing Python dependencies from requirements.lock (about a minute the first time)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$LOCK"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"

activate_exports_settings
echo "$want" >"$STAMP"
say "ok: .venv ready ($("$VENV/bin/python" --version), dbt $("$VENV/bin/dbt" --version 2>/dev/null | awk '/installed/ {print $3; exit}'))"
