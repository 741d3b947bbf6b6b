#!/usr/bin/env bash
# Installs the npm-distributed MCP peers the tests drive (project-local, no globals):
#   into .ci/npm (on the system's Node 20):
#   - @modelcontextprotocol/server-filesystem: an upstream search server (tests/tools skip without it or node);
#   - @modelcontextprotocol/inspector 0.15: a real MCP client, CLI mode (tests/server/test_inspector.py);
#   - @anthropic-ai/mcpb: the official MCP bundle CLI, which packs and validates the .mcpb (scripts/build-mcpb.sh);
#   into .ci/npm22 (a second prefix: two Inspector versions cannot share one node_modules):
#   - node 22 (the npm package `node`), which the newer clients need;
#   - @modelcontextprotocol/inspector 2.x, @apify/mcpc and @modelcontextprotocol/conformance
#     (tests/server/test_clients_node.py).
# The tests fail without them, telling the developer to run this script. Silent on success; on failure npm's own
# error output is shown. Idempotent: nothing is installed when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")"
# Pinned so CI exercises the same builds every time; bump deliberately.
FILESYSTEM_VERSION="2026.8.31"
# 0.15.0 is the newest Inspector that runs on Node 20 (0.16+ and 2.x declare node >= 22).
INSPECTOR_VERSION="0.15.0"
MCPB_VERSION="2.1.2"
NODE22_VERSION="22.23.3"
INSPECTOR2_VERSION="2.12.0"
MCPC_VERSION="0.2.6"
CONFORMANCE_VERSION="0.1.16"
PACKAGES=(
    "@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION"
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
    "@anthropic-ai/mcpb@$MCPB_VERSION"
)
PACKAGES22=(
    "node@$NODE22_VERSION"
    "@modelcontextprotocol/inspector@$INSPECTOR2_VERSION"
    "@apify/mcpc@$MCPC_VERSION"
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
)

installed() {  # installed PREFIX PACKAGE VERSION
    local manifest="$1/node_modules/$2/package.json"
    [ -f "$manifest" ] && grep -q "\"version\": \"$3\"" "$manifest"
}

all_installed() {  # all_installed PREFIX PACKAGE@VERSION...
    local prefix="$1" spec
    shift
    for spec in "$@"; do
        installed "$prefix" "${spec%@*}" "${spec##*@}" || return 1
    done
}

install() {  # install PREFIX PACKAGE@VERSION...
    local prefix="$1"
    shift
    all_installed "$prefix" "$@" && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm-tools: npm not found; the npm-based MCP server tests will be skipped, the client tests will fail" >&2
        exit 0
    fi
    local log
    log="$(mktemp)"
    # One install per prefix: `npm install --no-save` prunes whatever it was not asked for in this call.
    if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

install npm "${PACKAGES[@]}"
install npm22 "${PACKAGES22[@]}"
