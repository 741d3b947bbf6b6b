"""The evaluation scorer: the support rule, report parsing, fact matching, fabricated citations and gold hits."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from pydantic import ValidationError

from deep_research_mcp.evaluation import (
    SUPPORT_THRESHOLD,
    DocumentWords,
    Question,
    QuestionSet,
    document_text,
    fact_found,
    judge,
    parse_report,
    score_report,
    support,
    supports,
)

VACUUM = (
    "<html><head><title>Routine Vacuuming</title><style>p {color: red}</style></head><body>"
    "<h2>25.1. Routine Vacuuming</h2><p>There are two variants of <code>VACUUM</code>: standard "
    "<code>VACUUM</code> and <code>VACUUM FULL</code>. <code>VACUUM FULL</code> requires an "
    "<code>ACCESS EXCLUSIVE</code> lock on the table it is working on.</p>"
    "<script>var hidden = 'autovacuum never sleeps';</script>"
    "<p>The default threshold is 50 tuples.</p></body></html>"
)
FREEZE = "# Freezing\n\nVACUUM marks rows as frozen so that transaction ID wraparound cannot hide them.\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "vacuum.html").write_text(VACUUM)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "freeze.md").write_text(FREEZE)
    return tmp_path


def question(**overrides: object) -> Question:
    fields: dict[str, object] = {
        "id": "vacuum", "split": "tune", "question": "How does VACUUM differ from VACUUM FULL?",
        "gold_sources": ["vacuum.html", "sub/freeze.md", "missing.html"],
        "facts": [{"fact": "lock", "patterns": ["ACCESS EXCLUSIVE lock"]},
                  {"fact": "frozen", "patterns": ["frozen", "FrozenTransactionId"]},
                  {"fact": "threshold", "patterns": [r"\b50 tuples"]}],
    }
    return Question.model_validate({**fields, **overrides})


def report(body: str, sources: list[str]) -> str:
    lines = "\n".join(f"{n}. Title {n} — `{locator}`" for n, locator in enumerate(sources, start=1))
    return f"# How does VACUUM differ?\n\n{body}\n\n## Sources\n\n{lines}\n"


# --- the support rule ------------------------------------------------------------------------------------------


def test_document_text_is_the_visible_text(corpus: Path) -> None:
    text = document_text(corpus / "vacuum.html")
    assert "VACUUM FULL requires an ACCESS EXCLUSIVE lock" in " ".join(text.split())
    assert "color" not in text and "autovacuum never sleeps" not in text and "25.1. Routine Vacuuming" in text
    assert document_text(corpus / "sub" / "freeze.md") == FREEZE.replace("# ", "").strip()  # as the engine reads it
    # Debian's gzipped pages (pytest's changelog.html.gz) are read as the engine reads them, unpacked: read as bytes,
    # every sentence quoted from them failed the support rule.
    packed = corpus / "sub" / "changelog.html.gz"
    packed.write_bytes(gzip.compress((corpus / "vacuum.html").read_bytes()))
    assert document_text(packed) == text
    (corpus / "sub" / "freeze.md.gz").write_bytes(gzip.compress(FREEZE.encode()))
    assert document_text(corpus / "sub" / "freeze.md.gz") == FREEZE.replace("# ", "").strip()


def test_a_sentence_copied_from_the_document_is_supported(corpus: Path) -> None:
    document = DocumentWords.of(document_text(corpus / "vacuum.html"))
    # Markup, punctuation and case do not matter: the words and their order do.
    assert support("`VACUUM FULL` requires an access exclusive lock on the table it is working on.", document) == 1.0
    assert supports("There are two variants of VACUUM: standard VACUUM and VACUUM FULL.", document)
    assert not supports("VACUUM FULL", document)  # one or two words are not a claim anyone can check


@pytest.mark.parametrize(
    "claim",
    [
        "The default threshold is 500 tuples.",  # a changed figure
        "VACUUM FULL requires a SHARE lock on the table it is working on.",  # a changed word
        "VACUUM FULL requires an ACCESS EXCLUSIVE lock so that transaction ID wraparound cannot hide them.",  # stitched
        "Plain vacuuming takes no exclusive lock and reclaims space for reuse.",  # a paraphrase
        "EXCLUSIVE ACCESS",  # words present, not in that order
        "autovacuum never sleeps",  # only in a script, which nobody reads
        "",
    ],
)
def test_a_sentence_the_document_does_not_state_is_not_supported(corpus: Path, claim: str) -> None:
    document = DocumentWords.of(document_text(corpus / "vacuum.html"))
    assert support(claim, document) < SUPPORT_THRESHOLD
    assert not supports(claim, document)


# --- adversarial claims: each tries to fool the support rule and must be rejected ---------------------------------

ROUTINE = (
    "<html><body><h2>Recovering Disk Space</h2><p>The standard form of <code>VACUUM</code> removes dead row "
    "versions in tables and indexes and marks the space available for future reuse. However, it will not return the "
    "space to the operating system, except in the special case where one or more pages at the end of a table become "
    "entirely free and an exclusive table lock can be easily obtained. In contrast, <code>VACUUM FULL</code> actively "
    "compacts tables by writing a complete new version of the table file with no dead space.</p>"
    "<p>The default threshold is 50 tuples, and the scale factor is 0.2 (20% of the table size).</p>"
    "<p>Context managers implement <code>__enter__()</code> and <code>__exit__()</code>; the "
    "<code>async with</code> statement calls <code>__aenter__()</code> instead.</p>"
    "<p>Autovacuum workers are never started for temporary tables, because only the session that created them can "
    "see them.</p>"
    "<p>Much later in the page, one more sentence says that the space is returned to the operating system only "
    "by a full rewrite.</p></body></html>"
)


@pytest.fixture
def routine(tmp_path: Path) -> DocumentWords:
    page = tmp_path / "routine.html"
    page.write_text(ROUTINE)
    return DocumentWords.of(document_text(page))


@pytest.mark.parametrize(
    ("claim", "trick"),
    [
        ("However, it will return the space to the operating system, except in the special case where one or more "
         "pages at the end of a table become entirely free and an exclusive table lock can be easily obtained.",
         "a dropped 'not' in a long sentence"),
        ("However, it will never return the space to the operating system, except in the special case where one or "
         "more pages at the end of a table become entirely free and an exclusive table lock can be easily obtained.",
         "'not' replaced by 'never'"),
        ("Autovacuum workers are started for temporary tables, because only the session that created them can see "
         "them.", "a dropped 'never'"),
        ("The default threshold is 500 tuples, and the scale factor is 0.2 (20% of the table size).",
         "a changed number in a long sentence"),
        ("The default threshold is 50 tuples, and the scale factor is 0.2 (of the table size).",
         "a number dropped from the passage"),
        ("The standard form of VACUUM removes dead row versions in tables and indexes and returns the space to the "
         "operating system only by a full rewrite.", "two places of one page stitched together"),
        ("However, it will not return the space to the operating system, except in the special case where one or more "
         "pages at the end of a table actively compacts tables by writing a complete new version of the table file.",
         "two adjacent sentences stitched with the middle cut out"),
        ("Context managers implement enter() and exit(); the async with statement calls aenter() instead.",
         "identifiers mangled: underscores lost"),
        ("Context managers implement __enter__() and __exit__(); the async with statement calls __enter__() instead.",
         "an identifier swapped for another on the page"),
        ("enter()", "a one-word identifier claim matching part of __enter__()"),
        ("space", "a single common word found on the page"),
        ("table space", "two words, each on the page, never next to each other"),
        ("dead space operating system", "scattered words of one paragraph"),
    ],
)
def test_a_claim_built_to_fool_the_rule_is_rejected(routine: DocumentWords, claim: str, trick: str) -> None:
    verdict = judge(claim, routine)
    assert not verdict.supported, trick
    assert not supports(claim, routine) and verdict.reason


@pytest.mark.parametrize(
    "claim",
    [
        "However, it will not return the space to the operating system, except in the special case where one or more "
        "pages at the end of a table become entirely free and an exclusive table lock can be easily obtained.",
        # whitespace, markdown and code markup differ from the page; the words and their order do not
        "In contrast,  **`VACUUM FULL`** actively compacts tables by writing a complete new version of the table file "
        "with no dead space.",
        "Context managers implement `__enter__()` and `__exit__()`; the `async with` statement calls `__aenter__()` "
        "instead.",
        "The default threshold is 50 tuples, and the scale factor is 0.2 (20% of the table size).",
        # two consecutive sentences quoted together are one passage
        "The standard form of VACUUM removes dead row versions in tables and indexes and marks the space available for "
        "future reuse. However, it will not return the space to the operating system.",
        "In contrast, VACUUM FULL actively compacts tables",  # a short claim that is a verbatim run
    ],
)
def test_a_claim_the_page_states_in_one_place_is_supported(routine: DocumentWords, claim: str) -> None:
    verdict = judge(claim, routine)
    assert verdict.supported, verdict.reason
    assert verdict.score >= SUPPORT_THRESHOLD


def test_the_real_vacuuming_page_rejects_the_dropped_not() -> None:
    """The case the old trigram rule passed (0.944): the PostgreSQL manual's own sentence with "not" removed."""
    page = Path("/usr/share/doc/postgresql-doc-15/html/routine-vacuuming.html")
    if not page.is_file():
        pytest.fail("postgresql-doc-15 is not installed: run `bash scripts/eval-corpus.sh` (.ci/run does)")
    document = DocumentWords.of(document_text(page))
    sentence = ("However, it will not return the space to the operating system, except in the special case where one "
                "or more pages at the end of a table become entirely free and an exclusive table lock can be easily "
                "obtained.")
    assert supports(sentence, document)
    assert not supports(sentence.replace(" not ", " "), document)


