#!/usr/bin/env bash
# The Ansible test's host image: the container tier's base image (build-image.sh: Debian,
# PostgreSQL 15, Node 20, PM2) plus python3, which Ansible's modules need on a managed host,
# and nothing of pgaf: the play installs the module. Built once without any registry (the
# base image's filesystem exported, python3 installed into it in a chroot from the machine's
# own apt mirror, imported back) and tagged by a hash of the base tag and this script.
# Images of this script's older inputs are removed when no container uses them.
# Usage: ansible-image.sh BASE_TAG; prints the tag.
set -euo pipefail
BASE=${1:?usage: ansible-image.sh BASE_TAG}
hash=$( { echo "$BASE"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12)
TAG="pgaf-ans-host:$hash"
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ansible-image: must run as root (chroot)" >&2
  exit 1
fi
WORK=$(mktemp -d /var/tmp/pgaf-ans-image.XXXXXX)
ROOTFS="$WORK/rootfs"
cid=""
cleanup() {
  mountpoint -q "$ROOTFS/proc" && umount "$ROOTFS/proc"
  [ -n "$cid" ] && docker rm -f "$cid" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$ROOTFS"
cid=$(docker create --network none "$BASE")
docker export "$cid" | tar --numeric-owner -C "$ROOTFS" -x
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mount -t proc proc "$ROOTFS/proc"
echo "ansible-image: apt-get install python3 on $BASE" >&2
chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3' \
  >"$WORK/apt.log" 2>&1 || { tail -30 "$WORK/apt.log" >&2; exit 1; }
chroot "$ROOTFS" apt-get clean
umount "$ROOTFS/proc"
rm -rf "$ROOTFS"/var/lib/apt/lists/*
: > "$ROOTFS/etc/resolv.conf"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  -c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["/usr/local/sbin/pgaf-host-boot"]' \
  -m "pgaf Ansible test host (test/hosts/ansible-image.sh)" - "$TAG" >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}}' pgaf-ans-host | { grep -vxF "$TAG" || true; } |
  while read -r ref; do docker rmi "$ref" >/dev/null 2>&1 || true; done
echo "$TAG"
