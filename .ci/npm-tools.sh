#!/usr/bin/env bash
# Installs the npm-distributed MCP servers the upstream-tool tests drive, into .ci/npm (project-local, no globals).
# Silent on success; on failure npm's own error output is shown. The tests skip (with a reason) when this dir or
# node is missing, so running this is what turns those tests on.
set -euo pipefail
cd "$(dirname "$0")"
# Pinned so CI exercises the same server build every time; bump deliberately.
FILESYSTEM_VERSION="2026.8.31"
FILESYSTEM_SERVER="@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION"
installed="npm/node_modules/@modelcontextprotocol/server-filesystem/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$FILESYSTEM_VERSION\"" "$installed"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm-tools: npm not found; the npm-based MCP server tests will be skipped" >&2
    exit 0
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! npm install --prefix npm --no-audit --no-fund --no-save --loglevel=error "$FILESYSTEM_SERVER" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
