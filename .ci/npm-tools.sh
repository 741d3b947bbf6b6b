#!/usr/bin/env bash
# Installs the npm-distributed MCP peers the tests drive, into .ci/npm (project-local, no globals):
#   - @modelcontextprotocol/server-filesystem: an upstream search server (tests/tools skip without it or node);
#   - @modelcontextprotocol/inspector: a real MCP client, CLI mode (tests/server/test_inspector.py fails without it,
#     telling the developer to run this script).
# Silent on success; on failure npm's own error output is shown. Idempotent: nothing is installed when the pinned
# versions are already there.
set -euo pipefail
cd "$(dirname "$0")"
# Pinned so CI exercises the same builds every time; bump deliberately.
FILESYSTEM_VERSION="2026.8.31"
# 0.15.0 is the newest Inspector that runs on Node 20 (0.16+ and 2.x declare node >= 22).
INSPECTOR_VERSION="0.15.0"
PACKAGES=(
    "@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION"
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
)

installed() {  # installed PACKAGE VERSION
    local manifest="npm/node_modules/$1/package.json"
    [ -f "$manifest" ] && grep -q "\"version\": \"$2\"" "$manifest"
}

if installed @modelcontextprotocol/server-filesystem "$FILESYSTEM_VERSION" \
    && installed @modelcontextprotocol/inspector "$INSPECTOR_VERSION"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm-tools: npm not found; the npm-based MCP server tests will be skipped, the Inspector tests will fail" >&2
    exit 0
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# One install for all: `npm install --no-save` prunes whatever it was not asked for in this call.
if ! npm install --prefix npm --no-audit --no-fund --no-save --loglevel=error "${PACKAGES[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
