#!/usr/bin/env bash
# Prints a DOCKER_HOST for Podman's Docker-compatible socket, for running the engine tests on
# Podman: installs Debian's podman and catatonit (Podman's init, needed for Init: true) when
# missing, sets default ulimits within the host's hard limits (Podman's defaults exceed them
# here), and starts `podman system service`. Everything but the URL goes to stderr.
set -euo pipefail
say() { printf '[podman] %s\n' "$*" >&2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOCK="${BERTH_PODMAN_SOCKET:-/run/berth-podman.sock}"
answers() { DOCKER_HOST="unix://$SOCK" node "$ROOT/scripts/engine-ping.mjs" >/dev/null 2>&1; }
if answers; then echo "unix://$SOCK"; exit 0; fi

if ! command -v podman >/dev/null || ! command -v catatonit >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { say "podman is not installed and cannot be installed here"; exit 1; }
  say "installing Debian's podman and catatonit"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq podman catatonit >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq podman catatonit >/dev/null 2>&1; }
fi
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ]; then
  hard_nofile="$(ulimit -Hn)"; hard_nproc="$(ulimit -Hu)"
  nofile=$(( hard_nofile < 1048576 ? hard_nofile : 1048576 )); nproc=$(( hard_nproc < 4096 ? hard_nproc : 4096 ))
  say "writing $conf with default_ulimits nofile=$nofile nproc=$nproc"
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$nofile" "$nofile" "$nproc" "$nproc" >"$conf"
elif ! grep -q default_ulimits "$conf"; then
  say "warning: $conf sets no default_ulimits; containers may fail to start if Podman's defaults exceed the host's hard limits"
fi
say "starting podman system service on $SOCK"
nohup podman system service --time=0 "unix://$SOCK" >/var/log/berth-podman.log 2>&1 &
for _ in $(seq 1 40); do
  if answers; then echo "unix://$SOCK"; exit 0; fi
  sleep 0.5
done
say "podman system service did not answer; see /var/log/berth-podman.log"
exit 1
