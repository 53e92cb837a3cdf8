#!/usr/bin/env bash
# Stops the dockerd that prepare-engine.sh started (by the PID it kept), after removing the
# container tier's leftover containers and networks. The images, the packages, daemon.json and
# the shared guard route stay. An engine started some other way is left alone.
set -uo pipefail
PIDFILE=/run/pgaf-dockerd.pid
if docker info >/dev/null 2>&1; then
  ids=$(docker ps -aq --filter label=pgaf.tier)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  nets=$(docker network ls -q --filter label=pgaf.tier)
  [ -n "$nets" ] && docker network rm $nets >/dev/null
fi
[ -f "$PIDFILE" ] || { echo "stop-engine: no $PIDFILE: not started by prepare-engine.sh, left alone"; exit 0; }
pid=$(cat "$PIDFILE")
if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { echo "stop-engine: dockerd ($pid) still running after 30 s" >&2; exit 1; }
fi
rm -f "$PIDFILE"
echo "stop-engine: dockerd stopped"
