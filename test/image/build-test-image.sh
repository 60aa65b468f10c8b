#!/usr/bin/env bash
# build-test-image.sh OUTDIR
#
# Builds OUTDIR/debian-12-test.qcow2: a small Debian 12 (bookworm) cloud image that boots from its
# own disk (EXTLINUX, no -kernel needed) and is configured by a cloud-init NoCloud seed. It stands
# in for the Ubuntu cloud images in tests on machines that cannot download them. See README.md.
#
# Writes OUTDIR/debian-12-test.qcow2, OUTDIR/SHA256SUMS and OUTDIR/recipe.sha256 (the sha256 of
# this script). Does nothing when all three exist and recipe.sha256 matches this script.
#
# Needs root, mmdebstrap, mke2fs (e2fsprogs >= 1.43, for -d), extlinux, qemu-img, a loop device.
# The Debian mirror is taken from the host's apt sources (override: DEBIAN_MIRROR=URL,
# DEBIAN_SECURITY_MIRROR=URL).
#
# Layout: the whole disk is one ext4 filesystem labelled "rootfs" (no partition table: some
# hosts have no partition support on loop devices). EXTLINUX sits in the filesystem's boot
# sector, which is sector 0 of the disk, so the BIOS boots it directly.
set -euo pipefail

readonly IMAGE_NAME=debian-12-test.qcow2
readonly SUITE=bookworm
readonly DISK_SIZE=3G
readonly FS_LABEL=rootfs
readonly KERNEL_ARGS="root=LABEL=${FS_LABEL} ro console=tty0 console=ttyS0,115200"
readonly PACKAGES=(
  linux-image-amd64 systemd-sysv systemd-resolved systemd-timesyncd dbus libpam-systemd
  cloud-init openssh-server sudo locales iproute2 ca-certificates e2fsprogs less procps python3
  qemu-guest-agent git
  # Debian's own OpenStack client (6.0.0 in bookworm), for the post-stack steps against a real client.
  python3-openstackclient
  # What stack.sh installs before its first clone (inc/python install_python; lib/host configure_ksm),
  # here so that a run up to that clone does not spend minutes in apt under TCG: ksmtuned alone
  # (apt would add its Recommends, qemu-kvm and ~290 packages), python3.11-dev.
  ksmtuned python3.11-dev
)

log() { printf '[build-test-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n $1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
outdir=$1
script=$(readlink -f "${BASH_SOURCE[0]}")
recipe=$(sha256sum "$script" | cut -d' ' -f1)

up_to_date() {
  [[ -s $outdir/$IMAGE_NAME && -s $outdir/SHA256SUMS && -s $outdir/recipe.sha256 ]] &&
    [[ $(cut -d' ' -f1 "$outdir/recipe.sha256") == "$recipe" ]]
}

if up_to_date; then
  log "$outdir/$IMAGE_NAME is up to date (recipe ${recipe:0:12}); nothing to do"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap root mode, loop mount, extlinux)"
for tool in mmdebstrap mke2fs extlinux qemu-img mount umount flock sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install mmdebstrap extlinux qemu-utils e2fsprogs)"
done

mkdir -p "$outdir"
outdir=$(readlink -f "$outdir")
exec 9>"$outdir/.build.lock"
flock 9 || die "cannot lock $outdir/.build.lock"
if up_to_date; then # another run finished it while we waited
  log "$outdir/$IMAGE_NAME was built meanwhile; nothing to do"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/devcluster-image.XXXXXX")
