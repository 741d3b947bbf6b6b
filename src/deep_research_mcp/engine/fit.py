"""Cutting a text to a budget by keeping what matters instead of its head.

A page, a researcher's transcript or the findings over a model's budget lose their least useful paragraphs first.
What stays, in this order of priority: headings (the outline costs little and says what was left out), the first and
last paragraphs (pages state their point first, transcripts and findings end with their conclusions), passages that
carry citations ([S3], [2]: the evidence a report needs), and passages that share words with the topic. Kept parts
stay in document order; a gap is marked with `[…]`. A paragraph that alone is larger than what is left of the budget
is cut at a sentence end, so one huge block (a table, a log) cannot push everything else out.

Lexical scoring (word overlap), not embeddings: it is cheap enough for the event loop's thread pool, needs no model,
and judges the same text the same way every time.
"""

from __future__ import annotations

import math
import re

from .. import prompts
from .support.check import STOPWORDS

GAP = f"\n\n{prompts.ELISION}\n\n"
_BLOCKS = re.compile(r"\n[ \t]*\n+")
_HEADING = re.compile(r"^(#{1,6} .+|Result of [\w.-]+:)$")
_CITED = re.compile(r"\[(?:S\d+|\d+)(?:,\s*(?:S\d+|\d+))*\]")
_WORD = re.compile(r"[^\W\d_]{3,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def _blocks(text: str) -> list[str]:
    """Paragraphs, with a heading line split from the text under it so the heading can stay alone."""
    out: list[str] = []
    for block in _BLOCKS.split(text.strip()):
        first, _, rest = block.partition("\n")
        if rest.strip() and _HEADING.match(first.strip()):
            out += [first, rest]
        elif block.strip():
            out.append(block)
    return out


def _score(index: int, block: str, count: int, topic: set[str]) -> float:
    score = 0.0
    if index <= 1 or index >= count - 1:  # the first paragraph may sit under a title heading
        score += 50.0
    score += 20.0 * bool(_CITED.search(block))
    words = terms(block)
    if topic and words:
        # Share of the topic a passage covers, damped by its length so a long block does not win on size alone.
        score += 30.0 * len(topic & words) / len(topic) / (1 + math.log1p(len(block) / 2_000))
    return score


def _cut(block: str, room: int) -> str:
    """`block` cut at the last sentence end within `room` characters (at `room` when there is none)."""
    if room <= 0:
        return ""
    head = block[:room]
    ends = [m.start() for m in _SENTENCE_END.finditer(head)]
    return head[: ends[-1]] if ends and ends[-1] > room // 3 else head


def fit(text: str, budget: int, *, topic: str = "") -> str:
    """`text` if it is within `budget` characters, else its most useful paragraphs (see the module docstring),
    within the budget, gaps marked. A kept paragraph brings the heading it sits under; headings left over are
    added while room remains, so the outline shows what was left out."""
    if len(text) <= budget:
        return text
    blocks = _blocks(text)
    is_heading = [bool(_HEADING.match(b.strip())) for b in blocks]
    heading_of: list[int | None] = []
    current: int | None = None
    for i, heading in enumerate(is_heading):
        current = i if heading else current
        heading_of.append(None if heading else current)
    wanted = terms(topic)
    body = [i for i in range(len(blocks)) if not is_heading[i]]
    ranked = sorted(body, key=lambda i: (-_score(i, blocks[i], len(blocks), wanted), i))
    kept: dict[int, str] = {}
    used = 0

    def room() -> int:
        return budget - used - len(GAP)  # each kept part may bring one gap marker with it

    def keep(i: int, block: str) -> None:
        nonlocal used
        head = heading_of[i]
        if head is not None and head not in kept and len(blocks[head]) + min(len(block), 200) < room() - len(GAP):
            kept[head] = blocks[head]
            used += len(blocks[head]) + len(GAP)
        kept[i] = block
        used += len(block) + len(GAP)

    # Whole paragraphs first, so one huge block cannot crowd out a small one that matters more; then parts of the
    # best of those left out, while a part is worth its gap marker (or nothing is kept yet).
    for i in ranked:
        if len(blocks[i]) <= room():
            keep(i, blocks[i])
    for i in ranked:
        if i not in kept and (room() > 200 or not kept) and (part := _cut(blocks[i], room())):
            keep(i, part)
    for i in (i for i in range(len(blocks)) if is_heading[i] and i not in kept):
        if len(blocks[i]) <= room():
            kept[i] = blocks[i]
            used += len(blocks[i]) + len(GAP)
    parts: list[str] = []
    previous = -1
    for i in sorted(kept):
        whole = previous >= 0 and kept[previous] == blocks[previous]
        if parts:
            parts.append("\n\n" if i == previous + 1 and whole else GAP)
        elif i != 0:
            parts.append(GAP.lstrip())
        parts.append(kept[i])
        previous = i
    if previous != len(blocks) - 1 or kept[previous] != blocks[previous]:
        parts.append(GAP.rstrip())
    return "".join(parts)[:budget]
