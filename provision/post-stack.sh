#!/bin/bash
# post-stack.sh image-present NAME                 exit 0 when Glance has an image NAME, 3 when not
# post-stack.sh image NAME DISK_FORMAT FILE        create NAME public from FILE unless it exists
# post-stack.sh keypair USER NAME PUBLIC_KEY_FILE  USER's keypair NAME, unless it exists
# post-stack.sh rules [--ip-version 4|6|4+6] PROJECT RULE...
#                                                  ingress rules in PROJECT's default group, owned by
#                                                  PROJECT; RULE = icmp | tcp:PORT | tcp:FROM:TO | udp:PORT;
#                                                  IPv4 always, IPv6 too with ip version 6 or 4+6
# After stack.sh, on the controller, as the stack user, with python-openstackclient and DevStack's
# openrc. Every action decides from a listing (exact match on the name, or on the rule's fields as
# Neutron compares them) whether there is anything to create, so running it again changes nothing.
# Never from an error message: their wording changes between client versions. Prints one
# "devcluster: …" line per result.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEVSTACK_DIR=${DEVSTACK_DIR:-$HOME/devstack}

# as USER PROJECT: the OS_* credentials DevStack's openrc gives USER in PROJECT, and nothing else.
# openrc sources stackrc and functions-common, which are not written for strict mode (stackrc's
# `ip -f inet6 route … | grep via` fails on a node without an IPv6 default route) and replace `die`:
# so they run in a separate bash, and only the OS_* variables it ends with come back.
as() {
  local user=$1 project=$2 name value entry
  [[ -r $DEVSTACK_DIR/openrc ]] || die "$DEVSTACK_DIR/openrc is missing: did stack.sh run?"
  local -a envs=()
  # A new bash (not a subshell): no errexit, pipefail, errtrace or ERR trap is inherited.
  # shellcheck disable=SC2016 # expanded by that bash
  mapfile -d '' envs < <(env -u SHELLOPTS -u BASHOPTS bash -c 'source "$1" "$2" "$3" >/dev/null 2>&1 </dev/null; env -0' \
    openrc "$DEVSTACK_DIR/openrc" "$user" "$project")
  while read -r name; do unset "$name"; done < <(compgen -e | grep '^OS_' || true)
  for entry in "${envs[@]}"; do
    name=${entry%%=*}
    value=${entry#*=}
    [[ $name =~ ^OS_[A-Z0-9_]+$ ]] || continue
    export "$name=$value"
  done
  [[ -n ${OS_AUTH_URL-} && ${OS_USERNAME-} == "$user" && ${OS_PROJECT_NAME-} == "$project" ]] ||
    die "sourcing $DEVSTACK_DIR/openrc $user $project gave no credentials for $user in $project (OS_AUTH_URL '${OS_AUTH_URL-}'): is .stackenv there?"
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

# image_present NAME: 0 and IMAGE_ID set when an image is named exactly NAME (the first of several),
# 3 when none is.
image_present() {
  local name=$1
  as admin admin
  osc image list --name "$name" -f value -c ID -c Name || die "openstack image list --name $name failed (exit $OSC_RC): $OSC_ERR"
  # Lines are "ID NAME"; the name may hold spaces.
  IMAGE_ID=$(awk -v name="$name" '{ id = $1; sub(/^[^ ]+ /, ""); if ($0 == name) { print id; exit } }' <<<"$OSC_OUT")
  [[ -n $IMAGE_ID ]] || return 3
}

ensure_image() {
  local name=$1 format=$2 file=$3 rc=0
  image_present "$name" || rc=$?
  if ((rc == 0)); then
    echo "devcluster: image $name already present ($IMAGE_ID)"
    return
  fi
  [[ -f $file ]] || die "image file $file is missing"
  osc image create "$name" --disk-format "$format" --container-format bare --public --file "$file" -f value -c id ||
    die "openstack image create $name failed (exit $OSC_RC): $OSC_ERR"
  echo "devcluster: image $name created ($OSC_OUT)"
}

ensure_keypair() {
  local user=$1 name=$2 file=$3 fp
  [[ -f $file ]] || die "public key file $file is missing"
  as "$user" "$user"
  osc keypair list -f value -c Name -c Fingerprint || die "openstack keypair list as $user failed (exit $OSC_RC): $OSC_ERR"
  # Lines are "NAME FINGERPRINT"; the name may hold spaces, the fingerprint does not.
  fp=$(awk -v name="$name" '{ fp = $NF; sub(/ [^ ]+$/, ""); if ($0 == name) { print fp; exit } }' <<<"$OSC_OUT")
  if [[ -n $fp ]]; then
    echo "devcluster: keypair $name of $user already present ($fp)"
    return
  fi
  osc keypair create --public-key "$file" "$name" -f value -c fingerprint ||
    die "openstack keypair create $name as $user failed (exit $OSC_RC): $OSC_ERR"
  echo "devcluster: keypair $name of $user created ($OSC_OUT)"
}

# rule_id GROUP_RULES_JSON ETHERTYPE PROTOCOL PORTS: the ID of an ingress rule Neutron would call a
# duplicate of the one asked for (neutron securitygroups_db.py _rule_to_key: same direction, ethertype,
# protocol, ports, no remote group, remote prefix "any"), empty when there is none.
rule_id() {
  python3 -c '
import json, sys
rules, ethertype, protocol, ports = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
any_prefix = {"IPv4": "0.0.0.0/0", "IPv6": "::/0"}[ethertype]
for r in rules:
    if (r.get("Direction") == "ingress" and r.get("Ethertype") == ethertype and r.get("IP Protocol") == protocol
            and (r.get("Port Range") or "") == ports and r.get("IP Range") in (any_prefix, None)
            and not r.get("Remote Security Group") and not r.get("Remote Address Group")):
        print(r["ID"])
        break
' "$@"
}

ensure_rules() {
  local ip_version=4
  if [[ ${1-} == --ip-version ]]; then
    need_value "$1" "${2-}"
    ip_version=$2
    shift 2
  fi
  [[ $ip_version =~ ^(4|6|4\+6)$ ]] || die "--ip-version must be 4, 6 or 4+6, not $ip_version"
  local project=$1 group rule protocol ports from to ethertype existing
  shift
  local -a ethertypes=(IPv4)
  [[ $ip_version == 4 ]] || ethertypes+=(IPv6)
  as admin admin
  # As admin the name "default" matches every project's group: look the ID up per project.
  osc security group list --project "$project" -f value -c ID -c Name || die "listing $project's security groups failed (exit $OSC_RC): $OSC_ERR"
  group=$(awk '$2 == "default" { print $1; exit }' <<<"$OSC_OUT")
  [[ -n $group ]] || die "project $project has no security group named default"
  osc security group rule list "$group" -f json || die "listing the rules of $project's default group ($group) failed (exit $OSC_RC): $OSC_ERR"
  local rules=$OSC_OUT
  for rule in "$@"; do
    IFS=: read -r protocol from to <<<"$rule"
    [[ $protocol =~ ^(icmp|tcp|udp)$ ]] || die "rule $rule: protocol must be icmp, tcp or udp"
    ports=''
    if [[ -n $from ]]; then ports="$from:${to:-$from}"; fi
    for ethertype in "${ethertypes[@]}"; do
      local proto=$protocol
      [[ $ethertype == IPv4 || $protocol != icmp ]] || proto=ipv6-icmp
      local args=(--ingress --ethertype "$ethertype" --protocol "$proto" --project "$project")
      [[ -z $ports ]] || args+=(--dst-port "$ports")
      existing=$(rule_id "$rules" "$ethertype" "$proto" "$ports")
      if [[ -n $existing ]]; then
        echo "devcluster: rule $rule ($ethertype) in $project/default ($group) already present ($existing)"
        continue
      fi
      osc security group rule create "${args[@]}" "$group" -f value -c id ||
        die "adding $rule ($ethertype) to $project's default group failed (exit $OSC_RC): $OSC_ERR"
      echo "devcluster: rule $rule ($ethertype) in $project/default ($group) created ($OSC_OUT)"
    done
  done
}

command -v openstack >/dev/null || die "openstack (python-openstackclient) is not installed on this node"
action=${1-}
shift || true
case $action in
  image-present) (($# == 1)) || die "usage: image-present NAME"; rc=0; image_present "$1" || rc=$?; exit "$rc" ;;
  image) (($# == 3)) || die "usage: image NAME DISK_FORMAT FILE"; ensure_image "$@" ;;
  keypair) (($# == 3)) || die "usage: keypair USER NAME PUBLIC_KEY_FILE"; ensure_keypair "$@" ;;
  rules) (($# >= 2)) || die "usage: rules [--ip-version 4|6|4+6] PROJECT RULE..."; ensure_rules "$@" ;;
  *) die "unknown action: ${action:-none} (image-present, image, keypair, rules)" ;;
esac
