#!/usr/bin/env bash
# Installs what pgaf needs on a fresh Debian machine: PostgreSQL 15 (no default cluster),
# tmux, openssl (--ssl-self-signed), iproute2 (the netns rig test), the npm dependencies, the compiled dist/, and (as root) the pgaf extension files.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_config ] || need+=(postgresql-client-15)
command -v pg_config >/dev/null || need+=(postgresql-common)
command -v tmux >/dev/null || need+=(tmux)
command -v openssl >/dev/null || need+=(openssl)
command -v ip >/dev/null || need+=(iproute2)  # the network-namespace rig (test/e2e/netns-rig.test.ts)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  # tests and the demo start their own servers: no default "main" cluster
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="/usr/lib/postgresql/15/bin:$PATH"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
if [ "$(id -u)" = 0 ]; then
  node dist/cli/main.js -q install-extension
fi