partial="$outdir/.$IMAGE_NAME.partial.$$"
cleanup() {
  local rc=$?
  # Unmount anything still mounted below $work (our loop mount; mmdebstrap's /proc, /dev, ...),
  # deepest first, before deleting it. rm --one-file-system never crosses into a mount.
  local m
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$work" "$partial"
  ((rc == 0)) || log "failed (exit $rc); nothing was written to $outdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start=$SECONDS

# --- the mirror: the host's apt sources, Debian suites only -------------------------------------
# Prints "URI SUITE" for every enabled deb entry of a bookworm* suite in the host's sources
# (one-line .list and deb822 .sources formats).
host_debian_sources() {
  local f files=()
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk -v suite="$SUITE" '
    function flush(   i, j, nu, ns, u, s) {
      if (types ~ /(^| )deb( |$)/ && enabled != "no") {
        nu = split(uris, u, " "); ns = split(suites, s, " ")
        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
          if (index(s[j], suite) == 1) print u[i], s[j]
      }
      types = uris = suites = ""; enabled = "yes"
    }
    FNR == 1 { flush() }
    FILENAME ~ /\.list$/ {
      sub(/#.*/, "")
      if ($1 != "deb") next
      i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if (index($(i + 1), suite) == 1) print $i, $(i + 1)
      next
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    tolower($1) == "types:"      { $1 = ""; types = $0 }
    tolower($1) == "uris:"       { $1 = ""; uris = $0 }
    tolower($1) == "suites:"     { $1 = ""; suites = $0 }
    tolower($1) == "enabled:"    { enabled = tolower($2) }
    END { flush() }
  ' "${files[@]}" | sed 's/  */ /g; s/^ //' | sort -u
}

mirrors=()
if [[ -n ${DEBIAN_MIRROR:-} ]]; then
  mirrors+=("deb ${DEBIAN_MIRROR%/} $SUITE main" "deb ${DEBIAN_MIRROR%/} $SUITE-updates main")
  mirrors+=("deb ${DEBIAN_SECURITY_MIRROR:-${DEBIAN_MIRROR%/}-security} $SUITE-security main")
else
  while read -r uri suite; do
    mirrors+=("deb ${uri%/} $suite main")
  done < <(host_debian_sources)
fi
((${#mirrors[@]})) || die "no $SUITE entry in /etc/apt/sources.list*; set DEBIAN_MIRROR=http://your.mirror/debian"
for m in "${mirrors[@]}"; do log "apt source: $m"; done

# --- the root filesystem ----------------------------------------------------------------------------
# Run by mmdebstrap inside its setup (with /proc, /sys, /dev mounted in the chroot); $1 = root.
cat >"$work/customize.sh" <<'CUSTOMIZE'
#!/bin/bash
set -euo pipefail
root=$1
in_root() { chroot "$root" "$@"; }

cat >"$root/etc/fstab" <<'EOF'
LABEL=rootfs  /  ext4  defaults,errors=remount-ro  0  1
EOF
echo localhost >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1       localhost ip6-localhost ip6-loopback
ff02::1   ip6-allnodes
ff02::2   ip6-allrouters
EOF

# cloud-init: only the NoCloud seed (no slow probing of EC2/OpenStack metadata URLs), then None.
cat >"$root/etc/cloud/cloud.cfg.d/05_devcluster_test_image.cfg" <<'EOF'
# devcluster test image: configured only by a NoCloud seed (a "cidata" disk or ISO).
datasource_list: [ NoCloud, None ]
# The disk has no partition table: growpart has nothing to grow, resize2fs of / grows the
# filesystem to the whole (virtual) disk on first boot.
growpart:
  mode: "off"
resize_rootfs: true
EOF

# Locales: C.UTF-8 is the default (as on Ubuntu cloud images); en_US.UTF-8 is pre-generated.
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
in_root locale-gen >/dev/null
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
# cloud-init's locale module runs "locale-gen LOCALE" like on Ubuntu, but Debian's locale-gen
# ignores its arguments, so "locale: de_DE.UTF-8" would fail. This shim enables the requested
# locale in /etc/locale.gen first (/usr/local/sbin comes before /usr/sbin in PATH).
cat >"$root/usr/local/sbin/locale-gen" <<'EOF'
#!/bin/sh
# devcluster test image: accept Ubuntu-style "locale-gen LOCALE..." (see build-test-image.sh).
set -e
for l in "$@"; do
  case $l in
    --*) ;;
    *) if ! grep -q "^${l} " /etc/locale.gen; then
         if grep -q "^# *${l} " /etc/locale.gen; then
           sed -i "s/^# *\(${l} \)/\1/" /etc/locale.gen
         elif [ -e "/usr/share/i18n/locales/${l%%.*}" ]; then
           echo "${l} ${l#*.}" >>/etc/locale.gen
         else
           echo "locale-gen: unknown locale ${l}" >&2; exit 1
         fi
       fi ;;
  esac
done
exec /usr/sbin/locale-gen
EOF
chmod 0755 "$root/usr/local/sbin/locale-gen"

# Networking: cloud-init 22.4 picks its first available renderer of eni, sysconfig, netplan,
# networkd. Without ifupdown and netplan that is networkd; it writes
# /etc/systemd/network/10-cloud-init-IFACE.network, read by systemd-networkd (Debian ships it
# disabled) and DNS goes through systemd-resolved (like Ubuntu's netplan + networkd + resolved).
in_root systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
in_root systemctl mask e2scrub_reap.service >/dev/null 2>&1   # ~9 s at boot under TCG

# Every VM gets its own machine id and SSH host keys (cloud-init writes or generates them).
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# Smaller image: no apt lists or caches, no logs from the build.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
rm -rf "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/var/log/*.log \
  "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
mkdir -p "$root/var/lib/apt/lists/partial"
CUSTOMIZE
chmod 0755 "$work/customize.sh"

# Kernel modules no VM needs (sound, cameras/TV, Wi-Fi, Bluetooth, big GPU drivers, sensors,
# staging): ~150 MB of the ~390 MB of modules. virtio, e1000, qxl/bochs/vmwgfx, kvm, openvswitch,
# iSCSI, NBD, device mapper, netfilter all stay. These dpkg path-excludes stay in the image
# (/etc/dpkg/dpkg.cfg.d/99mmdebstrap), so kernel upgrades in the guest leave them out too.
module_excludes=()
for d in sound drivers/media drivers/net/wireless net/wireless net/mac80211 drivers/bluetooth \
  net/bluetooth drivers/gpu/drm/amd drivers/gpu/drm/radeon drivers/gpu/drm/nouveau \
  drivers/gpu/drm/i915 drivers/iio drivers/staging drivers/comedi drivers/isdn; do
  module_excludes+=("--dpkgopt=path-exclude=/lib/modules/*/kernel/$d/*"
    "--dpkgopt=path-exclude=/usr/lib/modules/*/kernel/$d/*")
done

include=$(IFS=,; echo "${PACKAGES[*]}")
log "mmdebstrap $SUITE (minbase + ${#PACKAGES[@]} packages)"
mmdebstrap --mode=root --variant=minbase --components=main --include="$include" \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  "${module_excludes[@]}" \
  --customize-hook="$work/customize.sh \"\$1\"" \
  "$SUITE" "$work/root" "${mirrors[@]}" >&2

root=$work/root
# mmdebstrap puts its own resolv.conf back at the end: point it at systemd-resolved's stub.
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# Boot loader config: the /vmlinuz and /initrd.img symlinks follow kernel upgrades in the guest.
kernel=/vmlinuz initrd=/initrd.img
[[ -e $root/vmlinuz && -e $root/initrd.img ]] || {
  kernel=$(cd "$root" && ls boot/vmlinuz-* | sort -V | tail -1)
  initrd=$(cd "$root" && ls boot/initrd.img-* | sort -V | tail -1)
  kernel=/$kernel initrd=/$initrd
}
mkdir -p "$root/boot/extlinux"
cat >"$root/boot/extlinux/extlinux.conf" <<EOF
# EXTLINUX is installed in the boot sector of this (partitionless) ext4 filesystem.
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX $kernel
  INITRD $initrd
  APPEND $KERNEL_ARGS
EOF
log "kernel $(readlink "$root/vmlinuz" 2>/dev/null || echo "$kernel"), rootfs $(du -sh --one-file-system "$root" | cut -f1)"

# --- the disk -----------------------------------------------------------------------------------
# extlinux reads ext4 without 64bit and metadata_csum. Inode tables and journal are initialised
# now, so the guest's ext4lazyinit does not write them on first boot.
log "mke2fs: $DISK_SIZE whole-disk ext4 '$FS_LABEL'"
mke2fs -q -F -t ext4 -L "$FS_LABEL" -O ^64bit,^metadata_csum \
  -E lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 \
  -d "$root" "$work/disk.raw" "$DISK_SIZE" >&2
rm -rf --one-file-system "$root"

log "extlinux --install"
mkdir "$work/mnt"
mount -o loop "$work/disk.raw" "$work/mnt"
extlinux --install "$work/mnt/boot/extlinux" >&2
umount "$work/mnt"
# Sector 0 must now carry the EXTLINUX boot sector (boot signature 55 AA at offset 510).
[[ $(od -An -tx1 -j510 -N2 "$work/disk.raw" | tr -d ' \n') == 55aa ]] || die "no boot signature in sector 0"
e2fsck -fn "$work/disk.raw" >/dev/null 2>&1 || die "e2fsck found errors in the new filesystem"

log "qemu-img convert -c (compressed qcow2)"
qemu-img convert -c -O qcow2 "$work/disk.raw" "$partial"
hash=$(sha256sum "$partial" | cut -d' ' -f1)
printf '%s  %s\n' "$hash" "$IMAGE_NAME" >"$work/SHA256SUMS"
printf '%s  %s\n' "$recipe" "$(basename "$script")" >"$work/recipe.sha256"

# Into place. recipe.sha256 goes first out and last in: until it is back, the image counts as
# not built, so an interrupted move is rebuilt on the next run.
rm -f "$outdir/recipe.sha256"
mv -f "$partial" "$outdir/$IMAGE_NAME"
mv -f "$work/SHA256SUMS" "$outdir/SHA256SUMS"
mv -f "$work/recipe.sha256" "$outdir/recipe.sha256"
log "done in $((SECONDS - start)) s: $outdir/$IMAGE_NAME ($(du -h --apparent-size "$outdir/$IMAGE_NAME" | cut -f1), sha256 ${hash:0:16}...)"
