#!/usr/bin/env bash
# bench/soak/run.sh -- footprint soak: a monitor and two data nodes of pgaf on 127.0.0.1 (each
# `pgaf … --run` in the background, as the postgres user), left alone for DURATION seconds,
# sampling every INTERVAL seconds RSS, peak RSS (VmHWM), threads and open fds of every pgaf
# node process (keepers, monitor service, its health worker) from /proc, as an operator sees
# them. Fails (exit 1) when any process's RSS after WARMUP seconds
# grows by more than LIMIT_KB over its value at WARMUP.
#
# Usage (as root or postgres, from a built tree):
#   bash bench/soak/run.sh                       # 1 h, one sample a minute, warm-up 10 min
#   DURATION=86400 bash bench/soak/run.sh        # the documented 24 h run
#   DURATION=1200 WARMUP=300 bash bench/soak/run.sh
# Environment: DURATION (3600) INTERVAL (60) WARMUP (600) LIMIT_KB (2048) PORT (6430: monitor,
#   +1, +2 the nodes) KEEP=1 (leave the scratch dir) OUT (bench/results/soak-<stamp>.tsv)
#   ON_READY (a command run once the cluster is up, in the background, e.g. bench/cli/run.sh)
#   HEAP_SNAPSHOTS=1: every pgaf process writes a V8 heap snapshot at WARMUP and at the end
#   (node --heapsnapshot-signal=SIGUSR2), kept in OUT's name + .heap/; compare two with
#   bench/soak/heap-diff.mjs to see which objects grew. Writing a snapshot leaves about 45 MB
#   more resident memory in the process: the RSS verdict of such a run means nothing, use a
#   run without snapshots for it
#   SAMPLER=0: do not preload bench/soak/sampler.cjs (by default every pgaf process appends,
#   each INTERVAL, its process.memoryUsage(), V8 heap spaces and active handles to
#   OUT's name + .samples/<pid>.jsonl; the report splits each process's growth with them)
#   NODE_ARGS: run pgaf as `node $NODE_ARGS <program>` instead of through its launcher (to compare
#   V8 flags); any other variable (MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE…) passes through
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-3600}; INTERVAL=${INTERVAL:-60}; WARMUP=${WARMUP:-600}; LIMIT_KB=${LIMIT_KB:-2048}
PORT=${PORT:-6430}; KEEP=${KEEP:-0}; HOST=127.0.0.1
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bench/results/soak-$STAMP.tsv}
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null)}; [ -x "$PGBIN/pg_ctl" ] || PGBIN=/usr/lib/postgresql/15/bin
BASE=$(mktemp -d /tmp/pgaf-soak.XXXXXX); chmod 755 "$BASE"
mkdir -p "$(dirname "$OUT")"
# a snapshot of dist/ so parallel rebuilds cannot change what runs
cp -a "$ROOT/dist" "$BASE/dist"; ln -s "$ROOT/node_modules" "$BASE/node_modules"; cp "$ROOT/package.json" "$BASE/"
cp -r "$ROOT/monitor-ext" "$BASE/monitor-ext"
SNAPS=${OUT%.tsv}.heap
if [ "${HEAP_SNAPSHOTS:-0}" = 1 ]; then
  mkdir -p "$BASE/heap"; export NODE_OPTIONS="${NODE_OPTIONS:-} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=$BASE/heap"
fi
SAMPLES=${OUT%.tsv}.samples
if [ "${SAMPLER:-1}" = 1 ]; then
  cp "$ROOT/bench/soak/sampler.cjs" "$BASE/"; mkdir -p "$BASE/samples"
  export NODE_OPTIONS="${NODE_OPTIONS:-} --require $BASE/sampler.cjs" PGAF_SOAK_SAMPLES=$BASE/samples PGAF_SOAK_INTERVAL=$INTERVAL
fi
[ "$(id -u)" = 0 ] && chown -R postgres: "$BASE"
# the installed program (package.json bin: its sh launcher sets the services' Node flags and
# malloc settings); dist/cli/main.js through its own shebang in a build without the bundler
PGAF="$BASE/dist/cli/pgaf.cjs"; [ -x "$PGAF" ] || PGAF="$BASE/dist/cli/main.js"
PGAFCMD=("$PGAF"); [ -n "${NODE_ARGS:-}" ] && PGAFCMD=("$(command -v node)" $NODE_ARGS "$PGAF")
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
nenv() { echo "PGDATA=$BASE/$1/pgdata XDG_CONFIG_HOME=$BASE/$1/config XDG_DATA_HOME=$BASE/$1/share XDG_RUNTIME_DIR=$BASE/$1/run"; }
ctl() { local d=$1; shift; asuser env $(nenv "$d") "${PGAFCMD[@]}" "$@"; }
declare -A SUP=()
bg() { local d=$1; shift; asuser mkdir -p "$BASE/$d/run"; asuser chmod 700 "$BASE/$d/run"
  asuser env $(nenv "$d") "${PGAFCMD[@]}" "$@" >>"$BASE/$d.log" 2>&1 & SUP[$d]=$!; }
