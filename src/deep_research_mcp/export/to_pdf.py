"""PDF rendered from the HTML export by WeasyPrint.

WeasyPrint lays out HTML and CSS itself (pango for text shaping; on Debian `libpango-1.0-0` and
`libpangoft2-1.0-0`) and writes tagged, linked PDF: the `[n]` citations stay clickable, internal links jump to the
Sources list and source URLs open in a browser. It needs no browser or TeX, installs from PyPI, and is kept by an
active team. It is given a URL fetcher that refuses everything: the page references nothing, and an export must
never download anything.
"""

from __future__ import annotations

from typing import Any, NoReturn

from .document import ReportDocument
from .to_html import page


def check() -> None:
    import weasyprint  # noqa: F401  (loads pango: an OSError here names the missing library)


def render(document: ReportDocument) -> bytes:
    from weasyprint import HTML

    data: bytes = HTML(string=page(document), url_fetcher=_refuse).write_pdf()
    return data


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"an export loads nothing; not fetching {url[:80]}")
