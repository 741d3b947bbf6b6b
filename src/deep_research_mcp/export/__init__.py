"""Exports of a finished run's report: md (as written), html, pdf, docx and json.

    ReportDocument.from_run(record)  ->  render(document, "pdf")  ->  bytes

Layering: the CLI and the server call this package; it reads the engine's result types only. Importing it is
cheap: each renderer imports its library (markdown-it-py, WeasyPrint, python-docx) when first used.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import ConfigError
from .document import FinishedRun, ReportDocument, source_href

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ExportFormat",
    "FinishedRun",
    "ReportDocument",
    "check_available",
    "format_of_path",
    "render",
    "source_href",
]

ExportFormat = Literal["md", "html", "pdf", "docx", "json"]
FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
}
_EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
               ".json": "json"}
# Each format's module (imported on first use) and the library it needs, for the error when it is missing.
_RENDERERS: dict[str, tuple[str, str]] = {
    "html": (".to_html", "markdown-it-py"),
    "pdf": (".to_pdf", "WeasyPrint (and Debian's libpango-1.0-0 and libpangoft2-1.0-0)"),
    "docx": (".to_docx", "python-docx"),
    "json": (".to_json", "pydantic"),
}


def format_of_path(path: Path) -> ExportFormat | None:
    """The format a file name asks for by its extension, if it is one of ours."""
    return _EXTENSIONS.get(path.suffix.lower())  # type: ignore[return-value]


def render(document: ReportDocument, fmt: ExportFormat) -> bytes:
    """The report in `fmt`. CPU work (a PDF takes ~0.5 s): async callers run it in a worker thread."""
    if fmt == "md":
        return document.markdown.encode()
    module = _renderer(fmt)
    data: bytes = module.render(document)
    return data


def check_available(fmt: ExportFormat) -> None:
    """Raise ConfigError naming what to install if `fmt` cannot be rendered here; called before research is paid."""
    if fmt != "md":
        _renderer(fmt)


def _renderer(fmt: str) -> Any:
    if fmt not in _RENDERERS:
        raise ConfigError(f"unknown export format {fmt!r}; the formats are {', '.join(FORMATS)}")
    module_name, needs = _RENDERERS[fmt]
    try:
        module = importlib.import_module(module_name, __name__)
        module.check()
    except (ImportError, OSError) as exc:
        raise ConfigError(f"the {fmt} export needs {needs}, which cannot be loaded here ({exc})") from None
    return module
