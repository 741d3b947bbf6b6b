"""The text a run read, kept with the run (bounded) so the claim check can read it back after the report is written.

Kept per source id: the document's own text as retrieved, never a model's summary of it, because a sentence is
supported by what the page says, not by what a model said it says. Another passage of the same file retrieved later
is added under the same id.

Bounded per source (`per_source_chars`) and per run (`per_run_chars`), both settings
(`DEEP_RESEARCH_CLAIM_TEXT_CHARS_PER_SOURCE`, `..._PER_RUN`). A page over its room is not cut to its head: its
passages that share most words with `focus` (what the researcher was shown of the page, which is what the notes and
so the report draw on) are kept first, in page order, with the page's first passage (its title) and the passage
before each (for the page's "it"). Past the run's cap, sources are not kept and claims citing them come out
"unchecked".

`for_storage` cuts the kept texts further, to the passages the notes' sentences citing each source match, so a run
record can carry them for the `write` tool's rewrite to be checked as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .check import SourceText

PER_SOURCE_CHARS = 250_000
PER_RUN_CHARS = 4_000_000
STORED_CHARS = 1_000_000  # per run record, for rewrites
_PER_SENTENCE = 3  # passages kept per focus sentence (its best matches)
_ID_GROUP = re.compile(r"\[(S\d+(?:\s*,\s*S\d+)*)\]")


@dataclass
class ReadTexts:
    per_source_chars: int = PER_SOURCE_CHARS
    per_run_chars: int = PER_RUN_CHARS
    chars: int = 0
    not_kept: int = 0  # characters left out by the caps
    _parts: dict[str, list[str]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    # Each source's text prepared for the claim check, by id: the first report and a revised one cite the same
    # pages, so they are tokenized once per run. Dropped when more text arrives for the source.
    prepared: dict[str, SourceText] = field(default_factory=dict)

    def add(self, source_id: str, text: str, focus: str = "") -> None:
        text = text.strip()
        if self._new(source_id, text):
            room = self._room(source_id)
            self._keep(source_id, text, text if len(text) <= room else select_passages(text, [focus], room))

    async def add_async(self, source_id: str, text: str, focus: str = "") -> None:
        """`add`, with a page over its room cut to passages in a worker thread (splitting a long page is CPU work)."""
        text = text.strip()
        if self._new(source_id, text):
            room = self._room(source_id)
            kept = text if len(text) <= room else await asyncio.to_thread(select_passages, text, [focus], room)
            self._keep(source_id, text, kept)

    def _new(self, source_id: str, text: str) -> bool:
        digest = hashlib.sha256(f"{source_id}\0{text}".encode("utf-8", "replace")).hexdigest()
        if not text or digest in self._seen:
            return False
        self._seen.add(digest)
        return True

    def _room(self, source_id: str) -> int:
        held = sum(len(p) for p in self._parts.get(source_id, ()))
        return max(0, min(self.per_source_chars - held, self.per_run_chars - self.chars))

    def _keep(self, source_id: str, text: str, kept: str) -> None:
        kept = kept[: self._room(source_id)]  # another page may have taken room while this one was being cut
        self.not_kept += len(text) - len(kept)
        if kept:
            self._parts.setdefault(source_id, []).append(kept)
            self.chars += len(kept)
            self.prepared.pop(source_id, None)

    def get(self, source_id: str) -> str | None:
        parts = self._parts.get(source_id)
        return "\n\n".join(parts) if parts else None

    def as_dict(self) -> dict[str, str]:
        return {source_id: "\n\n".join(parts) for source_id, parts in self._parts.items()}

    def for_storage(self, notes: Iterable[str], per_run_chars: int = STORED_CHARS) -> dict[str, str]:
        """Per source the notes cite (`[S3]`), the passages of its kept text that the sentences citing it match
        best: what a report written again from those notes can cite. At most `per_run_chars` in all, shared
        evenly among the sources."""
        focus: dict[str, list[str]] = {}
        for note in notes:
            for line in note.splitlines():
                for group in _ID_GROUP.findall(line):
                    for source_id in re.split(r"\s*,\s*", group):
                        focus.setdefault(source_id, []).append(line)
        cited = [s for s in focus if s in self._parts]
        if not cited or per_run_chars <= 0:
            return {}
        share = per_run_chars // len(cited)
        return {s: select_passages(self.get(s) or "", focus[s], share) for s in cited}

    def __len__(self) -> int:
        return len(self._parts)


def select_passages(text: str, focus: Iterable[str], budget: int) -> str:
    """At most `budget` characters of `text`: the page's first passage, then for each focus sentence the passages
    sharing most content words with it (each with the passage before it), then the rest from the top, all in page
    order. With no focus this is the head of the page, passage by passage."""
    from .check import content_stems, split_passages

    if len(text) <= budget:
        return text
    passages = split_passages(text)
    if not passages:
        return text[:budget]
    stems = [set(content_stems(p)) for p in passages]
    wanted: list[int] = [0]
    for sentence in focus:
        for piece in re.split(r"(?<=[.!?])\s+|\n", sentence):
            words = set(content_stems(piece))
            if len(words) < 2:
                continue
            scored = sorted(((len(words & s), n) for n, s in enumerate(stems) if len(words & s) >= 2),
                            key=lambda x: (-x[0], x[1]))
            for _, n in scored[:_PER_SENTENCE]:
                wanted += [n - 1, n] if n else [n]
    wanted += range(len(passages))  # the rest, from the top, while room is left
    chosen: set[int] = set()
    used = 0
    for n in dict.fromkeys(wanted):
        cost = len(passages[n]) + 2
        if used + cost > budget:
            continue
        chosen.add(n)
        used += cost
    if not chosen:  # one passage longer than the room (a table, a page without punctuation): its head
        return text[:budget]
    return "\n\n".join(passages[n] for n in sorted(chosen))


def stored_texts(texts: Mapping[str, str]) -> ReadTexts:
    """Texts stored with a run, ready for the claim check of a report written again from it."""
    read = ReadTexts(per_source_chars=max((len(t) for t in texts.values()), default=0),
                     per_run_chars=sum(len(t) for t in texts.values()))
    for source_id, text in texts.items():
        read.add(source_id, text)
    return read
