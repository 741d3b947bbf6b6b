"""The text a run read, kept with the run (bounded) so the claim check can read it back after the report is written.

Kept per source id: the document's own text as retrieved (up to `per_source_chars`, the whole of any page of the
PostgreSQL or Django manuals, since extractive digests draw on all of a page), never a model's summary of it,
because a sentence is supported by what the page says, not by what a model said it says. Another passage of the same
file retrieved later is added under the same id. The whole run keeps at most `per_run_chars`; past that, sources
are not kept and claims citing them come out "unchecked".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

PER_SOURCE_CHARS = 250_000
PER_RUN_CHARS = 8_000_000


@dataclass
class ReadTexts:
    per_source_chars: int = PER_SOURCE_CHARS
    per_run_chars: int = PER_RUN_CHARS
    chars: int = 0
    not_kept: int = 0  # characters left out by the caps
    _parts: dict[str, list[str]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def add(self, source_id: str, text: str) -> None:
        text = text.strip()
        digest = hashlib.sha256(f"{source_id}\0{text}".encode("utf-8", "replace")).hexdigest()
        if not text or digest in self._seen:
            return
        self._seen.add(digest)
        held = sum(len(p) for p in self._parts.get(source_id, ()))
        room = max(0, min(self.per_source_chars - held, self.per_run_chars - self.chars))
        kept = text[:room]
        self.not_kept += len(text) - len(kept)
        if kept:
            self._parts.setdefault(source_id, []).append(kept)
            self.chars += len(kept)

    def get(self, source_id: str) -> str | None:
        parts = self._parts.get(source_id)
        return "\n\n".join(parts) if parts else None

    def as_dict(self) -> dict[str, str]:
        return {source_id: "\n\n".join(parts) for source_id, parts in self._parts.items()}

    def __len__(self) -> int:
        return len(self._parts)
