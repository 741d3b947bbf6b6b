"""Roll-ups of stored run timelines, for `deep-research stats`: one row per run, and per service across runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .histogram import LatencyHistogram
from .outcomes import ERROR_KINDS


def run_row(run_id: str, status: str, question: str, timeline: Mapping[str, Any]) -> dict[str, Any]:
    totals = timeline.get("totals") or {}
    return {
        "run_id": run_id, "status": status, "question": question[:80],
        "wall_s": timeline.get("wall_s"), "floor_s": timeline.get("floor_s"), "ratio": timeline.get("ratio"),
        "model_calls": totals.get("model_calls"), "tool_calls": totals.get("tool_calls"),
        "errors": totals.get("errors"),
        "tokens": (totals.get("input_tokens") or 0) + (totals.get("output_tokens") or 0) if totals else None,
        "cost_usd": totals.get("cost_usd"),
    }


def services(timelines: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per service over the kept calls of every timeline: calls, errors by kind, latency percentiles, tokens."""
    out: dict[str, dict[str, Any]] = {}
    latencies: dict[str, LatencyHistogram] = {}
    for timeline in timelines:
        for span in timeline.get("spans") or []:
            if span["outcome"] in ("cancelled", "cache_hit"):
                continue
            name = span["service"]
            row = out.setdefault(name, {"kind": span["kind"], "calls": 0, "errors": dict.fromkeys(ERROR_KINDS, 0),
                                        "input_tokens": 0, "output_tokens": 0})
            row["calls"] += 1
            if span["outcome"] in row["errors"]:
                row["errors"][span["outcome"]] += 1
            row["input_tokens"] += span.get("input_tokens") or 0
            row["output_tokens"] += span.get("output_tokens") or 0
            latencies.setdefault(name, LatencyHistogram()).record(span["end"] - span["start"])
    for name, row in out.items():
        row["latency_s"] = latencies[name].summary()
    return dict(sorted(out.items()))
