import pytest

from deep_research_mcp.tools import html_text
from deep_research_mcp.tools.html_text import close_open_fence, html_to_text


def test_visible_text_title_and_headings() -> None:
    page = html_to_text(
        "<html><head><title> FTS5 &amp; BM25 </title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><nav>Menu</nav><h1>Ranking</h1><p>BM25   is the\n default.</p><div hidden><p>secret</p></div>"
        "<ul><li>one</li><li>two</li></ul><pre>a  b\n  c</pre><template><p>t</p></template>"
        "<table><tr><td>x</td><td>y</td></tr></table></body></html>"
    )
    assert page.title == "FTS5 & BM25"
    assert page.text == "# Ranking\n\nBM25 is the default.\n\n- one\n- two\n\n```\na  b\n  c\n```\n\nx | y"
    assert not page.truncated


def test_title_falls_back_to_first_heading_and_broken_markup_survives() -> None:
    page = html_to_text("<body><h2>Only heading</h2><p>text <b>bold <i>unclosed</body><div><<<>>")
    assert page.title == "Only heading"
    assert page.text.startswith("## Only heading\n\ntext bold unclosed")


def test_nested_invisible_elements_close_properly() -> None:
    page = html_to_text("<div hidden><div><div>no</div></div>still hidden</div><p>shown</p>")
    assert page.text == "shown"


SPHINX = """<!DOCTYPE html><html><head><title>Coroutines &#8212; Docs</title></head><body>
<div class="related" role="navigation"><a href="index.html">previous</a></div>
<div class="body" role="main"><section id="coroutines">
<h1>Coroutines and <code class="docutils literal"><span class="pre">__enter__()</span></code><a class="headerlink"
 href="#coroutines" title="Permalink to this heading">¶</a></h1>
<p>Call <code>asyncio.run()</code> to <em>run</em> the top-level
entry point, and <code>__aexit__()</code> when done.</p>
<p class="rubric">Not a heading</p>
<div class="highlight-python3 notranslate"><div class="highlight">
<pre><span></span><span class="kn">import</span> asyncio

<span class="c1"># Wait for 1 hour</span>
<span class="k">async</span> <span class="k">def</span> <span class="nf">main</span><span class="p">():</span>
    <span class="n">task2</span> <span class="o">=</span> <span class="n">tg</span><span class="o">.</span>create_task(
        say_after(<span class="mi">2</span>, <span class="s1">&#39;world&#39;</span>))
</pre></div></div>
<ol class="arabic simple"><li><p>First step.</p></li><li><p>Second step.</p>
<ul><li>nested detail</li></ul></li><li><p>Third step.</p></li></ol>
<dl class="py function"><dt class="sig"><span class="sig-name">gather</span>(<em>*aws</em>)<a class="headerlink"
 href="#g">¶</a></dt><dd><p>Run awaitable objects concurrently.</p><p>Returns a list.</p></dd></dl>
<table class="docutils"><thead><tr><th><p>Name</p></th><th><p>Meaning</p></th></tr></thead>
<tbody><tr><td><p><code>FIRST_COMPLETED</code></p></td>
<td><p>Return when any future finishes.</p></td></tr></tbody></table>
<h2>Next<a class="headerlink" href="#n">¶</a></h2><p>More.</p>
</section></div>
<div class="sphinxsidebar" role="navigation"><h3>Navigation</h3><ul><li>Index</li></ul></div>
<div id="searchbox" style="display: none" role="search"><h3>Quick search</h3></div>
</body></html>"""

SPHINX_TEXT = """# Coroutines and __enter__()

Call asyncio.run() to run the top-level entry point, and __aexit__() when done.

Not a heading

```
import asyncio

# Wait for 1 hour
async def main():
    task2 = tg.create_task(
        say_after(2, 'world'))
```

1. First step.
2. Second step.
- nested detail
3. Third step.

gather(*aws)
Run awaitable objects concurrently.

Returns a list.

Name | Meaning
FIRST_COMPLETED | Return when any future finishes.

## Next

More."""


def test_sphinx_page_in_the_exact_format() -> None:
    page = html_to_text(SPHINX)
    assert page.title == "Coroutines — Docs"
    assert page.text == SPHINX_TEXT


def test_code_that_holds_a_fence_gets_a_longer_one_and_br_inside_pre_is_a_newline() -> None:
    page = html_to_text("<pre>```\nx\n```</pre><pre>a<br>  b</pre>")
    assert page.text == "````\n```\nx\n```\n````\n\n```\na\n  b\n```"


