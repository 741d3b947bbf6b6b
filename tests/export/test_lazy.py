"""The renderers' libraries come in only when a format is rendered: importing the package or the CLI (the server
reaches it through the same package) imports none of them (WeasyPrint alone takes ~1-2 s to import)."""

from __future__ import annotations

import json
import subprocess
import sys

RENDERERS = ["docx", "markdown_it", "weasyprint"]


def test_importing_export_and_cli_loads_no_renderer() -> None:
    script = ("import json, sys\n"
              "import deep_research_mcp.export, deep_research_mcp.cli\n"
              "from deep_research_mcp.export import check_available\n"
              f"before = sorted({{m.split('.')[0] for m in sys.modules}} & set({RENDERERS!r}))\n"
              "check_available('html')\n"
              f"after = sorted({{m.split('.')[0] for m in sys.modules}} & set({RENDERERS!r}))\n"
              "print(json.dumps([before, after]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[], ["markdown_it"]]
