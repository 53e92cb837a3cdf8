#!/usr/bin/env bash
# Builds the container tier's host image once, without any image registry, and prints its
# tag: Debian bookworm (debootstrap from the machine's own apt mirror), PostgreSQL 15,
# nftables and iproute2 (fault injection inside a host), pg_auto_failover 2.0 (Debian's
# postgresql-15-auto-failover: bench/failover's side by side on hosts), the host's Node 20
# and npm, and PM2 7.0.4 installed globally from the host's npm cache (or the npm registry,
# from the host). The tag is a hash of these inputs; an image with that tag is reused as it
# is. Older pgaf-host images, and module images (pgaf-host-module, built on top of them by
# formation.ts) older than an hour, are removed when no container uses them.
# Inside containers nothing reaches a registry or a mirror.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PM2_VERSION=7.0.4
PACKAGES="postgresql-15 postgresql-client-15 postgresql-15-auto-failover iproute2 nftables procps openssl ca-certificates"
NAME=pgaf-host

hash=$( { cat "$HERE/build-image.sh" "$HERE/host-boot.sh"; node -v; npm -v; echo "$PM2_VERSION $PACKAGES"; } | sha256sum | cut -c1-12)
TAG="$NAME:$hash"

# Images of other inputs: module images first (they are children of a host image), then host
# images. `docker rmi` without --force refuses an image a container (of any tier) still uses;
# a module image younger than an hour may be another worktree's, about to start containers.
prune() {
  local now ref created
  now=$(date +%s)
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.CreatedAt}}' pgaf-host-module 2>/dev/null |
    while read -r ref created; do
      created=$(date -d "$(echo "$created" | awk '{print $1, $2, $3}')" +%s 2>/dev/null) || continue
      if [ $((now - created)) -gt 3600 ] && docker rmi "$ref" >/dev/null 2>&1; then echo "build-image: removed $ref" >&2; fi
    done
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$NAME" 2>/dev/null | { grep -vxF "$TAG" || true; } |
    while read -r ref; do
      if docker rmi "$ref" >/dev/null 2>&1; then echo "build-image: removed $ref" >&2; fi
    done
  return 0
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
  prune
  echo "$TAG"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "build-image: must run as root (debootstrap, chroot)" >&2
  exit 1
fi
# the machine's own Debian mirror, read at run time
MIRROR=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { echo "build-image: no Debian mirror found in the machine's apt sources" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/pgaf-image.XXXXXX)
ROOTFS="$WORK/rootfs"
cleanup() {
  mountpoint -q "$ROOTFS/proc" && umount "$ROOTFS/proc"
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "build-image: $*" >&2; }

log "debootstrap bookworm (minbase)"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }

cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
rm -f "$ROOTFS/etc/apt/sources.list"
cp -a /etc/apt/sources.list.d/. "$ROOTFS/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOTFS/etc/apt/sources.list"
# only Debian's own sources inside the image
find "$ROOTFS/etc/apt/sources.list.d" -type f ! -name 'debian.sources' -delete
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
mkdir -p "$ROOTFS/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' > "$ROOTFS/etc/postgresql-common/createcluster.d/pgaf.conf"
mount -t proc proc "$ROOTFS/proc"
log "apt-get install $PACKAGES"
chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES" \
  >"$WORK/apt.log" 2>&1 || { tail -30 "$WORK/apt.log" >&2; exit 1; }
chroot "$ROOTFS" apt-get clean
umount "$ROOTFS/proc"
rm -rf "$ROOTFS"/var/lib/apt/lists/*
: > "$ROOTFS/etc/resolv.conf"

log "node $(node -v), npm $(npm -v), pm2 $PM2_VERSION"
install -m755 "$(readlink -f "$(command -v node)")" "$ROOTFS/usr/bin/node"
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
mkdir -p "$ROOTFS/usr/lib/node_modules"
cp -a "$NPM_DIR" "$ROOTFS/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/bin/npx"
npm install -g --prefix "$ROOTFS/usr/local" --prefer-offline --no-audit --no-fund "pm2@$PM2_VERSION" >"$WORK/npm.log" 2>&1 ||
  { tail -30 "$WORK/npm.log" >&2; exit 1; }
install -m755 "$HERE/host-boot.sh" "$ROOTFS/usr/local/sbin/pgaf-host-boot"

log "docker import $TAG"
tar -C "$ROOTFS" -c . | docker import \
  -c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["/usr/local/sbin/pgaf-host-boot"]' \
  -m "pgaf container-tier host (test/hosts/build-image.sh)" - "$TAG" >/dev/null
prune
echo "$TAG"