def test_a_paragraph_of_nothing_but_a_command_is_code() -> None:
    # The Apache manual's examples are <p><code> with <br> between lines, never <pre>.
    page = html_to_text('<p>Send it a command such as:</p><div class="example"><p><code>kill -TERM `cat a.pid`<br />\n'
                        '    tail -f error_log</code></p></div><p><code>httpd.conf</code></p>'
                        '<p><code>Storage.save()</code> allowed directory traversal.</p>')
    assert page.text == ("Send it a command such as:\n\n```\nkill -TERM `cat a.pid`\ntail -f error_log\n```\n\n"
                         "httpd.conf\n\nStorage.save() allowed directory traversal.")


def test_each_definition_term_opens_a_block_so_it_names_its_definition() -> None:
    # apachectl's options: one-line <dd>s; "stop" had been read as the end of the sentence before it.
    page = html_to_text("<dl><dt><code>restart</code></dt><dd>Restarts the daemon. It checks the configuration.</dd>"
                        "<dt><code>stop</code></dt><dd>Stops the daemon.</dd></dl>")
    assert page.text == "restart\nRestarts the daemon. It checks the configuration.\n\nstop\nStops the daemon."


def test_a_heading_that_only_links_elsewhere_is_site_chrome_not_a_section() -> None:
    page = html_to_text('<h1><a href="../index.html">Django documentation</a></h1><h1>QuerySet API</h1><p>x</p>'
                        '<h2><a href="#here">Anchored</a></h2>')
    assert page.text == "Django documentation\n\n# QuerySet API\n\nx\n\n## Anchored"
    assert page.title == "QuerySet API"


def test_docbook_and_sphinx_navigation_and_hidden_content_are_dropped() -> None:
    page = html_to_text(
        '<div class="navheader"><table><tr><td>Prev</td><td>Next</td></tr></table></div>'
        '<div class="sect1"><h2 class="title">VACUUM</h2><p>Reclaims storage.</p>'
        '<span aria-hidden="true">icon</span><p style="DISPLAY : NONE">gone</p></div>'
        '<div class="navfooter"><a href="x.html">Up</a></div>'
        # Django's theme: prev/next bar, sidebar, and Sphinx viewcode's "[source]" links.
        '<div class="nav">« previous | up</div><div id="sidebar"><h3>Last update:</h3></div>'
        '<dl><dt>atomic()<a href="_modules/x.html"><span class="viewcode-link">[source]</span></a></dt></dl>'
        # Sphinx's footer, an ARIA "contentinfo" landmark.
        '<div class="footer" role="contentinfo">© Copyright 2000-2022 Kitware. Created using Sphinx 4.5.0.</div>'
    )
    assert page.text == "## VACUUM\n\nReclaims storage.\n\natomic()"


def test_xhtml_with_an_encoding_declaration_and_entities() -> None:
    page = html_to_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html><html xmlns="http://www.w3.org/1999/'
                        'xhtml"><head><title>Caf&#233; &lt;x&gt;</title></head><body><p>a&nbsp;&amp;&nbsp;b</p>'
                        '</body></html>')
    assert page.title == "Café <x>"
    assert page.text == "a & b"


@pytest.mark.parametrize("markup", ["", "   \n", "<!-- only a comment -->", "</div>" * 10, "<", "\x01\x02", "<?xml?>"])
def test_nothing_readable_is_empty_text_not_an_error(markup: str) -> None:
    page = html_to_text(markup)
    assert page.text.strip("<>") == ""  # a lone "<" is text to a tolerant parser


def test_oversized_markup_is_cut_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_text, "MAX_HTML_CHARS", 1_000)
    page = html_to_text("<p>" + "word " * 1_000 + "</p><p>tail</p>")
    assert page.truncated and "tail" not in page.text and page.text.startswith("word word")
    monkeypatch.setattr(html_text, "MAX_HTML_CHARS", 10_000_000)
    monkeypatch.setattr(html_text, "MAX_ELEMENTS", 10)
    page = html_to_text("".join(f"<p>p{n}</p>" for n in range(50)))
    assert page.truncated and "p5" in page.text and "p49" not in page.text


