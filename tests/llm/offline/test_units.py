"""A page read as sentence units: markdown-aware splitting, headings and definition terms, code blocks and lead-ins."""

from __future__ import annotations

from deep_research_mcp.llm.offline.units import split_passages, split_sentences, split_units

MARKDOWN = """---
# Tidal barrages

A tidal barrage is a **dam** built across an _estuary_. It was described by J. Smith in 1966.
See [the page](https://example.org/x) for more [4].

## Numbers

- Barrages need a tidal range of at least 5 m
- The barrage is 750 m long and the range reaches 13.5 m. It produces 500 GWh a year.

```python
barrage = Barrage(range_m=5)  # code is not prose
```

| Site | Capacity |
|------|----------|
| La Rance | 240 MW |

> Quoted text counts as prose.

    indented code block is skipped
"""


def test_sentence_splitting_is_markdown_aware() -> None:
    assert split_sentences(MARKDOWN) == [
        "A tidal barrage is a dam built across an estuary.",
        "It was described by J. Smith in 1966.",
        "See the page for more.",
        "Barrages need a tidal range of at least 5 m.",
        "The barrage is 750 m long and the range reaches 13.5 m.",
        "It produces 500 GWh a year.",
        "Quoted text counts as prose.",
    ]
    headings = {heading for _, heading in split_passages(MARKDOWN)}
    assert headings == {"Tidal barrages", "Numbers"}
    assert split_sentences("Uses `a[0]` and snake_case names.") == ["Uses `a[0]` and snake_case names."]
    assert split_sentences("As low as 49%. deep-research-mcp keeps ids.") == [
        "As low as 49%.", "deep-research-mcp keeps ids."
    ]


def test_fenced_code_is_never_read_as_sentences_or_headings() -> None:
    text = ("# Tasks\n\nCreate a task like this:\n\n```\n# Wait for 1 hour\n"
            "task = tg.create_task(say_after(2, 'world')).\n```\n\nTasks run concurrently with the caller.\n")
    units = split_units(text)
    assert [u.text for u in units if not u.code] == ["Create a task like this.",
                                                     "Tasks run concurrently with the caller."]
    assert split_sentences(text) == ["Create a task like this.", "Tasks run concurrently with the caller."]
    assert {u.heading for u in units} == {"Tasks"}  # the "#" comment inside the fence is no heading
    assert units[1].code and units[1].text == "# Wait for 1 hour\ntask = tg.create_task(say_after(2, 'world'))."
    assert units[2].paragraph > units[0].paragraph + 1  # code stood between them


def test_a_colon_and_period_before_code_is_a_lead_in_not_a_sentence_ending_in_both() -> None:
    units = split_units("Use update_state() to update a task's state:.\n\n```\ntask.update_state(state='X')\n```\n")
    assert [(u.text, u.intro, u.code) for u in units] == [
        ("Use update_state() to update a task's state.", True, False), ("task.update_state(state='X')", False, True)]


def test_sentences_keep_their_closing_brackets_and_do_not_break_inside_parentheses() -> None:
    text = ('An ErrorDocument that points to a remote URL (ie. anything with a method such as http in front of it) '
            'makes a redirect. (The delay is modified by jitter. It is enabled.) He said "stop." Then he left.')
    assert split_sentences(text) == [
        "An ErrorDocument that points to a remote URL (ie. anything with a method such as http in front of it) makes "
        "a redirect.", "(The delay is modified by jitter. It is enabled.)", 'He said "stop."', "Then he left."]


def test_a_dot_standing_alone_is_a_path_not_a_full_stop() -> None:
    # CMake's "If no --config argument is specified, cmake --build . will use build.ninja." was quoted as
    # "… cmake --build." and its second half dropped as a fragment.
    assert split_sentences("If no --config argument is specified, cmake --build . will use build.ninja. Then go.") == [
        "If no --config argument is specified, cmake --build . will use build.ninja.", "Then go."]


def test_a_sentence_may_open_with_a_tag_name() -> None:
    # Apache's "<Location> sections are processed …" ran on from the sentence before it, one claim of two statements.
    text = "It ends with a </Location> directive. <Location> sections are processed in order. Use a < b."
    assert split_sentences(text) == ["It ends with a `</Location>` directive.",
                                     "`<Location>` sections are processed in order.", "Use a < b."]


def test_a_term_that_ends_one_search_passage_is_not_the_term_of_the_next() -> None:
    # Two search passages of one page, each under the "[section: …]" line the search tool writes: the first ends
    # with a definition term whose text was not shown; it labelled the next passage's sentence, which the claim
    # check then rightly failed ("SQLITE_OMIT_DISKIO: An INSERT statement with multiple values …").
    text = ("[section: 9. Options To Omit Features]\nThis option causes the interfaces to be omitted from the build."
            "\n\nSQLITE_OMIT_DISKIO\n\n[section: 9. Options To Omit Features]\n"
            "An INSERT statement with multiple values in the VALUES clause is implemented as a compound SELECT.\n")
    assert [u.label for u in split_units(text)] == ["", ""]


def test_a_table_of_contents_labels_nothing() -> None:
    # HAProxy's contents: "8.5." / "Session state at disconnection" / "8.6." read as "Session state …: 8.6.".
    units = split_units("8.4.\n\nTiming events\n\n8.5.\n\nSession state at disconnection\n\n8.6.\n\n"
                        "Non-printable characters\n\n# 8.5 Session state\n\nThe state is logged at disconnection.\n")
    assert all(u.label == "" for u in units) and not any(u.text.endswith("8.6.") for u in units)
    # A term on its own line still labels the paragraph under it.
    term = split_units("shared_buffers (integer)\n\nSets the amount of memory.\n")
    assert term[0].label == "shared_buffers (integer)"


def test_a_quoted_word_ending_in_a_mark_does_not_end_the_sentence() -> None:
    # Cut after "amend!", the quote said the opposite of the page: "commits change authorship of <commit> …".
    units = split_units('Neither "fixup!" nor "amend!" commits change authorship of <commit> when applied by git '
                        "rebase --autosquash. See git-rebase(1) for details. It is not. git commit also runs it.")
    assert [u.text for u in units][0].startswith('Neither "fixup!" nor "amend!" commits change authorship')
    assert "git commit also runs it." in [u.text for u in units]  # a command opens a sentence in lower case


def test_rest_directives_are_not_sentences() -> None:
    assert split_sentences(".. note::\n\n   Tasks are scheduled soon.\n\n.. versionadded:: 3.7") == [
        "Tasks are scheduled soon."]
