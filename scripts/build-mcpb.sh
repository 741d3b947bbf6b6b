#!/usr/bin/env bash
# Builds dist/deep-research-mcp.mcpb, an MCP bundle for Claude Desktop (double-click, or Settings → Extensions →
# Install Extension), with the official `mcpb` CLI (`.ci/npm-tools.sh` installs it; or MCPB=/path/to/mcpb).
#
# The bundle uses the `uv` server type (manifest 0.4, packaging/mcpb/manifest.json): it carries this package's source
# and pyproject.toml but none of its dependencies; the host installs those with uv on the user's machine (any OS and
# CPU, numpy and lxml included), then runs server/main.py, the MCP server over stdio. The user is asked for a
# documents folder (the offline engine needs one when no model is set) and, optionally, a model and its key.
#
#   bash scripts/build-mcpb.sh    # prints the bundle's path; `mcpb validate` and `mcpb pack` check the manifest
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$root/dist/deep-research-mcp.mcpb"

mcpb="${MCPB:-}"
if [ -z "$mcpb" ]; then
    if [ -x "$root/.ci/npm/node_modules/.bin/mcpb" ]; then
        mcpb="$root/.ci/npm/node_modules/.bin/mcpb"
    elif command -v mcpb >/dev/null 2>&1; then
        mcpb="$(command -v mcpb)"
    else
        echo "build-mcpb: the mcpb CLI is missing; run 'bash .ci/npm-tools.sh' (or set MCPB=/path/to/mcpb)" >&2
        exit 1
    fi
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The manifest and the entry point, then what uv needs to install the project: its metadata, the README and licence
# the metadata names, and the package itself.
cp -R packaging/mcpb/. "$stage/"
cp pyproject.toml README.md LICENSE "$stage/"
tar -C "$root" --exclude=__pycache__ --exclude='*.pyc' -cf - src | tar -C "$stage" -xf -

mkdir -p "$root/dist"
rm -f "$out"
"$mcpb" validate "$stage/manifest.json" >/dev/null
"$mcpb" pack "$stage" "$out" >/dev/null
echo "$out"
