"""The cache: L1 memory → L2 disk (diskcache) → L3 Redis (optional), namespaced, single-flight, never pickled.

    open_cache(settings)  ->  Cache           one per process, entered by the CLI run or the server's lifespan
    Cache.get_or_compute(namespace, inputs, compute, codec)
        key    sha256 of canonical JSON (namespace, schema version, inputs)        keys.py
        value  JSON or bytes in an envelope carrying its expiry                    envelope.py
        levels MemoryLevel (LRU by bytes) · DiskLevel (SafeDisk) · RedisLevel      memory.py, disk.py, redis_level.py

Namespaces: `llm` (model calls, cache/chat.py), `tool` (upstream tool calls, cache/tools.py), `page` (fetch_url),
`summary` (page summaries). Every level failure is a miss, logged once: the cache can slow nothing down for long
and fail nothing. Because model calls are keyed by their full inputs, rerunning a question with the same settings
replays every call already answered: the cache is also the run's checkpoint.
"""

from .base import Counters, Stored
from .core import NAMESPACES, Cache, Codec, Lookup, Policy
from .factory import open_cache
from .tools import CachedTool

__all__ = ["NAMESPACES", "Cache", "CachedTool", "Codec", "Counters", "Lookup", "Policy", "Stored", "open_cache"]
