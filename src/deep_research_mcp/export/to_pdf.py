"""PDF rendered from the HTML export by WeasyPrint.

WeasyPrint lays out HTML and CSS itself (pango shapes the text; on Debian `libpango-1.0-0` and `libpangoft2-1.0-0`,
and a font such as `fonts-dejavu-core`) and writes linked PDF: the `[n]` citations jump to the Sources list and the
sources' URLs open in a browser. It needs no browser or TeX, installs from PyPI and is actively kept. Its URL
fetcher here refuses every request: the page references nothing, and an export must never download anything.
"""

from __future__ import annotations

from typing import Any

from .document import ReportDocument
from .to_html import page


def check() -> None:
    import weasyprint  # noqa: F401  (loads pango: an OSError here names the missing library)


def render(document: ReportDocument) -> bytes:
    from weasyprint import HTML

    data: bytes = HTML(string=page(document), url_fetcher=_refusing_fetcher()).write_pdf()
    return data


def _refusing_fetcher() -> Any:
    from weasyprint import URLFetcher  # the fetcher API since WeasyPrint 68

    class RefuseAll(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"an export loads nothing; not fetching {url[:80]}")

    return RefuseAll()
