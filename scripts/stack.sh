#!/usr/bin/env bash
# The local stack in user space: a MariaDB server (the MySQL source) and a PostgreSQL server (the
# Redshift stand-in), each with its own data directory, socket and log under $JLR_LOCAL_DIR
# (default .local/). Never the system services. As root, the servers run as the unprivileged
# users their Debian packages create (mysql, postgres).
#
#   scripts/stack.sh up | down | status
#
# Settings (ports, users, passwords, databases) come from `python -m ingestion.config.settings`;
# see the README for the environment variables.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${JLR_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || { echo "stack: $PY not found: run 'make setup' first" >&2; exit 1; }

cmd="${1:-status}"
if [ "$cmd" = up ]; then
  eval "$(cd "$ROOT" && "$PY" -m ingestion.config.settings --init --shell)"
else
  eval "$(cd "$ROOT" && "$PY" -m ingestion.config.settings --shell)"
fi

LOCAL="$JLR_LOCAL_DIR"
MDIR="$LOCAL/mariadb"; MDATA="$MDIR/data"; MSOCK="$MDIR/mysqld.sock"; MPID="$MDIR/mysqld.pid"
MLOG="$MDIR/mysqld.log"
PDIR="$LOCAL/postgres"; PDATA="$PDIR/data"; PLOG="$PDIR/postgres.log"
PG_BIN="${JLR_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
[ -n "$PG_BIN" ] || PG_BIN="$(pg_config --bindir 2>/dev/null || true)"

if [ "$(id -u)" = 0 ]; then MYSQL_OS_USER=mysql; PG_OS_USER=postgres; else
  MYSQL_OS_USER="$(id -un)"; PG_OS_USER="$(id -un)"; fi

