#!/usr/bin/env bash
# The README's demo: a pgaf monitor in /tmp/pgaf-demo on 127.0.0.1:5400.
#   bash bin/demo.sh         install the extension (root), create or start the monitor, show its state
#   bash bin/demo.sh stop    stop the demo monitor (pg_ctl stop -m fast)
#   bash bin/demo.sh clean   stop it and remove /tmp/pgaf-demo and its config
# Re-runnable: an existing demo monitor is started if stopped, never re-created.
# PGAF_DEMO_PORT overrides the port (5400).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=/tmp/pgaf-demo
PGDATA_DIR=$DEMO/monitor
PORT=${PGAF_DEMO_PORT:-5400}
CONFIG_DIR=${XDG_CONFIG_HOME:-$HOME/.config}/pg_autoctl$PGDATA_DIR
# The monitor's Unix socket lives beside its data directory.
export PGHOST=$DEMO
unset PGDATA PGPORT PG_AUTOCTL_MONITOR

pgaf() { node "$ROOT/dist/cli/main.js" "$@"; }
say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

ensure_built() {
  [ -f "$ROOT/dist/cli/main.js" ] && return
  say "building pgaf (npm run build)"
  (cd "$ROOT" && npm run build >/dev/null) || die "npm run build failed: run 'npm ci && npm run build' in $ROOT"
}

# Stops the demo Postgres even without a config file: pg_ctl as the owner of PGDATA.
pg_ctl_stop() {
  [ -f "$PGDATA_DIR/postmaster.pid" ] || return 0
  local bindir
  bindir=$(pg_config --bindir)
  if is_root; then
    runuser -u "$(stat -c %U "$PGDATA_DIR")" -- "$bindir/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop || true
  else
    "$bindir/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop || true
  fi
}

stop() {
  if [ -f "$CONFIG_DIR/pg_autoctl.cfg" ]; then
    pgaf stop --pgdata "$PGDATA_DIR"
  fi
  pg_ctl_stop
  echo "demo monitor stopped"
}

start() {
  ensure_built
  command -v pg_config >/dev/null || die "pg_config not found: install PostgreSQL (apt-get install postgresql-15)"

  if is_root; then
    say "installing the pgaf extension into $(pg_config --sharedir)/extension"
    pgaf -q install-extension
    mkdir -p "$DEMO"
    chown postgres: "$DEMO"
  elif [ ! -f "$(pg_config --sharedir)/extension/pgaf.control" ]; then
    pgaf install-extension # fails and prints the sudo command to run
  else
    mkdir -p "$DEMO"
  fi

  say "pgaf create monitor --pgdata $PGDATA_DIR --pgport $PORT"
  if ! pgaf -q create monitor --pgdata "$PGDATA_DIR" --pgport "$PORT" --hostname 127.0.0.1 --auth trust --no-ssl; then
    die "could not create or start the demo monitor (see above). If port $PORT is taken, run: bash bin/demo.sh clean, then PGAF_DEMO_PORT=<free port> bash bin/demo.sh"
  fi

  say "pgaf show state --pgdata $PGDATA_DIR"
  pgaf show state --pgdata "$PGDATA_DIR"
  if [ "$(pgaf show state --pgdata "$PGDATA_DIR" --json | tr -d ' \n')" = "[]" ]; then
    echo "monitor only: no data node yet"
    echo "monitor URI: $(pgaf show uri --pgdata "$PGDATA_DIR" --formation monitor)"
  fi
  cat <<MSG

Try:  node $ROOT/dist/cli/main.js show uri --pgdata $PGDATA_DIR
Stop: bash bin/demo.sh stop     Remove: bash bin/demo.sh clean
MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  clean)
    stop
    rm -rf "$DEMO" "$CONFIG_DIR"
    echo "removed $DEMO and $CONFIG_DIR"
    ;;
  *) die "usage: bash bin/demo.sh [start|stop|clean]" ;;
esac
