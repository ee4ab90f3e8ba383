#!/usr/bin/env bash
# Builds the faultline node image without any container registry: a Debian rootfs made by
# debootstrap from the mirror apt is already configured with on this machine, then
# `docker import`. The image is tagged with a hash of this script and its package list, so
# it is rebuilt only when they change. Prints the image tag on its last line of stdout.
#
# Usage: docker/build-image.sh            (as root; needs debootstrap and docker)
# Environment: FAULTLINE_CACHE (default ~/.cache/faultline) holds the work folder.
set -euo pipefail

SUITE=bookworm
PACKAGES=openssh-server,iptables,iproute2,sudo,procps,iputils-ping,ca-certificates
NAME=faultline-node

here="$(cd "$(dirname "$0")" && pwd)"
hash="$( { cat "$0" "$here/node-init.sh"; echo "$PACKAGES $SUITE"; } | sha256sum | cut -c1-12)"
tag="$NAME:$hash"

log() { echo "build-image: $*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag is up to date"
  echo "$tag"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "debootstrap needs root: run this script as root (or sudo $0)"
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "debootstrap is missing: apt-get install debootstrap"
  exit 1
fi

# The Debian mirror apt uses here (deb822 .sources or one-line .list), for the suite.
mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*)
  local f
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        awk -v suite="$SUITE" '
          BEGIN { RS=""; FS="\n" }
          {
            uris=""; ok=0; types=0
            for (i = 1; i <= NF; i++) {
              if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris=$i }
              if ($i ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) types=1
              if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
            }
            if (ok && types && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
          }' "$f"
        ;;
      *)
        awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }' "$f"
        ;;
    esac
  done | head -n1
}

MIRROR="$(mirror)"
if [ -z "$MIRROR" ]; then
  log "no apt source for Debian $SUITE in /etc/apt/sources.list{,.d}; add one (the image is built from it)"
  exit 1
fi
log "building $tag from $MIRROR"

cache="${FAULTLINE_CACHE:-${HOME:-/root}/.cache/faultline}"
mkdir -p "$cache"
rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
cleanup() { rm -rf --one-file-system "$rootfs"; }
trap cleanup EXIT

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >&2

# A user for tests of --sudo, sshd that takes keys only, and an init that makes this
# container's own host keys and installs the mounted public key.
chroot "$rootfs" useradd --create-home --shell /bin/bash faultline
# A locked account (`!` in shadow) cannot log in even with a key when PAM is off.
chroot "$rootfs" usermod -p '*' faultline
chroot "$rootfs" usermod -p '*' root
echo 'faultline ALL=(ALL) NOPASSWD:ALL' >"$rootfs/etc/sudoers.d/faultline"
chmod 0440 "$rootfs/etc/sudoers.d/faultline"
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat >"$rootfs/etc/ssh/sshd_config.d/faultline.conf" <<'EOF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
MaxSessions 64
MaxStartups 64
EOF
install -m 0755 "$here/node-init.sh" "$rootfs/usr/local/sbin/faultline-node-init"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

tar -C "$rootfs" --numeric-owner -c . |
  docker import \
    --change 'CMD ["/usr/local/sbin/faultline-node-init"]' \
    --change 'EXPOSE 22' \
    - "$tag" >&2
docker tag "$tag" "$NAME:latest"
log "built $tag"
echo "$tag"
