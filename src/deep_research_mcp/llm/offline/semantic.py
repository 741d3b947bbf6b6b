"""Meaning-based similarity for the offline engine: static word embeddings that ship inside their wheel.

`wordllama` was chosen because its l2_supercat weights (16 MB) and tokenizer are part of the PyPI wheel, it needs
only numpy, safetensors and tokenizers, and it embeds ~10,000 sentences in well under a second on one core: a
sentence is the average of its tokens' vectors, so there is no network, GPU or model download at any point.

Its loader looks for the packaged tokenizer under `wordllama/tokenizer/` while the wheel holds it under
`wordllama/tokenizers/`, and then falls back to a download from Hugging Face. Pointing `cache_dir` at the package's
own folder makes the second lookup (`<cache_dir>/tokenizers/…`) find the packaged file, and `disable_download=True`
turns any miss into an error instead of a request. The model is loaded lazily, once per process, behind a lock;
callers run in worker threads (the offline model runs its CPU-heavy stages with `asyncio.to_thread`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CONFIG = "l2_supercat"
DIM = 256

CACHE_TEXTS = 50_000  # ~50 MB at most; cleared, not evicted one by one, when full
# wordllama pads a batch to its longest text and holds two float32 (texts x longest x DIM) arrays while pooling, so
# 63 sentences beside one long passage took 0.8 GB. Texts go shortest first, in batches whose padded length (count x
# longest, in characters, ~4 per token) stays under BATCH_CHARS: at most ~8-20 MB held, and less padding to embed.
BATCH_CHARS = 16_384
BATCH_TEXTS = 64

_lock = threading.Lock()
_cache: dict[str, Any] = {}
_model: Any = None
_failed: str | None = None


class SemanticUnavailable(RuntimeError):
    """The packaged embedding model could not be loaded; callers fall back to lexical ranking alone."""


def load() -> Any:
    """The process-wide `WordLlamaInference`, loaded on first use from the installed wheel only."""
    global _model, _failed
    if _model is not None:
        return _model
    with _lock:
        if _model is None and _failed is None:
            try:
                import wordllama
                from wordllama import WordLlama

                package = Path(wordllama.__file__).parent
                _model = WordLlama.load(CONFIG, cache_dir=package, dim=DIM, disable_download=True)
            except (ImportError, OSError, ValueError) as exc:  # a broken install must not break research
                _failed = f"{type(exc).__name__}: {exc}"
        if _model is None:
            raise SemanticUnavailable(_failed or "not loaded")
        return _model


def available() -> bool:
    try:
        load()
    except SemanticUnavailable:
        return False
    return True


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors, one row per text (dot products are cosine similarities). CPU work: call off the loop."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = load()
    # Researchers of one run, and runs of one process, read the same pages: each distinct text is embedded once.
    missing = sorted(dict.fromkeys(t for t in texts if t not in _cache), key=len)
    if missing:
        fresh = np.concatenate([np.nan_to_num(np.asarray(model.embed(batch, norm=True, batch_size=len(batch)),
                                                         dtype=np.float32)) for batch in _batches(missing)])
        with _lock:
            if len(_cache) + len(missing) > CACHE_TEXTS:
                _cache.clear()
            _cache.update(zip(missing, fresh, strict=True))
    return np.stack([_cache[t] if t in _cache else _embed_one(model, t) for t in texts])


def _batches(texts: list[str]) -> Iterator[list[str]]:
    """`texts` (shortest first) cut into batches of at most BATCH_TEXTS whose padded size stays under BATCH_CHARS
    (a longer text alone is a batch of one)."""
    start = 0
    while start < len(texts):
        end = start + 1
        while end < len(texts) and end - start < BATCH_TEXTS and (end + 1 - start) * len(texts[end]) <= BATCH_CHARS:
            end += 1
        yield texts[start:end]
        start = end


def _embed_one(model: Any, text: str) -> np.ndarray:
    import numpy as np

    return np.nan_to_num(np.asarray(model.embed([text], norm=True), dtype=np.float32))[0]


def similarities(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of each text to `query`; all zeros when the model is unavailable."""
    if not texts:
        return []
    try:
        vectors = embed([query, *texts])
    except SemanticUnavailable:
        return [0.0] * len(texts)
    return [float(v) for v in vectors[1:] @ vectors[0]]
