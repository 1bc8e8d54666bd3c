#!/bin/sh
# Installs the official MCP Inspector (npm package @modelcontextprotocol/inspector)
# and the Node.js it needs (>= 22, from the npm package node-linux-<arch>, which
# ships the binary) into one directory, for the test that lists ami-audit's MCP
# tools and calls two of them through the Inspector's CLI mode
# (cmd/ami-audit TestMCPInspector). Does nothing when they are already there.
#
#   AMI_AUDIT_MCP_INSPECTOR_DIR  where to install (default ~/.cache/ami-audit/mcp-inspector)
#
# Needs npm (Debian's npm package; installed here when missing and run as root).
set -eu

INSPECTOR_VERSION=0.21.2
NODE_VERSION=22.23.5
dir=${AMI_AUDIT_MCP_INSPECTOR_DIR:-$HOME/.cache/ami-audit/mcp-inspector}

case "$(uname -m)" in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "install-mcp-inspector: no Node.js package for $(uname -m)" >&2
	exit 1
	;;
esac

if [ -x "$dir/node_modules/node-linux-$arch/bin/node" ] &&
	grep -q "\"version\": \"$INSPECTOR_VERSION\"" "$dir/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null; then
	echo "MCP Inspector $INSPECTOR_VERSION is already installed in $dir"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends npm
	else
		echo "install-mcp-inspector: npm is not installed (apt-get install npm)" >&2
		exit 1
	fi
fi

mkdir -p "$dir"
npm install --no-audit --no-fund --loglevel=error --prefix "$dir" \
	"node-linux-$arch@$NODE_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
"$dir/node_modules/node-linux-$arch/bin/node" --version
echo "MCP Inspector $INSPECTOR_VERSION installed in $dir"
