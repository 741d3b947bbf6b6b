"""The report's length budget is spent where there is something to say: what a short section leaves unused goes to
the sections that found more."""

from __future__ import annotations

import re

from deep_research_mcp.llm.offline.model import write_report
from deep_research_mcp.llm.offline.report import MAIN_PAGE_EXTRA, REPORT_SENTENCES


def _findings(notes: dict[int, list[int]]) -> str:
    """Findings with one section per topic; each note cites the page given, in order. Words of their own, so no
    sentence passes for a near-duplicate of another."""
    sections = "\n\n".join(
        f"## Topic {t}\n\n" + "\n".join(f"Statement t{t}n{n} " + " ".join(f"w{t}{n}{k}" for k in range(6))
                                          + f". [S{page}]" for n, page in enumerate(pages))
        for t, pages in notes.items()
    )
    return f"Research brief:\nTopics one to three\n\nFindings (cited notes from the researchers):\n{sections}"


def test_a_short_section_leaves_its_share_to_the_others() -> None:
    counts = {1: 2, 2: REPORT_SENTENCES // 2 + 1, 3: REPORT_SENTENCES // 2 + 1}
    # Every note of a section on one page of its own: the page each section is about may add its extra sentences.
    report = write_report(_findings({t: [t] * count for t, count in counts.items()}))
    body = report.split("\n## ", 1)[1]  # the sections, after the short answer
    cited = len(re.findall(r"\[S\d\]", body))
    share = REPORT_SENTENCES // len(counts)
    assert cited > 2 + 2 * share  # more than a fixed share each would allow
    assert cited <= REPORT_SENTENCES + MAIN_PAGE_EXTRA * len(counts)
    # Each section keeps its notes in their order: the best first.
    for t in counts:
        found = [int(n) for n in re.findall(rf"Statement t{t}n(\d+) ", body)]
        assert found == sorted(found)


def test_the_page_a_section_is_about_quotes_more_than_its_share() -> None:
    # Two sections of 0.8 x the report's budget each: topic 1's from page S1, every third from S9; all of topic 2's
    # from S2.
    size = REPORT_SENTENCES * 4 // 5
    notes = {1: [9 if n % 3 == 2 else 1 for n in range(size)], 2: [2] * size}
    body = write_report(_findings(notes)).split("\n## ", 1)[1]
    assert len(re.findall(r"\[S\d\]", body)) > REPORT_SENTENCES  # both sections took more than their share
    first = body.split("\n## ", 1)[0]
    quoted = {int(n) for n in re.findall(r"Statement t1n(\d+) ", first)}
    # Beyond its share, a section takes passages of its main page only: a later S1 note is quoted, an S9 one not.
    skipped = [n for n in range(size) if n not in quoted and n > min(quoted)]
    assert skipped and all(notes[1][n] == 9 for n in skipped if n < max(quoted))
    assert any(notes[1][n] == 9 for n in skipped) and any(n > skipped[0] for n in quoted)


def test_a_section_whose_passage_leans_on_a_sentence_the_answer_borrowed_keeps_it_whole() -> None:
    # The barrage topic's notes end with La Rance's first sentence, which the short answer borrows; the capacity
    # topic's only passage is that sentence and the one leaning on it ("It has …").
    findings = (
        "## How does a tidal barrage work?\n\n"
        "A barrage needs a tidal range of at least 5 m to be economic. [S1]\n"
        "A tidal barrage is a dam built across the mouth of an estuary. [S1]\n"
        "Sluice gates let the rising tide fill the basin, and the water is released through turbines. [S1]\n"
        "The La Rance tidal power station in Brittany opened in 1966. [S3]\n\n"
        "## What is the capacity of La Rance?\n\n"
        "The La Rance tidal power station in Brittany opened in 1966. [S3] "
        "It has 24 bulb turbines with a combined capacity of 240 MW. [S3]\n")
    report = write_report("Research brief:\nHow does a tidal barrage work, and what is the capacity of La Rance?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    assert "The La Rance tidal power station in Brittany opened in 1966. [S3]" in report.split("\n## ", 1)[0]
    assert "## What is the capacity of La Rance\n" in report and "240 MW" in report


def test_the_answer_quotes_the_pages_the_research_quoted_most() -> None:
    # Topic 1's first note is the one page that shares the question's words by chance ("server", "downloads"); the
    # research as a whole quotes page S1, which says how a reload works.
    findings = (
        "## How do I reload the server configuration without dropping downloads?\n\n"
        "Downloads of the server binaries for Windows are listed on the download page. [S9]\n"
        "A graceful restart tells the parent process to reread its configuration files. [S1]\n\n"
        "## What does a graceful restart do?\n\n"
        "Children finish the requests they are serving before they exit. [S1]\n"
        "The parent reopens its log files and starts new children at once. [S1]\n"
        "A syntax check runs first, so a broken file never stops the server. [S1]\n")
    report = write_report("Research brief:\nHow do I reload the server configuration without dropping downloads, "
                          "and what does a graceful restart do?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    answer = report.split("\n## ", 1)[0]
    assert "[S1]" in answer and "[S9]" not in answer
    assert "Downloads of the server binaries" in report  # still quoted, in its section


def test_a_sentence_is_quoted_once_and_what_leans_on_it_goes_with_its_repeat() -> None:
    findings = (
        "## How is the location protected?\n\n"
        "Configure the location to be protected as the example below shows. [S4] "
        "Configure the location to be protected as the example below shows. [S4]\n"
        "Digest authentication sends no password in the clear over the network. [S4]\n\n"
        "## Which realm does it use?\n\n"
        "Configure the location to be protected as the example below shows. [S4]\n"
        "The realm names the protected area that the browser shows to the user. [S5]\n"
        "Digest authentication sends no password in the clear over the network. [S4] "
        "It needs a browser that supports the digest scheme. [S4]\n")
    report = write_report("Research brief:\nHow do I protect a location with digest authentication, and which realm "
                          f"does it use?\n\nFindings (cited notes from the researchers):\n{findings}")
    # Each sentence once, and "It needs …" only right after what it leans on.
    for sentence in ("Configure the location to be protected", "Digest authentication sends no password",
                     "It needs a browser", "The realm names the protected area"):
        assert report.count(sentence) == 1, sentence
    assert "network. [S4] It needs a browser" in report


def test_the_answer_never_quotes_a_code_example_s_lead_in_without_it() -> None:
    findings = (
        "## How do I run a task later?\n\n"
        "Using apply_async() instead you have to write. [S1]\n\n```\nadd.apply_async((2, 2), countdown=10)\n```\n\n"
        "The countdown is a shortcut to set the ETA by seconds into the future. [S1]\n"
        "The task is guaranteed to run at some time after the ETA, but not exactly at it. [S1]\n")
    report = write_report("Research brief:\nHow do I run a task later?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    answer, section = report.split("\n## ", 1)
    assert "Using apply_async()" not in answer and "The countdown is a shortcut" in answer
    assert "Using apply_async() instead you have to write. [S1]\n\n```\nadd.apply_async" in section


def test_a_report_of_one_passage_has_no_empty_answer_and_code_alone_is_never_the_answer() -> None:
    findings = "## Tasks\n\n```\ncode()\n```\n\nA task group waits for every task it started to finish. [S1]\n"
    report = write_report(f"Research brief:\nHow do task groups end?\n\nFindings (cited notes from the researchers):\n"
                          f"{findings}")
    assert report.startswith("# How do task groups end?\n\n## Tasks\n\nA task group waits")
    assert "\n\n\n" not in report


def test_a_section_left_with_nothing_but_a_sentence_the_answer_quoted_among_others_is_not_printed() -> None:
    from deep_research_mcp.llm.offline.report import _once

    # "This is helpful …" leans on the sentence before it, which the short answer quoted with its neighbours: the
    # section would only repeat it. Had the answer borrowed just that first sentence from this very passage (lent),
    # the passage stays whole, for the fact only it states.
    passage = [("Unset the bit to change the file.", ["S1"]), ("This is helpful on slow file systems.", ["S1"])]
    assert _once([passage], {"Unset the bit to change the file."}) == []
    assert _once([passage], {"Unset the bit to change the file."}, {"Unset the bit to change the file."}) == [passage]


def test_a_short_report_quotes_the_page_a_section_is_about_first() -> None:
    from deep_research_mcp import prompts

    # Topic 1's first ten notes quote ten pages once each, its next fifteen the page most of them quote (S1); topic
    # 2's all quote S2. At --length short each section has room for about fifteen sentences.
    notes = {1: [10 + n if n < 10 else 1 for n in range(25)], 2: [2] * 25}
    short = prompts.REPORT_LENGTH["short"]
    report = write_report(f"{_findings(notes)}\n\nAdditional instructions for this report:\n{short}")
    first = report.split("\n## ", 2)[1]  # topic 1's section
    pages = [int(n) for n in re.findall(r"\[S(\d+)\]", first)]
    assert 10 <= len(pages) <= 20  # a short report's share, not all 25
    # The page the topic is about leads and keeps its passages; pages quoted once only fill what room is left.
    assert pages[0] == 1 and pages.count(1) >= len(pages) - 5, pages
    # Each page's passages keep their order: the best first.
    quoted = [int(n) for n in re.findall(r"Statement t1n(\d+) ", first)]
    assert [n for n in quoted if n >= 10] == sorted(n for n in quoted if n >= 10)


def test_the_answer_prefers_passages_sharing_more_than_one_word_with_their_topic() -> None:
    # The first note, from a page quoted once, shares one word with the question: "drop(ped)".
    findings = (
        "## How do I make HAProxy drop root privileges after it starts?\n\n"
        "The silent-drop action makes the client believe the connection was dropped, and saves resources. [S7]\n"
        "The uid keyword changes the process's user ID once HAProxy has started as root. [S1]\n"
        "HAProxy must be started as root to bind to ports below 1024. [S1]\n"
        "Counters are tracked by the stick-table of the frontend. [S1]\n"
        "A chroot jail limits what a compromised process can reach once its privileges are dropped. [S1]\n")
    report = write_report("Research brief:\nHow do I make HAProxy drop root privileges after it starts?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    answer, section = report.split("\n## ", 1)
    assert answer.split("\n\n")[1].startswith("The uid keyword changes the process's user ID")
    assert "silent-drop" not in answer and "silent-drop" in section  # still quoted, in its section


def test_the_answer_quotes_a_sentence_its_page_states_twice_once() -> None:
    findings = (
        "## How is the location protected?\n\n"
        "Configure the location to be protected as the example below shows. [S4] "
        "Configure the location to be protected as the example below shows. [S4]\n"
        "Digest authentication sends no password in the clear over the network. [S4]\n"
        "The realm names the protected area that the browser shows to the user. [S5]\n")
    report = write_report("Research brief:\nHow is a location protected?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    assert report.count("Configure the location to be protected") == 1


def test_code_a_sentence_points_at_stands_before_it_and_the_two_stay_one_passage() -> None:
    from deep_research_mcp.llm.offline.report import parse_findings

    # The notes' form (model.compress_notes): a passage that opens with code starts after a blank line; the
    # pointing sentence right after the code reads on from it. Code right after a line is that line's example.
    findings = (
        "## Pagination\n\n"
        "A ListView paginates its objects when given a page size. [S2]\n\n"
        "```\nclass ContactListView(ListView):\n    paginate_by = 2\n```\n"
        "This limits the number of objects per page and adds a paginator to the context. [S1]\n"
        "Use the paginator in the template as shown here: [S1]\n```\n{{ page_obj.number }}\n```\n")
    section = parse_findings(findings)[0]
    assert [[text[:12] for text, _ in passage] for passage in section.passages] == [
        ["A ListView p"], ["```\nclass Co", "This limits "], ["Use the pagi", "```\n{{ page_"]]
    report = write_report("Research brief:\nHow do I paginate a ListView?\n\n"
                          f"Findings (cited notes from the researchers):\n{findings}")
    answer, body = report.split("\n## ", 1)
    assert "This limits" not in answer  # alone, it would point at nothing
    assert "paginate_by = 2\n```\n\nThis limits the number of objects per page" in body