# --- report parsing -------------------------------------------------------------------------------------------


def test_parse_report_splits_claims_at_their_markers() -> None:
    parsed = parse_report(report(
        "First claim. [1] Second claim one. Second claim two. [1, 2]\n\n## A heading that is 50 tuples\n\n"
        "Third claim [2]. An uncited closing sentence.",
        ["/c/a.html", "/c/b.md"],
    ))
    assert [(c.text, c.numbers) for c in parsed.claims] == [
        ("First claim.", (1,)), ("Second claim one. Second claim two.", (1, 2)), ("Third claim", (2,))]
    assert parsed.uncited == ["An uncited closing sentence."]
    assert parsed.sources == {1: "/c/a.html", 2: "/c/b.md"}
    # Title, headings, markers and Sources are not prose.
    assert "50 tuples" not in parsed.prose and "[1]" not in parsed.prose and "Title 1" not in parsed.prose
    assert parsed.prose.startswith("First claim. Second claim one.")


# --- scoring one report ---------------------------------------------------------------------------------------


def test_score_report_counts_supported_claims_facts_and_gold_sources(corpus: Path) -> None:
    vacuum, freeze = str(corpus / "vacuum.html"), str(corpus / "sub" / "freeze.md")
    text = report(
        "VACUUM FULL requires an ACCESS EXCLUSIVE lock on the table it is working on. [1] "
        "VACUUM marks rows as frozen so that transaction ID wraparound cannot hide them. [2] "
        "The default threshold is 5 tuples. [1]",  # misquoted: unsupported
        [vacuum, freeze],
    )
    score = score_report(question(), text, [vacuum, freeze, str(corpus / "other.md")], corpus)
    assert [c.supported for c in score.claims] == [True, True, False]
    assert score.citation_accuracy == pytest.approx(2 / 3)
    assert score.facts_found == ["lock", "frozen"] and score.facts_missed == ["threshold"]
    assert score.fact_recall == pytest.approx(2 / 3)
    # A fact quoted with its identifiers as code spans is still stated: the backticks are the report's markup.
    coded = text.replace("ACCESS EXCLUSIVE lock", "`ACCESS EXCLUSIVE` lock")
    assert score_report(question(), coded, [vacuum, freeze], corpus).facts_found == ["lock", "frozen"]
    assert score.fabricated == 0
    assert score.gold_cited == ["vacuum.html", "sub/freeze.md"] and score.gold_retrieved == score.gold_cited
    assert score.gold_hit_rate == pytest.approx(2 / 3)


