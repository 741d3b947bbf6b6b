"""Local documents: a persistent SQLite FTS5 index of a folder and the research tools that search and read it.

    tools = await open_local_documents(folder, default_index_path(settings.data_dir, folder))
    ...  # hand `tools` to the engine
    close_local_documents(tools)
"""

from __future__ import annotations

from .filters import GENERATED, PathFilter
from .index import DEFAULT_MAX_FILE_BYTES, DocumentIndex, IndexStats, Passage, default_index_path, fts_query
from .parsing import SUPPORTED_SUFFIXES
from .tools import ReadDocumentTool, SearchDocumentsTool, close_local_documents, open_local_documents

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "GENERATED",
    "DocumentIndex",
    "IndexStats",
    "Passage",
    "PathFilter",
    "ReadDocumentTool",
    "SearchDocumentsTool",
    "close_local_documents",
    "default_index_path",
    "fts_query",
    "open_local_documents",
]
