#!/usr/bin/env bash
# bench/cli/run.sh -- whole-process time and peak RSS of the hot CLI commands, pgaf and
# pg_auto_failover's pg_autoctl side by side, against one live monitor, in one run.
#
# Both programs run as the node's OS user with the node's environment (PGDATA and XDG dirs of
# a pgaf data node), so they read the same configuration and ask the same monitor (pg_autoctl
# reads pgaf's configuration files: they are drop-in compatible). Each command runs RUNS times,
# alternating the two programs; prints the median wall time (bash $EPOCHREALTIME around the
# process), the median CPU time (user+sys) and the median peak RSS (GNU time %M) of each.
#
# Usage: bash bench/cli/run.sh             # makes its own cluster (below), measures, removes it
#        NODE_DIR=<dir holding pgdata/ config/ share/ run/> bash bench/cli/run.sh
#   NODE_DIR    a running data node laid out as bench/soak/run.sh lays it out (n1 of its scratch
#               dir). Without it the script creates, from this tree's dist/, a monitor and two
#               data nodes on 127.0.0.1 with the defaults (scram-sha-256 passwords, TLS with
#               sslmode=require: what a real cluster pays on each connection), measures against
#               the primary's directory, and removes them; pg_autoctl gets the monitor password
#               from a pgpass file (PGPASSFILE), pgaf from its monitor.password file
#   PGPASSFILE  with NODE_DIR: a pgpass file with the monitor's password, for pg_autoctl
#   PGAF        pgaf's main.js, run as an executable (default: dist/cli/main.js of this tree)
#   BEFORE      another pgaf's main.js (e.g. a copy of an older dist/ with its node_modules and
#               package.json beside it) measured in the same rounds: a before/after column
#   ORIGINAL    pg_autoctl (/usr/bin/pg_autoctl); RUNS (21); AS_USER (postgres when root)
#   PORT        first port of the cluster made here (6560: monitor, +1, +2 the nodes)
#   COMMANDS    ';'-separated list (default below). `set node candidate-priority` waits for the
#               primary to apply the setting: its time is mostly the state machine's round trip.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_DIR=${NODE_DIR:-}
PGAF=${PGAF:-$ROOT/dist/cli/main.js}
ORIGINAL=${ORIGINAL:-/usr/bin/pg_autoctl}
RUNS=${RUNS:-21}
COMMANDS=${COMMANDS:---version;show state;show uri;status;get formation number-sync-standbys;get node candidate-priority;set node candidate-priority 50}
AS_USER=${AS_USER:-$([ "$(id -u)" = 0 ] && echo postgres)}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
TMP=$(mktemp -d); chmod 777 "$TMP"
runas() { if [ -n "$AS_USER" ]; then runuser -u "$AS_USER" -- "$@"; else "$@"; fi; }
declare -A SUP=()
cleanup() {
  for d in n2 n1 mon; do
    [ -n "${SUP[$d]:-}" ] || continue
    runas env $(nenv "$d") "$PGAF" stop >/dev/null 2>&1
    kill "${SUP[$d]}" 2>/dev/null; wait "${SUP[$d]}" 2>/dev/null
    runas "$PGBIN/pg_ctl" -D "$TMP/$d/pgdata" -m immediate stop >/dev/null 2>&1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nenv() { echo "PGDATA=$TMP/$1/pgdata XDG_CONFIG_HOME=$TMP/$1/config XDG_DATA_HOME=$TMP/$1/share XDG_RUNTIME_DIR=$TMP/$1/run"; }
cd /
if [ -z "$NODE_DIR" ]; then
  # a monitor and two data nodes with the defaults: scram-sha-256 and TLS (sslmode=require)
  PORT=${PORT:-6560}; PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
  bg() { local d=$1; shift; runas mkdir -p "$TMP/$d/run"; runas chmod 700 "$TMP/$d/run"
    runas env $(nenv "$d") ${PW:+PGPASSWORD="$PW"} "$PGAF" "$@" >>"$TMP/$d.log" 2>&1 & SUP[$d]=$!; }
  mpsql() { runas env PGPASSFILE="$TMP/pgpass" "$PGBIN/psql" -X -Atq "host=127.0.0.1 port=$PORT user=autoctl_node dbname=pg_auto_failover sslmode=require" "$@"; }
  runas mkdir -p "$TMP/mon/run"; runas chmod 700 "$TMP/mon/run"
  runas env $(nenv mon) "$PGAF" create monitor --pgctl "$PGBIN/pg_ctl" --pgport "$PORT" --hostname 127.0.0.1 >>"$TMP/mon.log" 2>&1 ||
    { tail -n 20 "$TMP/mon.log" >&2; exit 1; }
  bg mon run
  PW=$(runas find "$TMP/mon/config" -name autoctl_node.password -exec cat {} \;)
  [ -n "$PW" ] || { echo "no autoctl_node.password under $TMP/mon/config" >&2; exit 1; }
  runas sh -c "umask 077; printf '127.0.0.1:$PORT:pg_auto_failover:autoctl_node:%s\n' '$PW' > '$TMP/pgpass'"
  for _ in $(seq 1 100); do mpsql -c 'select 1' >/dev/null 2>&1 && break; sleep 0.3; done
  MON_URI="postgres://autoctl_node@127.0.0.1:$PORT/pg_auto_failover?sslmode=require"
  bg n1 create postgres --pgctl "$PGBIN/pg_ctl" --pgport $((PORT+1)) --hostname 127.0.0.1 --name node1 --monitor "$MON_URI" --run
  for _ in $(seq 1 200); do [ "$(mpsql -c "select count(*) from pgautofailover.node where reportedstate='single'" 2>/dev/null)" = 1 ] && break; sleep 0.5; done
  bg n2 create postgres --pgctl "$PGBIN/pg_ctl" --pgport $((PORT+2)) --hostname 127.0.0.1 --name node2 --monitor "$MON_URI" --run
  for _ in $(seq 1 400); do [ "$(mpsql -c "select count(*) from pgautofailover.node where reportedstate in ('primary','secondary') and reportedstate=goalstate" 2>/dev/null)" = 2 ] && break; sleep 0.5; done
  mpsql -c "select nodename, reportedstate, goalstate from pgautofailover.node order by nodeid" | sed 's/^/# /'
  NODE_DIR=$TMP/n1
fi
envs=(PGDATA="$NODE_DIR/pgdata" XDG_CONFIG_HOME="$NODE_DIR/config" XDG_DATA_HOME="$NODE_DIR/share" XDG_RUNTIME_DIR="$NODE_DIR/run")
if [ -f "$TMP/pgpass" ]; then envs+=(PGPASSFILE="$TMP/pgpass"); elif [ -n "${PGPASSFILE:-}" ]; then envs+=(PGPASSFILE="$PGPASSFILE"); fi
median() { sort -g | awk '{v[NR]=$1} END{ if(NR==0){print "n/a"} else if(NR%2){print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2} }'; }
# one run: prints "<wall seconds> <peak rss kB> <exit code> <cpu seconds>"
once() {
  local t0 t1 rc
  t0=$EPOCHREALTIME
  runas env "${envs[@]}" "$TIME" -f '%M %U %S' -o "$TMP/rss" "$@" >/dev/null 2>&1; rc=$?
  t1=$EPOCHREALTIME
  # wall, peak RSS, exit code, CPU (user+sys) seconds
  echo "$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.4f", a-b}') $(tail -1 "$TMP/rss" | awk -v rc=$rc '{print $1, rc, $2+$3}')"
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), RUNS=$RUNS"
echo "# pgaf: $PGAF${BEFORE:+; before: $BEFORE}; original: $($ORIGINAL --version 2>&1 | head -1)"
col() { awk -v k="$2" '{print $k}' "$1" | median; }
if [ -n "${BEFORE:-}" ]; then
  printf '| command | pgaf before: wall / CPU (s) | pgaf: wall / CPU (s) / peak RSS (MB) | pg_autoctl: wall / CPU (s) / peak RSS (MB) | ratio (wall) |\n|---|---:|---:|---:|---:|\n'