def test_a_missed_fact_is_placed_on_a_retrieved_page_or_on_none(corpus: Path) -> None:
    """Where a missed fact was lost: a retrieved page states it (reading or selection dropped it), or no retrieved
    page does (retrieval never found it)."""
    vacuum, freeze = str(corpus / "vacuum.html"), str(corpus / "sub" / "freeze.md")
    text = report("Nothing here states a fact. [1]", [vacuum])
    both = score_report(question(), text, [vacuum, freeze], corpus)
    assert both.facts_missed == ["lock", "frozen", "threshold"]
    # "50 tuples" and the lock sentence are on vacuum.html (across its markup), "frozen" on freeze.md.
    assert both.missed_on_retrieved == ["lock", "frozen", "threshold"]
    one = score_report(question(), text, [vacuum], corpus)
    assert one.missed_on_retrieved == ["lock", "threshold"]


def test_every_cited_document_must_support_a_claim(corpus: Path) -> None:
    vacuum, freeze = str(corpus / "vacuum.html"), str(corpus / "sub" / "freeze.md")
    text = report("VACUUM FULL requires an ACCESS EXCLUSIVE lock on the table it is working on. [1, 2]",
                  [vacuum, freeze])
    (claim,) = score_report(question(), text, [vacuum, freeze], corpus).claims
    assert claim.support[0] == 1.0 and claim.support[1] < SUPPORT_THRESHOLD
    assert not claim.supported


