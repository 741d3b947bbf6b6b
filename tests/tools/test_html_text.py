from deep_research_mcp.tools.html_text import html_to_text


def test_visible_text_title_and_headings() -> None:
    page = html_to_text(
        "<html><head><title> FTS5 &amp; BM25 </title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><nav>Menu</nav><h1>Ranking</h1><p>BM25   is the\n default.</p><div hidden><p>secret</p></div>"
        "<ul><li>one</li><li>two</li></ul><pre>a  b\n  c</pre><template><p>t</p></template>"
        "<table><tr><td>x</td><td>y</td></tr></table></body></html>"
    )
    assert page.title == "FTS5 & BM25"
    assert "# Ranking" in page.text and "BM25 is the default." in page.text
    assert "- one" in page.text and "- two" in page.text
    assert "a  b\nc" in page.text  # pre keeps inner spacing; line indentation is not kept
    for hidden in ("alert", "color:red", "secret", ">t<"):
        assert hidden not in page.text
    assert "x" in page.text and "y" in page.text


def test_title_falls_back_to_first_heading_and_broken_markup_survives() -> None:
    page = html_to_text("<body><h2>Only heading</h2><p>text <b>bold <i>unclosed</body><div><<<>>")
    assert page.title == "Only heading"
    assert "text bold unclosed" in page.text


def test_nested_invisible_elements_close_properly() -> None:
    page = html_to_text("<div hidden><div><div>no</div></div>still hidden</div><p>shown</p>")
    assert page.text == "shown"