def test_headings_and_code_leave_out_what_the_page_hides() -> None:
    page = html_to_text('<h2>Gates <span hidden>x</span><a class="headerlink" href="#g">¶</a><script>s()</script>'
                        '</h2><pre>open()<span aria-hidden="true">1</span>\n  close()</pre>')
    assert page.text == "## Gates\n\n```\nopen()\n  close()\n```"


def test_a_headings_link_to_itself_is_not_part_of_it() -> None:
    # Node.js's API pages end every heading with <a class="mark" href="#…">#</a>: "Class: Interface#" as a heading,
    # and "line-by-Line#:" wherever the heading labelled a quote. A "#" link in prose is the page's text.
    page = html_to_text('<h3>Example: Read file line-by-Line<span><a class="mark" href="#ex" id="ex">#</a></span></h3>'
                        '<p>See issue <a href="#i">#</a>.</p>')
    assert page.text == "### Example: Read file line-by-Line\n\nSee issue #."


@pytest.mark.parametrize(("title", "heading", "expected"), [
    ("Database transactions &#8212; Django 3.2 documentation", "Database transactions", "Database transactions"),
    ("Release notes | Example Site", "Release notes", "Release notes"),
    ("Release notes", "Release", "Release notes"),  # the heading is not the whole first part: kept as it is
    ("Release-notes for 2.0", "Release", "Release-notes for 2.0"),
    ("", "Only a heading", "Only a heading"),
])
def test_the_site_name_is_taken_off_the_title(title: str, heading: str, expected: str) -> None:
    assert html_to_text(f"<title>{title}</title><h1>{heading}</h1><p>x</p>").title == expected


def test_invisible_break_hints_inside_identifiers_are_removed() -> None:
    page = html_to_text("<title>x\x01\u200by</title>"
                        "<p>BGWORKER_BACKEND_&#8203;DATABASE_CONNECTION, pg_stat&shy;_activity, a\u2060b</p>")
    assert page.text == "BGWORKER_BACKEND_DATABASE_CONNECTION, pg_stat_activity, ab"
    assert page.title == "xy"


@pytest.mark.parametrize(("text", "closed"), [
    ("a\n```\ncode", "a\n```\ncode\n```"),
    ("```python\nx\n```\nafter", "```python\nx\n```\nafter"),
    ("````\n```\ninner", "````\n```\ninner\n````"),  # a shorter fence inside does not close it
    ("no code", "no code"),
    # Markdown documents (localdocs read_document) use tilde fences too, and close a fence with a longer run.
    ("a\n~~~\ncode", "a\n~~~\ncode\n~~~"),
    ("~~~ python\nx\n~~~\nafter", "~~~ python\nx\n~~~\nafter"),
    ("~~~\n```\ninner", "~~~\n```\ninner\n~~~"),  # a backtick line does not close a tilde fence
    ("```\nx\n`````\nafter", "```\nx\n`````\nafter"),  # a longer run closes
    ("```\nx\n```  \nafter", "```\nx\n```  \nafter"),  # trailing spaces after a closing run
    ("  ```\nx\n   ```\nafter", "  ```\nx\n   ```\nafter"),  # indented up to three spaces
    ("```\nx\n``` not a close", "```\nx\n``` not a close\n```"),  # text after the run: still code
])
def test_a_cut_inside_code_closes_the_fence(text: str, closed: str) -> None:
    assert close_open_fence(text) == closed


def test_a_heading_closed_by_another_heading_tag_ends_where_its_blocks_start() -> None:
    # SQLite's doclist.html: "<h2>…</h1>" — libxml2 left the h2 open, and the whole page became its heading.
    page = html_to_text("<body><div><h2 align=center>Documents</h1><p>One page.</p> Loose text. "
                        "<ul><li>Two</li></ul></div><p>After.</p></body>")
    assert page.text == "## Documents\n\nOne page.\n\nLoose text.\n\n- Two\n\nAfter."


def test_a_signature_with_reprs_in_it_is_code_and_others_stay_text() -> None:
    page = html_to_text(
        '<body><dl><dt class="sig sig-object py"><span class="pre">utcoffset</span>(<em>time=&lt;module '
        "'time'&gt;</em>)</dt><dd><p>Return the offset.</p></dd>"
        '<dt class="sig sig-object py">now(<em>tz</em>)</dt><dd><p>The time.</p></dd></dl></body>'
    )
    assert page.text == "`utcoffset(time=<module 'time'>)`\nReturn the offset.\n\nnow(tz)\nThe time."


