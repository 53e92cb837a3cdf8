#!/usr/bin/env bash
# bench/saturation/run.sh -- no false failover under load (issue #12.1).
#
# For each system (pgaf, then pg_auto_failover when installed), with its default settings:
# a monitor and two data nodes with synchronous replication on 127.0.0.1; then, for DURATION
# seconds, the primary's CPU and disk are saturated at normal priority -- pgbench with CLIENTS
# clients against the primary, CPU_HOGS busy loops, an I/O hog writing and fsyncing 256 MB
# files on the disk that holds the data directories -- and every FREEZE_EVERY seconds the
# primary's keeper (every non-Postgres process of its agent) is frozen with SIGSTOP for
# FREEZE_SECS (cycling through the list) and thawed with SIGCONT. Nothing is dead, so every
# failover, demotion or fence is a false one. Counted from the monitor's event table and from
# a state poll each second: primaries seen, goal states other than primary/secondary, health
# checks that marked a node unhealthy.
#
# Usage (as root; it runs the clusters as postgres, saturates the machine: run it alone,
# e.g. under /work/tools/pgaf-slot --both):
#   DURATION=600 bash bench/saturation/run.sh               # the 10-minute run, both systems
#   DURATION=60 SYSTEMS=pgaf bash bench/saturation/run.sh   # a quick check
# Environment: DURATION (600), CLIENTS (40), CPU_HOGS (2), IO_HOG (1), FREEZE_EVERY (20),
#   FREEZE_SECS ("2 5 8"), SCALE (20, pgbench -i), SYSTEMS, ORIGINAL (/usr/bin/pg_autoctl),
#   PORT (6510; the original takes PORT+10), BASE_DIR (/var/tmp: on disk, not tmpfs),
#   RESULTS_DIR (bench/results/saturation-<stamp>). Output: `name: value` lines on stdout.
set -uo pipefail
export LC_ALL=C

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}   # the checkout whose dist/ runs
DURATION=${DURATION:-600}
CLIENTS=${CLIENTS:-40}
CPU_HOGS=${CPU_HOGS:-2}
IO_HOG=${IO_HOG:-1}
FREEZE_EVERY=${FREEZE_EVERY:-20}
FREEZE_SECS=${FREEZE_SECS:-2 5 8}
SCALE=${SCALE:-20}
ORIGINAL=${ORIGINAL:-/usr/bin/pg_autoctl}
PORT=${PORT:-6510}
BASE_DIR=${BASE_DIR:-/var/tmp}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results/saturation-$STAMP}
if [ -z "${SYSTEMS:-}" ]; then SYSTEMS=pgaf; [ -x "$ORIGINAL" ] && SYSTEMS="pgaf pg_auto_failover"; fi

die() { echo "saturation: $*" >&2; exit 1; }
log() { echo "# $(date +%T) $*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (the clusters run as postgres)"
[ -x "$PGBIN/pgbench" ] || die "no pgbench in $PGBIN"
[ -f "$ROOT/dist/cli/main.js" ] || die "dist/cli/main.js missing: npm run build"
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d "$BASE_DIR/pgaf-sat.XXXXXX") || exit 1
chmod 755 "$TMP"; chown postgres: "$TMP"
STARTED=()   # pids of the background jobs of this script (hogs, pgbench, pollers, agents)

# pgaf runs from a snapshot of the build, so a rebuild of dist/ mid-run cannot change it
mkdir -p "$TMP/pkg" "$TMP/bin"
cp -a "$ROOT/dist" "$ROOT/monitor-ext" "$ROOT/package.json" "$TMP/pkg/"
ln -s "$ROOT/node_modules" "$TMP/pkg/node_modules"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v node)" "$TMP/pkg/dist/cli/main.js" > "$TMP/bin/pgaf"
chmod -R a+rX "$TMP/pkg" "$TMP/bin"; chmod 755 "$TMP/bin/pgaf"
"$TMP/bin/pgaf" -q install-extension --pg-config "$PGBIN/pg_config" >&2 || die "install-extension failed"

