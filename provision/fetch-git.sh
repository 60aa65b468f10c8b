#!/bin/bash
# fetch-git.sh --dest DIR --url URL --ref REF [--attempts N] [--retry-delay SECONDS] [--timeout SECONDS]
# fetch-git.sh --dest DIR --bundle FILE --branch NAME
# Put a git tree at DIR: cloned from URL at REF (a branch, tag or refs/changes/… ref; with retries and
# a time budget per attempt; into DIR.partial first, so a failed clone leaves no half-made DIR), or
# fetched from a bundle the host uploaded and checked out as branch NAME. An existing DIR is updated.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dest='' url='' ref='' bundle='' branch='' attempts=3 delay=15 timeout_s=900
while (($# > 0)); do
  case $1 in
    --dest) need_value "$1" "${2-}"; dest=$2; shift 2 ;;
    --url) need_value "$1" "${2-}"; url=$2; shift 2 ;;
    --ref) need_value "$1" "${2-}"; ref=$2; shift 2 ;;
    --bundle) need_value "$1" "${2-}"; bundle=$2; shift 2 ;;
    --branch) need_value "$1" "${2-}"; branch=$2; shift 2 ;;
    --attempts) need_value "$1" "${2-}"; attempts=$2; shift 2 ;;
    --retry-delay) need_value "$1" "${2-}"; delay=$2; shift 2 ;;
    --timeout) need_value "$1" "${2-}"; timeout_s=$2; shift 2 ;;
    *) die "unknown option: $1" ;;
  esac
done
[[ -n $dest ]] || die "--dest is required"

if [[ -n $bundle ]]; then
  [[ -n $branch ]] || die "--bundle needs --branch"
  [[ -f $bundle ]] || die "bundle $bundle is missing"
  [[ -d $dest/.git ]] || git init -q "$dest"
  git -C "$dest" fetch -q "$bundle" HEAD
  git -C "$dest" checkout -q -B "$branch" FETCH_HEAD
  rm -f "$bundle"
  log "$dest: $(git -C "$dest" log -1 --format='%h %s') (pushed from the host as $branch)"
  exit 0
fi

[[ -n $url && -n $ref ]] || die "give --url and --ref, or --bundle and --branch"

if [[ ! -d $dest/.git ]]; then
  rm -rf "$dest.partial"
  if [[ $ref == refs/* ]]; then
    retry "$attempts" "$delay" timeout "$timeout_s" git clone -q "$url" "$dest.partial" || { rm -rf "$dest.partial"; die "could not clone $url"; }
  else
    retry "$attempts" "$delay" timeout "$timeout_s" git clone -q --branch "$ref" "$url" "$dest.partial" || { rm -rf "$dest.partial"; die "could not clone $url at $ref"; }
  fi
  mv "$dest.partial" "$dest"
else
  git -C "$dest" remote set-url origin "$url"
fi
retry "$attempts" "$delay" timeout "$timeout_s" git -C "$dest" fetch -q origin "$ref" || die "could not fetch $ref from $url"
local_branch=$ref
if [[ $ref == refs/* ]]; then local_branch=${ref#refs/}; local_branch=${local_branch//\//-}; fi
git -C "$dest" checkout -q -B "$local_branch" FETCH_HEAD
log "$dest: $(git -C "$dest" log -1 --format='%h %s') ($url $ref)"
