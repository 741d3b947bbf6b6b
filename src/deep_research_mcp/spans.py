"""Markdown text outside its code: the one walk both the engine's citation pass and the offline writer's cleaning
need, each with its own idea of what code is (the engine's includes fenced blocks; the offline reader's units hold
one line of prose, where only inline spans occur)."""

from __future__ import annotations

import re
from collections.abc import Callable


def outside(code: re.Pattern[str], text: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to every stretch between matches of `code`; the matches stay as they are."""
    parts: list[str] = []
    position = 0
    for match in code.finditer(text):
        parts += [change(text[position : match.start()]), match.group(0)]
        position = match.end()
    return "".join([*parts, change(text[position:])])