log() { echo "# $(date -u +%T) $*" >&2; }
cleanup() {
  for d in n2 n1 mon; do
    [ -n "${SUP[$d]:-}" ] || continue
    ctl "$d" stop --pgdata "$BASE/$d/pgdata" >/dev/null 2>&1 || true
    kill "${SUP[$d]}" 2>/dev/null; wait "${SUP[$d]}" 2>/dev/null
    asuser "$PGBIN/pg_ctl" -D "$BASE/$d/pgdata" -m immediate stop >/dev/null 2>&1 || true
  done
  [ "$KEEP" = 1 ] && log "scratch kept in $BASE" || rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
MON_URI="postgres://autoctl_node@$HOST:$PORT/pg_auto_failover?sslmode=disable"
mpsql() { asuser "$PGBIN/psql" -X -Atq -h $HOST -p "$PORT" -U autoctl_node -d pg_auto_failover "$@"; }
log "creating monitor on $PORT"
ctl mon create monitor --pgctl "$PGBIN/pg_ctl" --pgport "$PORT" --hostname $HOST --auth trust --no-ssl >>"$BASE/mon.log" 2>&1 ||
  { tail -20 "$BASE/mon.log" >&2; exit 1; }
bg mon run
for i in $(seq 1 100); do mpsql -c 'select 1' >/dev/null 2>&1 && break; sleep 0.3; done
log "creating node1 and node2"
bg n1 create postgres --pgctl "$PGBIN/pg_ctl" --pgport $((PORT+1)) --listen $HOST --hostname $HOST --name node1 --auth trust --no-ssl --monitor "$MON_URI" --run
for i in $(seq 1 200); do [ "$(mpsql -c "select count(*) from pgautofailover.node where reportedstate='single'" 2>/dev/null)" = 1 ] && break; sleep 0.5; done
bg n2 create postgres --pgctl "$PGBIN/pg_ctl" --pgport $((PORT+2)) --listen $HOST --hostname $HOST --name node2 --auth trust --no-ssl --monitor "$MON_URI" --run
for i in $(seq 1 400); do [ "$(mpsql -c "select count(*) from pgautofailover.node where reportedstate in ('primary','secondary') and reportedstate=goalstate" 2>/dev/null)" = 2 ] && break; sleep 0.5; done
mpsql -c "select nodename, reportedstate, goalstate from pgautofailover.node" >&2
echo "$MON_URI" > "$BASE/monitor-uri"
[ -n "${ON_READY:-}" ] && { MONITOR_URI=$MON_URI PGAF=$PGAF bash -c "$ON_READY" & }
# every pgaf node process: the supervisors' process trees, minus postgres itself
pgaf_pids() {
  for d in mon n1 n2; do
    ps -e -o pid=,ppid=,comm= | awk -v r="${SUP[$d]}" -v d="$d" '
      { kids[$2]=kids[$2] " " $1; comm[$1]=$3 }
      END { q=r; while (q!="") { n=split(q,a," "); q=""; for(i=1;i<=n;i++){ if (comm[a[i]]=="node") print d, a[i]; m=split(kids[a[i]],c," "); for(j=1;j<=m;j++) q=q " " c[j] } } }'
  done
}
printf 't_s\trole\tpid\targs\trss_kb\thwm_kb\tthreads\tfds\tpss_kb\tanon_kb\tcpu_ticks\n' > "$OUT"
T0=$(date +%s)
log "sampling every ${INTERVAL}s for ${DURATION}s into $OUT"
while :; do
  t=$(( $(date +%s) - T0 ))
  while read -r role pid; do
    [ -r /proc/$pid/status ] || continue
    args=$(tr '\0' ' ' < /proc/$pid/cmdline | sed 's#.*/main.js ##; s#.*/pgaf.cjs ##; s#.*/dist/##' | cut -c1-40 | tr '\t' ' ')
    rss=$(awk '/^VmRSS/{print $2}' /proc/$pid/status); hwm=$(awk '/^VmHWM/{print $2}' /proc/$pid/status)
    thr=$(awk '/^Threads/{print $2}' /proc/$pid/status); fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
    pss=$(awk '/^Pss:/{print $2}' /proc/$pid/smaps_rollup 2>/dev/null); anon=$(awk '/^Anonymous:/{print $2}' /proc/$pid/smaps_rollup 2>/dev/null)
    cpu=$(sed 's/.*) //' /proc/$pid/stat | awk '{print $12+$13}')   # utime+stime, clock ticks
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$role" "$pid" "$args" "$rss" "$hwm" "$thr" "$fds" "$pss" "$anon" "$cpu" >> "$OUT"
  done < <(pgaf_pids)
  if [ "${HEAP_SNAPSHOTS:-0}" = 1 ] && { [ "$t" -ge "$DURATION" ] || { [ "$t" -ge "$WARMUP" ] && [ -z "${SNAPPED:-}" ]; }; }; then
    SNAPPED=1; log "heap snapshots at ${t}s"
    while read -r role pid; do kill -USR2 "$pid" 2>/dev/null; done < <(pgaf_pids)
    sleep 10   # writing a snapshot takes a few seconds
  fi
  [ "$t" -ge "$DURATION" ] && break
  sleep "$INTERVAL"
done
if [ "${HEAP_SNAPSHOTS:-0}" = 1 ]; then mkdir -p "$SNAPS" && cp "$BASE"/heap/*.heapsnapshot "$SNAPS/" 2>/dev/null; log "heap snapshots in $SNAPS"; fi
if [ "${SAMPLER:-1}" = 1 ]; then mkdir -p "$SAMPLES" && cp "$BASE"/samples/*.jsonl "$SAMPLES/" 2>/dev/null; fi
node "$ROOT/bench/soak/report.mjs" "$OUT" "$WARMUP" "$LIMIT_KB" "$SAMPLES"
