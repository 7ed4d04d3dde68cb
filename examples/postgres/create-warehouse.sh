#!/usr/bin/env bash
# Creates and fills the example warehouse that jobs/warehouse-users.yaml reads, and prints its URL:
#
#   export WAREHOUSE_URL=$(examples/postgres/create-warehouse.sh)
#   jobs run warehouse-users
#
# With no argument it starts a throwaway PostgreSQL server on a loopback port (installed from
# Debian's packages when missing; see scripts/postgres-test-cluster.sh) and creates the database
# `warehouse` on it; `examples/postgres/create-warehouse.sh stop` stops that server. With a server
# URL (`postgres://user@host:5432/postgres`, password in PGPASSWORD) it creates `warehouse` there
# instead (WAREHOUSE_DATABASE names another database than `warehouse`). Running it again recreates
# the database with the same rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SYNCJOBS_PG_CLUSTER="${SYNCJOBS_PG_CLUSTER:-/tmp/syncjobs-example-warehouse}"
if [[ "${1:-}" == "stop" ]]; then
    scripts/postgres-test-cluster.sh stop
    exit 0
fi
if [[ -n "${1:-}" ]]; then
    server="$1"
else
    server=$(scripts/postgres-test-cluster.sh start)
fi
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
# The same server, database `warehouse`.
base="${server%%\?*}"
query="${server#"$base"}"
name="${WAREHOUSE_DATABASE:-warehouse}"
warehouse="${base%/*}/$name$query"
"$psql_bin" "$server" -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS \"$name\"" -c "CREATE DATABASE \"$name\"" >&2
"$psql_bin" "$warehouse" -X -q -v ON_ERROR_STOP=1 >&2 <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.users (
    customer_id text,
    email       text,
    first_name  text,
    plan        text,
    ltv         numeric(12, 2),
    country     char(2),
    signed_up   date,
    tags        text[],
    preferences jsonb,
    updated_at  timestamptz
);
-- 120 customers, one change every 37 minutes from 2026-10-01; customer 42 has neither id nor
-- email (rejected: a batch must identify its user), and one has no updated_at (rejected too).
INSERT INTO analytics.users
SELECT CASE WHEN n = 42 THEN NULL ELSE 'C' || lpad(n::text, 5, '0') END,
       CASE WHEN n = 42 THEN NULL ELSE 'customer' || n || '@example.com' END,
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald'])[n % 6 + 1],
       (ARRAY['free', 'pro', 'enterprise'])[n % 3 + 1],
       round((n * 17.35) % 5000, 2),
       (ARRAY['DE', 'US', 'FR', 'JP'])[n % 4 + 1],
       DATE '2024-01-01' + n * 5,
       CASE WHEN n % 5 = 0 THEN ARRAY['newsletter', 'beta'] ELSE ARRAY['newsletter'] END,
       jsonb_build_object('language', (ARRAY['de', 'en', 'fr', 'ja'])[n % 4 + 1]),
       CASE WHEN n = 77 THEN NULL ELSE TIMESTAMPTZ '2026-10-01 00:00:00+00' + n * INTERVAL '37 minutes' END
FROM generate_series(1, 120) AS n;
SQL
echo "$warehouse"
