"""The claim check: each cited sentence against the text the run read from its source."""

from __future__ import annotations

import re

import pytest

from deep_research_mcp.engine.support.apply import MARK, check_and_apply
from deep_research_mcp.engine.support.check import SourceText, check_sentence
from deep_research_mcp.engine.support.report import parse_report
from deep_research_mcp.engine.support.texts import ReadTexts
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer

from .conftest import QUESTION, EngineFactory
from .test_offline_engine import corpus, offline_engine

PAGE = """# La Rance tidal power station

The La Rance tidal power station in Brittany, France, opened in 1966 and was the world's first tidal barrage.
It has 24 bulb turbines with a combined capacity of 240 MW. The barrage is 750 m long and the tidal range at the
site reaches 13.5 m.

The planner chooses an index scan when the table is large and the condition is selective. Autovacuum does not run on
temporary tables. Sediment builds up behind a barrage because the currents slow down.
"""


@pytest.fixture(scope="module")
def page() -> SourceText:
    return SourceText(PAGE)


@pytest.mark.parametrize("sentence", [
    "It has 24 bulb turbines with a combined capacity of 240 MW.",  # verbatim
    "It has 24 bulb turbines with a total capacity of 240 MW.",  # a synonym
    "With a combined capacity of 240 MW, it has 24 bulb turbines.",  # word order
    "Sediment builds up behind a barrage because currents slow down.",  # a word dropped
    "La Rance has 24 bulb turbines with a combined capacity of 240 MW.",  # the page's "it" named from its title
    "Autovacuum never runs on temporary tables.",  # one negation for another
])
def test_true_sentences_are_supported(page: SourceText, sentence: str) -> None:
    verdict = check_sentence(sentence, page, "S1")
    assert verdict.verdict == "supported", verdict
    assert verdict.evidence and verdict.source_id == "S1"


def test_a_loose_paraphrase_is_weak_not_unsupported(page: SourceText) -> None:
    verdict = check_sentence("The planner opts for an index scan when the table is big and the filter is selective.",
                             page, "S1")
    assert verdict.verdict == "weak", verdict
    assert verdict.evidence.startswith("The planner chooses an index scan")


@pytest.mark.parametrize(("sentence", "reason"), [
    ("It has 26 bulb turbines with a combined capacity of 240 MW.", "'26'"),  # a number changed
    ("It has 24 bulb turbines with a combined capacity of 240 MW and 24 pumps.", "'24'"),  # a number counted twice
    ("Autovacuum runs on temporary tables.", "negation"),  # a "not" dropped
    ("Sediment does not build up behind a barrage because the currents slow down.", "negation"),  # a "not" added
    ("The La Rance tidal power station in Normandy, France, opened in 1966.", "'normandy'"),  # a name swapped
    ("The barrage is 750 m long and the currents slow down.", "passage"),  # stitched from two places
    ("Rooftop solar panels convert sunlight into electricity with photovoltaic cells.", "content words"),  # elsewhere
])
def test_false_sentences_are_unsupported(page: SourceText, sentence: str, reason: str) -> None:
    verdict = check_sentence(sentence, page, "S1")
    assert verdict.verdict == "unsupported", verdict
    assert reason in verdict.reason


def test_a_contradicting_passage_is_not_outvoted_by_a_looser_one() -> None:
    page = SourceText("This parameter is not supported on Windows, and must be zero. This parameter is supported "
                      "only on systems that support TCP_KEEPIDLE, and on Windows; elsewhere it must be zero.")
    assert check_sentence("This parameter is supported on Windows, and must be zero.", page).verdict == "unsupported"


def test_a_short_sentence_quoted_whole_is_found_past_closer_ranked_passages() -> None:
    # Node's child_process page: "killed" and "process" are in many passages, and one without the "not" came first.
    earlier = " ".join(f"The process is killed when signal {n} arrives." for n in range(1, 15))
    page = SourceText(f"On Windows the signal is ignored, and the process will be killed forcefully. {earlier} "
                      "The 'error' event is emitted whenever:\n\n- The process could not be spawned."
                      "\n- The process could not be killed.\n- Sending a message to the child process failed.")
    verdict = check_sentence("The process could not be killed.", page)
    assert (verdict.verdict, verdict.evidence) == ("supported", "The process could not be killed.")


