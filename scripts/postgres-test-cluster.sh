#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start` creates one in a temporary folder, listening
# on a free loopback port only, and prints its URL; `url` prints the URL of the running one; `stop`
# stops it and removes the folder.
#
#   scripts/postgres-test-cluster.sh start     # prints postgres://syncjobs@127.0.0.1:PORT/postgres
#   export SYNCJOBS_TEST_POSTGRES_URL=$(scripts/postgres-test-cluster.sh url)
#   scripts/postgres-test-cluster.sh stop
#
# PostgreSQL comes from Debian's `postgresql` package, installed with apt-get when no `initdb` is
# found (Debian keeps it in /usr/lib/postgresql/*/bin, off PATH). initdb refuses to run as root, so
# when run as root the cluster belongs to the `postgres` system user (the package creates it).
#
# Roles: `syncjobs` (superuser, trusted from loopback, no password: the tests create and drop a
# database each) and `syncjobs_password` (password `syncjobs-test-password`, checked with
# scram-sha-256), so a test can be refused for a wrong password.
#
# SYNCJOBS_PG_CLUSTER names the folder where the cluster's state is recorded (default
# /tmp/syncjobs-postgres-test), so two clusters can run side by side.
set -euo pipefail

record="${SYNCJOBS_PG_CLUSTER:-/tmp/syncjobs-postgres-test}"

find_bin() {
    local dir
    # The server's own folder (initdb on PATH may be a link into it), which also holds psql.
    for dir in $(command -v initdb >/dev/null 2>&1 && dirname "$(readlink -f "$(command -v initdb)")") \
               $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/psql" ]]; then echo "$dir"; return 0; fi
    done
    return 1
}

install_postgres() {
    command -v apt-get >/dev/null || { echo "PostgreSQL is not installed and apt-get is missing; install PostgreSQL's server (initdb, pg_ctl)" >&2; exit 1; }
    echo "installing postgresql (needed by the tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql postgresql-client >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    if [[ -f "$record/url" ]] && as_owner "$(cat "$record/bin")/pg_ctl" -D "$record/data" status >/dev/null 2>&1; then
        cat "$record/url"
        return 0
    fi
    local bin
    bin=$(find_bin) || { install_postgres; bin=$(find_bin); } || { echo "initdb not found after installing postgresql" >&2; exit 1; }
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        echo "running as root, and there is no 'postgres' user to own the cluster; install Debian's postgresql package, or run as another user" >&2
        exit 1
    fi
    rm -rf "$record"
    mkdir -p "$record"
    local data="$record/data" port
    port=$(free_port)
    [[ $(id -u) -eq 0 ]] && chown postgres "$record"
    as_owner "$bin/initdb" -D "$data" -U syncjobs --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$record/initdb.log" 2>&1 \
        || { cat "$record/initdb.log" >&2; exit 1; }
    # Loopback TCP only, the socket in the cluster's own folder; the password role is checked.
    as_owner bash -c "cat > '$data/pg_hba.conf'" <<EOF
local   all  all                      trust
host    all  syncjobs_password  127.0.0.1/32  scram-sha-256
host    all  all                127.0.0.1/32  trust
EOF
    as_owner bash -c "cat >> '$data/postgresql.conf'" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$record'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    as_owner "$bin/pg_ctl" -D "$data" -l "$record/server.log" -w -t 60 start >/dev/null \
        || { cat "$record/server.log" >&2; exit 1; }
    as_owner "$bin/psql" -h "$record" -p "$port" -U syncjobs -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE syncjobs_password LOGIN PASSWORD 'syncjobs-test-password'" >/dev/null
    echo "$bin" > "$record/bin"
    echo "postgres://syncjobs@127.0.0.1:$port/postgres?sslmode=disable" > "$record/url"
    cat "$record/url"
}

stop() {
    [[ -f "$record/bin" ]] || return 0
    as_owner "$(cat "$record/bin")/pg_ctl" -D "$record/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$record"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) [[ -f "$record/url" ]] && cat "$record/url" || { echo "no cluster is running in $record; run '$0 start'" >&2; exit 1; } ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
