"""How researchers read documents: once per run, long ones summarized, always shown as quoted data.

A document is digested the first time any researcher retrieves it; every later retrieval in the run, by any
researcher, reuses that digest (single-flight, so two researchers hitting one page at once pay for one summary).
Long documents are summarized by the summarization model under a run-wide semaphore; when the model fails or takes
too long, an extractive summary (the sentences that best match the researcher's focus) stands in.

With the summarization model's cache, model summaries are kept across runs (namespace `summary`), keyed like the
run's own digests: by the document's text, not by the focus of whichever researcher read it first. A rerun then
reads the same digest whatever order its researchers reach the document in. Extractive stand-ins are not kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass, field

from .. import prompts
from ..cache.values import TextCodec
from ..errors import BudgetExceeded, ProviderError
from ..llm.base import Message
from ..llm.client import ModelCaller
from ..tools.base import Document
from .fit import fit
from .sources import Source

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"[a-z0-9]{3,}")
# Spellings of "<", "/" and ">" that a model reading the text could take for the characters themselves.
_ANGLE = r"(?:<|&lt;?|&#0*60;?|&#x0*3c;?|\\u003c|\\x3c|%3c|\uff1c|\ufe64)"
_SLASH = r"(?:/|&#0*47;?|&#x0*2f;?|&sol;|\\/|%2f|\uff0f)"
_CLOSE = r"(?:>|&gt;?|&#0*62;?|&#x0*3e;?|\\u003e|\\x3e|%3e|\uff1e|\ufe65)"
_FENCE_TAG = re.compile(
    rf"{_ANGLE}\s*(?P<slash>{_SLASH}\s*)?document\b(?:(?P<attrs>[^<>\n]{{0,200}}?)\s*{_CLOSE})?", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class ReadingLimits:
    summarize_over_chars: int = 8_000  # shorter documents are shown whole
    max_summary_input_chars: int = 50_000  # what the summarizer sees of a long page
    max_document_chars: int = 20_000  # hard cap on text shown when not summarized
    summary_words: int = 400
    summarization_timeout_s: float = 60.0
    max_concurrent_summaries: int = 8
    extractive_chars: int = 2_000


@dataclass
class Reader:
    """Per-run digest store. `digest` returns what a model is shown for a document (without the quoting)."""

    model: ModelCaller | None  # None: never summarize with a model, only extractively
    limits: ReadingLimits = field(default_factory=ReadingLimits)
    digests: dict[str, str] = field(default_factory=dict)
    summaries: int = 0
    extractive_fallbacks: int = 0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.limits.max_concurrent_summaries)

    async def digest(self, key: str, document: Document, focus: str) -> str:
        """`key` is `content_key(source, document)`: one digest per distinct text, shared by the whole run."""
        if key in self.digests:
            return self.digests[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # single-flight: whoever waited here finds the digest ready
            if key not in self.digests:
                self.digests[key] = await self._make(document, focus)
            return self.digests[key]

    async def _make(self, document: Document, focus: str) -> str:
        text = document.content.strip()
        if len(text) <= self.limits.summarize_over_chars:
            return text
        if self.model is not None:
            try:
                summary = await self._cached_summary(self.model, document, focus)
                if summary:
                    self.summaries += 1
                    return summary
            except (TimeoutError, ProviderError, BudgetExceeded) as exc:
                log.info("summarizing %s failed (%s); using an extractive summary", document.locator, exc)
        self.extractive_fallbacks += 1
        return extractive_summary(text, focus, self.limits.extractive_chars)

    async def _cached_summary(self, model: ModelCaller, document: Document, focus: str) -> str:
        if model.cache is None or not model.caches("summary"):
            return await self._timed_summary(model, document, focus)
        text = fit(document.content, self.limits.max_summary_input_chars, topic=focus)
        inputs = {
            "model": model.cache_identity or model.name,
            "content": hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(),
            "words": self.limits.summary_words,
            "prompt": hashlib.sha256((prompts.SUMMARIZE_SYSTEM + prompts.SUMMARIZE_USER).encode()).hexdigest(),
        }
        lookup = await model.cache.get_or_compute(
            "summary", inputs, lambda: self._timed_summary(model, document, focus), TextCodec()
        )
        if lookup.hit and model.meter is not None:
            model.meter.record_hit("summarize", model.name)
        return lookup.value

    async def _timed_summary(self, model: ModelCaller, document: Document, focus: str) -> str:
        async with self._slots, asyncio.timeout(self.limits.summarization_timeout_s):
            return await self._summarize(model, document, focus)

    async def _summarize(self, model: ModelCaller, document: Document, focus: str) -> str:
        # A page over the summariser's budget keeps its headings, ends and passages on the focus, not its head.
        content = quote(fit(document.content, self.limits.max_summary_input_chars, topic=focus))
        messages = [
            Message.system(prompts.SUMMARIZE_SYSTEM.format(max_words=self.limits.summary_words)),
            Message.user(prompts.SUMMARIZE_USER.format(focus=quote_line(focus), content=content)),
        ]
        response = await model.chat(messages, stage="summarize", max_tokens=self.limits.summary_words * 2)
        return response.text.strip()


def content_key(source: Source, document: Document) -> str:
    return f"{source.id}:{hashlib.sha256(document.content.encode('utf-8', 'replace')).hexdigest()[:16]}"


def quote(text: str) -> str:
    """Neutralize anything that could read as our <document> wrapper, so page text cannot pose as ours.

    Every spelling a model might take for the tag becomes a bracketed look-alike (`</ DOCUMENT >` → `[/document]`):
    case, inner spaces, attributes, entity/percent/backslash-escaped and full-width angle brackets. A regex, not a
    random per-run fence: prompts stay byte-identical across runs (model summaries and chat answers are cached by
    prompt text, and the scripted and offline models read the fixed tag), and a nonce only hides the fence's name,
    while the wrapper still has to be closable by something; here nothing in quoted text can close it.
    """
    return _FENCE_TAG.sub(_bracketed, text)


def quote_line(text: str, limit: int = 300) -> str:
    """A document-derived one-liner (title, heading, locator) as quoted data: one line, no fence look-alikes."""
    line = quote(" ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _bracketed(match: re.Match[str]) -> str:
    slash = "/" if match.group("slash") else ""
    attrs = " ".join(match.group("attrs").split()) if match.group("attrs") else ""
    return f"[{slash}document{' ' + attrs if attrs else ''}]"


def extractive_summary(text: str, focus: str, max_chars: int) -> str:
    """The sentences most about `focus`, in document order, within `max_chars`; the opening counts a little extra
    because pages tend to state their point first."""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]
    if not sentences:
        return ""
    terms = set(_WORD.findall(focus.lower()))

    def score(index: int, sentence: str) -> float:
        words = _WORD.findall(sentence.lower())
        overlap = len(terms.intersection(words))
        has_figure = bool(re.search(r"\d", sentence))
        return overlap * 2 + has_figure * 0.5 + (1.0 if index < 3 else 0.0) - len(sentence) / 2_000

    ranked = sorted(range(len(sentences)), key=lambda i: -score(i, sentences[i]))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        length = len(sentences[index]) + 1
        if used + length > max_chars:
            continue
        chosen.append(index)
        used += length
    return "[extractive summary] " + " ".join(sentences[i] for i in sorted(chosen))