def test_citations_to_nothing_retrieved_are_fabricated(corpus: Path) -> None:
    vacuum = str(corpus / "vacuum.html")
    text = report(
        "VACUUM FULL requires an ACCESS EXCLUSIVE lock on the table it is working on. [1] "
        "A claim citing a number with no source. [3] A claim citing a page never retrieved. [2]",
        [vacuum, "https://invented.example/page"],
    )
    score = score_report(question(), text, [vacuum], corpus)
    # The invented page counts once as a Sources entry outside the registry and once as an unresolvable marker.
    assert score.fabricated == 2
    assert [c.supported for c in score.claims] == [True, False, False]


def test_a_report_without_citations_scores_zero(corpus: Path) -> None:
    score = score_report(question(), "# Title\n\nVACUUM FULL needs an ACCESS EXCLUSIVE lock.\n", [], corpus)
    assert score.citation_accuracy == 0.0 and score.uncited_sentences == 1
    assert score.facts_found == ["lock"]  # recall is about the prose, cited or not


def test_fact_patterns_match_whole_words_only() -> None:
    assert not fact_found("Each session must begin with a BEGIN block.", ["GIN"])
    assert fact_found("A GIN index suits arrays.", ["GIN"])
    assert not fact_found("Context managers define __enter__() and __exit__().", [r"enter\(\)"])
    assert fact_found("call get_page(number) for a page", [r"get_page\("])  # a non-word edge needs no boundary
    assert fact_found("run makemigrations --empty twice", ["--empty"])
    assert fact_found("different user mappings apply", ["user mapping"]) and fact_found("two indexes", ["index"])
    assert not fact_found("the indexer runs", ["index"])
    assert not fact_found("prefetching many objects", ["fetch"]) and fact_found("prefetch loops", ["fetch", "loops"])


# --- the question file ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"facts": [{"fact": "x", "patterns": ["(unclosed"]}]}, "not a valid regular expression"),
        ({"gold_sources": ["/usr/share/doc/x.html"]}, "relative to the corpus root"),
        ({"gold_sources": ["../x.html"]}, "relative to the corpus root"),
        ({"split": "test"}, "split"),
        ({"facts": []}, "facts"),
    ],
)
def test_questions_are_validated(override: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        question(**override)


def test_question_ids_are_unique() -> None:
    with pytest.raises(ValidationError, match="duplicate question ids: vacuum"):
        QuestionSet(questions=[question(), question()])


def test_brackets_in_code_are_not_citations_and_fenced_code_is_never_a_claim() -> None:
    parsed = parse_report(report(
        "Index a list with `items[0]` to get its first element. [1]\n\n"
        "Run it like this: [2]\n\n```python\nfirst = items[1]  # not a citation\n```\n\nAfter the block. [1]",
        ["/c/a.html", "/c/b.md"],
    ))
    assert [(c.text, c.numbers) for c in parsed.claims] == [
        ("Index a list with `items[0]` to get its first element.", (1,)),
        ("Run it like this:", (2,)),
        ("After the block.", (1,)),
    ]
    assert "first = items[1]" in parsed.prose  # code still counts when gold facts are matched


def test_sphinx_navigation_links_are_not_page_text(tmp_path: Path) -> None:
    """Sphinx prints "[source]" and "¶" links beside every API entry: links to elsewhere, not words the page says
    (they made "runtest(): Execute the underlying test function." look like a stitched claim)."""
    page = tmp_path / "reference.html"
    page.write_text('<html><body><dl><dt id="x">runtest()<a class="reference internal" href="_modules/x.html">'
                    '<span class="viewcode-link"><span class="pre">[source]</span></span></a>'
                    '<a class="headerlink" href="#x" title="Permalink">¶</a></dt>'
                    "<dd><p>Execute the underlying test function.</p></dd></dl><p>After [source] text.</p>"
                    "</body></html>", encoding="utf-8")
    text = document_text(page)
    assert "¶" not in text and text.count("[source]") == 1  # the link only, not the same words in prose
    assert supports("runtest(): Execute the underlying test function.", DocumentWords.of(text))


def test_a_text_page_is_read_as_the_engine_reads_it(tmp_path: Path) -> None:
    """git's AsciiDoc pages write cross-references as `<<id,label>>` and man links as `linkgit:git-x[1]`; the engine
    reads them as "label" and "git-x(1)" and quotes them so. The judge reads the page through the same reader: the
    quoted sentence is supported, and a changed word is still not."""
    page = tmp_path / "glossary-content.txt"
    page.write_text("[[def_clone]]clone::\n\tA <<def_repository,repository>> copied with linkgit:git-clone[1] "
                    "holds every <<def_object,object>> of the original and its own <<def_ref,refs>>.\n",
                    encoding="utf-8")
    document = DocumentWords.of(document_text(page))
    assert supports("A repository copied with git-clone(1) holds every object of the original and its own refs.",
                    document)
    assert supports("git-clone(1) holds every object of the original.", document)
    assert not supports("git-clone(1) holds every commit of the original.", document)
