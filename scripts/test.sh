#!/usr/bin/env bash
# The one test command (README, CI): makes the machine ready (Node >= 22, dependencies, build, a
# container engine, a static busybox), then runs lint, the format check, the typecheck and every
# test — unit tests on plain data and engine tests against the real Docker daemon.
#
#   BERTH_TEST_POSTGRES=1|0  also run the store tests on a local PostgreSQL (default: 1 in CI)
#   BERTH_TEST_PODMAN=1|0    also run the engine tests on Podman's Docker-compatible socket (default: 1 in CI)
#   BERTH_TEST_OUTAGE=1|0    also run the Docker outage tests, which kill and restart dockerd (default: 1
#                            in CI; only when this script may restart dockerd: root, default socket)
#   BERTH_TEST_OUTAGE_MS=n   how long dockerd stays down in them (default 120000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh

in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
step() { printf '\n== %s\n' "$*" >&2; }

step "lint"
npx eslint . --max-warnings=0
step "format check"
npx prettier --check . >/dev/null
step "typecheck"
npx tsc -p tsconfig.json --noEmit

if [ "${BERTH_TEST_POSTGRES:-$(in_ci && echo 1 || echo 0)}" = 1 ]; then
  step "PostgreSQL for the store tests"
  BERTH_TEST_POSTGRES_URL="$(bash scripts/test-postgres.sh)"
  export BERTH_TEST_POSTGRES_URL
fi

step "unit and engine tests (engine: ${DOCKER_HOST:-unix:///var/run/docker.sock})"
npx vitest run

if [ "${BERTH_TEST_OUTAGE:-$(in_ci && echo 1 || echo 0)}" = 1 ]; then
  if [ -z "${DOCKER_HOST:-}" ] && [ "$(id -u)" = 0 ] && pgrep -x dockerd >/dev/null && ! systemctl is-active --quiet docker 2>/dev/null; then
    step "Docker outage tests: dockerd is killed mid-create and restarted (F3, F4)"
    BERTH_OUTAGE_PROJECT=1 npx vitest run --project outage
  else
    step "skipping the Docker outage tests: they need root and a dockerd this script may kill and restart"
  fi
fi

if [ "${BERTH_TEST_PODMAN:-$(in_ci && echo 1 || echo 0)}" = 1 ]; then
  step "engine tests on Podman"
  podman_host="$(bash scripts/test-podman.sh)"
  # One file at a time: Debian bookworm's netavark 1.4 drops the shared FORWARD jump into its
  # isolation chains whenever any network is torn down, so a teardown in a parallel test file
  # would briefly lift isolation between workspaces (see README, known limitations).
  DOCKER_HOST="$podman_host" npx vitest run --project engine --no-file-parallelism
fi
step "all tests passed"