as_pg() { runuser -u postgres -- "$@"; }
nenv() { echo "PGDATA=$SYS_DIR/$1/pgdata XDG_CONFIG_HOME=$SYS_DIR/$1/config XDG_DATA_HOME=$SYS_DIR/$1/share XDG_RUNTIME_DIR=$SYS_DIR/$1/run"; }
ctl() { local d=$1; shift; as_pg env $(nenv "$d") "$CTL" "$@"; }
bg_ctl() { # dir args...: a long-running agent, its pid in dir/agent.pid
  local d=$1; shift
  as_pg mkdir -p "$SYS_DIR/$d/run"; chmod 700 "$SYS_DIR/$d/run"
  ( exec runuser -u postgres -- env $(nenv "$d") "$CTL" "$@" ) >>"$SYS_DIR/$d/agent.log" 2>&1 &
  echo $! > "$SYS_DIR/$d/agent.pid"; STARTED+=($!)
}
mpsql() { as_pg "$PGBIN/psql" -X -Atq -h 127.0.0.1 -p "$MON_PORT" -U autoctl_node -d pg_auto_failover "$@"; }
states() { mpsql -F ' ' -c "select nodename, reportedstate, goalstate from pgautofailover.node order by nodeid" 2>/dev/null; }
node1_single() { [ "$(mpsql -c "select count(*) from pgautofailover.node where reportedstate='single'")" = 1 ]; }
stable() { local s; s=$(states); [ "$(grep -c ' primary primary$' <<<"$s")" = 1 ] && [ "$(grep -c ' secondary secondary$' <<<"$s")" = 1 ]; }
wait_for() { local t=$1; shift; for _ in $(seq 1 $((t * 5))); do "$@" && return 0; sleep 0.2; done; return 1; }
tree_pids() {
  ps -e -o pid=,ppid= | awk -v r="$1" '{ kids[$2]=kids[$2] " " $1; seen[$1]=1 }
    END { if (!(r in seen)) exit; q=r; while (q!="") { n=split(q,a," "); q="";
      for(i=1;i<=n;i++){ printf "%s ", a[i]; m=split(kids[a[i]],c," "); for(j=1;j<=m;j++) q=q " " c[j] } } }'
}
# the agent's own processes (keeper, supervisor, services), not Postgres: what a freeze stops
agent_pids() {
  local p pg; pg=$(readlink -f "$PGBIN/postgres")
  for p in $(tree_pids "$(cat "$SYS_DIR/$1/agent.pid")"); do
    [ "$(readlink /proc/"$p"/exe 2>/dev/null)" = "$pg" ] && continue
    case "$(cat /proc/"$p"/comm 2>/dev/null)" in runuser|env) continue;; esac
    echo "$p"
  done
}
stop_system() {
  local d sp pids p
  for sp in "${JOBS[@]:-}"; do [ -n "$sp" ] && kill "$sp" 2>/dev/null; done
  for d in n2 n1 mon; do
    [ -f "$SYS_DIR/$d/agent.pid" ] || continue
    sp=$(cat "$SYS_DIR/$d/agent.pid")
    for p in $(agent_pids "$d"); do kill -CONT "$p" 2>/dev/null; done
    kill -TERM $(agent_pids "$d" | head -1) 2>/dev/null   # the agent's main process
    for _ in $(seq 1 100); do [ -z "$(tree_pids "$sp")" ] && break; sleep 0.2; done
    pids=$(tree_pids "$sp"); [ -n "${pids// /}" ] && { log "force-killing leftovers of $d: $pids"; kill -9 $pids 2>/dev/null; }
    local pm; pm=$(head -1 "$SYS_DIR/$d/pgdata/postmaster.pid" 2>/dev/null)
    [ -n "$pm" ] && grep -qa -- "$SYS_DIR/$d/pgdata" /proc/"$pm"/cmdline 2>/dev/null && as_pg "$PGBIN/pg_ctl" -D "$SYS_DIR/$d/pgdata" stop -m immediate >/dev/null 2>&1
  done
  wait 2>/dev/null
  JOBS=()
}
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${SYS_DIR:-}" ] && stop_system
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  rm -rf "$TMP"
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }   # busy idle+iowait (ticks)
iowait_ticks() { awk '/^cpu /{print $6}' /proc/stat; }
DISK=$(lsblk -no PKNAME "$(df --output=source "$BASE_DIR" | tail -1)" 2>/dev/null | head -1)
[ -n "$DISK" ] || DISK=$(basename "$(df --output=source "$BASE_DIR" | tail -1)")
io_ms() { awk -v d="$DISK" '$3==d{print $13}' /proc/diskstats; }   # ms the disk was busy

