#!/usr/bin/env bash
# CI: the published artefacts, built from this checkout and used the way a user would use them.
#   1. sdist and wheel (`python -m build`, the wheel built from the sdist), no deprecation warning, `twine check`;
#   2. server.json valid for the registry and at the wheel's version;
#   3. the .mcpb bundle packed and validated by the official mcpb CLI (scripts/build-mcpb.sh), at that version;
#   4. the wheel installed into a fresh venv, and a research run through its installed `deep-research-mcp` over stdio
#      by the python SDK's MCP client (packaging/smoke.py: offline engine, a tiny documents folder); `uvx` finds the
#      command in the wheel;
#   5. the Containerfile linted by hadolint and, where podman can run containers, built (on a local Debian base made
#      with debootstrap when no base image is there: no registry of images is reachable here) and the same research
#      run through the image over stdio. DEEP_RESEARCH_CI_CONTAINER=lint skips the build.
# One line per step on stdout; a failing step shows its log and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
py="$root/.venv/bin/python"
bin="$root/.venv/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dist="$work/dist"
started=$SECONDS

say() { printf 'package: %s (%ss)\n' "$1" "$((SECONDS - started))"; }
fail() { echo "package: $1" >&2; [ -n "${2:-}" ] && [ -f "$2" ] && cat "$2" >&2; exit 1; }
quiet() {  # quiet LOG COMMAND... : run, keeping the output for when it fails
    local log="$1"
    shift
    "$@" >"$log" 2>&1 || fail "failed: $*" "$log"
}

# 1. Build from the checkout, without isolation (the dev venv has the backend pyproject.toml asks for; build checks
# that), so CI pays for no second download of setuptools.
quiet "$work/build.log" "$py" -m build --no-isolation --outdir "$dist" .
if grep -iE "deprecat|SetuptoolsWarning|license classifiers" "$work/build.log" >&2; then
    fail "the build warns (above)"
