"""A lead-in whose list items carry on its sentence ("… in the following way:" then "by scanning …", "by loading
…") is quoted with its items as one sentence: apart, the items are fragments, and without them the lead-in says
nothing."""

from __future__ import annotations

from deep_research_mcp.llm.offline.select import cited_passages, cited_sentences

PAGE = ("## Plugin discovery order at tool startup\n\n"
        "pytest loads plugin modules at tool startup in the following way:\n\n"
        "- by scanning the command line for the -p no:name option and blocking that plugin from being loaded.\n"
        "- by loading all plugins specified through the PYTEST_PLUGINS environment variable.\n\n"
        "Plugins are loaded once per process and never reloaded afterwards.\n")


def test_a_lead_in_is_quoted_with_the_items_that_carry_on_its_sentence() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Writing plugins", PAGE)}, "How are plugin modules loaded?")]
    # The heading above it says what the sentence does not: it is quoted as the sentence's label.
    merged = next(text for text in notes
                  if text.startswith("Plugin discovery order at tool startup: pytest loads plugin modules"))
    assert "-p no:name option" in merged and "PYTEST_PLUGINS environment variable" in merged
    assert not any(text.startswith("by ") for text in notes)


SIGNALS = ("## Stopping\n\n"
           "To send a signal to the parent process you should issue a command such as:\n\n"
           "Run kill now.\n\n"
           "Sending the TERM signal to the parent process causes it to kill off all of its children at once.\n")
PARTITIONS = ("## Inheritance\n\n"
              "Partitioning by table inheritance allows several features that declarative partitioning lacks, such "
              "as:\n\n"
              "- Child tables of an inheritance tree may have extra columns not present in the parent.\n"
              "- Table inheritance allows a child table to inherit from several parent tables.\n")


def test_a_lead_in_whose_code_is_not_quotable_is_not_quoted_alone() -> None:
    # "Run kill now." is a fragment, no statement to quote: "… such as." alone would promise what never comes.
    notes = [text for text, _ in cited_sentences({"S1": ("Stopping", SIGNALS)},
                                                 "Which signal stops the parent process?")]
    assert notes and not any("such as" in text for text in notes)


def test_a_lead_in_quoted_with_its_items_keeps_its_colon() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Partitioning", PARTITIONS)},
                                                 "What does partitioning by table inheritance allow?")]
    lead = next(text for text in notes if text.startswith("Inheritance: Partitioning by table inheritance")
                or text.startswith("Partitioning by table inheritance"))
    assert lead.endswith("such as:")


MODES = ("## Modes\n\n"
         "The control script runs the server in one of two modes on any platform.\n\n"
         "First, it can act as a simple front end that passes every argument through to the server binary.\n\n"
         "## Signals\n\n"
         "First, it can send a signal straight to the parent process of the running server binary.\n")


def test_a_sequence_word_before_a_pronoun_needs_the_sentence_before_it() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Control", MODES)}, "What can the control script act as?")]
    # Quoted with what "it" is, or not at all: the second "First, it …" has nothing before it in its section.
    front = notes.index("First, it can act as a simple front end that passes every argument through to the server "
                        "binary.")
    assert front > 0 and notes[front - 1].endswith("in one of two modes on any platform.")
    assert not any(text.startswith("First, it can send") or text.startswith("Signals: First, it") for text in notes)


SEE_ALSO = ("## Directory\n\n"
            "Directory sections apply their directives to the named directory and everything below it.\n\n"
            "## See also\n\n"
            "- How Directory and Location sections work for an explanation of how these sections are combined.\n")


def test_the_items_of_a_see_also_section_are_pointers_not_statements() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Directory", SEE_ALSO)},
                                                 "How are Directory and Location sections combined?")]
    assert notes and not any("for an explanation" in text for text in notes)


MIRROR = ("## Raw copies\n\n"
          "A raw mirror of a repository holds no checked out files and no index file of its own.\n\n"
          "To make a raw mirror of a repository of your own, you'd do the following.\n\n"
          "Mirrors are refreshed from their origin every night by a scheduled job.\n")


def test_a_sentence_pointing_at_the_following_with_nothing_after_it_is_not_quoted() -> None:
    # It ends in a full stop, not a colon, yet promises what follows it; the next paragraph is not that.
    notes = [text for text, _ in cited_sentences({"S1": ("Mirrors", MIRROR)}, "How do I make a raw mirror?")]
    assert notes and not any("the following" in text for text in notes)


def test_a_lead_in_whose_items_are_already_quoted_is_not_quoted_alone() -> None:
    # FindPython's "… can be set to one of the following:" came after its (long) items, alone, promising nothing.
    first = ("FIRST: The virtual environment interpreter is used before any other standard paths, "
             + " ".join(["and the interpreter lookup stays inside the virtual environment"] * 10) + ".")
    only = ("ONLY: Only the virtual environment interpreter is used, "
            + " ".join(["never an interpreter outside the virtual environment"] * 12) + ".")
    page = f"The virtual environment setting can be set to one of the following:\n\n- {first}\n- {only}\n"
    notes = [text for passage in cited_passages({"S1": ("FindPython", page)}, "virtual environment interpreter", 8)
             for text, _ in passage]
    assert notes and not any(text.endswith("following:") for text in notes), notes


def test_names_whose_descriptions_are_empty_are_not_quoted() -> None:
    # Jinja's API reference: "Parameters: args (Any) –, kwargs (Any) –." said nothing about either.
    page = ("Render the template.\n\nParameters:\n\n- args (Any) –\n- kwargs (Any) –\n\nReturn type: str\n\n"
            "The render method renders the template with the given variables and returns a string.\n")
    notes = [text for passage in cited_passages({"S1": ("API", page)}, "render template parameters args kwargs", 8)
             for text, _ in passage]
    assert notes == ["The render method renders the template with the given variables and returns a string."]
