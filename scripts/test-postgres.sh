#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: initdb + pg_ctl into a folder of its own (trust auth, unix socket
# in that folder, no TCP), started and stopped by .ci/run; tests/conftest.py starts one the same way when
# BETAG_TEST_POSTGRES_URL is not set and Debian's postgresql package is installed.
#   scripts/test-postgres.sh start DIR   -> prints the SQLAlchemy URL of the server's "postgres" database
#   scripts/test-postgres.sh stop DIR
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: scripts/test-postgres.sh start|stop DIR" >&2; exit 2; }

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  echo "PostgreSQL server binaries not found (install Debian's postgresql package)" >&2; exit 3
}

as_owner() {  # initdb and postgres refuse to run as root: run them as the postgres user then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bin=$(bindir)
port=${BETAG_TEST_POSTGRES_PORT:-54329}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    opts="-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c fsync=off -c synchronous_commit=off"
    opts="$opts -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql+psycopg://postgres@/postgres?host=$dir&port=$port"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: scripts/test-postgres.sh start|stop DIR" >&2; exit 2 ;;
esac
