#!/usr/bin/env bash
# README's test command. Installs what the tests need when a fresh machine lacks it, then runs
# every test. `.ci/run` calls exactly this script; extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

packages=()
pkg-config --exists sqlite3 2>/dev/null || packages+=(libsqlite3-dev pkg-config)
pkg-config --exists zlib 2>/dev/null || packages+=(zlib1g-dev pkg-config)
# The shipped jobs' batches are checked against mParticle's published JSON schema with Python's
# jsonschema (scripts/check-batches.py).
has_jsonschema() { python3 -c 'import jsonschema' 2>/dev/null; }
if ! has_jsonschema && command -v apt-get >/dev/null; then packages+=(python3 python3-jsonschema); fi
if ((${#packages[@]})); then
    echo "installing ${packages[*]} (needed by the tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}"
fi
# The browser test drives Debian's headless Chromium over WebDriver; here it must run, not skip.
if ! command -v chromedriver >/dev/null && command -v apt-get >/dev/null; then
    echo "installing chromium chromium-driver (needed by the browser test)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
export SYNCJOBS_BROWSER_TEST=required

if ! has_jsonschema; then
    echo "installing jsonschema with pip (needed by the tests)"
    python3 -m pip install --quiet jsonschema || python3 -m pip install --quiet --user jsonschema
fi

# The PostgreSQL tests run against a throwaway cluster on a loopback port (installed from Debian's
# packages when missing), and fail rather than skip when it is not there.
SYNCJOBS_PG_CLUSTER=$(mktemp -d /tmp/syncjobs-postgres-test.XXXXXX)
export SYNCJOBS_PG_CLUSTER
trap 'scripts/postgres-test-cluster.sh stop' EXIT
SYNCJOBS_TEST_POSTGRES_URL=$(scripts/postgres-test-cluster.sh start)
export SYNCJOBS_TEST_POSTGRES_URL
export SYNCJOBS_REQUIRE_POSTGRES=1

swift test "$@"
