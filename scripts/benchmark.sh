#!/usr/bin/env bash
# Prints throughput (rows/s) and peak memory of `jobs run` on generated data, release build.
#   scripts/benchmark.sh [ROWS]             (default 1,000,000 rows)
#   scripts/benchmark.sh --vs-sqlite [ROWS] only the comparison with `sqlite3 -json` (below)
#   scripts/benchmark.sh --vs-psql [ROWS]   only the comparison with `psql` (a throwaway PostgreSQL
#                                           server, started with scripts/postgres-test-cluster.sh)
# The larger run reads ten times as many rows to show memory does not grow with the source; the
# last two deliver over loopback to an mParticle and a Harness FME sink.
# JOBS_BIN=path runs another build of `jobs` (an older commit's, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
ONLY_VS_SQLITE=
ONLY_VS_PSQL=
if [ "${1:-}" = "--vs-sqlite" ]; then ONLY_VS_SQLITE=1; shift; fi
if [ "${1:-}" = "--vs-psql" ]; then ONLY_VS_PSQL=1; shift; fi
ROWS=${1:-1000000}
swift build -c release --product jobs >/dev/null
swift build -c release --product mparticle-sink >/dev/null
BIN="${JOBS_BIN:-$PWD/.build/release/jobs}"
SINK="$PWD/.build/release/mparticle-sink"
WORK=$(mktemp -d)
SINK_PID=
PG_CLUSTER=
cleanup() {
    exec 3>&- 2>/dev/null || true; [ -n "$SINK_PID" ] && wait "$SINK_PID" 2>/dev/null
    [ -n "$PG_CLUSTER" ] && SYNCJOBS_PG_CLUSTER="$PG_CLUSTER" scripts/postgres-test-cluster.sh stop
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/jobs" "$WORK/data" "$WORK/out"

# A 12-column event table of N rows, generated inside SQLite (10M rows take seconds, not minutes).
make_events12() { # path rows
    rm -f "$1"
    python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("""CREATE TABLE events (id INTEGER, customer_id TEXT, email TEXT, event_name TEXT, occurred_at TEXT,
    platform TEXT, os_version TEXT, sku TEXT, price REAL, category TEXT, campaign TEXT, quantity INTEGER)""")
db.execute("""WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < ?)
    INSERT INTO events SELECT n, printf('C%06d', n % 50000), 'user' || (n % 50000) || '@example.com',
        CASE n % 4 WHEN 0 THEN 'Product Viewed' WHEN 1 THEN 'Added to Cart' WHEN 2 THEN 'Order Completed' ELSE 'Search' END,
        strftime('%Y-%m-%dT%H:%M:%SZ', 1767225600 + n, 'unixepoch'),
        CASE n % 3 WHEN 0 THEN 'iOS' WHEN 1 THEN 'Android' ELSE 'web' END, (17 + n % 3) || '.' || (n % 7),
        'SKU-' || (n % 997), (n % 10000) / 100.0, CASE n % 3 WHEN 0 THEN 'shoes' WHEN 1 THEN 'books' ELSE 'garden' END,
        'spring-' || (n % 12), n % 5 + 1 FROM n""", (int(sys.argv[2]),))
db.commit()
PY
}

# The engine against the fastest way to get the same table out of SQLite as JSON: a 12-column
# event table, full sync to a file, against `sqlite3 -json` writing the table to a file on the same
# disk. Median of 5 alternating pairs; the ratio is syncjobs' wall time over sqlite3's.
# The 12-column event job both comparisons run: NAME and its source (YAML).
events12_job() { # name source
    cat > "$WORK/jobs/$1.yaml" <<YAML
name: $1
type: event
source: $2
mapping:
  - { column: customer_id, to: user_identities.customer_id }
  - { column: email, to: user_identities.email }
  - { column: event_name, to: events.data.event_name }
  - { column: occurred_at, to: events.data.timestamp_unixtime_ms }
  - { column: platform, to: device_info.platform }
  - { column: os_version, to: device_info.os_version }
  - { ignore: id }
  - { column: \$unmapped, to: events.data.custom_attributes.* }
destination: { path: ../out/$1.ndjson, environment: production }
YAML
}

vs_sqlite() {
    command -v sqlite3 >/dev/null || { echo "vs sqlite3 -json: skipped (no sqlite3 command; apt-get install sqlite3)"; return; }
    make_events12 "$WORK/data/events12.db" "$ROWS"
    events12_job sqlite-events-full "{ sqlite: ../data/events12.db, table: events }"
    python3 - "$BIN" "$WORK" <<'PY'
import os, statistics, subprocess, sys, time
binary, work = sys.argv[1], sys.argv[2]
def timed(command, stdout):
    start = time.perf_counter()
    subprocess.run(command, stdout=stdout, check=True)
    return time.perf_counter() - start
ours, theirs, peaks = [], [], []
for _ in range(5):
    out = os.path.join(work, "out", "sqlite-events-full.ndjson")
    if os.path.exists(out): os.remove(out)
    rss_file = os.path.join(work, "rss")
    ours.append(timed(["/usr/bin/time", "-f", "%M", "-o", rss_file, binary, "run", "sqlite-events-full",
                       "--jobs", os.path.join(work, "jobs"), "--state", os.path.join(work, "state-vs.db")], subprocess.DEVNULL))
    peaks.append(int(open(rss_file).read().split()[-1]) / 1024)
    with open(os.path.join(work, "out", "sqlite3.json"), "w") as f:
        theirs.append(timed(["sqlite3", "-json", os.path.join(work, "data", "events12.db"), "SELECT * FROM events"], f))
a, b = statistics.median(ours), statistics.median(theirs)
print(f"vs sqlite3 -json: 12-column event table, full sync to a file, median of 5 alternating pairs")
print(f"  syncjobs {a:6.2f} s   sqlite3 -json {b:6.2f} s   ratio {a / b:.2f}x   syncjobs peak RSS {max(peaks):.1f} MiB")
PY
    # Memory must not grow with the source: the same job over tables of 100k, the chosen size, and 10M rows.
    echo "  peak RSS of the same job by table size:"
    for size in 100000 "$ROWS" 10000000; do
        make_events12 "$WORK/data/events12-size.db" "$size"
        sed -e 's/name: sqlite-events-full/name: sqlite-events-size/' -e 's#events12.db#events12-size.db#' \
            -e 's#sqlite-events-full.ndjson#sqlite-events-size.ndjson#' "$WORK/jobs/sqlite-events-full.yaml" > "$WORK/jobs/sqlite-events-size.yaml"
        rm -f "$WORK/out/sqlite-events-size.ndjson"
        local start end
        start=$(date +%s.%N)
        /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" run sqlite-events-size --jobs "$WORK/jobs" --state "$WORK/state-size.db" >/dev/null
        end=$(date +%s.%N)
        python3 -c "r=$size; s=$end-$start; print(f'  {r:>12,} rows {s:7.2f} s {r/s:>11,.0f} rows/s  peak RSS {int(open(\"$WORK/rss\").read().split()[-1])/1024:6.1f} MiB')"
        rm -f "$WORK/data/events12-size.db"* "$WORK/out/sqlite-events-size.ndjson" "$WORK/state-size.db"*
    done
}
# The PostgreSQL source against `psql` exporting the same rows as JSON: the same 12-column event
# table in a throwaway server on loopback, full sync to a file, against
# `psql -c "SELECT row_to_json(t) FROM (SELECT * FROM events) t"` writing to a file on the same disk.
# Median of 5 alternating pairs; then peak memory at 100k, the chosen size and 10M rows (10M takes
# a minute or two to generate and read).
vs_psql() {
    # Beside WORK, not in it: the server runs as the postgres user when this runs as root.
    PG_CLUSTER=$(mktemp -d /tmp/syncjobs-bench-postgres.XXXXXX)
    local server psql_bin
    server=$(SYNCJOBS_PG_CLUSTER="$PG_CLUSTER" scripts/postgres-test-cluster.sh start)
    psql_bin="$(cat "$PG_CLUSTER/bin")/psql"
    make_pg_events12() { # database rows
        "$psql_bin" "$server" -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
        "$psql_bin" "${server%%/postgres\?*}/$1?sslmode=disable" -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE events (id bigint, customer_id text, email text, event_name text, occurred_at timestamptz,
    platform text, os_version text, sku text, price numeric(10, 2), category text, campaign text, quantity integer);
INSERT INTO events SELECT n, 'C' || lpad((n % 50000)::text, 6, '0'), 'user' || (n % 50000) || '@example.com',
    (ARRAY['Product Viewed', 'Added to Cart', 'Order Completed', 'Search'])[n % 4 + 1],
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + n * INTERVAL '1 second', (ARRAY['iOS', 'Android', 'web'])[n % 3 + 1],
    (17 + n % 3) || '.' || (n % 7), 'SKU-' || (n % 997), (n % 10000) / 100.0,
    (ARRAY['shoes', 'books', 'garden'])[n % 3 + 1], 'spring-' || (n % 12), n % 5 + 1
FROM generate_series(1, $2) AS n;
VACUUM ANALYZE events;
SQL
    }
    pg_job() { # name database
        events12_job "$1" "{ postgres: \"${server%%/postgres\?*}/$2?sslmode=disable\", table: events }"
    }
    make_pg_events12 events12 "$ROWS"
    pg_job pg-events-full events12
    python3 - "$BIN" "$WORK" "$psql_bin" "${server%%/postgres\?*}/events12?sslmode=disable" "$ROWS" <<'PY'
import os, statistics, subprocess, sys, time
binary, work, psql, url = sys.argv[1:5]
rows = int(sys.argv[5])
def timed(command, stdout):
    start = time.perf_counter()
    subprocess.run(command, stdout=stdout, check=True)
    return time.perf_counter() - start
ours, theirs, peaks, psql_peaks = [], [], [], []
for _ in range(5):
    out = os.path.join(work, "out", "pg-events-full.ndjson")
    if os.path.exists(out): os.remove(out)
    rss_file = os.path.join(work, "rss")
    ours.append(timed(["/usr/bin/time", "-f", "%M", "-o", rss_file, binary, "run", "pg-events-full",
                       "--jobs", os.path.join(work, "jobs"), "--state", os.path.join(work, "state-pg.db")], subprocess.DEVNULL))
    peaks.append(int(open(rss_file).read().split()[-1]) / 1024)
    theirs.append(timed(["/usr/bin/time", "-f", "%M", "-o", rss_file, psql, url, "-X", "-q", "-t", "-A",
                         "-c", "SELECT row_to_json(t) FROM (SELECT * FROM events) t", "-o", os.path.join(work, "out", "psql.json")], subprocess.DEVNULL))
    psql_peaks.append(int(open(rss_file).read().split()[-1]) / 1024)
a, b = statistics.median(ours), statistics.median(theirs)
print(f"vs psql (row_to_json): 12-column event table in PostgreSQL, full sync to a file, median of 5 alternating pairs")
rate = f"   {rows / a:,.0f} rows/s"
print(f"  syncjobs {a:6.2f} s{rate}   psql {b:6.2f} s   ratio {a / b:.2f}x   syncjobs peak RSS {max(peaks):.1f} MiB   psql peak RSS {max(psql_peaks):.1f} MiB")
PY
    echo "  peak RSS of the same job by table size:"
    for size in 100000 "$ROWS" 10000000; do
        make_pg_events12 events_size "$size"
        pg_job pg-events-size events_size
        rm -f "$WORK/out/pg-events-size.ndjson" "$WORK/state-pg-size.db"*
        local start end
        start=$(date +%s.%N)
        /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" run pg-events-size --jobs "$WORK/jobs" --state "$WORK/state-pg-size.db" >/dev/null
        end=$(date +%s.%N)
        python3 -c "r=$size; s=$end-$start; print(f'  {r:>12,} rows {s:7.2f} s {r/s:>11,.0f} rows/s  peak RSS {int(open(\"$WORK/rss\").read().split()[-1])/1024:6.1f} MiB')"
        rm -f "$WORK/out/pg-events-size.ndjson"
    done
}
if [ -n "$ONLY_VS_PSQL" ]; then
    echo "syncjobs benchmark: $ROWS rows, $(nproc) cores, $(uname -m)"
    vs_psql
    exit 0
fi

if [ -n "$ONLY_VS_SQLITE" ]; then
    echo "syncjobs benchmark: $ROWS rows, $(nproc) cores, $(uname -m)"
    vs_sqlite
    exit 0
fi

python3 - "$WORK/data" "$ROWS" <<'PY'
import csv, json, os, random, sqlite3, sys
from datetime import datetime, timedelta, timezone
out, rows = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
base = datetime(2026, 1, 1, tzinfo=timezone.utc)
names = ["Product Viewed", "Added to Cart", "Order Completed", "Search"]
def row(n):
    t = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [n, f"C{n % 50000:06d}", f"user{n % 50000}@example.com", names[n % 4], t, ["iOS", "Android", "web"][n % 3],
            f"SKU-{n % 997}", f"{(n % 10000) / 100:.2f}"]
header = ["id", "customer_id", "email", "event_name", "occurred_at", "platform", "sku", "price"]
def write_csv(path, count):
    with open(path, "w", newline="") as f:
        w = csv.writer(f); w.writerow(header)
        for n in range(1, count + 1): w.writerow(row(n))
write_csv(os.path.join(out, "events.csv"), rows)
write_csv(os.path.join(out, "events10x.csv"), rows * 10)
with open(os.path.join(out, "events.ndjson"), "w") as f:
    for n in range(1, rows + 1): f.write(json.dumps(dict(zip(header, row(n))), separators=(",", ":")) + "\n")
db = sqlite3.connect(os.path.join(out, "shop.db"))
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE users (customer_id TEXT, email TEXT, first_name TEXT, plan TEXT, ltv REAL, country TEXT, updated_at TEXT)")
db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?)",
    ((f"C{n:07d}", f"u{n}@example.com", "Ada", ["free", "pro"][n % 2], n / 100, "DE",
      (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")) for n in range(1, rows + 1)))
db.commit()
PY

event_job() { # name file format
cat > "$WORK/jobs/$1.yaml" <<YAML
name: $1
type: event
source: { file: ../data/$2, format: $3 }
mapping:
  - { column: customer_id, to: user_identities.customer_id }
  - { column: email, to: user_identities.email }
  - { column: event_name, to: events.data.event_name }
  - { column: occurred_at, to: events.data.timestamp_unixtime_ms }
  - { column: platform, to: device_info.platform }
  - { column: sku, to: events.data.custom_attributes.sku }
  - { column: price, to: events.data.custom_attributes.price }
  - { ignore: id }
sync: { mode: incremental, iterator: occurred_at, iterator_type: timestamp, from: 2026-01-01T00:00:00Z }
destination: { path: ../out/$1.ndjson, environment: production }
YAML
}
event_job csv-events events.csv csv
event_job ndjson-events events.ndjson ndjson
event_job csv-events-10x events10x.csv csv
cat > "$WORK/jobs/sqlite-users.yaml" <<YAML
name: sqlite-users
type: user
source: { sqlite: ../data/shop.db, query: "SELECT customer_id, email, first_name, plan, ltv, country, updated_at FROM users" }
mapping:
  - { column: customer_id, to: user_identities.customer_id }
  - { column: email, to: user_identities.email }
  - { column: first_name, to: user_attributes.\$FirstName }
  - { ignore: updated_at }
  - { column: \$unmapped, to: user_attributes.* }
sync: { mode: incremental, iterator: updated_at, iterator_type: timestamp }
destination: { path: ../out/sqlite-users.ndjson, environment: production }
YAML
sed -e 's/sqlite-users/sqlite-users-full/' -e 's/sync: .*/sync: { mode: full }/' "$WORK/jobs/sqlite-users.yaml" > "$WORK/jobs/sqlite-users-full.yaml"
# A Looker json_detail result (about 725 bytes a row) with the mapping derived from its tags.
python3 examples/looker/make_looker_examples.py --users "$ROWS" --events 10 --out "$WORK/data"
cat > "$WORK/jobs/looker-users.yaml" <<YAML
name: looker-users
type: user
source: { file: ../data/users.json, format: looker }
mapping: looker
destination: { path: ../out/looker-users.ndjson, environment: production }
YAML

# FME impressions as Split's webhook names them, one per line, two traffic types.
python3 - "$WORK/data/impressions.ndjson" "$ROWS" <<'PY'
import json, sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for n in range(1, rows + 1):
        f.write(json.dumps({"key": f"u-{n % 50000}", "split": f"flag_{n % 40}", "environmentId": "194da2f0-3e22-11ea-ba75-12f2f63694e5",
                            "environmentName": "Production", "treatment": ["on", "off", "control"][n % 3], "time": 1796029200000 + n,
                            "bucketingKey": "", "label": "default rule", "machineName": "web-1", "machineIp": "10.0.0.5",
                            "splitVersionNumber": 1764000000000, "sdk": "javascript", "sdkVersion": "10.26.0",
                            "trafficTypeName": ["user", "anonymous"][n % 2]}, separators=(",", ":")) + "\n")
PY
cat > "$WORK/jobs/fme-impressions.yaml" <<YAML
name: fme-impressions
type: event
source: { file: ../data/impressions.ndjson }
mapping: fme_impressions
fme: { identities: { user: customer_id, anonymous: other_id_2 } }
sync: { mode: incremental, iterator: time, iterator_type: unix_ms }
destination: { path: ../out/fme-impressions.ndjson, environment: production }
YAML

measure() { # job
    local start end rss line
    start=$(date +%s.%N)
    line=$( { /usr/bin/time -f "%M" "$BIN" run "$1" --jobs "$WORK/jobs" --state "$WORK/state.db" 2>"$WORK/err" ; } )
    echo "$line" > "$WORK/last-summary"
    end=$(date +%s.%N)
    rss=$(tail -1 "$WORK/err")
    local rows
    rows=$(echo "$line" | sed -E 's/.*read ([0-9,]+) rows?.*/\1/' | tr -d ,)
    python3 -c "import sys; r=int('$rows'); s=$end-$start; print(f'{\"$1\":<20} {r:>11,} rows {s:7.2f} s {r/s:>11,.0f} rows/s  peak RSS {int(\"$rss\")/1024:6.1f} MiB')"
}
echo "syncjobs benchmark: $ROWS rows, $(nproc) cores, $(uname -m)"
for job in csv-events ndjson-events sqlite-users sqlite-users-full looker-users fme-impressions csv-events-10x; do measure "$job"; done
echo "second incremental run of csv-events (nothing new):"
measure csv-events
vs_sqlite
vs_psql

# The mParticle destination over loopback: a keep-alive sink that accepts every request at once
# (checks auth and size, counts batches, parses nothing), 8 requests in flight.
mkfifo "$WORK/sink.in"
"$SINK" < "$WORK/sink.in" > "$WORK/sink.out" &
SINK_PID=$!
exec 3>"$WORK/sink.in"
for _ in $(seq 50); do grep -q '^port' "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^port/ {print $2}' "$WORK/sink.out")
sed -e 's/name: csv-events/name: mparticle-events/' -e '/^destination:/d' "$WORK/jobs/csv-events.yaml" > "$WORK/jobs/mparticle-events.yaml"
cat >> "$WORK/jobs/mparticle-events.yaml" <<YAML
destination:
  type: mparticle
  url: http://127.0.0.1:$PORT/v2
  api_key: \${BENCH_MP_KEY}
  api_secret: \${BENCH_MP_SECRET}
  environment: production
  max_in_flight: 8
YAML
export BENCH_MP_KEY=bench-key BENCH_MP_SECRET=bench-secret
echo "mParticle destination over loopback (HTTP/1.1 keep-alive sink on port $PORT):"
line=$(measure mparticle-events)
echo "$line"
summary=$(sed -n 's/.*sent \([0-9,]*\) in \([0-9,]*\) requests.*/\1 \2/p' "$WORK/last-summary")
seconds=$(echo "$line" | awk '{for (i = 1; i <= NF; i++) if ($i == "s") {print $(i-1); exit}}')
python3 -c "import sys; rows, requests = (int(x.replace(',', '')) for x in '$summary'.split()); s = float('$seconds'); print(f'{\"mparticle-events\":<20} {requests:>11,} requests {s:7.2f} s {requests/s:>11,.0f} requests/s  ({rows/s:,.0f} rows/s delivered)')"
exec 3>&-
wait "$SINK_PID"; SINK_PID=
echo "sink: $(tail -1 "$WORK/sink.out")"

# The csv-events output (1M batches, one request array per line) replayed into a loopback Harness
# FME sink: each batch becomes one FME event, chunks of up to 5,000 events, every accepted batch
# recorded in the delivery ledger before the next checkpoint.
mkfifo "$WORK/fme.in"
"$SINK" --fme < "$WORK/fme.in" > "$WORK/fme.out" &
SINK_PID=$!
exec 3>"$WORK/fme.in"
for _ in $(seq 50); do grep -q '^port' "$WORK/fme.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^port/ {print $2}' "$WORK/fme.out")
cat > "$WORK/jobs/fme-replay.yaml" <<YAML
name: fme-replay
type: event
source: { file: ../out/csv-events.ndjson, format: mparticle }
sync: { mode: full }
destination:
  type: fme
  url: http://127.0.0.1:$PORT/api
  api_key: \${BENCH_FME_KEY}
  traffic_types: { user: customer_id }
  max_event_age: off
YAML
export BENCH_FME_KEY=bench-sdk-key
echo "Harness FME destination over loopback (the csv-events batches replayed, format: mparticle):"
measure fme-replay
exec 3>&-
wait "$SINK_PID"; SINK_PID=
echo "sink: $(tail -1 "$WORK/fme.out")"