run_system() { # system port
  local sys=$1 port=$2
  SYS_DIR=$TMP/$sys; MON_PORT=$port; JOBS=()
  local out=$RESULTS_DIR/$sys; mkdir -p "$out"; as_pg mkdir -p "$SYS_DIR/mon" "$SYS_DIR/n1" "$SYS_DIR/n2"
  if [ "$sys" = pgaf ]; then CTL=$TMP/bin/pgaf; else CTL=$ORIGINAL; fi
  local uri="postgres://autoctl_node@127.0.0.1:$port/pg_auto_failover?sslmode=prefer"
  log "$sys: bring-up on ports $port-$((port + 2))"
  ctl mon create monitor --pgctl "$PGBIN/pg_ctl" --pgport "$port" --hostname 127.0.0.1 --auth trust --no-ssl \
    >>"$SYS_DIR/mon/agent.log" 2>&1 || { tail -20 "$SYS_DIR/mon/agent.log" >&2; die "$sys: create monitor failed"; }
  bg_ctl mon run
  wait_for 60 mpsql -c 'select 1 from pgautofailover.node limit 1' || die "$sys: monitor did not come up"
  local i
  for i in 1 2; do
    bg_ctl "n$i" create postgres --pgctl "$PGBIN/pg_ctl" --pgport $((port + i)) --listen 127.0.0.1 --hostname 127.0.0.1 \
      --name "node$i" --auth trust --no-ssl --monitor "$uri" --run
    if [ "$i" = 1 ]; then wait_for 120 node1_single || die "$sys: node1 never single"; fi
  done
  wait_for 300 stable || { states >&2; die "$sys: never primary + secondary"; }
  local primary pdir pport
  primary=$(states | awk '$3=="primary"{print $1}'); pdir=n${primary#node}; pport=$((port + ${primary#node}))
  log "$sys: stable, primary $primary; pgbench -i -s $SCALE"
  as_pg "$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$pport" postgres >"$out/pgbench-init.log" 2>&1 || die "$sys: pgbench -i failed"
  wait_for 120 stable || die "$sys: not stable after pgbench -i"
  local ev0; ev0=$(mpsql -c "select coalesce(max(eventid),0) from pgautofailover.event")
  local settings; settings=$(mpsql -F '=' -c "select name, setting||coalesce(unit,'') from pgautofailover.settings order by 1" 2>/dev/null ||
    mpsql -F '=' -c "select name, setting||coalesce(unit,'') from pg_settings where name like 'pgautofailover.%' order by 1")

  log "$sys: saturating for ${DURATION}s: pgbench -c $CLIENTS, $CPU_HOGS CPU hog(s), $IO_HOG I/O hog(s), keeper freezes of ${FREEZE_SECS// /,} s every ${FREEZE_EVERY}s"
  local load0 cpu0 iow0 io0 t0; load0=$(cut -d' ' -f1-3 /proc/loadavg); cpu0=$(cpu_busy); iow0=$(iowait_ticks); io0=$(io_ms); t0=$(date +%s)
  as_pg "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$DURATION" -P 10 -h 127.0.0.1 -p "$pport" postgres >"$out/pgbench.log" 2>&1 &
  JOBS+=($!); local bench=$!
  for ((i = 0; i < CPU_HOGS; i++)); do runuser -u postgres -- bash -c 'while :; do :; done' & JOBS+=($!); done
  for ((i = 0; i < IO_HOG; i++)); do
    runuser -u postgres -- bash -c "while :; do dd if=/dev/zero of='$SYS_DIR/iohog.$i' bs=1M count=256 conv=fsync status=none; done" & JOBS+=($!)
  done
  ( while :; do echo "$(date +%s.%N | cut -c1-14) $(states | tr '\n' ' ')"; sleep 1; done ) >"$out/states.log" 2>/dev/null & JOBS+=($!)
  local freezes=0 frozen_s=0 k=0 secs pids
  read -ra fs <<<"$FREEZE_SECS"
  while [ $(( $(date +%s) - t0 )) -lt "$DURATION" ]; do
    sleep "$FREEZE_EVERY"
    [ $(( $(date +%s) - t0 )) -ge "$DURATION" ] && break
    secs=${fs[$((k % ${#fs[@]}))]}; k=$((k + 1))
    pids=$(agent_pids "$pdir" | tr '\n' ' ')
    echo "$(date +%T) SIGSTOP $secs s: $pids" >>"$out/freezes.log"
    kill -STOP $pids 2>/dev/null; sleep "$secs"; kill -CONT $pids 2>/dev/null
    freezes=$((freezes + 1)); frozen_s=$((frozen_s + secs))
  done
  wait "$bench" 2>/dev/null
  local cpu1 iow1 load1 io1 t1; cpu1=$(cpu_busy); iow1=$(iowait_ticks); io1=$(io_ms); t1=$(date +%s); load1=$(cut -d' ' -f1-3 /proc/loadavg)
  sleep 5   # a late decision still shows
  local ev; ev=$(mpsql -F '|' -c "select eventid, eventtime, nodename, reportedstate, goalstate, description from pgautofailover.event where eventid > $ev0 order by eventid")
  echo "$ev" >"$out/events.txt"
  local primaries failover_goals unhealthy demotions tps fails
  primaries=$(awk '{for(i=2;i<=NF;i+=3) if ($(i+2)=="primary" || $(i+2)=="wait_primary") print $i}' "$out/states.log" | sort -u | tr '\n' ' ')
  failover_goals=$(awk -F'|' '$5 ~ /^(prepare_promotion|stop_replication|draining|demote_timeout|demoted|report_lsn|fast_forward)$/' <<<"$ev" | wc -l)
  demotions=$(awk -F'|' '$5 ~ /^(draining|demote_timeout|demoted)$/' <<<"$ev" | wc -l)
  unhealthy=$(grep -ci 'marked as unhealthy' <<<"$ev")
  tps=$(grep -Eo 'tps = [0-9.]+' "$out/pgbench.log" | head -1 | awk '{print $3}')
  fails=$(grep -Eo 'number of failed transactions: [0-9]+' "$out/pgbench.log" | awk '{print $NF}')
  local busy idle
  read -r busy idle <<<"$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{split(a,x," "); split(b,y," "); print y[1]-x[1], y[2]-x[2]}')"
  {
    echo "$sys.settings: $(tr '\n' ' ' <<<"$settings")"
    echo "$sys.duration_s: $(( $(date +%s) - t0 - 5 ))"
    echo "$sys.keeper_freezes: $freezes ($frozen_s s frozen in all)"
    echo "$sys.cpu_busy_pct: $(awk -v b="$busy" -v i="$idle" 'BEGIN{printf "%.1f", 100*b/(b+i)}')"
    echo "$sys.cpu_iowait_pct: $(awk -v w="$((iow1 - iow0))" -v b="$busy" -v i="$idle" 'BEGIN{printf "%.1f", 100*w/(b+i)}')"
    echo "$sys.disk_busy_pct: $(awk -v a="${io0:-0}" -v b="${io1:-0}" -v s="$((t1 - t0))" 'BEGIN{printf "%.1f", (b-a)/(10*s)}') ($DISK)"
    echo "$sys.loadavg_start_end: $load0 / $load1"
    echo "$sys.pgbench_tps: ${tps:-n/a} (failed transactions: ${fails:-0})"
    echo "$sys.primaries_seen: $primaries"
    echo "$sys.failover_or_demotion_goals: $failover_goals"
    echo "$sys.demotions: $demotions"
    echo "$sys.unhealthy_marks: $unhealthy"
    echo "$sys.events: $(wc -l <<<"$ev" | awk -v e="$ev" '{print (e=="" ? 0 : $1)}')"
  } | tee -a "$RESULTS_DIR/results.txt"
  for d in mon n1 n2; do cp "$SYS_DIR/$d/agent.log" "$out/$d-agent.log" 2>/dev/null; done
  stop_system
  rm -rf "$SYS_DIR"; SYS_DIR=
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/{printf "%.1f GB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "pgaf_commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
  echo "original: $("$ORIGINAL" --version 2>/dev/null | head -1)"
  echo "load: DURATION=$DURATION CLIENTS=$CLIENTS CPU_HOGS=$CPU_HOGS IO_HOG=$IO_HOG FREEZE_EVERY=$FREEZE_EVERY FREEZE_SECS='$FREEZE_SECS' SCALE=$SCALE"
} | tee "$RESULTS_DIR/results.txt"
next_port=$PORT
for s in $SYSTEMS; do run_system "$s" "$next_port"; next_port=$((next_port + 10)); done
log "results in $RESULTS_DIR"
