"""Cutting a page, a transcript or the findings to a budget keeps what matters, not the head."""

from __future__ import annotations

from deep_research_mcp import prompts
from deep_research_mcp.engine.fit import GAP, fit
from deep_research_mcp.engine.writer import _truncate

FILLER = "Unrelated remarks about the weather and the venue fill this paragraph to make it long enough. " * 3


def page() -> str:
    fillers = [f"Filler {i}. {FILLER}" for i in range(30)]
    return "\n\n".join([
        "# Tidal power",
        "Tidal plants turn the rise and fall of the sea into electricity.",
        *fillers[:15],
        "## Storage",
        "Lagoon plants store energy by holding water behind a barrage until the tide turns.",
        *fillers[15:],
        "Pumped storage was measured at 70% round-trip efficiency [S4].",
        "In short, tidal power is predictable but expensive to build.",
    ])


def test_a_text_within_the_budget_is_unchanged() -> None:
    assert fit("short text", 100, topic="anything") == "short text"


def test_headings_ends_topic_and_cited_passages_stay_in_order_within_the_budget() -> None:
    text = page()
    cut = fit(text, 1_200, topic="How do tidal lagoon plants store energy?")
    assert len(cut) <= 1_200
    kept = ["# Tidal power", "Tidal plants turn", "## Storage", "Lagoon plants store energy",
            "[S4]", "In short, tidal power"]
    positions = [cut.index(part) for part in kept]
    assert positions == sorted(positions)
    assert cut.count("Filler") <= 3 and GAP.strip() in cut


def test_one_huge_paragraph_is_cut_at_a_sentence_end() -> None:
    text = "Tidal energy is stored in lagoons. " * 200
    cut = fit(text, 500, topic="tidal")
    assert len(cut) <= 500 and cut.rstrip("[…] \n").endswith(".")


def test_the_writers_context_length_retry_keeps_late_findings_on_the_brief() -> None:
    findings = "\n\n".join([f"## Topic {i}\n\n{FILLER}" for i in range(20)]
                           + ["## Lagoon storage\n\nLagoon barrages hold water until the tide turns [S7]."])
    cut = _truncate(findings, 2_000, "How do tidal lagoons store energy?")
    assert len(cut) <= 2_000 and cut.endswith(prompts.FINDINGS_TRUNCATED)
    assert "Lagoon barrages hold water" in cut  # a head cut would have lost it