else
  printf '| command | pgaf: wall / CPU (s) / peak RSS (MB) | pg_autoctl: wall / CPU (s) / peak RSS (MB) | ratio (wall) |\n|---|---:|---:|---:|\n'
fi
# the floor: a Node process that loads nothing
: > "$TMP/n"; for _ in $(seq 1 "$RUNS"); do once node -e 0 >> "$TMP/n"; done
printf '| `node -e 0` (floor, not a command) |%s %.3f / %.2f / %.1f | | |\n' "${BEFORE:+ |}" "$(col "$TMP/n" 1)" "$(col "$TMP/n" 4)" "$(awk '{print $2/1024}' "$TMP/n" | median)"
# with the cluster made here: what any Node program pays for one TLS handshake with the monitor,
# and for one query over node-postgres with TLS and scram (bench/cli/floor.cjs)
if [ -f "$TMP/pgpass" ]; then
  for f in tls pg; do
    : > "$TMP/f"; for _ in $(seq 1 "$RUNS"); do once node "$ROOT/bench/cli/floor.cjs" "$f" 127.0.0.1 "$PORT" >> "$TMP/f"; done
    printf '| `node bench/cli/floor.cjs %s` (floor: %s) |%s %.3f / %.2f / %.1f | | |\n' "$f" \
      "$([ "$f" = tls ] && echo 'a TLS handshake with the monitor' || echo 'pg: TLS + scram + one query')" "${BEFORE:+ |}" \
      "$(col "$TMP/f" 1)" "$(col "$TMP/f" 4)" "$(awk '{print $2/1024}' "$TMP/f" | median)"
  done
fi
IFS=';' read -r -a cmds <<<"$COMMANDS"
for c in "${cmds[@]}"; do
  read -r -a argv <<<"$c"
  : > "$TMP/a"; : > "$TMP/b"; : > "$TMP/z"
  for _ in $(seq 1 "$RUNS"); do
    [ -n "${BEFORE:-}" ] && once "$BEFORE" "${argv[@]}" >> "$TMP/z"
    once "$PGAF" "${argv[@]}" >> "$TMP/a"   # through its shebang, as installed
    once "$ORIGINAL" "${argv[@]}" >> "$TMP/b"
  done
  ta=$(col "$TMP/a" 1); tb=$(col "$TMP/b" 1)
  bad=$(awk '$3!=0' "$TMP/a" "$TMP/b" "$TMP/z" | wc -l)
  printf '| `%s` |%s %.3f / %.2f / %.1f | %.3f / %.2f / %.1f | %s×%s |\n' "$c" \
    "${BEFORE:+ $(printf '%.3f / %.2f |' "$(col "$TMP/z" 1)" "$(col "$TMP/z" 4)")}" \
    "$ta" "$(col "$TMP/a" 4)" "$(awk '{print $2/1024}' "$TMP/a" | median)" \
    "$tb" "$(col "$TMP/b" 4)" "$(awk '{print $2/1024}' "$TMP/b" | median)" \
    "$(awk -v a="$ta" -v b="$tb" 'BEGIN{printf "%.1f", a/b}')" "$([ "$bad" = 0 ] || echo " ($bad non-zero exits)")"
done
