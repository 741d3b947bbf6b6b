"""Shared fixtures: a clean environment so a developer's keys and settings never leak into tests, and a home of
their own so nothing a test (or a subprocess that drops every DEEP_RESEARCH_* variable) writes lands outside tmp."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def nothing_written_into_the_checkout() -> Iterator[None]:
    """Fails the session if a test left files in the checkout's reports/ (the CLI's default report folder)."""
    reports = CHECKOUT / "reports"
    before = set(reports.iterdir()) if reports.is_dir() else set()
    yield
    after = set(reports.iterdir()) if reports.is_dir() else set()
    assert after <= before, f"tests wrote into the checkout: {sorted(map(str, after - before))}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("DEEP_RESEARCH_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                                                        "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEEP_RESEARCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name, folder in (("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache"),
                         ("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(name, str(home / folder))
    yield


# -- Scheduling: the xdist workers should finish together -----------------------------------------------------------
# `--dist worksteal` (pyproject addopts) hands each worker a contiguous share of the collection and lets an idle
# worker steal the tail of another's queue. Left in collection order, a long test can start last and keep one
# worker busy while the others are done. So the long tests below are dealt out first, longest first, each to the
# worker whose share of them is smaller (longest-processing-time-first), at the front of that share; every other
# test keeps its collection order (module fixtures stay shared) and what gets stolen at the end is short.
# Weights are seconds (setup + call + teardown) measured with 2 workers on a loaded 2-core machine; only their order
# and rough size matter. A name that no longer matches is simply not moved.
LONG_TESTS = {
    # A real 135M model on llama.cpp; left in collection order it ran last, alone. 82 s in a suite at load 2-3 since
    # its server runs one thread at 1024 tokens (184 s before, at load 3-5), kept first: its time swings most with load.
    "tests/llm/test_llama_cpp.py::test_a_research_on_smollm2_completes_citing_only_retrieved_documents": 70,
    "tests/evaluation/test_report_readability.py::test_every_tune_report_is_free_of_readability_defects[django]": 56,
    "tests/server/test_clients_node.py::test_mcpc_over_http_does_every_operation": 61,
    "tests/server/test_clients_node.py::test_inspector_2_over_http_does_every_operation": 43,
    "tests/server/test_clients_node.py::test_mcpc_over_stdio_from_a_config_file": 39,
    "tests/evaluation/test_report_readability.py::test_every_tune_report_is_free_of_readability_defects[postgres]":
        39,
    "tests/hostile/test_sessions_flood.py::test_an_initialize_flood_leaves_memory_bounded_and_new_clients_served": 36,
    "tests/server/test_queue.py::test_a_killed_worker_s_runs_finish_on_another_worker_without_repeating_finished": 28,
    "tests/hostile/test_fault_load.py::test_twenty_concurrent_runs_under_injected_faults": 26,
    "tests/server/test_queue.py::test_rewrites_and_follow_ups_run_on_a_worker_and_a_stopped_worker": 23,
    "tests/server/test_clients_node.py::test_inspector_2_over_stdio_lists_portable_schemas_and_researches": 22,
    "tests/cache/test_checkpoint.py::test_a_killed_run_rerun_pays_only_for_unfinished_calls": 20,
    "tests/test_startup.py::test_a_server_on_one_provider_imports_that_sdk_alone": 19,
    "tests/hostile/test_fuzz_arguments.py::test_fuzzed_arguments_get_clear_answers": 18,
    "tests/server/test_handshake.py::test_a_second_start_answers_with_the_sdks_own_answers": 17,
    "tests/server/test_clients_node.py::test_conformance_suite_passes_all_but_the_fixture_scenarios": 15,
    "tests/server/test_inspector.py::test_inspector_runs_a_research_through_start_status_result": 15,
    "tests/hostile/test_signals.py::test_after_kill_9_a_restarted_server_reports_the_run_interrupted": 14,
    "tests/server/test_clients_python.py::test_every_operation[stdio-2025-11-25]": 14,
    "tests/server/test_monitor_http.py::test_the_monitor_as_served": 13,
    "tests/server/test_handshake.py::test_a_real_client_researches_through_a_server": 12,
    "tests/engine/test_offline_engine.py::test_a_500_document_corpus_is_researched": 12,
    "tests/tools/upstream/test_sessions.py::test_reconnect_is_tried_once_per_call": 12,
    "tests/test_cli.py::test_console_script_runs_end_to_end": 10,
    "tests/export/test_mcp_export.py::test_research_result_as_pdf_over_stdio": 10,
}


def expected_seconds(nodeid: str) -> float:
    return next((weight for name, weight in LONG_TESTS.items() if nodeid.startswith(name)), 0.0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Collection runs in each worker (identically, as xdist requires); only workers know how many there are.
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    if workers < 2:
        return
    long_ones = sorted((item for item in items if expected_seconds(item.nodeid)),
                       key=lambda item: -expected_seconds(item.nodeid))
    if not long_ones:
        return
    chosen = {id(item) for item in long_ones}
    rest = [item for item in items if id(item) not in chosen]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for item in long_ones:
        min(heads, key=lambda head: sum(map(expected_seconds, (i.nodeid for i in head)))).append(item)
    # worksteal's first split: worker k gets len(pending) // (workers - k) of what is left, in order.
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for k, head in enumerate(heads):
        size = remaining // (workers - k)
        fill = max(0, size - len(head))
        ordered += head + rest[:fill]
        rest = rest[fill:]
        remaining -= len(head) + fill
    items[:] = ordered + rest
