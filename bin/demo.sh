#!/usr/bin/env bash
# The README's demo: a pgaf monitor and two data nodes on 127.0.0.1, in /tmp/pgaf-demo.
#   bash bin/demo.sh         install what is missing, start monitor + node1 + node2, show state
#   bash bin/demo.sh stop    stop the keepers, the monitor service and every demo Postgres
#   bash bin/demo.sh clean   stop, then remove /tmp/pgaf-demo
# Re-runnable: an existing demo cluster is started again, never re-created, in the roles it had
# (after a switchover node2 is the primary).
# Ports: PGAF_DEMO_PORT (5400) for the monitor, +1 and +2 for the nodes; PGAF_DEMO_DIR
# (/tmp/pgaf-demo), an absolute path, for its files (test/e2e/demo.test.ts uses both).
# Secure defaults: no --auth and no SSL option, so scram-sha-256 with a password that create
# monitor generates for autoctl_node (the nodes read it from a pgpass file, never from argv or
# the environment), and TLS with self-signed certificates on every connection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=${PGAF_DEMO_DIR:-/tmp/pgaf-demo}
PORT=${PGAF_DEMO_PORT:-5400}
MONITOR_URI="postgres://autoctl_node@127.0.0.1:$PORT/pg_auto_failover?sslmode=require"
# the keepers' pgpass file, with the password create monitor generated (mode 0600)
PGPASS=$DEMO/keepers.pgpass
unset PGDATA PGPORT PG_AUTOCTL_MONITOR PGPASSWORD PGPASSFILE
export PATH="/usr/lib/postgresql/15/bin:$PATH"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
case "$DEMO" in /*) ;; *) die "PGAF_DEMO_DIR must be an absolute path: $DEMO" ;; esac
case "$DEMO" in *[[:space:]]*) die "PGAF_DEMO_DIR must not contain white space: $DEMO" ;; esac
# Postgres's socket, $DEMO/node1/.s.PGSQL.<port>, must fit a Unix socket path (107 bytes)
[ "${#DEMO}" -le 80 ] || die "PGAF_DEMO_DIR is longer than 80 characters: $DEMO"
case "$PORT" in '' | *[!0-9]*) die "PGAF_DEMO_PORT must be a port number: $PORT" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65533 ] || die "PGAF_DEMO_PORT must be between 1 and 65533: $PORT"

# Each node has its own folders, as on separate hosts.
nodeenv() {
  local d=$DEMO/$1
  echo "PGDATA=$d/pgdata XDG_CONFIG_HOME=$d/config XDG_DATA_HOME=$d/share XDG_RUNTIME_DIR=$d/run PGHOST=$d PGPASSFILE=$PGPASS"
}
pgaf() { local n=$1; shift; env $(nodeenv "$n") "$ROOT/dist/cli/pgaf.cjs" "$@"; }

service_running() { local pid; pid=$(cat "$DEMO/$1/service.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

# start a long-running pgaf command for node $1 in its own session; logs in $DEMO/$1/pgaf.log
start_service() {
  local n=$1; shift
  service_running "$n" && return 0
  ( env $(nodeenv "$n") setsid "$ROOT/dist/cli/pgaf.cjs" "$@" >>"$DEMO/$n/pgaf.log" 2>&1 & echo $! > "$DEMO/$n/service.pid" )
}

wait_for() { # seconds description command...
  local t=$1 what=$2; shift 2
  for _ in $(seq 1 $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not happen within ${t}s (see $DEMO/*/pgaf.log)"
}

state_is() { pgaf monitor show state --json | node -e '
  const want = process.argv.slice(1); let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const rows = JSON.parse(s).map((r) => `${r.nodename}:${r.current_group_state}/${r.assigned_group_state}`);
    process.exit(want.every((w) => rows.includes(w)) ? 0 : 1);
  });' "$@"; }

# node $1's keeper state file (pgaf's XDG layout: the data directory's path under XDG_DATA_HOME)
state_file() { echo "$DEMO/$1/share/pg_autoctl$DEMO/$1/pgdata/pg_autoctl.state"; }