say() { printf '%s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

as_user() {  # as_user USER CMD...: run as USER when we are root, else as ourselves
  local user="$1"; shift
  if [ "$(id -u)" = 0 ] && [ "$user" != root ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

own_dir() {  # own_dir USER DIR: create DIR for USER and check USER can really write there
  local user="$1" dir="$2"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id "$user" >/dev/null 2>&1 || die "system user '$user' is missing: run 'make setup'"
    chown "$user" "$dir"
    chmod 700 "$dir"
    as_user "$user" test -w "$dir" || die "user '$user' cannot reach $dir (a parent directory is \
not traversable by others); set JLR_LOCAL_DIR to a directory under /var/tmp or /srv, or clone the \
repository elsewhere"
  fi
}

port_taken() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

sql_escape() { local s="${1//\\/\\\\}"; printf '%s' "${s//\'/\'\'}"; }

# ---------------------------------------------------------------- MariaDB
mariadb_boot_user() { if [ "$(id -u)" = 0 ]; then echo root; else id -un; fi; }
mariadb_admin() { mariadb-admin --no-defaults --socket="$MSOCK" -u"$(mariadb_boot_user)" "$@"; }
mariadb_running() { [ -S "$MSOCK" ] && mariadb_admin ping >/dev/null 2>&1; }

# TLS for the source, as a managed MySQL offers it: a CA made once for this stack and a server
# certificate for the listen address (clients choose with JLR_MYSQL_TLS_MODE; README).
mariadb_tls() {
  local dir="$MDIR/tls"
  [ -s "$dir/server-key.pem" ] && return 0
  command -v openssl >/dev/null || die "openssl not found: run 'make setup'"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=jlr local stack CA" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" >/dev/null 2>&1 || die "openssl: CA failed"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$JLR_MYSQL_HOST" \
    -keyout "$dir/server-key.pem" -out "$dir/server.csr" >/dev/null 2>&1 || die "openssl: key failed"
  printf 'subjectAltName=IP:%s,DNS:localhost\n' "$JLR_MYSQL_HOST" >"$dir/san.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -days 3650 -extfile "$dir/san.ext" -out "$dir/server-cert.pem" >/dev/null 2>&1 \
    || die "openssl: certificate failed"
  rm -f "$dir/server.csr" "$dir/san.ext" "$dir/ca-key.pem"
  chmod 600 "$dir/server-key.pem"
  [ "$(id -u)" = 0 ] && chown -R "$MYSQL_OS_USER" "$dir"
  return 0
}

mariadb_up() {
  command -v mariadbd >/dev/null || die "mariadbd not found: run 'make setup'"
  own_dir "$MYSQL_OS_USER" "$MDIR"
  if mariadb_running; then say "mariadb    already running on $JLR_MYSQL_HOST:$JLR_MYSQL_PORT"; else
    port_taken "$JLR_MYSQL_HOST" "$JLR_MYSQL_PORT" && die "port $JLR_MYSQL_PORT is already in use \
by another process (another checkout's stack? stop it with its 'make down'), or set JLR_MYSQL_PORT"
    if [ ! -d "$MDATA/mysql" ]; then
      say "mariadb    initialising $MDATA"
      as_user "$MYSQL_OS_USER" mariadb-install-db --no-defaults --datadir="$MDATA" \
        --auth-root-authentication-method=socket --skip-test-db >"$MDIR/install.log" 2>&1 \
        || die "mariadb-install-db failed; see $MDIR/install.log"
    fi
    mariadb_tls
    as_user "$MYSQL_OS_USER" mkdir -p "$MDIR/binlog"  # the binary log: change capture (mode cdc)
    local extra=()
    [ "$(id -u)" = 0 ] && extra+=(--user="$MYSQL_OS_USER")
    # setsid + closed descriptors: the server outlives this shell and holds no terminal.
    setsid mariadbd --no-defaults "${extra[@]}" --datadir="$MDATA" --socket="$MSOCK" \
      --port="$JLR_MYSQL_PORT" --bind-address="$JLR_MYSQL_HOST" --pid-file="$MPID" \
      --log-error="$MLOG" --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --default-time-zone=+00:00 --local-infile=1 --skip-name-resolve \
      --log-bin="$MDIR/binlog/mariadb-bin" --server-id=1 --binlog-format=ROW \
      --binlog-row-image=FULL --binlog-row-metadata=FULL --binlog-expire-logs-seconds=604800 \
      --innodb-buffer-pool-size=256M --max-allowed-packet=256M \
      --ssl-ca="$MDIR/tls/ca.pem" --ssl-cert="$MDIR/tls/server-cert.pem" \
      --ssl-key="$MDIR/tls/server-key.pem" \
      </dev/null >/dev/null 2>&1 &
    local i
    for i in $(seq 1 60); do
      mariadb_running && break
      sleep 0.5
    done
    mariadb_running || { tail -n 20 "$MLOG" >&2 2>/dev/null; die "mariadb did not start; log: $MLOG"; }
    say "mariadb    started on $JLR_MYSQL_HOST:$JLR_MYSQL_PORT (pid $(cat "$MPID" 2>/dev/null))"
  fi
  # Application user and database; idempotent, the password is fed on stdin, never argv.
  local pw; pw="$(sql_escape "$JLR_MYSQL_PASSWORD")"
  mariadb --no-defaults --socket="$MSOCK" -u"$(mariadb_boot_user)" <<SQL
CREATE USER IF NOT EXISTS '$JLR_MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$JLR_MYSQL_USER'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$JLR_MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$JLR_MYSQL_USER'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO '$JLR_MYSQL_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$JLR_MYSQL_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`$JLR_MYSQL_DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
}

mariadb_down() {
  if mariadb_running; then
    mariadb_admin shutdown && say "mariadb    stopped"
  else say "mariadb    not running"; fi
}

mariadb_status() {
  if mariadb_running; then
    say "mariadb    running  $JLR_MYSQL_USER@$JLR_MYSQL_HOST:$JLR_MYSQL_PORT/$JLR_MYSQL_DATABASE  pid $(cat "$MPID" 2>/dev/null)  data $MDATA  log $MLOG"
  else say "mariadb    stopped  (data $MDATA)"; return 1; fi
}

# ---------------------------------------------------------------- PostgreSQL
pg() { as_user "$PG_OS_USER" "$PG_BIN/$1" "${@:2}"; }
# A warehouse, not an OLTP server: sorts and hashes of a few million rows in memory, fewer
# checkpoints during bulk loads, no JIT (its compile time, about 0.5 s a query here, is more than
# it saves on the short queries of dbt builds and tests). Sized for a small machine; override
# with JLR_PG_TUNING.
PG_TUNING="${JLR_PG_TUNING:--c shared_buffers=256MB -c work_mem=64MB -c maintenance_work_mem=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c jit=off}"
pg_running() { [ -f "$PDATA/PG_VERSION" ] && pg pg_ctl -D "$PDATA" status >/dev/null 2>&1; }
psql_app() {
  PGPASSWORD="$JLR_PG_PASSWORD" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$JLR_PG_HOST" \
    -p "$JLR_PG_PORT" -U "$JLR_PG_USER" "$@"
}

# Who may connect how (written at every `up`, so an existing data directory gets it too): over
# TCP, scram-sha-256 with the generated password; over the Unix socket in $PDIR, the OS user who
# runs the stack as the warehouse user by `peer` (the kernel vouches for the client; Debian's
# default for local connections), which is how dbt connects: it opens a connection for every
# node, and SCRAM's key derivation is several milliseconds of CPU on both ends each time. Other
# socket connections use the password. Prints "changed" when a file was rewritten.
pg_auth_files() {
  local hba ident
  hba="# Written by scripts/stack.sh at every 'make up'; edit that script, not this file.
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all  $JLR_PG_USER  peer map=stack_user
local   all  all  scram-sha-256
host    all  all  127.0.0.1/32  scram-sha-256
host    all  all  ::1/128  scram-sha-256"
  ident="# Written by scripts/stack.sh: the OS user who runs the stack connects as $JLR_PG_USER.
stack_user  $(id -un)  $JLR_PG_USER"
  if [ "$(cat "$PDATA/pg_hba.conf" 2>/dev/null)" != "$hba" ] \
    || [ "$(cat "$PDATA/pg_ident.conf" 2>/dev/null)" != "$ident" ]; then
    printf '%s\n' "$hba" | as_user "$PG_OS_USER" tee "$PDATA/pg_hba.conf" >/dev/null
    printf '%s\n' "$ident" | as_user "$PG_OS_USER" tee "$PDATA/pg_ident.conf" >/dev/null
    echo changed
  fi
}

postgres_up() {
  [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL server binaries not found: run 'make setup'"
  own_dir "$PG_OS_USER" "$PDIR"
  if [ ! -f "$PDATA/PG_VERSION" ]; then
    say "postgres   initialising $PDATA"
    local pwfile="$PDIR/.pwfile"
    (umask 077; printf '%s\n' "$JLR_PG_PASSWORD" >"$pwfile")
    [ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$pwfile"
    pg initdb -D "$PDATA" -U "$JLR_PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
      -E UTF8 --locale=C >"$PDIR/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed; see $PDIR/initdb.log"; }
    rm -f "$pwfile"
  fi
  local auth
  auth="$(pg_auth_files)"
  if pg_running; then
    say "postgres   already running on $JLR_PG_HOST:$JLR_PG_PORT"
    if [ -n "$auth" ]; then
      pg pg_ctl -D "$PDATA" reload >/dev/null || die "postgres did not reload pg_hba.conf; log: $PLOG"
      say "postgres   reloaded its authentication rules"
    fi
  else
    port_taken "$JLR_PG_HOST" "$JLR_PG_PORT" && die "port $JLR_PG_PORT is already in use by \
another process (another checkout's stack? stop it with its 'make down'), or set JLR_PG_PORT"
    pg pg_ctl -D "$PDATA" -l "$PLOG" -w -t 60 \
      -o "-c port=$JLR_PG_PORT -c listen_addresses=$JLR_PG_HOST -c unix_socket_directories=$PDIR $PG_TUNING" \
      start </dev/null >/dev/null 2>&1 \
      || { tail -n 20 "$PLOG" >&2 2>/dev/null; die "postgres did not start; log: $PLOG"; }
    say "postgres   started on $JLR_PG_HOST:$JLR_PG_PORT"
  fi
  local i
  for i in $(seq 1 60); do
    "$PG_BIN/pg_isready" -q -h "$JLR_PG_HOST" -p "$JLR_PG_PORT" && break
    sleep 0.5
  done
  "$PG_BIN/pg_isready" -q -h "$JLR_PG_HOST" -p "$JLR_PG_PORT" || die "postgres is not accepting connections; log: $PLOG"
  if [ -z "$(psql_app -d postgres -tAc "select 1 from pg_database where datname = '$(sql_escape "$JLR_PG_DATABASE")'")" ]; then
    psql_app -d postgres -c "create database \"$JLR_PG_DATABASE\""
    say "postgres   created database $JLR_PG_DATABASE"
  fi
}

postgres_down() {
  if pg_running; then pg pg_ctl -D "$PDATA" -m fast -w stop >/dev/null && say "postgres   stopped"
  else say "postgres   not running"; fi
}

postgres_status() {
  if pg_running; then
    say "postgres   running  $JLR_PG_USER@$JLR_PG_HOST:$JLR_PG_PORT/$JLR_PG_DATABASE  data $PDATA  log $PLOG"
  else say "postgres   stopped  (data $PDATA)"; return 1; fi
}

case "$cmd" in
  up)
    mkdir -p "$LOCAL" "$LOCAL/lake"
    chmod 755 "$LOCAL"
    mariadb_up
    postgres_up
    say "lake       ${JLR_LAKE_URI}"
    ;;
  down) mariadb_down; postgres_down ;;
  status)
    rc=0
    mariadb_status || rc=1
    postgres_status || rc=1
    say "lake       ${JLR_LAKE_URI}"
    exit $rc
    ;;
  *) die "usage: stack.sh up|down|status" ;;
esac
