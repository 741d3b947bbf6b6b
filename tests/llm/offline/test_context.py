"""A sentence's meaning in context: a sentence that says little alone counts as close to the topic as its section."""

from __future__ import annotations

from deep_research_mcp.llm.offline import context, select, semantic
from deep_research_mcp.llm.offline.units import split_units

# The same sentence, its own paragraph, on three pages of one title: it names the topic's words but means nothing
# alone ("Its use …"), so only the section it stands in tells which copy is about sort memory.
SAME = "Its use is written to the server log for each sort."
STANDBY = ("## Standby servers\n\nStandby servers receive the write-ahead log over the network.\n\n" + SAME + "\n\n"
           "Each standby connects with a role of its own. "
           "Standbys can lag behind the primary when the network is slow.\n")
SPILL = ("## Temporary files\n\nA sort that needs more memory than this limit spills to temporary files on disk.\n\n"
         + SAME + "\n\nSeveral sorts in one query can each use that much memory. "
         "Hash tables get the same memory limit, times a multiplier.\n")
BUFFERS = ("## Shared buffers\n\nShared memory segments are created at server start. "
           "Memory for the buffer cache is allocated once. Huge pages reduce the cost of mapping memory.\n")
DOCS = {"S1": ("Server settings", STANDBY), "S2": ("Server settings", SPILL), "S3": ("Server settings", BUFFERS)}
TOPIC = "How much memory may a sort use?"


def _scored() -> dict[tuple[str, str], float]:
    units = [(sid, p, u) for sid, (_, text) in DOCS.items() for p, u in enumerate(split_units(text))]
    candidates, _ = select.candidates_of(units)
    scores, _ = select._scores(DOCS, candidates, TOPIC)
    return {(c.owner, c.text): score for c, score in zip(candidates, scores, strict=True)}


def test_a_sentence_in_a_section_about_the_topic_outranks_the_same_words_elsewhere() -> None:
    scores = _scored()
    on_topic, off_topic = scores[("S2", SAME)], scores[("S1", SAME)]
    assert on_topic > 1.3 * off_topic  # equal words, equal priors: only the section tells them apart


def test_section_closeness_is_shared_by_a_section_and_highest_for_the_closest_section() -> None:
    texts = ["Sorts spill to disk when they outgrow their memory limit.", "Hash tables share that limit.",
             "Standby servers replay the log.", "Each standby has a role.", "Checkpoints flush dirty pages."]
    sections = [("p", "sorting"), ("p", "sorting"), ("p", "standby"), ("p", "standby"), ("q", "checkpoints")]
    closeness = context.section_closeness("memory used by a sort", sections, texts)
    assert closeness[0] == closeness[1] > max(closeness[2:])
    assert closeness[2] == closeness[3]
    assert all(0.0 <= c <= context.CAP for c in closeness)
    assert context.section_closeness("anything", [], []) == []


def test_without_the_model_no_section_is_lifted(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def unavailable(texts):  # type: ignore[no-untyped-def]
        raise semantic.SemanticUnavailable("not installed")

    monkeypatch.setattr(semantic, "embed", unavailable)
    assert context.section_closeness("memory", ["a", "b"], ["Sorts use memory.", "Standbys replay."]) == [0.0, 0.0]