def test_negations_count_only_where_the_sentence_lines_up() -> None:
    page = SourceText("(See ALTER TABLE for information on column storage modes.) Setting this property for a "
                      "partitioned table has no direct effect, because such tables have no storage of their own. "
                      "If no validator function is specified, then options will not be checked at creation time.")
    # A "no" in the passage's next clause is not this sentence's.
    assert check_sentence("See ALTER TABLE for information on column storage modes.", page).verdict == "supported"
    # A clause moved to the end keeps its negations.
    moved = check_sentence("Options will not be checked at creation time if no validator function is specified.", page)
    assert moved.verdict == "supported", moved
    dropped = check_sentence("Options will be checked at creation time if no validator function is specified.", page)
    assert dropped.verdict == "unsupported" and "negation" in dropped.reason


def test_a_table_t_is_true_not_a_negation() -> None:
    page = SourceText("'fat cats ate rats' @@ to_tsquery('cat & rat') → t. The planner does not use it.")
    verdict = check_sentence("The result of 'fat cats ate rats' @@ to_tsquery('cat & rat') is t.", page)
    assert verdict.verdict == "supported", verdict
    assert check_sentence("The planner doesn't use to_tsquery.", page).verdict == "supported"


def test_a_negation_in_the_sentence_before_is_not_the_claims_even_when_the_next_opens_in_lower_case() -> None:
    page = SourceText("git rerere records the hand resolve when it is a new conflict, or reuses the earlier hand "
                      "resolve when it is not. git commit also invokes git rerere when committing a merge result.")
    assert check_sentence("git commit also invokes git rerere when committing a merge result.", page).verdict == (
        "supported")
    assert check_sentence("git commit never invokes git rerere when committing a merge result.", page).verdict == (
        "unsupported")


def test_a_table_row_is_its_own_passage() -> None:
    # Exim's option summaries: a row's neighbour's "no" is not the row's negation, and a row's cells belong together.
    page = SourceText("Intro to the options.\n\nqueue_run_in_order | order of arrival\nqueue_run_max | of simultaneous "
                      "queue runners\nqueue_smtp_domains | no immediate SMTP delivery for these\n\nAfter the table.")
    assert check_sentence("queue_run_max: of simultaneous queue runners.", page).verdict == "supported"
    assert check_sentence("queue_smtp_domains: no immediate SMTP delivery for these.", page).verdict == "supported"
    dropped = check_sentence("queue_smtp_domains: immediate SMTP delivery for these.", page)
    assert dropped.verdict == "unsupported" and "negation" in dropped.reason


def test_nothing_checkable_is_unchecked(page: SourceText) -> None:
    assert check_sentence("It is fast.", page).verdict == "unchecked"


REPORT = """# Title

La Rance has 24 bulb turbines with a combined capacity of 240 MW [1]. It has 30 bulb turbines [1]. The barrage is
750 m long [1].

- It opened in 1972 [1].
- The barrage is 750 m long [1, 2].
- Rooftop panels use photovoltaic cells [2].

## Sources

1. [La Rance](https://x.example/rance)
2. [Unread](https://x.example/unread)
"""


def test_unsupported_sentences_are_marked_after_their_citation() -> None:
    checked = check_and_apply(REPORT, ["S1", "S2"], {"S1": PAGE}, "mark")
    assert [c.verdict for c in checked.checks] == [
        "supported", "unsupported", "supported", "unsupported", "supported", "unchecked"]
    assert checked.report.count("]" + MARK) == 2
    assert "It has 30 bulb turbines [1] ⚠ unsupported." in checked.report
    assert "- It opened in 1972 [1] ⚠ unsupported." in checked.report
    assert checked.report.startswith("# Title\n\n> Claim check: 3 of 5 cited sentences are supported by their "
                                     "sources; 2 not supported (marked ⚠ unsupported).\n")
    unsupported = checked.checks[1]
    assert unsupported.evidence.startswith("It has 24 bulb turbines") and unsupported.source_ids == ("S1",)
    assert "'30'" in unsupported.reason
    # The marked report still parses to the same claims: the marker follows the citation, outside the sentence.
    assert [c.text for c in parse_report(checked.report).claims] == [c.text for c in checked.checks]


