"""Inline markup read as quotable text: reST roles as names, identifiers and placeholders kept whole as code, markup
and citation-like marks dropped."""

from __future__ import annotations

from deep_research_mcp.llm.offline.inline import clean_inline


def test_rest_markup_is_read_as_names_and_identifiers_stay_whole() -> None:
    assert clean_inline("Use :func:`~asyncio.gather` or :meth:`Task.cancel`.") == (
        "Use asyncio.gather() or Task.cancel().")
    assert clean_inline("See :ref:`the tutorial <tut-ref>` and ``await``.") == "See the tutorial and await."
    # Special methods stay whole, in code spans: bare, Markdown would print "__enter__" as a bold "enter".
    assert clean_inline("Define __enter__() and obj.__exit__() on a _private_ class.") == (
        "Define `__enter__()` and `obj.__exit__()` on a private class.")
    assert clean_inline("Set work_mem and max_wal_size.") == "Set work_mem and max_wal_size."
    # A list holding a zero is a value, not a citation mark to drop ("… return." was all that was left).
    assert clean_inline("range(4) and range(0, 4, 1) return [0, 1, 2, 3].") == (
        "range(4) and range(0, 4, 1) return `[0, 1, 2, 3]`.")
    # A name that goes on after its underscores is no emphasis either (Werkzeug's "_cache_{name}" became "cache{name}").
    assert clean_inline("It must add _cache_{name} as a slot, like obj._x_.") == (
        "It must add _cache_{name} as a slot, like obj._x_.")
    # "[0]" after a name is an index, not a citation to strip; an underscored alias is a name, not emphasis.
    assert clean_inline('The name is in argv[0], argv[1] is NULL; "oid" or "_rowid_" and _ROWID_ work.') == (
        'The name is in `argv[0]`, `argv[1]` is NULL; "oid" or "`_rowid_`" and `_ROWID_` work.')
    # An address is kept as code, where the citation pass leaves it alone: dropped, "The website uses it" failed the
    # claim check against a page that names the site, and "found at This will list …" read as nonsense.
    assert clean_inline("The website (https://www.sqlite.org/) uses it; see [2].") == (
        "The website (`https://www.sqlite.org/`) uses it; see.")
    assert clean_inline("It is at http://www.apache.org/. This will list it.") == (
        "It is at `http://www.apache.org/`. This will list it.")
    assert clean_inline("No need to map the name for <jane@laptop.(none)> here.") == (
        "No need to map the name for `<jane@laptop.(none)>` here.")
    # A configuration section's closing tag or a tag with arguments (Apache httpd's manual) is code too; it was
    # escaped to "&lt;/Location>" in the report.
    assert clean_inline('It ends with a </Location> directive; use <Directory "/srv/www"> or <VirtualHost *:80>.') == (
        'It ends with a `</Location>` directive; use `<Directory "/srv/www">` or `<VirtualHost *:80>`.')
    assert clean_inline('Some <b>bold</b> and <a href="x">linked</a> text, where x < y and y > z.') == (
        "Some bold and linked text, where x < y and y > z.")


def test_a_placeholder_in_a_name_is_kept_as_code_and_real_tags_still_go() -> None:
    # Read as a tag, "<fieldname>" vanished: "clean_()" misquotes the page and loses the documented name.
    assert clean_inline("Call clean_<fieldname>() on the form.") == "Call `clean_<fieldname>()` on the form."
    assert clean_inline("Templates go to <app_label>/<model_name>_list.html.") == (
        "Templates go to `<app_label>/<model_name>_list.html`.")
    # Escaped as an inert "&lt;your@email.address>" it read as raw markup in git's manual's reports.
    assert clean_inline("an identity of the form Your Name <your@email.address>.") == (
        "an identity of the form Your Name `<your@email.address>`.")
    # A placeholder of several words (git's object format), also inside a code span already made of a name.
    assert clean_inline("a header <ascii type without space> + <byte\\0>, maintenance.<task>.schedule.") == (
        "a header `<ascii type without space>` + `<byte\\0>`, `maintenance.<task>.schedule`.")
    assert clean_inline("A <b>bold</b> word, a <a href='x'>link</a>,<br/> and a < b > c.") == (
        "A bold word, a link, and a < b > c.")


def test_a_word_with_an_expression_in_angle_brackets_is_one_code_span() -> None:
    """CMake's names and generator expressions ("CMAKE_<LANG>_FLAGS_<CONFIG>", "$<CONFIG:Debug>") were cut into
    pieces: "_FLAGS_" read as an underscored name, "$" and ":" fell outside the span, and the rest showed as "&lt;"."""
    assert clean_inline("It uses CMAKE_<LANG>_FLAGS_<CONFIG> values.") == (
        "It uses `CMAKE_<LANG>_FLAGS_<CONFIG>` values.")
    assert clean_inline("the $<CONFIG> and $<CONFIG:Debug> expressions") == (
        "the `$<CONFIG>` and `$<CONFIG:Debug>` expressions")
    assert clean_inline("(e.g. -DCMAKE_POLICY_DEFAULT_CMP<NNNN>=<OLD|NEW>).") == (
        "(e.g. `-DCMAKE_POLICY_DEFAULT_CMP<NNNN>=<OLD|NEW>`).")
    assert clean_inline("args <string[]> array of argument strings.") == "args `<string[]>` array of argument strings."
    # A term already in a code span is not wrapped again; brackets that do not pair up are left as text.
    assert clean_inline("`--repeat-until-fail <n>` Equivalent to until-fail:<n>.") == (
        "`--repeat-until-fail <n>` Equivalent to `until-fail:<n>`.")
    assert clean_inline("where x<y> z and a<b") == "where `x<y>` z and a<b"


def test_typewriter_quotes_are_not_code_spans() -> None:
    # The grave accent of "`/'" opened a code span that ran into the next real one: raw markup in the report.
    assert clean_inline("None of the wildcards match a `/' character, so <Directory \"/*/x\"> fails.") == (
        "None of the wildcards match a ‘/’ character, so `<Directory \"/*/x\">` fails.")
    assert clean_inline("Use `don't` here.") == "Use `don't` here."
