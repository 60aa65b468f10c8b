#!/bin/bash
# prepare.sh [--http-proxy URL] [--https-proxy URL] [--no-proxy LIST]
# First step on every node: wait for cloud-init, set the proxy for apt, git and pip (through
# /etc/environment and apt.conf.d), install what DevStack needs before it can start (git), make
# /opt/stack traversable, and report whether the node itself can run KVM guests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

http_proxy_url='' https_proxy_url='' no_proxy_list=''
while (($# > 0)); do
  case $1 in
    --http-proxy) need_value "$1" "${2-}"; http_proxy_url=$2; shift 2 ;;
    --https-proxy) need_value "$1" "${2-}"; https_proxy_url=$2; shift 2 ;;
    --no-proxy) need_value "$1" "${2-}"; no_proxy_list=$2; shift 2 ;;
    *) die "unknown option: $1" ;;
  esac
done

log "waiting for cloud-init"
if ! cloud-init status --wait >/dev/null; then
  die "cloud-init finished with errors: $(cloud-init status --long 2>&1 | tr '\n' ' ')"
fi

# set_env_line FILE NAME VALUE: NAME="VALUE" in FILE, replacing an earlier line for NAME.
set_env_line() {
  local file=$1 name=$2 value=$3
  [[ $value != *'"'* ]] || die "$name must not contain a double quote: $value"
  local rest
  sudo touch "$file"
  # Rewritten in place (tee, not sed -i's rename): the file keeps its inode, owner and mode.
  rest=$(sudo grep -v "^${name}=" "$file" || true)
  { [[ -z $rest ]] || printf '%s\n' "$rest"; printf '%s="%s"\n' "$name" "$value"; } | sudo tee "$file" >/dev/null
}

if [[ -n $http_proxy_url || -n $https_proxy_url ]]; then
  log "proxy: http ${http_proxy_url:-none}, https ${https_proxy_url:-none}"
  for name in http_proxy HTTP_PROXY; do set_env_line /etc/environment "$name" "$http_proxy_url"; done
  for name in https_proxy HTTPS_PROXY; do set_env_line /etc/environment "$name" "$https_proxy_url"; done
  # cloud-init already wrote no_proxy with loopback and every node's address and names: keep those
  # and add the user's entries, or SSH sessions would send cluster traffic through the proxy.
  current=$(sed -n 's/^no_proxy="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/environment 2>/dev/null | tail -n 1)
  no_proxy_list=$(merge_list "$current" "$no_proxy_list")
  for name in no_proxy NO_PROXY; do set_env_line /etc/environment "$name" "$no_proxy_list"; done
  if [[ -d /etc/apt/apt.conf.d ]]; then
    {
      [[ -z $http_proxy_url ]] || printf 'Acquire::http::Proxy "%s";\n' "$http_proxy_url"
      [[ -z $https_proxy_url ]] || printf 'Acquire::https::Proxy "%s";\n' "$https_proxy_url"
    } | sudo tee /etc/apt/apt.conf.d/95devcluster-proxy >/dev/null
  fi
  export http_proxy=$http_proxy_url https_proxy=$https_proxy_url no_proxy=$no_proxy_list
fi

missing=()
command -v git >/dev/null || missing+=(git)
command -v sudo >/dev/null || die "sudo is missing: the image must have it (DevStack needs it)"
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]}"
  if command -v apt-get >/dev/null; then
    retry 3 10 sudo -E apt-get -q update
    retry 3 10 sudo -E DEBIAN_FRONTEND=noninteractive apt-get -q install -y "${missing[@]}"
  elif command -v dnf >/dev/null; then
    retry 3 10 sudo -E dnf -y install "${missing[@]}"
  else
    die "no apt-get or dnf to install ${missing[*]}"
  fi
fi

sudo chmod 755 "$HOME"
mkdir -p "$HOME/logs" "$HOME/devcluster"
if [[ -e /dev/kvm ]]; then echo "devcluster-kvm=yes"; else echo "devcluster-kvm=no"; fi
log "prepared: $(git --version)"