def test_remove_cuts_unsupported_sentences_and_keep_leaves_them() -> None:
    removed = check_and_apply(REPORT, ["S1", "S2"], {"S1": PAGE}, "remove")
    assert "30 bulb" not in removed.report and "1972" not in removed.report
    assert "240 MW [1]. The barrage is\n750 m long [1]." in removed.report
    assert "\n- The barrage is 750 m long [1, 2].\n- Rooftop" in removed.report
    assert removed.summary.removed == 2 and "(removed)" in removed.report
    kept = check_and_apply(REPORT, ["S1", "S2"], {"S1": PAGE}, "keep")
    assert MARK not in kept.report and "(left as written)" in kept.report
    assert kept.report.split("\n", 3)[3] == REPORT.split("\n", 1)[1]


def test_a_claim_over_two_lines_is_marked_even_when_removing() -> None:
    report = "# T\n\nThe barrage is 750 m\nlong and opened in 1999 [1].\n"
    checked = check_and_apply(report, ["S1"], {"S1": PAGE}, "remove")
    assert "1999 [1] ⚠ unsupported." in checked.report and checked.summary.removed == 0
    assert "1 removed" not in checked.report and "the rest marked" in checked.report


def test_read_texts_are_bounded_per_source_and_per_run() -> None:
    texts = ReadTexts(per_source_chars=10, per_run_chars=25)
    texts.add("S1", "abcdefghijKLM")
    texts.add("S1", "abcdefghijKLM")  # the same text again is not kept twice
    texts.add("S2", "0123456789")
    texts.add("S3", "zyxwvutsrq")
    assert texts.get("S1") == "abcdefghij" and texts.get("S2") == "0123456789" and texts.get("S3") == "zyxwv"
    assert texts.chars == 25 and texts.not_kept == 3 + 5
    texts.add("S4", "more")
    assert texts.get("S4") is None and len(texts) == 3


async def test_an_offline_run_checks_every_cited_sentence() -> None:
    result = await offline_engine([corpus()]).run(
        "Compare tidal barrages and tidal lagoons in cost and environmental impact")
    checks = result.claims
    assert checks and all(c.verdict == "supported" for c in checks), [c for c in checks if c.verdict != "supported"]
    assert all(c.evidence and c.evidence_source.startswith("S") for c in checks)
    line = f"> Claim check: {len(checks)} of {len(checks)} cited sentences are supported by their sources."
    assert result.report.split("\n")[2] == line
    assert MARK not in result.report
    assert result.claim_summary.checked == result.claim_summary.supported == len(checks)


@pytest.mark.parametrize("handling", ["mark", "remove"])
async def test_a_models_unsupported_sentences_are_marked_or_removed(
    server: ScriptedLLMServer, make_engine: EngineFactory, handling: str
) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=1, quote_sources=True)
    async with make_engine(unsupported_claims=handling) as engine:
        result = await engine.run(QUESTION)
    checks = result.claims
    assert len(checks) >= 3
    # The scripted writer quotes each source and corrupts every second quote (a changed number).
    true, corrupted = checks[::2], checks[1::2]
    assert all(c.verdict == "supported" for c in true), true
    assert all(c.verdict == "unsupported" and "does not have" in c.reason for c in corrupted), corrupted
    body = result.report.split("\n## Sources", 1)[0]
    for check in true:
        assert f"{check.text} [{check.citations[0]}]." in body
    if handling == "mark":
        assert body.count("]" + MARK) == len(corrupted)
        for check in corrupted:
            assert re.search(re.escape(check.text) + r" \[\d+\]" + re.escape(MARK), body)
    else:
        assert MARK not in body
        left = {(c.text, result.sources[c.numbers[0] - 1].id) for c in parse_report(result.report).claims}
        assert left == {(c.text, c.source_ids[0]) for c in true}
    assert f"{len(true)} of {len(checks)} cited sentences are supported" in result.report


async def test_the_writer_gets_one_turn_to_revise_what_its_sources_do_not_support(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=1, quote_sources=True)
    async with make_engine(revise_unsupported_claims=True) as engine:
        result = await engine.run(QUESTION)
    # The scripted writer deletes the sentences the revision turn lists; what is left is checked again.
    assert server.stats.calls_by_stage["report"] == 2
    assert result.claims and all(c.verdict == "supported" for c in result.claims), result.claims
    assert MARK not in result.report and "Claim check:" in result.report
    assert re.search(r"\[\d+\]", result.report) and "[S" not in result.report
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", result.report.split("## Sources", 1)[0])}
    assert numbers == set(range(1, len(result.sources) + 1))  # renumbered after the deletions
