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
#   PGAF        pgaf as installed, run as an executable (default: this tree's dist/cli/pgaf.cjs,
#               package.json's bin; an older tree's dist/cli/main.js works too)
#   BEFORE      another pgaf's main.js (e.g. a copy of an older dist/ with its node_modules and
#               package.json beside it) measured in the same rounds: a before/after column
#   ORIGINAL    pg_autoctl (/usr/bin/pg_autoctl); RUNS (21); AS_USER (postgres when root)
#   PORT        first port of the cluster made here (6560: monitor, +1, +2 the nodes)
#   NOEXTRA     1: also run pgaf with NODE_EXTRA_CA_CERTS removed from its environment (an extra
#               column); the default when NODE_EXTRA_CA_CERTS is set: Node 20 then parses that file
#               and its own root store at every start, before any of pgaf's code (~60 ms of CPU)
#   COMMANDS    ';'-separated list (default below). `set node candidate-priority` waits for the
#               primary to apply the setting: its time is mostly the state machine's round trip.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_DIR=${NODE_DIR:-}
PGAF=${PGAF:-$ROOT/dist/cli/pgaf.cjs}
NOEXTRA=${NOEXTRA:-$([ -n "${NODE_EXTRA_CA_CERTS:-}" ] && echo 1)}
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
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), RUNS=$RUNS, NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-(unset)}"
echo "# pgaf: $PGAF${BEFORE:+; before: $BEFORE}; original: $($ORIGINAL --version 2>&1 | head -1)"
col() { awk -v k="$2" '{print $k}' "$1" | median; }
# the pgaf columns: [before], as installed, [without NODE_EXTRA_CA_CERTS]
labels=(); progs=()
[ -n "${BEFORE:-}" ] && { labels+=("pgaf before"); progs+=("$BEFORE"); }
labels+=("pgaf"); progs+=("$PGAF")
[ "$NOEXTRA" = 1 ] && { labels+=("pgaf, NODE_EXTRA_CA_CERTS unset"); progs+=("env -u NODE_EXTRA_CA_CERTS $PGAF"); }
head="| command |"; rule="|---|"
for l in "${labels[@]}"; do head+=" $l: wall / CPU (s) / peak RSS (MB) |"; rule+="---:|"; done
echo "$head pg_autoctl: wall / CPU (s) / peak RSS (MB) | ratio (wall) |"; echo "$rule---:|---:|"
cell() { printf '%.3f / %.2f / %.1f' "$(col "$1" 1)" "$(col "$1" 4)" "$(awk '{print $2/1024}' "$1" | median)"; }
# a floor row: the same Node program in the first column and, with NOEXTRA, without NODE_EXTRA_CA_CERTS
floor() { local name=$1; shift
  : > "$TMP/floor-a"; : > "$TMP/floor-b"
  for _ in $(seq 1 "$RUNS"); do once "$@" >> "$TMP/floor-a"; [ "$NOEXTRA" = 1 ] && once env -u NODE_EXTRA_CA_CERTS "$@" >> "$TMP/floor-b"; done
  local row="| $name |"; local i
  for ((i = 0; i < ${#labels[@]}; i++)); do
    case "${labels[$i]}" in
      pgaf) row+=" $(cell "$TMP/floor-a") |" ;;
      pgaf,*) row+=" $(cell "$TMP/floor-b") |" ;;
      *) row+=" |" ;;
    esac
  done
  echo "$row | |"
}
floor '`node -e 0` (floor: Node loading nothing)' node -e 0
# with the cluster made here: what any Node program pays for one TLS handshake with the monitor,
# and for one query over node-postgres with TLS and scram (bench/cli/floor.cjs)
if [ -f "$TMP/pgpass" ]; then
  floor '`floor.cjs tls` (floor: a TLS handshake with the monitor)' node "$ROOT/bench/cli/floor.cjs" tls 127.0.0.1 "$PORT"
  floor '`floor.cjs pg` (floor: node-postgres, TLS + scram + one query)' node "$ROOT/bench/cli/floor.cjs" pg 127.0.0.1 "$PORT"
fi
IFS=';' read -r -a cmds <<<"$COMMANDS"
for c in "${cmds[@]}"; do
  read -r -a argv <<<"$c"
  for ((i = 0; i < ${#progs[@]}; i++)); do : > "$TMP/cmd-$i"; done
  : > "$TMP/b"
  for _ in $(seq 1 "$RUNS"); do
    # each pgaf through its shebang, as installed, then the original
    for ((i = 0; i < ${#progs[@]}; i++)); do read -r -a prog <<<"${progs[$i]}"; once "${prog[@]}" "${argv[@]}" >> "$TMP/cmd-$i"; done
    once "$ORIGINAL" "${argv[@]}" >> "$TMP/b"
  done
  tb=$(col "$TMP/b" 1)
  row="| \`$c\` |"; ratios=()
  for ((i = 0; i < ${#progs[@]}; i++)); do
    row+=" $(cell "$TMP/cmd-$i") |"
    [ "${labels[$i]}" = "pgaf before" ] || ratios+=("$(awk -v a="$(col "$TMP/cmd-$i" 1)" -v b="$tb" 'BEGIN{printf "%.1f×", a/b}')")
  done
  bad=$(cat "$TMP"/cmd-* "$TMP/b" | awk '$3!=0' | wc -l)
  ratio="${ratios[*]}"
  echo "$row $(cell "$TMP/b") | ${ratio// / \/ }$([ "$bad" = 0 ] || echo " ($bad non-zero exits)") |"
done
