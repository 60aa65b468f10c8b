#!/usr/bin/env bash
# What the tests need on the host, installed and built here so `npm test` works on a fresh machine:
# the Debian packages (qemu, the ISO tool, cloud-init for `cloud-init schema`, sshd, the image
# builder's tools, the real openstackclient that post-stack.sh runs against the OpenStack API
# stand-in, systemd-journal-remote that turns export-format journals into journal files) and the
# test cloud image (rebuilt only when its recipe changes).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-host] %s\n' "$*" >&2; }

packages=(qemu-system-x86 qemu-utils xorriso cloud-init openssh-server openssh-client openssl git
  mmdebstrap extlinux e2fsprogs python3-yaml python3-jinja2 shellcheck iproute2 sudo
  python3-openstackclient systemd-journal-remote)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirt for the real-guest tests: packages, the native binding, daemons (no systemd here), pool,
# and /dev/kvm opened to libvirt's qemu user where no udev rule did (group kvm, 0660). Whether guests
# then use KVM is the functional probe's call (doctor's kvm finding): where KVM cannot run a guest, TCG.
node bin/devcluster.js -c config.example.yaml doctor --fix
node bin/devcluster.js -c test/fixtures/session.yaml doctor --fix

dir=${DEVCLUSTER_TEST_IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/devcluster-test/image}
bash test/image/build-test-image.sh "$dir"
