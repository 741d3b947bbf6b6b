"""Meaning-based similarity for the offline engine: static word embeddings that ship inside their wheel.

`wordllama` was chosen because its l2_supercat weights (16 MB) and tokenizer are part of the PyPI wheel, it needs
only numpy, safetensors and tokenizers, and it embeds ~10,000 sentences in well under a second on one core: a
sentence is the average of its tokens' vectors, so there is no network, GPU or model download at any point.

Its files are read here with the libraries wordllama itself uses (`tokenizers` for the tokenizer, `safetensors` for
the table) and the average taken here, which is all `WordLlamaInference.embed(norm=True)` computes, because
importing wordllama and loading through it cost about 90 MB of a research's peak memory, over half of an offline
server's: its loader imports `requests` (for downloads we forbid), widens the 16 MB float16 table to a 32 MB float32
copy, and its `embed` pads each batch of 64 texts to the longest, holding two float32 (texts x tokens x 256) arrays,
so 63 sentences beside one long passage took about 1 GB. Here the table stays float16 (a text's rows are widened as they
are read), each text is averaged on its own, and the vectors are the same (tests compare them with wordllama's).
The model is loaded lazily, once per process, behind a lock; callers run in worker threads (the offline model runs
its CPU-heavy stages with `asyncio.to_thread`).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CONFIG = "l2_supercat"
DIM = 256
WEIGHTS = f"weights/{CONFIG}_{DIM}.safetensors"  # inside the wordllama package, as its wheel ships them
TOKENIZER = f"tokenizers/{CONFIG}_tokenizer_config.json"
TENSOR = "embedding.weight"
ENCODE_BATCH = 64  # texts tokenized together (the tokenizer runs a batch on all cores)

CACHE_TEXTS = 50_000  # ~50 MB at most; cleared, not evicted one by one, when full

_lock = threading.Lock()
_cache: dict[str, Any] = {}
_model: Embedder | None = None
_failed: str | None = None


class SemanticUnavailable(RuntimeError):
    """The packaged embedding model could not be loaded; callers fall back to lexical ranking alone."""


class Embedder:
    """wordllama's l2_supercat model: a text's vector is the mean of its tokens' rows, scaled to unit length."""

    def __init__(self, table: np.ndarray, tokenizer: Any) -> None:
        self.table = table  # (vocabulary, DIM) float16, as shipped
        self.tokenizer = tokenizer

    @classmethod
    def from_package(cls) -> Embedder:
        """From the installed wordllama wheel's files, without importing wordllama (nor anything that downloads)."""
        from safetensors import safe_open
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec("wordllama")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("wordllama is not installed")
        package = Path(next(iter(spec.submodule_search_locations)))
        with safe_open(package / WEIGHTS, framework="np") as weights:
            table = weights.get_tensor(TENSOR)
        if table.ndim != 2 or table.shape[1] != DIM:
            raise ValueError(f"{WEIGHTS}: table of shape {table.shape}, not (vocabulary, {DIM})")
        return cls(table, Tokenizer.from_file(str(package / TOKENIZER)))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (all zeros for a text with no tokens)."""
        import numpy as np

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        last = len(self.table) - 1
        for start in range(0, len(texts), ENCODE_BATCH):
            encodings = self.tokenizer.encode_batch(texts[start : start + ENCODE_BATCH], add_special_tokens=False)
            for row, encoding in enumerate(encodings, start):
                ids = np.clip(np.asarray(encoding.ids, dtype=np.intp), 0, last)
                if len(ids):
                    mean = self.table[ids].astype(np.float32).sum(axis=0, dtype=np.float32) / np.float32(len(ids))
                    norm = np.linalg.norm(mean)
                    out[row] = mean / norm if norm > 0 else 0.0
        return out


def load() -> Embedder:
    """The process-wide model, loaded on first use from the installed wheel only."""
    global _model, _failed
    if _model is not None:
        return _model
    with _lock:
        if _model is None and _failed is None:
            try:
                _model = Embedder.from_package()
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
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        fresh = model.embed(missing)
        with _lock:
            if len(_cache) + len(missing) > CACHE_TEXTS:
                _cache.clear()
            _cache.update(zip(missing, fresh, strict=True))
    return np.stack([_cache[t] if t in _cache else model.embed([t])[0] for t in texts])


def similarities(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of each text to `query`; all zeros when the model is unavailable."""
    if not texts:
        return []
    try:
        vectors = embed([query, *texts])
    except SemanticUnavailable:
        return [0.0] * len(texts)
    return [float(v) for v in vectors[1:] @ vectors[0]]
