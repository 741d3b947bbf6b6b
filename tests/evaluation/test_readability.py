"""The readability check on crafted reports: each defect is found where it is, and a clean report has none."""

from __future__ import annotations

import pytest

from deep_research_mcp.evaluation.readability import KINDS, check_report, counts

CLEAN = """# How do VACUUM and VACUUM FULL differ?

VACUUM FULL rewrites the entire contents of the table into a new disk file with no extra space. [1] The standard
form of VACUUM can run in parallel with production database operations. [1]

## VACUUM FULL

VACUUM FULL requires an ACCESS EXCLUSIVE lock on the table it is working on. [1] It therefore cannot be done in
parallel with other use of the table. [1]

The vacuum command accepts these options:

- `FULL` selects a full vacuum, which can reclaim more space. [2]
- `FREEZE` selects aggressive freezing of tuples. [2]

Context managers define `__enter__()` and `__exit__()`, as the following example shows:

```python
class Managed:
    def __enter__(self):  # <not markup> :func:`inside code` &amp; ¶
        return self
```

## Sources

1. 25.1. Routine Vacuuming — `/docs/routine-vacuuming.html`
2. VACUUM — `/docs/sql-vacuum.html`
"""


def test_a_clean_report_has_no_findings() -> None:
    assert check_report(CLEAN) == []
    assert counts([]) == dict.fromkeys(KINDS, 0)


def one(report: str) -> tuple[str, str]:
    """The only finding of `report`, as (kind, excerpt)."""
    findings = check_report(report)
    assert len(findings) == 1, findings
    return findings[0].kind, findings[0].excerpt


def body(text: str, sources: str = "1. Page — `/docs/page.html`") -> str:
    return f"# A short title\n\n{text}\n\n## Sources\n\n{sources}\n"


@pytest.mark.parametrize(
    "text",
    [
        "Use :func:`~asyncio.gather` to run awaitables concurrently and collect results. [1]",
        "The :py:class:`Task` object wraps a coroutine for the event loop to schedule. [1]",
        ".. versionadded:: 3.7 The asyncio.run function was added to the standard library. [1]",
        "Results come back in a <code>list</code> in the order of the awaitables passed. [1]",
        "Nothing is lost when the group is cancelled &amp; all tasks are awaited first. [1]",
        "Running an asyncio Program¶ asyncio.run executes the coroutine and returns the result. [1]",
    ],
)
def test_raw_markup_in_prose_is_found(text: str) -> None:
    assert one(body(text))[0] == "raw_markup"


def test_markup_inside_code_is_not_raw_markup() -> None:
    assert check_report(body("Write `:func:` roles and `<b>` tags in code spans, which show them as code. [1]")) == []


@pytest.mark.parametrize(
    "report",
    [
        "# Which transaction isolation levels does PostgreSQL support, which one is the…\n\nA sentence that is "
        "long enough here. [1]\n\n## Sources\n\n1. Page — `/docs/a.html`\n",
        body("A sentence that is long enough here. [1]", "1. 13.2. Transaction Isolation and the levels of…"
             " — `/docs/a.html`"),
        "# Title\n\n## Repeatable Read and...\n\nA sentence that is long enough here. [1]\n\n## Sources\n\n"
        "1. Page — `/docs/a.html`\n",
    ],
)
def test_titles_cut_short_are_found(report: str) -> None:
    assert one(report)[0] == "truncated_title"


@pytest.mark.parametrize(
    "sources",
    [
        "1. asyncio.gather — `/docs/library/asyncio-task.html`\n2. asyncio-task — "
        "`/docs/_sources/library/asyncio-task.rst.txt`",
        "1. Coroutines and Tasks — `/docs/a.html`\n2. Coroutines and Tasks — `/docs/b.html`",
        "1. Page — `/docs/a.html`\n2. Other page — `/docs/a.html`",
        "1. [Tasks](https://example.org/tasks.html)\n2. [Tasks again](https://example.org/tasks.html)",
    ],
)
def test_a_page_listed_twice_is_a_duplicate_source(sources: str) -> None:
    assert one(body("A sentence that is long enough here. [1, 2]", sources))[0] == "duplicate_source"


def test_cited_fragments_under_five_words_are_found() -> None:
    kind, excerpt = one(body("New in version 3.7. [1] A sentence that is long enough to stand. [1]"))
    assert (kind, excerpt) == ("short_fragment", "New in version 3.7.")