fi
quiet "$work/twine.log" "$bin/twine" check --strict "$dist"/*.whl "$dist"/*.tar.gz
wheel="$(ls "$dist"/*.whl)"
version="$(basename "$wheel" | cut -d- -f2)"
say "built $(basename "$wheel") and its sdist; twine check passed"

# 2. server.json: the registry's rules (packaging/server-json-2025-12-11.schema.json) and the version just built.
"$py" - "$version" <<'PY' || fail "server.json is not publishable (above)"
import json
import sys

import jsonschema

server = json.load(open("server.json"))
schema = json.load(open("packaging/server-json-2025-12-11.schema.json"))
errors = [e.message for e in jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
          .iter_errors(server)]
versions = {server["version"], *(p.get("version") for p in server["packages"])}
if errors or versions != {sys.argv[1]}:
    sys.exit(f"server.json: {errors or ''} versions {sorted(map(str, versions))} (the wheel is {sys.argv[1]})")
PY
say "server.json valid, version $version"

# 3. The bundle, packed and validated by the official CLI, carries the same version.
bundle="$(bash scripts/build-mcpb.sh)"
"$py" - "$bundle" "$version" <<'PY' || fail "the .mcpb bundle is wrong (above)"
import json
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as bundle:
    manifest = json.loads(bundle.read("manifest.json"))
    names = set(bundle.namelist())
entry = manifest["server"]["entry_point"]
if manifest["version"] != sys.argv[2] or manifest["server"]["type"] != "uv" or entry not in names \
        or "pyproject.toml" not in names or "src/deep_research_mcp/cli.py" not in names:
    sys.exit(f"{sys.argv[1]}: version {manifest['version']}, type {manifest['server']['type']}, entry {entry}")
PY
say "$(basename "$bundle") packed and validated by mcpb"

# 4. A fresh venv with the wheel alone (uv: seconds from its cache, where pip took minutes), and the installed script.
quiet "$work/venv.log" "$bin/uv" venv --quiet --python "$py" "$work/venv"
quiet "$work/install.log" "$bin/uv" pip install --quiet --python "$work/venv/bin/python" "$wheel"
[ -x "$work/venv/bin/deep-research" ] || fail "the wheel installed no deep-research script"
say "wheel installed into a fresh venv"
"$py" packaging/smoke.py -- "$work/venv/bin/deep-research-mcp" 2>"$work/smoke.log" >"$work/smoke.out" \
    || fail "research through the installed deep-research-mcp failed" "$work/smoke.log"
say "installed deep-research-mcp over stdio: $(cat "$work/smoke.out")"
quiet "$work/uvx.log" "$bin/uv" tool run --quiet --isolated --from "$wheel" deep-research-mcp --help
say "uvx --from the wheel runs deep-research-mcp"

# 5. The Containerfile.
quiet "$work/hadolint.log" "$bin/hadolint" Containerfile
say "Containerfile passes hadolint"
container_skip() { say "container not built: $1"; exit 0; }
[ "${DEEP_RESEARCH_CI_CONTAINER:-build}" = "lint" ] && container_skip "DEEP_RESEARCH_CI_CONTAINER=lint"
command -v podman >/dev/null 2>&1 || container_skip "no podman"
# crun refuses this machine's hybrid cgroups and the sandbox forbids raising rlimits: runc, and lowered limits.
run_flags=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
if command -v runc >/dev/null 2>&1; then run_flags+=(--runtime runc); fi
base="${DEEP_RESEARCH_PYTHON_IMAGE:-localhost/deep-research-mcp-base:bookworm}"
if ! podman image exists "$base"; then
    [ "$base" = "localhost/deep-research-mcp-base:bookworm" ] || container_skip "no image $base"
    command -v debootstrap >/dev/null 2>&1 || container_skip "no base image and no debootstrap to make one"
    rootfs="$work/rootfs"
    # A minimal Debian with python3 and venv, made once per machine (a few minutes), then kept by podman.
    # The machine's own limits (no archive reachable, no rights to import an image) skip the build, as no podman
    # does; a Containerfile that fails to build on a base that is there fails CI below.
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 \
        || container_skip "debootstrap could not make a base image ($(tail -1 "$work/debootstrap.log"))"
    rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
    tar -C "$rootfs" -c . | podman import - "$base" >"$work/import.log" 2>&1 \
        || container_skip "podman could not import the base image ($(tail -1 "$work/import.log"))"
    rm -rf "$rootfs"
    say "made the base image $base with debootstrap"
fi
podman run --rm --network none "${run_flags[@]}" "$base" python3 -c "import venv" >"$work/probe.log" 2>&1 \
    || container_skip "podman cannot run containers here ($(tail -1 "$work/probe.log"))"
# The machine's CA bundle and pip settings, for a network that reaches the package index through a TLS proxy.
build_flags=(--network host)
for file in /etc/ssl/certs/ca-certificates.crt /etc/pip.conf; do
    if [ -f "$file" ]; then build_flags+=(-v "$file:$file:ro"); fi
done
image=localhost/deep-research-mcp:ci
quiet "$work/podman-build.log" podman build "${run_flags[@]}" "${build_flags[@]}" --build-arg "PYTHON_IMAGE=$base" \
    -t "$image" -f Containerfile .
say "image built from the Containerfile"
user="$(podman run --rm --network none "${run_flags[@]}" --entrypoint id "$image" -u)"
[ "$user" != "0" ] || fail "the image runs as root"
docs="$work/container-docs"
mkdir -p "$docs"
chmod 755 "$work" "$docs"  # readable by the image's unprivileged user
"$py" packaging/smoke.py --docs-dir "$docs" -- podman run -i --rm --network none "${run_flags[@]}" \
    -v "$docs:/docs:ro" -e DEEP_RESEARCH_DOCS_DIR=/docs "$image" 2>"$work/csmoke.log" >"$work/csmoke.out" \
    || fail "research through the image over stdio failed" "$work/csmoke.log"
say "image (user $user) over stdio: $(cat "$work/csmoke.out")"
