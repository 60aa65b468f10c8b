#!/bin/bash
# post-stack.sh image-present NAME                 exit 0 when Glance has an image NAME, 3 when not
# post-stack.sh image NAME DISK_FORMAT FILE        create NAME public from FILE unless it exists
# post-stack.sh keypair USER NAME PUBLIC_KEY_FILE  USER's keypair NAME, unless it exists
# post-stack.sh rules PROJECT RULE...              ingress rules in PROJECT's default group;
#                                                  RULE = icmp | tcp:PORT | tcp:FROM:TO | udp:PORT
# After stack.sh, on the controller, as the stack user, with python-openstackclient and DevStack's
# openrc. Every action looks before it creates and treats the API's own "already exists" (HTTP 409)
# as done, so running it again changes nothing. Prints one "devcluster: …" line per result.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEVSTACK_DIR=${DEVSTACK_DIR:-$HOME/devstack}

# as USER PROJECT: credentials of USER in PROJECT from DevStack's openrc.
as() {
  [[ -r $DEVSTACK_DIR/openrc ]] || die "$DEVSTACK_DIR/openrc is missing: did stack.sh run?"
  set +u
  # shellcheck disable=SC1091
  source "$DEVSTACK_DIR/openrc" "$1" "$2" >/dev/null
  set -u
}

# osc ARGS...: run openstack, stdout to OSC_OUT and stderr to OSC_ERR; returns its exit code.
osc() {
  local err
  err=$(mktemp)
  OSC_RC=0
  OSC_OUT=$(openstack "$@" 2>"$err") || OSC_RC=$?
  OSC_ERR=$(cat "$err")
  rm -f "$err"
  return "$OSC_RC"
}

image_present() {
  local name=$1
  as admin admin
  if osc image show "$name" -f value -c id; then return 0; fi
  [[ $OSC_ERR == *"No Image found"* ]] && return 3
  die "openstack image show $name failed (exit $OSC_RC): $OSC_ERR"
}

ensure_image() {
  local name=$1 format=$2 file=$3 rc=0
  image_present "$name" || rc=$?
  if ((rc == 0)); then
    echo "devcluster: image $name already present ($OSC_OUT)"
    return
  fi
  [[ -f $file ]] || die "image file $file is missing"
  osc image create "$name" --disk-format "$format" --container-format bare --public --file "$file" -f value -c id ||
    die "openstack image create $name failed (exit $OSC_RC): $OSC_ERR"
  echo "devcluster: image $name created ($OSC_OUT)"
}

ensure_keypair() {
  local user=$1 name=$2 file=$3
  as "$user" "$user"
  if osc keypair show "$name" -f value -c fingerprint; then
    echo "devcluster: keypair $name of $user already present ($OSC_OUT)"
    return
  fi
  [[ $OSC_ERR == *"No keypair with a name or ID"* ]] || die "openstack keypair show $name as $user failed (exit $OSC_RC): $OSC_ERR"
  if osc keypair create --public-key "$file" "$name" -f value -c fingerprint; then
    echo "devcluster: keypair $name of $user created ($OSC_OUT)"
  elif [[ $OSC_ERR == *"already exists"* ]]; then
    echo "devcluster: keypair $name of $user already present"
  else
    die "openstack keypair create $name as $user failed (exit $OSC_RC): $OSC_ERR"
  fi
}

ensure_rules() {
  local project=$1 group rule protocol ports
  shift
  as admin admin
  # As admin the name "default" matches every project's group: look the ID up per project.
  osc security group list --project "$project" -f value -c ID -c Name || die "listing $project's security groups failed (exit $OSC_RC): $OSC_ERR"
  group=$(awk '$2 == "default" { print $1; exit }' <<<"$OSC_OUT")
  [[ -n $group ]] || die "project $project has no security group named default"
  for rule in "$@"; do
    IFS=: read -r protocol ports <<<"$rule"
    local args=(--ingress --protocol "$protocol")
    [[ -z $ports ]] || args+=(--dst-port "$ports")
    if osc security group rule create "${args[@]}" "$group" -f value -c id; then
      echo "devcluster: rule $rule in $project/default ($group) created"
    elif [[ $OSC_ERR == *"Security group rule already exists"* ]]; then
      echo "devcluster: rule $rule in $project/default ($group) already present"
    else
      die "adding $rule to $project's default group failed (exit $OSC_RC): $OSC_ERR"
    fi
  done
}

command -v openstack >/dev/null || die "openstack (python-openstackclient) is not installed on this node"
action=${1-}
shift || true
case $action in
  image-present) (($# == 1)) || die "usage: image-present NAME"; rc=0; image_present "$1" || rc=$?; exit "$rc" ;;
  image) (($# == 3)) || die "usage: image NAME DISK_FORMAT FILE"; ensure_image "$@" ;;
  keypair) (($# == 3)) || die "usage: keypair USER NAME PUBLIC_KEY_FILE"; ensure_keypair "$@" ;;
  rules) (($# >= 2)) || die "usage: rules PROJECT RULE..."; ensure_rules "$@" ;;
  *) die "unknown action: ${action:-none} (image-present, image, keypair, rules)" ;;
esac
