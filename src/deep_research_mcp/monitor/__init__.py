"""Seeing where the time goes: per-service and per-stage call metrics, each run's timeline and critical path.

A low layer (it depends on settings and errors only): the model client and the researcher report into it through
small hooks, and the server and CLI read it (the `research://metrics` resource, `/metrics` in the Prometheus text
format, the monitor web page, `deep-research stats`).
"""

from .histogram import LatencyHistogram
from .metrics import CallStats, GaugeSource, Monitor
from .outcomes import ERROR_KINDS, outcome_of
from .timeline import RUN_LANE, RunRecorder, Span, mark_critical_path, service_name

__all__ = [
    "ERROR_KINDS",
    "RUN_LANE",
    "CallStats",
    "GaugeSource",
    "LatencyHistogram",
    "Monitor",
    "RunRecorder",
    "Span",
    "mark_critical_path",
    "outcome_of",
    "service_name",
]