def test_the_share_of_link_text_is_counted() -> None:
    listing = html_to_text("<body><p>See <a href='a.html'>alpha beta</a>, <a href='b.html'>gamma</a>.</p>"
                           "<h1>Heading words</h1><pre>code words</pre></body>")
    assert (listing.words, listing.linked_words) == (4, 3)


def test_what_a_site_keeps_from_its_own_search_is_chrome() -> None:
    page = html_to_text("<body><div class=nosearch><div class=tagline>Small. Fast.</div><ul><li>Home</li></ul>"
                        "</div><h1>Limits</h1><p>The limits.</p></body>")
    assert page.text == "# Limits\n\nThe limits."



def test_requirement_numbers_are_bookkeeping_not_text() -> None:
    """SQLite's requirements.html lists each statement under its number, with a note of where it comes from; code
    carries "/* IMP: R-… */". Shaped like the real page: the statements stay, each a paragraph of its own, and
    words that only look alike ("R-tree", the format "R-N-N") stay too."""
    page = html_to_text(
        "<body><h1>List Of Requirements</h1><p>Numbers read R-N-N-N; an R-tree index is another thing.</p><dl>"
        "<dt><b>R-00013-61831-22423-62410-56475-12017-42000-15640</b></dt>\n<dd><p>The key comes first and is "
        "separated from the value by a single \"=\" character.\n<i>(source: <a href=\"uri.html\">uri.html</a>, "
        "matrix: <a href='matrix/uri.html#R-00013-61831-22423-62410-56475-12017-42000-15640'>context</a>, "
        "<a href='matrix/matrix_duri.html#R-00013-61831-22423-62410-56475-12017-42000-15640'>detail</a>)</i></p>"
        "</dd>\n<dt><b>R-00041-06536-06136-27539-15037-63357-02924-13585</b></dt>\n<dd><p>Rows may be omitted. "
        "<i>(source: <a href=\"c3ref/vtab_distinct.html\">c3ref/vtab_distinct.html</a>, checked-by: th3/x.test, "
        "matrix: <a href='matrix/c3ref/vtab_distinct.html#R-00041-06536-06136'>context</a>)</i></p></dd></dl>"
        "<pre>#define SQLITE_UTF8    1    /* IMP: R-37514-35566 */\n#define SQLITE_ANY     5    /* Deprecated */</pre>"
        "<p>See <a href='lang.html#R-12345-54321'>the rule</a> (R-12345-54321) for details.</p></body>"
    )
    assert page.text == (
        "# List Of Requirements\n\nNumbers read R-N-N-N; an R-tree index is another thing.\n\n"
        "The key comes first and is separated from the value by a single \"=\" character.\n\nRows may be omitted.\n\n"
        "```\n#define SQLITE_UTF8    1\n#define SQLITE_ANY     5    /* Deprecated */\n```\n\nSee the rule for details."
    ), page.text


def test_prose_kept_in_pre_text_blocks_is_read_as_paragraphs_and_examples_stay_code() -> None:
    # HAProxy's manuals: prose wrapped at 80 columns in <pre class="text">, examples beside it, a caption inside the
    # example's <pre>, and a drop-down of the sections a keyword may be used in, inside the sentence naming it.
    page = ('<h2>4.2 timeout client</h2><pre class="text">Set the maximum inactivity time on the client side.\n'
            'An unspecified timeout results in an infinite timeout, which is not\nrecommended.\n\n'
            'Example :\n    defaults http\n    timeout client 30s\n</pre>'
            '<pre class="prettyprint"><div class="example-desc">Redirect all HTTP traffic to HTTPS.</div>'
            '<code>redirect scheme https if !{ ssl_fc }\n</code></pre>'
            '<pre class="text">A path used with "<span class="dropdown"><a href="#">ca-file</a>'
            '<ul class="dropdown-menu">'
            '<li>This keyword is available in sections :</li><li>Bind options</li></ul></span>" is relative to it.\n'
            '</pre><pre>plain code, five words here.\nsecond line of it, also five.</pre>')
    text = html_to_text(page).text
    assert ("Set the maximum inactivity time on the client side. An unspecified timeout results in an infinite "
            "timeout, which is not recommended.") in text.split("\n\n")
    assert "```\nExample :\n    defaults http\n    timeout client 30s\n```" in text
    assert "Redirect all HTTP traffic to HTTPS.\n\n```\nredirect scheme https if !{ ssl_fc }\n```" in text
    assert 'A path used with "ca-file" is relative to it.' in text and "available in sections" not in text
    assert "```\nplain code, five words here.\nsecond line of it, also five.\n```" in text  # a bare <pre> is code
    # Prose from a <pre> takes every paragraph's path: its words count, and a placeholder named like a tag is code.
    prose = html_to_text('<pre class="text">&lt;code&gt; is the HTTP status code that the server returns here.\n'
                         "It is one of the codes listed below in the table.</pre>")
    assert prose.text == ("`<code>` is the HTTP status code that the server returns here. It is one of the codes "
                          "listed below in the table.") and prose.words >= 20


