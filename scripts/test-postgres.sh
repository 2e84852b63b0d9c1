#!/usr/bin/env bash
# Prints the URL of a local PostgreSQL that the store tests may use, installing (Debian's
# postgresql) and starting a cluster on 127.0.0.1 when needed. Everything else goes to stderr.
set -euo pipefail
say() { printf '[postgres] %s\n' "$*" >&2; }
URL="postgres://berth:berth@127.0.0.1:5432/berth_test"
if [ -n "${BERTH_TEST_POSTGRES_URL:-}" ]; then echo "$BERTH_TEST_POSTGRES_URL"; exit 0; fi
if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { say "no PostgreSQL and no way to install one; set BERTH_TEST_POSTGRES_URL"; exit 1; }
  say "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq postgresql >/dev/null 2>&1; }
fi
read -r version cluster port status _ < <(pg_lsclusters -h | head -n1)
if [ "$status" != online ]; then
  say "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi
URL="postgres://berth:berth@127.0.0.1:$port/berth_test"
as_pg() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\"" 2>&1; }
if [ "$(as_pg "select 1 from pg_roles where rolname='berth'")" != 1 ]; then as_pg "create role berth login password 'berth'" >&2; fi
if [ "$(as_pg "select 1 from pg_database where datname='berth_test'")" != 1 ]; then as_pg "create database berth_test owner berth" >&2; fi
echo "$URL"
