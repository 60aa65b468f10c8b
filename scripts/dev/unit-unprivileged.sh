#!/usr/bin/env bash
# Shows that the unit tier needs neither root nor libvirt: runs `npm run test:unit` on a copy of this
# checkout as a throwaway unprivileged user (default dcunit, made when missing, with a home and a
# login shell, since the SSH tests log in as the user running them), in a private mount namespace
# where /run/libvirt is an empty tmpfs (no libvirt daemon socket reachable), and prints the wall time.
# The DevStack and grenade trees come as for .ci/run: DEVCLUSTER_*_REPO, else the shared bundles.
# Run as root: scripts/dev/unit-unprivileged.sh [USER]. Leaves nothing behind but the user.
set -euo pipefail
user=${1:-dcunit}
src=$(cd "$(dirname "$0")/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "unit-unprivileged.sh: run as root (it makes a user and a mount namespace)" >&2; exit 2; }
id "$user" >/dev/null 2>&1 || useradd --system --create-home --home-dir "/home/$user" --shell /bin/bash "$user"
for d in "$src/../shared/upstream" /work/shared/upstream; do
  if [[ -f $d/devstack.bundle ]]; then
    DEVCLUSTER_DEVSTACK_REPO=${DEVCLUSTER_DEVSTACK_REPO:-$d/devstack.bundle}
    DEVCLUSTER_GRENADE_REPO=${DEVCLUSTER_GRENADE_REPO:-$d/grenade.bundle}
    break
  fi
done
work=$(mktemp -d /tmp/dc-unit-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$src/." "$work/"
rm -rf "$work/.git" "$work/dist"
mkdir -p "$work/.home"
chown -R "$user:" "$work"
chmod 755 "$work"
start=$(date +%s)
rc=0
# shellcheck disable=SC2016 # expanded by the inner sh
unshare --mount --propagation private -- sh -c '
  mount -t tmpfs -o mode=0755 none /run/libvirt
  cd "$1" && exec runuser -u "$2" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$1/.home" NO_COLOR=1 CI=true \
    DEVCLUSTER_DEVSTACK_REPO="$3" DEVCLUSTER_GRENADE_REPO="$4" npm run test:unit
' sh "$work" "$user" "${DEVCLUSTER_DEVSTACK_REPO:-}" "${DEVCLUSTER_GRENADE_REPO:-}" || rc=$?
echo "unit tier as $user (uid $(id -u "$user")), /run/libvirt hidden: exit $rc in $(($(date +%s) - start)) s"
exit "$rc"