# every node's keeper has talked to the monitor since second $1 (its state file's contact time):
# the monitor's view was written before the demo stopped, and is not the cluster's until then
reported_since() { local since=$1 n files=(); shift
  for n in "$@"; do files+=("$(state_file "$n")"); done
  node -e 'const [since, ...files] = process.argv.slice(1);
    const fresh = (f) => JSON.parse(require("fs").readFileSync(f, "utf8")).last_monitor_contact >= Number(since);
    process.exit(files.every(fresh) ? 0 : 1);' "$since" "${files[@]}"; }

# the cluster is settled: fresh reports from both keepers, and one primary with one secondary,
# seen twice one second apart (a fresh report may still move a node, e.g. to catchingup)
settled() { local since=$1 i
  for i in 1 2; do
    reported_since "$since" node1 node2 || return 1
    state_is node1:primary/primary node2:secondary/secondary || state_is node2:primary/primary node1:secondary/secondary || return 1
    [ "$i" = 2 ] || sleep 1
  done; }

start() {
  say "installing: PostgreSQL 15, npm packages, build, pgaf extension"
  bash "$ROOT/bin/install-deps.sh"
  for p in "$PORT" $((PORT + 1)) $((PORT + 2)); do
    if ! [ -d "$DEMO" ] && (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p is taken: run PGAF_DEMO_PORT=<free port> bash bin/demo.sh"
    fi
  done
  local started; started=$(date +%s)
  mkdir -p "$DEMO"/{monitor,node1,node2}
  [ "$(id -u)" = 0 ] && chown -R postgres: "$DEMO"

  say "pgaf create monitor --pgport $PORT"
  pgaf monitor -q create monitor --pgport "$PORT" --hostname 127.0.0.1 >/dev/null
  local pwfile="$DEMO/monitor/config/pg_autoctl$DEMO/monitor/pgdata/autoctl_node.password"
  [ -s "$pwfile" ] || die "create monitor left no password file at $pwfile"
  if [ ! -s "$PGPASS" ]; then
    ( umask 077; printf '*:*:pg_auto_failover:autoctl_node:%s\n' "$(cat "$pwfile")" > "$PGPASS" )
  fi
  echo "autoctl_node's password: $pwfile (the keepers read it from $PGPASS)"
  start_service monitor run
  for i in 1 2; do
    say "pgaf create postgres --name node$i --pgport $((PORT + i)) --run"
    if [ -f "$(state_file "node$i")" ]; then
      # an existing node starts in the role it had: after a switchover node1 is the secondary
      start_service "node$i" run
    else
      start_service "node$i" create postgres --pgport $((PORT + i)) --hostname 127.0.0.1 --listen 127.0.0.1 \
        --name "node$i" --monitor "$MONITOR_URI" --run
      # the first node created becomes the primary; the second is created as its standby
      [ "$i" = 1 ] && wait_for 60 "node1 becoming the primary" bash -c "$(declare -f pgaf nodeenv state_is); ROOT=$ROOT DEMO=$DEMO PGPASS=$PGPASS; state_is node1:single/single || state_is node1:primary/primary || state_is node1:wait_primary/wait_primary"
    fi
  done
  wait_for 120 "the cluster reaching primary + secondary" bash -c "$(declare -f pgaf nodeenv state_is state_file reported_since settled); ROOT=$ROOT DEMO=$DEMO PGPASS=$PGPASS; settled $started"

  say "pgaf show state"
  pgaf monitor show state
  say "pgaf show uri"
  pgaf monitor show uri
  cat <<MSG

Logs: $DEMO/*/pgaf.log     Try a switchover:
  env $(nodeenv node1) "$ROOT/dist/cli/pgaf.cjs" perform switchover
Stop: bash bin/demo.sh stop     Remove: bash bin/demo.sh clean
MSG
}

stop() {
  for n in node2 node1 monitor; do
    [ -d "$DEMO/$n" ] || continue
    if service_running "$n"; then
      kill -TERM "$(cat "$DEMO/$n/service.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do service_running "$n" || break; sleep 0.2; done
    fi
    rm -f "$DEMO/$n/service.pid"
    if [ -f "$DEMO/$n/pgdata/postmaster.pid" ]; then
      runuser -u "$(stat -c %U "$DEMO/$n/pgdata")" -- pg_ctl -D "$DEMO/$n/pgdata" -m fast -w stop >/dev/null || true
    fi
  done
  echo "demo cluster stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  clean)
    stop
    # only what the demo made: PGAF_DEMO_DIR may name a directory that holds other things
    rm -rf "$DEMO"/monitor "$DEMO"/node1 "$DEMO"/node2 "$PGPASS"
    rmdir "$DEMO" 2>/dev/null || true
    echo "removed the demo cluster in $DEMO"
    ;;
  *) die "usage: bash bin/demo.sh [start|stop|clean]" ;;
esac
