#!/usr/bin/env bash
# Starts Berth on this machine: makes it ready (scripts/setup.sh), then runs the daemon in the
# foreground on 127.0.0.1:7420 with an embedded SQLite store in the data dir. Extra arguments go
# to `berth serve` (e.g. --port 8080 --data-dir ./data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Serving needs no browser (setup installs Chromium for the dashboard's browser tests only).
export BERTH_SETUP_SKIP_BROWSER="${BERTH_SETUP_SKIP_BROWSER:-1}"
. scripts/setup.sh
exec packages/cli/bin/berth serve "$@"