@pytest.mark.parametrize(
    "text",
    [
        "The former is faster but takes an exclusive lock on the table. [1]",
        "Thus, moderately-frequent standard VACUUM runs are a better approach. [1]",
        "It must be one of the following constants. [1]",
        "These are run in parallel when the option is given. [1]",
        "However, applications using this level must be prepared to retry transactions. [1]",
        "Some text here that is long enough. [1]\n\n- They are dropped when the session ends. [1]",
        "The value must be one of the following: [1]\n\nThe next paragraph is not a list at all, it is prose. [1]",
        "In addition, tables can have row security policies that restrict rows. [1]",
        "Instead, use the static template tag to build the URL. [1]",
        "First, it can act as a simple front-end to the httpd command. [1]",
        # A lead-in to code whose code is not there, in the paragraph's middle or at its end.
        "To signal the parent you should issue a command such as. [1] The second method uses flags. [1]",
        "After you have signaled the server, you can read about its progress by issuing. [1]",
        "Connection reuse is enabled as shown in the following example. [1]\n\n- an item is not code [1]",
        # "It" that names something, not the "it" of "it is critical that …".
        "It is commonly used by packagers to install software in a staging directory. [1]",
        "It's easy to install as it does not require compilation. [1]",
        # Code before a heading is not what a pointer after the heading points at.
        ("Configure the page size of the view like this: [1]\n\n```\npaginate_by = 2\n```\n\n## Limits\n\n"
         "This limits the page size. [1]"),
    ],
)
def test_openers_that_point_at_nothing_are_found(text: str) -> None:
    assert one(body(text))[0] == "dangling_opener"


def test_pointers_with_their_antecedent_in_the_paragraph_are_fine() -> None:
    text = ("VACUUM FULL rewrites the table into a new file. [1] Thus it needs extra disk space while it runs. [1]\n\n"
            "It is possible to run ANALYZE on its own for a quick statistics refresh. [1]\n\n"
            "In addition to the privilege system, tables can have row security policies. [1]\n\n"
            "Instead of hardcoding the key, load it from an environment variable. [1]\n\n"
            "First, install the package from the index. [1] Finally, it's worth pinning its version. [1]\n\n"
            "The level must be one of the following:\n\n- `READ COMMITTED`, the default level of isolation [1]\n\n"
            # A lead-in to code with its code right after it; one ending in a colon with its items as sentences.
            "Send the parent a signal with a command such as: [1]\n\n```\nkill -TERM 1234\n```\n\n"
            "Inheritance allows several features declarative partitioning lacks, such as: [1] Child tables may have "
            "extra columns not present in the parent. [1]\n\n"
            # A definition term as code, then its definition: "This option" points at the term.
            "`subtree[=<path>]`: This option is a more advanced form of the subtree strategy. [1]\n\n"
            # An example, then the sentence that points at it.
            "```\nclass ContactListView(ListView):\n    paginate_by = 2\n```\n\n"
            "This limits the number of objects per page and adds a paginator to the context. [1]\n\n"
            # "It" that points at nothing, as grammar wants it.
            "It's tempting to use the assume-unchanged bit for this, but it does not work that way. [1]\n\n"
            "It is critical that pooled connections are not shared with a forked process. [1]")
    assert check_report(body(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        "Context managers implement enter() and exit() for the with statement. [1]",
        "The with statement calls __enter__() on the context manager first. [1]",
        "Every time Pizza.str() asks for self.toppings.all() it queries the database. [1]",
    ],
)
def test_mangled_identifiers_are_found(text: str) -> None:
    kinds = {f.kind for f in check_report(body(text))}
    assert kinds == {"mangled_identifier"}


def test_real_calls_that_share_a_special_method_name_are_fine() -> None:
    text = ("Calling len() on the result is faster than count() when the rows are in memory anyway. [1] Use "
            "sys.exit() or get() as usual, and `__init__()` in a code span. [1]")
    assert check_report(body(text)) == []


def test_a_name_the_cited_page_writes_without_underscores_is_not_mangled() -> None:
    # Node.js's async hooks are init(), before(), after() and destroy(); Python's page writes __init__().
    text = "The init() and before() callbacks must not be async functions. [1]"
    node = "The callbacks init()/before()/after()/destroy() are called for each asynchronous event."
    assert check_report(body(text), [node]) == []
    assert {f.kind for f in check_report(body(text), ["Define __init__() to set up the object; init() is it."])} == {
        "mangled_identifier"}
    assert {f.kind for f in check_report(body(text))} == {"mangled_identifier"}


def test_section_headings_over_sixty_characters_are_found() -> None:
    report = ("# What does the title say when it is a long question that is over sixty characters long?\n\n"
              "## How do Repeatable Read and Serializable deal with concurrent updates?\n\n"
              "A sentence that is long enough here. [1]\n\n## Sources\n\n1. Page — `/docs/a.html`\n")
    kind, excerpt = one(report)
    assert kind == "long_heading" and excerpt.startswith("How do Repeatable Read")


def test_a_sentence_quoted_twice_is_found_once() -> None:
    findings = check_report(body("VACUUM reclaims storage occupied by dead tuples. [1] A second sentence stands here. "
                                 "[2]\n\n## Again\n\nVACUUM reclaims storage occupied by dead tuples. [1]"))
    assert [(f.kind, f.excerpt) for f in findings] == [
        ("repeated_sentence", "VACUUM reclaims storage occupied by dead tuples.")]


def test_counts_tally_every_kind() -> None:
    report = body("Thus :func:`x` runs. [1] It is short. [1]")
    tally = counts(check_report(report))
    assert tally["raw_markup"] == 1 and tally["dangling_opener"] == 1 and tally["short_fragment"] == 2
    assert set(tally) == set(KINDS)
