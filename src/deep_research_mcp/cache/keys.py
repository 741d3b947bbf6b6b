"""Cache keys: sha256 of the canonical JSON of (namespace, schema version, inputs).

Canonical means sorted keys, no whitespace and UTF-8 as is, so equal inputs give one key in every process and
machine (Redis is shared across them). A level stores `<namespace>:<hex digest>`, which lets it count and clear a
namespace without knowing the inputs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Bump when a cached payload's shape or meaning changes: older entries then simply stop matching.
SCHEMA_VERSION = 1


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces; only JSON types are accepted (a TypeError names anything else)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(namespace: str, inputs: Any, *, version: int = SCHEMA_VERSION) -> str:
    digest = hashlib.sha256(canonical_json([namespace, version, inputs]).encode("utf-8")).hexdigest()
    return f"{namespace}:{digest}"


def namespace_of(key: str) -> str:
    return key.partition(":")[0]
