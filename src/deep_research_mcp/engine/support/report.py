"""Reading a finished report: its cited claims (with where each one sits, so it can be marked or removed), the
sentences no citation closes, its prose and its Sources section.

A claim is the text a citation marker group (`[2]`, `[1, 3]`) closes: everything since the previous marker group or
the paragraph's start. Headings, fenced code, the Sources section and the engine's own notes (`> Note:`,
`> Claim check:`) are not claims, nor is the claim check's `⚠ unsupported` after a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCES_HEADING = re.compile(r"^#{1,6}\s*Sources\s*$", re.IGNORECASE)
MARKER_GROUP = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
ENGINE_NOTE = re.compile(r"^>\s*(?:Note|Claim check):")
_SOURCE_LINE = re.compile(r"^(\d+)\.\s+(?:\[[^\]]*\]\((?P<url>[^)\s]+)\)|.*`(?P<path>[^`]+)`\s*)$")
_ANY_SENTENCE = re.compile(r"[a-z0-9]", re.IGNORECASE)
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# Brackets inside code (`name[0]`, a fenced sample) are code, not citation markers: hidden while markers are found.
_HIDE = str.maketrans({"[": "\ue000", "]": "\ue001"})
_SHOW = str.maketrans({"\ue000": "[", "\ue001": "]"})
CLAIM_LEAD = ".;:,!? "  # punctuation between a marker group and the next claim, not part of it
UNSUPPORTED_MARK = "⚠ unsupported"  # what the claim check puts after an unsupported claim's citation


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    numbers: tuple[int, ...]  # the report's citation numbers, as written
    line: int = 0  # where its marker group is: line index in the report, and the offset just past the group
    end: int = 0
    start_line: int = 0  # where its text starts
    start: int = 0


@dataclass(slots=True)
class ParsedReport:
    prose: str  # body text for fact matching: no title, headings, markers or Sources
    claims: list[Claim]
    uncited: list[str]  # prose sentences no marker closes
    sources: dict[int, str]  # citation number -> locator, from the Sources section


def _hide_code_brackets(text: str) -> str:
    return _CODE_SPAN.sub(lambda m: m.group(0).translate(_HIDE), text)


def _clean(parts: list[str]) -> str:
    text = " ".join(" ".join(parts).split())
    if text.startswith(UNSUPPORTED_MARK):  # the claim check's mark belongs to the claim before
        text = text[len(UNSUPPORTED_MARK):]
    return text.lstrip(CLAIM_LEAD).strip().translate(_SHOW)


def parse_report(report: str) -> ParsedReport:
    paragraphs: list[list[tuple[int, str]]] = [[]]  # (line index, line) per paragraph of prose
    code_lines: list[str] = []
    sources: dict[int, str] = {}
    in_sources = False
    fence: str | None = None
    for number, line in enumerate(report.splitlines()):
        stripped = line.strip()
        opener = _FENCE.match(stripped)
        if fence is not None or opener:
            # A fenced block is code: its text counts for facts, never as a claim; it ends the paragraph before it.
            if fence is None:
                fence = opener.group(1) if opener else None
                paragraphs.append([])
            elif stripped.startswith(fence) and not stripped[len(fence):].strip():
                fence = None
            else:
                code_lines.append(stripped)
            continue
        if SOURCES_HEADING.match(stripped):
            in_sources = True
            continue
        if in_sources:
            if stripped.startswith("#"):
                in_sources = False
            else:
                match = _SOURCE_LINE.match(stripped)
                if match:
                    sources[int(match.group(1))] = match.group("url") or match.group("path")
                continue
        if stripped.startswith("#") or ENGINE_NOTE.match(stripped):
            continue
        if not stripped:
            paragraphs.append([])
        else:
            paragraphs[-1].append((number, line))
    claims: list[Claim] = []
    uncited: list[str] = []
    prose: list[str] = []
    for paragraph in paragraphs:
        pending: list[str] = []
        start_line, start = -1, 0
        for number, line in paragraph:
            text = _hide_code_brackets(line)
            position = 0
            for match in MARKER_GROUP.finditer(text):
                if start_line < 0:
                    start_line, start = number, position
                pending.append(text[position : match.start()])
                claim = _clean(pending)
                if _ANY_SENTENCE.search(claim):
                    numbers = tuple(int(n) for n in re.split(r"\s*,\s*", match.group(1)))
                    claims.append(Claim(claim, numbers, number, match.end(), start_line, start))
                pending, start_line, position = [], -1, match.end()
            if start_line < 0 and text[position:].strip():
                start_line, start = number, position
            pending.append(text[position:])
            prose.append(MARKER_GROUP.sub("", text).translate(_SHOW))
        tail = _clean(pending)
        if _ANY_SENTENCE.search(tail):
            uncited.append(tail)
    prose += code_lines
    return ParsedReport(" ".join(" ".join(prose).split()), claims, uncited, sources)
