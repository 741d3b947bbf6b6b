"""What a model is told about `fetch_url`, apart from the fetcher itself: listing the tool must not import the HTTP
client (aiohttp is ~10 MB and a fifth of a second), which a research that never fetches never needs."""

from __future__ import annotations

from typing import Any

NAME = "fetch_url"
DESCRIPTION = (
    "Fetch a web page by URL (http or https) and return its readable text and title. Use it to read a page found "
    "by search in full. Works for HTML, plain text, markdown, JSON and XML; not for PDFs, images or other binaries."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"url": {"type": "string", "description": "Absolute http(s) URL of the page to read"}},
    "required": ["url"],
    "additionalProperties": False,
}
