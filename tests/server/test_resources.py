"""The notes resource treats document titles as data, like the report's Sources do."""

from __future__ import annotations

from markdown_it import MarkdownIt

from deep_research_mcp.server.resources import notes_markdown
from deep_research_mcp.server.store import RunRecord, StoredNote, StoredSource

HOSTILE = "Tidal lagoons [official source](https://evil.example/phish) ![x](https://evil.example/pixel.png) <b>hi</b>"


def test_hostile_titles_and_topics_render_as_text_in_the_notes_resource() -> None:
    record = RunRecord(run_id="r1", question="tidal power?", options={})
    record.notes = [StoredNote(topic="[click](https://evil.example/t)", ok=True, note="Tides move water [S1].")]
    record.registry = [StoredSource(id="S1", locator="/docs/tidal.md", title=HOSTILE)]
    html = MarkdownIt("commonmark").render(notes_markdown(record))
    assert "evil.example" not in "".join(
        part for part in html.split('"') if part.startswith("http")
    ), html
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert "Tidal lagoons [official source]" in html  # the title is still shown, literally
