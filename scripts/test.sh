#!/usr/bin/env bash
# README's test command. Installs what the tests need when a fresh machine lacks it, then runs
# every test. `.ci/run` calls exactly this script; extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

packages=()
pkg-config --exists sqlite3 2>/dev/null || packages+=(libsqlite3-dev pkg-config)
if ((${#packages[@]})); then
    echo "installing ${packages[*]} (needed by the tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}"
fi

swift test "$@"
