#!/usr/bin/env bash
# bench/failover/run.sh -- the failover scenario of reference/baselines.md, for pgaf and, when
# its Debian packages are installed, for pg_auto_failover, one after the other in one run.
#
# The measuring is done by the shared harness (failover-harness.sh): monitor + 2 data nodes on
# 127.0.0.1, a psql writer through the multi-host URI logging every acknowledged id and the
# port of the server that took it; bring-up; RUNS x (host death = kill -9 of the primary's
# keeper and every Postgres process, then rejoin of the old primary; planned switchover);
# idle RSS/PSS/CPU of the keepers and the monitor. This script builds pgaf, snapshots it into
# a temp dir (so parallel rebuilds of dist/ cannot change it mid-run), wraps it as an
# executable named pg_autoctl, runs the harness for each system with its own ports and scratch
# dir, keeps the raw outputs in bench/results/failover-<stamp>/ and renders the comparison
# (bench/failover/report.mjs) to stdout and docs/benchmarks.md.
#
# Usage (as root, or as postgres with a built tree):
#   bash bench/failover/run.sh                 # RUNS=3 IDLE_SECS=30, pgaf then the original
#   RUNS=1 IDLE_SECS=5 SYSTEMS=pgaf bash bench/failover/run.sh      # quick pgaf-only check
# Environment:
#   RUNS (3)            failover + switchover repetitions per harness invocation
#   IDLE_SECS (30)      idle measurement window;  SETTLE_SECS (harness default 10) before it
#   INVOCATIONS (1)     whole-harness repetitions per system (pgaf, original, pgaf, ...);
#                       bring-up and idle are measured once per invocation, so raise this to
#                       get medians of those too. Per-run values are pooled across invocations.
#   SYSTEMS             "pgaf pg_auto_failover" (default; the original only if $ORIGINAL exists)
#   ORIGINAL            the original's CLI (/usr/bin/pg_autoctl)
#   STATE_VIA (sql)     how the harness polls cluster state: sql reads pgautofailover.node
#                       with psql (~10 ms a poll for both systems); cli runs `show state` as
#                       baselines.md did, which for pgaf costs a Node start (~0.3 s and a third
#                       of a core) per poll and so blurs the timings of whatever it polls
#   PGAF_PORT (6410), ORIG_PORT (6420)  monitor ports; the data nodes take +1 and +2
#   PGBIN               Postgres bin dir (default: pg_config --bindir, else /usr/lib/postgresql/15/bin)
#   HARNESS             harness script (default /work/shared/bench/failover-harness.sh when
#                       readable, else the copy bench/failover/failover-harness.sh)
#   SKIP_BUILD=1        use dist/ as it is;  INSTALL_EXTENSION=0 do not (re)install the pgaf
#                       extension files (as root they are installed when they differ from dist's)
#   DOCS (docs/benchmarks.md)  where the report goes; DOCS= (empty) writes no docs file
#   RESULTS_DIR         raw outputs (default bench/results/failover-<UTC stamp>, git-ignored)
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/failover
RUNS=${RUNS:-3}
IDLE_SECS=${IDLE_SECS:-30}
INVOCATIONS=${INVOCATIONS:-1}
ORIGINAL=${ORIGINAL:-/usr/bin/pg_autoctl}
PGAF_PORT=${PGAF_PORT:-6410}
ORIG_PORT=${ORIG_PORT:-6420}
INSTALL_EXTENSION=${INSTALL_EXTENSION:-1}
STATE_VIA=${STATE_VIA:-sql}
DOCS=${DOCS-docs/benchmarks.md}
case "$DOCS" in ''|/*) ;; *) DOCS=$ROOT/$DOCS;; esac
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results/failover-$STAMP}
NODE=$(command -v node) || { echo "node not found" >&2; exit 1; }
if [ -z "${PGBIN:-}" ]; then
  PGBIN=$(pg_config --bindir 2>/dev/null)
  [ -x "$PGBIN/pg_ctl" ] || PGBIN=/usr/lib/postgresql/15/bin
fi
export PGBIN
if [ -z "${HARNESS:-}" ]; then
  HARNESS=/work/shared/bench/failover-harness.sh
  [ -r "$HARNESS" ] || HARNESS=$HERE/failover-harness.sh
fi
if [ -z "${SYSTEMS:-}" ]; then
  SYSTEMS=pgaf
  [ -x "$ORIGINAL" ] && SYSTEMS="pgaf pg_auto_failover"
fi

say() { echo "== $(date +%T) $*" >&2; }
die() { echo "run.sh: $*" >&2; exit 1; }

[ -r "$HARNESS" ] || die "harness $HARNESS not readable"
[ -x "$PGBIN/pg_ctl" ] || die "no pg_ctl in $PGBIN (set PGBIN)"
case " $SYSTEMS " in *" pg_auto_failover "*) [ -x "$ORIGINAL" ] || die "$ORIGINAL not found (SYSTEMS=pgaf to skip the original)";; esac
if [ "$(id -u)" != 0 ] && [ "$(id -un)" != postgres ]; then
  echo "# warning: run as root or postgres (Postgres refuses root, the harness switches to postgres)" >&2
fi
if [ "$HARNESS" != "$HERE/failover-harness.sh" ] && [ -r "$HERE/failover-harness.sh" ] &&
   ! cmp -s "$HARNESS" "$HERE/failover-harness.sh"; then
  echo "# note: $HARNESS differs from the copy in bench/failover/ (refresh the copy?)" >&2
fi

# ---------------------------------------------------------------- build pgaf
cd "$ROOT" || exit 1
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  [ -d node_modules ] || { say "npm ci"; npm ci --no-audit --no-fund >&2 || die "npm ci failed"; }
  stale=$(find cli keeper config plugin monitor-ext lib -name '*.ts' -newer dist/cli/main.js 2>/dev/null | head -3)
  if [ ! -f dist/cli/main.js ] || [ -n "$stale" ]; then
    say "building pgaf (npm run build)${stale:+; newer sources: $(echo $stale)}"
    npm run --silent build >&2 || die "npm run build failed (SKIP_BUILD=1 runs dist/ as it is)"
  fi
fi
[ -f dist/cli/main.js ] || die "dist/cli/main.js missing: run npm run build"

# ---------------------------------------------------------------- snapshot + wrapper
TMP=$(mktemp -d /tmp/pgaf-bench.XXXXXX) || exit 1
chmod 755 "$TMP"
CHILD=""; POLLER=""
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$POLLER" ] && kill "$POLLER" 2>/dev/null
  # the harness cleans up on TERM. As root, $CHILD is runuser, which would pass TERM on but
  # SIGKILL the harness 2 s later, mid-cleanup: signal the harness itself (runuser's child).
  # (It ignores SIGINT, being a background job; kill_leftovers catches whatever remains.)
  if [ -n "$CHILD" ]; then
    local h; h=$(ps -o pid= --ppid "$CHILD" 2>/dev/null | head -1)
    kill -TERM ${h:-$CHILD} 2>/dev/null
    wait "$CHILD" 2>/dev/null
  fi
  kill_leftovers
  rm -rf "$TMP"
  exit $rc
}
# processes started from our snapshot or living in our scratch dirs (the harness cleans up
# after itself; this only catches what it missed), stopped by PID
kill_leftovers() {
  local p left=""
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$p" = $$ ] && continue
    if grep -qa -- "$TMP/" /proc/"$p"/cmdline 2>/dev/null ||
       grep -qa -- "PGDATA=$TMP/" /proc/"$p"/environ 2>/dev/null; then
      left="$left $p"
    fi
  done
  if [ -n "$left" ]; then
    echo "# leftover processes of this run, killing:$left" >&2
    ps -o pid,ppid,args -p "$(echo $left | tr ' ' ',')" >&2
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

PKG=$TMP/pkg
mkdir -p "$PKG" "$TMP/bin"
cp -a dist monitor-ext package.json "$PKG/"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -r "$ROOT/node_modules/yargs/package.json" 2>/dev/null; then
  cp -a node_modules "$PKG/"          # the checkout is not readable by postgres: copy
else
  ln -s "$ROOT/node_modules" "$PKG/node_modules"
fi
chmod -R a+rX "$PKG"
cat > "$TMP/bin/pg_autoctl" <<EOF
#!/bin/sh
exec "$PKG/dist/cli/pgaf.cjs" "\$@"
EOF
# (the program package.json's bin installs: its sh launcher starts the fast commands on their
# code-cached bundle and the services with the Node flags and malloc settings pgaf ships with)
chmod 755 "$TMP/bin" "$TMP/bin/pg_autoctl"
PGAF_CLI=$TMP/bin/pg_autoctl
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$PGAF_CLI" --version >/dev/null || die "postgres cannot run $PGAF_CLI"
fi

# the monitor loads the pgaf extension from Postgres' share dir: make it the snapshot's
EXT_NOTE="not checked"
if [ "$INSTALL_EXTENSION" = 1 ] && [[ " $SYSTEMS " == *" pgaf "* ]]; then
  EXT_DIFF=$("$NODE" --input-type=module -e '
    const { extensionFiles } = await import(process.argv[1]);
    const { readFileSync } = await import("node:fs");
    const dir = process.argv[2] + "/extension/";
    const diff = [];
    for (const [f, text] of extensionFiles()) { let cur = null; try { cur = readFileSync(dir + f, "utf8"); } catch {} if (cur !== text) diff.push(f); }
    console.log(diff.join(" "));' "$PKG/dist/monitor-ext/bundle.js" "$("$PGBIN/pg_config" --sharedir 2>/dev/null || pg_config --sharedir)" 2>&1)
  if [ -z "$EXT_DIFF" ]; then
    EXT_NOTE="installed files match the build"
  elif [ "$(id -u)" = 0 ]; then
    say "installing the pgaf extension files (differ: $EXT_DIFF)"
    "$PGAF_CLI" -q install-extension --pg-config "$PGBIN/pg_config" >&2 || die "install-extension failed"
    EXT_NOTE="installed from the build"
  else
    EXT_NOTE="installed files differ from the build ($EXT_DIFF): run as root or pgaf install-extension"
    echo "# warning: $EXT_NOTE" >&2
  fi
fi

# ---------------------------------------------------------------- meta
mkdir -p "$RESULTS_DIR" || exit 1
GIT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" status --porcelain -- cli keeper config plugin monitor-ext lib 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host_cpus: $(nproc)"
  echo "cpu_model: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "mem_total: $(awk '/^MemTotal/{printf "%.1f GB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "os: $( . /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"
  echo "loadavg_before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "node_version: $("$NODE" --version)"
  echo "pgaf_version: $("$PGAF_CLI" --version 2>&1 | head -1)"
  echo "pgaf_commit: $GIT_COMMIT"
  echo "pgaf_uncommitted: ${GIT_DIRTY:-none}"
  echo "pgaf_extension: $EXT_NOTE"
  echo "original_version: $([ -x "$ORIGINAL" ] && "$ORIGINAL" --version 2>&1 | head -1 || echo 'not installed')"
  echo "harness: $HARNESS"
  echo "harness_sha256: $(sha256sum "$HARNESS" | cut -c1-16)"
  echo "runs: $RUNS"
  echo "idle_secs: $IDLE_SECS"
  echo "settle_secs: ${SETTLE_SECS:-10}"
  echo "invocations: $INVOCATIONS"
  echo "state_via: $STATE_VIA"
  echo "systems: $SYSTEMS"
  echo "pgaf_ports: $PGAF_PORT $((PGAF_PORT + 1)) $((PGAF_PORT + 2))"
  echo "original_ports: $ORIG_PORT $((ORIG_PORT + 1)) $((ORIG_PORT + 2))"
  echo "command: RUNS=$RUNS IDLE_SECS=$IDLE_SECS INVOCATIONS=$INVOCATIONS STATE_VIA=$STATE_VIA bash bench/failover/run.sh"
} > "$RESULTS_DIR/meta.txt"

# pgaf's monitor settings (its pgautofailover.* are not GUCs the harness can list): read once
# the cluster is up, i.e. once the harness has printed writer_uri
poll_settings() { # base port out
  local base=$1 port=$2 out=$3
  for _ in $(seq 1 900); do
    if grep -q '^writer_uri:' "$base/results.txt" 2>/dev/null; then
      "$PGBIN/psql" -X -Atq -h 127.0.0.1 -p "$port" -U autoctl_node -d pg_auto_failover -F ': ' \
        -c "select 'monitor_setting.' || name, value from pgautofailover.monitor_settings() order by 1" \
        -c "select 'monitor_extension', extname || ' ' || extversion from pg_extension where extname in ('pgaf', 'pgautofailover')" \
        > "$out" 2>&1
      return
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------- run the harness
run_one() { # system invocation
  local sys=$1 i=$2 cli port dir base rc t0
  if [ "$sys" = pgaf ]; then cli=$PGAF_CLI; port=$PGAF_PORT; else cli=$ORIGINAL; port=$ORIG_PORT; fi
  dir=$RESULTS_DIR/$sys/$i; base=$TMP/base-$sys-$i
  mkdir -p "$dir"
  say "$sys, invocation $i/$INVOCATIONS: RUNS=$RUNS IDLE_SECS=$IDLE_SECS ports $port-$((port + 2)) (progress: $dir/stderr.txt)"
  POLLER=""
  if [ "$sys" = pgaf ]; then poll_settings "$base" "$port" "$dir/settings.txt" & POLLER=$!; fi
  t0=$SECONDS
  ( cd / && exec env PG_AUTOCTL="$cli" PGBIN="$PGBIN" RUNS="$RUNS" IDLE_SECS="$IDLE_SECS" STATE_VIA="$STATE_VIA" \
      BASE="$base" OUT_DIR="$dir/out" MON_PORT="$port" N1_PORT=$((port + 1)) N2_PORT=$((port + 2)) \
      bash "$HARNESS" ) > "$dir/stdout.txt" 2> "$dir/stderr.txt" &
  CHILD=$!
  wait "$CHILD"; rc=$?; CHILD=""
  [ -n "$POLLER" ] && { kill "$POLLER" 2>/dev/null; wait "$POLLER" 2>/dev/null; POLLER=""; }
  echo "$rc" > "$dir/rc"
  say "$sys, invocation $i: harness rc=$rc after $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || tail -15 "$dir/stderr.txt" >&2
  kill_leftovers
  [ "$(id -u)" = 0 ] && chown -R "$(stat -c %u:%g "$ROOT")" "$dir"
  return 0
}

for i in $(seq 1 "$INVOCATIONS"); do
  for sys in $SYSTEMS; do run_one "$sys" "$i"; done
done
echo "loadavg_after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS_DIR/meta.txt"

# ---------------------------------------------------------------- report
args=(--dir "$RESULTS_DIR")
[ -n "$DOCS" ] && args+=(--docs "$DOCS")
"$NODE" "$HERE/report.mjs" "${args[@]}" | tee "$RESULTS_DIR/report.md"
rc=${PIPESTATUS[0]}
say "raw outputs: $RESULTS_DIR${DOCS:+; report: $DOCS}"
# non-zero when a harness run failed or the report could not be made (a missed target is a
# result, not an error: see the table)
for f in "$RESULTS_DIR"/*/*/rc; do [ "$(cat "$f")" = 0 ] || rc=1; done
exit "$rc"
