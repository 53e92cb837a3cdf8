#!/usr/bin/env bash
# Prepares the Docker engine for the container tier (test/hosts/), idempotently, as root:
# installs docker.io and debootstrap when absent, writes /etc/docker/daemon.json so that the
# engine never touches the host's firewall, routing or NAT, adds the shared guard route
# `unreachable 172.16.0.0/12` (never removed), and starts dockerd by hand (no systemd) when
# it is not answering, with its PID in /run/pgaf-dockerd.pid and its log in
# /var/log/pgaf-dockerd.log. A running engine is reused as it is.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PIDFILE=/run/pgaf-dockerd.pid
LOG=/var/log/pgaf-dockerd.log

if [ "$(id -u)" != 0 ]; then
  echo "prepare-engine: must run as root (installs packages, starts dockerd)" >&2
  exit 1
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "prepare-engine: installing ${need[*]}"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

want='{"iptables": false, "ip-forward": false, "ip-masq": false, "bridge": "none", "default-address-pools": [{"base": "172.30.0.0/16", "size": 24}]}'
mkdir -p /etc/docker
if [ ! -f /etc/docker/daemon.json ] || ! node -e '
  const a = JSON.parse(require("fs").readFileSync("/etc/docker/daemon.json", "utf8"));
  const b = JSON.parse(process.argv[1]);
  for (const k of Object.keys(b)) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) process.exit(1);' "$want"; then
  if docker info >/dev/null 2>&1; then
    echo "prepare-engine: a running engine has other settings than $want in /etc/docker/daemon.json; refusing to change it" >&2
    exit 1
  fi
  echo "$want" > /etc/docker/daemon.json
fi

# the guard route: containers' bridges get more specific routes, anything else in the range goes nowhere
ip route show 172.16.0.0/12 | grep -q unreachable || ip route add unreachable 172.16.0.0/12

if ! docker info >/dev/null 2>&1; then
  echo "prepare-engine: starting dockerd (log $LOG)"
  setsid dockerd >>"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "prepare-engine: dockerd did not answer within 30 s; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi
echo "prepare-engine: engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
