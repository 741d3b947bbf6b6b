"""`spans.outside`: the change reaches the prose and only the prose, whatever counts as code."""

from __future__ import annotations

import re

from deep_research_mcp.spans import outside


def test_only_what_lies_between_code_is_changed() -> None:
    inline = re.compile(r"`[^`\n]*`")
    assert outside(inline, "a `a` a", str.upper) == "A `a` A"
    assert outside(inline, "`a`", str.upper) == "`a`"  # the empty stretches around it are passed too
    fenced = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
    assert outside(fenced, "x\n```\nx\n```\nx `x`", lambda s: s.replace("x", "y")) == "y\n```\nx\n```\ny `x`"