_HELP_PAGE = """<html><body><h1>Vim documentation: change</h1><pre>
This file describes commands that delete or change text.  In this context,
changing text means deleting the text and replacing it with other text using
one command.  You can undo all of these commands.

==============================================================================
4. Complex changes                                      *complex-change*

4.2 Substitute                                          *:substitute*
                                                        *:s* *:su*
:[range]s[ubstitute]/{pattern}/{string}/[flags] [count]
                        For each line in [range] replace a match of {pattern}
                        with {string}.  When [range] and [count] are omitted,
                        replace in the current line only.

VIMINFO FILE NAME                                       *viminfo-file-name*

#       A count before "D", "o" and "O" has no effect on the
        command that follows it in Vi compatible mode.

The steps are taken in this order:
7. Set binary options
8. Perform GUI initializations
</pre></body></html>"""


def test_a_page_that_is_one_long_pre_of_prose_is_read_as_text() -> None:
    # Vim's help (and manual pages turned into HTML): the whole page is one <pre>, prose wrapped at 80 columns, with
    # numbered titles and command synopses; read as code, none of it was ever a sentence to quote.
    filler = "\n\n" + "More words of filler text here. " * 40
    text = html_to_text(_HELP_PAGE.replace("</pre>", filler + "</pre>")).text
    paragraphs = text.split("\n\n")
    assert ("This file describes commands that delete or change text. In this context, changing text means deleting "
            "the text and replacing it with other text using one command. You can undo all of these commands."
            ) in paragraphs
    assert "## 4. Complex changes" in paragraphs and "### 4.2 Substitute" in paragraphs
    assert "#### Viminfo file name" in paragraphs
    assert "```\n                                                        *:s* *:su*\n:[range]s[ubstitute]/{pattern}/" \
           "{string}/[flags] [count]\n```" in text  # the synopsis stays code, its description is prose
    assert any(p.startswith("For each line in [range] replace a match of {pattern} with {string}.") for p in paragraphs)
    assert any(p.startswith('`#` A count before "D"') for p in paragraphs)  # a flag, not a heading line
    assert "## 7. Set binary options" not in text  # a step of a list: no rule above it, no help tag
    # The same <pre> beside more text than it holds is an example on a page, and stays code.
    beside = html_to_text(_HELP_PAGE.replace("<pre>", "<p>" + "Words of the page around it. " * 200 + "</p><pre>"))
    assert "```\nThis file describes commands" in beside.text


def test_a_long_code_listing_that_is_the_whole_page_stays_code() -> None:
    listing = "\n".join(f"def handler_{i}(request):\n    return respond(request, status={i})\n" for i in range(80))
    text = html_to_text(f"<html><body><pre>{listing}</pre></body></html>").text
    assert text.startswith("```\ndef handler_0(request):") and text.count("```") == 2


def test_a_tag_written_out_in_the_text_is_code_not_markup() -> None:
    text = html_to_text("<p>It converts line breaks into HTML &lt;br&gt; and &lt;p class=x&gt; tags.</p>").text
    assert text == "It converts line breaks into HTML `<br>` and `<p class=x>` tags."


def test_texinfo_navigation_and_menus_are_chrome() -> None:
    page = ('<table class="header"><tr><td>[<a href="Files.html"> &lt;&lt; </a>]</td><td>[<a href="index.html"> Up '
            '</a>]</td></tr></table><h1>6 Shell Grammar</h1><table class="menu"><tr><td><a href="#s">6.1 Simple '
            'Commands</a></td><td></td></tr></table><p>A simple command is a sequence of words.</p>'
            '<p class="menu"><a href="mod/index.html">Modules</a> | <a href="faq.html">FAQ</a></p>')
    assert html_to_text(page).text == "# 6 Shell Grammar\n\nA simple command is a sequence of words."
