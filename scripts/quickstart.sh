#!/usr/bin/env bash
# Sets up .venv (once) and runs a research over the project's own docs with no API key.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/deep-research ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
fi
question=${1:-"How does deep-research-mcp keep citations honest, and how does it run researchers in parallel?"}
exec .venv/bin/deep-research run "$question" --docs docs
