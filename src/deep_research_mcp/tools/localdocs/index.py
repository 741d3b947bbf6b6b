"""A persistent full-text index of a folder of documents: SQLite FTS5 with BM25 ranking, updated incrementally.

One database file per indexed folder (see `default_index_path`). Files are tracked by (mtime_ns, size) and sha256,
so a re-run only reads what changed. The class is synchronous and thread-safe: a writer connection for indexing and
a reader connection for searches, each behind its own lock, so with WAL a search never waits for an indexing batch.
Async callers run it with `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ...errors import InputError
from .filters import GENERATED_DESCRIPTION, PathFilter
from .kinds import COMPILATION_MIN_SECTIONS, WEIGHTS, is_compilation, page_kind
from .parsing import (
    HTML_SUFFIXES,
    KINDS_DESCRIPTION,
    MARKDOWN_SUFFIXES,
    RST_SUFFIXES,
    Section,
    chunk_sections,
    decode_text,
    document_bytes,
    document_name,
    parse_document,
)

# 2: HTML is read in the fenced-code/list/table format of tools/html_text.py, so every page is parsed again.
# 3: AsciiDoc cross-references in plain-text pages read as their labels.
# 4: files have a kind and a search weight (kinds.py).
# 5: symbol-bearing forms ("HEAD~2", "A..B") are indexed whole in the `symbols` column.
# 6: HTML pages are read without requirement numbers (SQLite's "R-…", tools/html_text.py).
# 7: a paragraph of nothing but a command is code, each definition term opens a block, site footers are dropped.
# 8: prose kept in <pre class="text"> is read as paragraphs, an example's caption apart from its code, drop-downs are
#    chrome (HAProxy's manuals); a tag written out in the text is a code span; texinfo navigation and menus are chrome.
# 9: a <pre> holding most of its page, partly prose, is a text page read chunk by chunk (Vim's help, Postfix's manual
#    pages), its numbered title lines ("4.2 Substitute") headings.
# 10: gzipped documents (x.md.gz, README.gz) and text files without a suffix are read; a page's gzipped or plain
#     markdown source beside it is the same page.
# 11: code in plain-text files is fenced (a block opening with a comment or prompt, or dense in code punctuation).
# 12: markdown's backslash escapes and roff font switches are read outside code ("buildah\-build", "\fB").
SCHEMA_VERSION = 12
_REDIRECT = re.compile(r"<meta\s(?=[^>]*http-equiv\s*=\s*[\"']?refresh\b)[^>]*content\s*=\s*[\"']?\s*0\s*;\s*url=",
                       re.IGNORECASE)
_REDIRECT_HEAD = 8_192  # a refresh is in the head
DEFAULT_MAX_FILE_BYTES = 5_000_000
BATCH_FILES = 200
# A text copy is the same page as its HTML when at least this share of its distinct words occur in the page.
DUPLICATE_WORD_SHARE = 0.6
# ... or, when the titles disagree, this share: an AsciiDoc source's title can read otherwise than its page's
# ("git-web{litdd}browse(1)" for "git-web--browse(1)", or a stray line taken for the title), while a copy holds
# nearly all of its page's words (git's manual: 0.94-1.00; unrelated pages of one manual share far fewer).
DUPLICATE_WORD_SHARE_UNTITLED = 0.9
_WORD = re.compile(r"[^\W_]{3,}")
MAX_QUERY_TERMS = 32
# Directories that are never documents and can be huge; hidden entries (".git", ".venv", ...) are skipped as well.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})
# BM25 column weights: title, heading, text, symbols. A match in a heading says more about a passage than one in its
# body; the symbols column holds forms of the body's own words (`symbol_terms`), so it weighs as the body does.
BM25_WEIGHTS = (3.0, 2.0, 1.0, 1.0)
_TERM = re.compile(r"[^\W_]+")
# Forms whose symbols carry their meaning: git's revision syntax ("HEAD~2", "HEAD^2", "A..B", "A...B", "HEAD@{1}").
# The tokenizer keeps letters and digits only, so "HEAD~2" is indexed as "head" "2" and "A...B" as "a" "b": a
# question about them would find every page that says "head" and "2". Each such form is indexed once more, whole, in
# the `symbols` column (spelled in letters and digits, which the tokenizer keeps as one token), and the forms a query
# holds are looked for there. A chunk of non-space text qualifies when it holds "~", "^", ".." or "@{" and a letter
# or digit; a lone "..." or "~" says nothing.
_SYMBOL_MARK = re.compile(r"[~^]|\.\.|@\{")
_SPACE = re.compile(r"\s")
_SYMBOL_EDGES = "\"'`()[],;:!?*"
MAX_SYMBOL_CHARS = 40
MAX_QUERY_SYMBOLS = 8
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "in", "is", "it", "of",
    "on", "or", "that", "the", "this", "to", "was", "what", "when", "where", "which", "who", "why", "with",
})

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    weight REAL NOT NULL DEFAULT 1.0
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    section INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_file ON passages(file_id, seq);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files(sha256);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, heading, text, symbols, tokenize = 'porter unicode61 remove_diacritics 2'
);
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(slots=True)
class IndexStats:
    """What one `index_directory` pass did. `seen` counts every regular file met, supported or not."""

    seen: int = 0
    indexed: int = 0  # new or changed files (re)written to the index
    unchanged: int = 0
    removed: int = 0
    skipped_binary: int = 0
    skipped_large: int = 0
    skipped_unsupported: int = 0
    skipped_duplicate: int = 0  # the same page held twice (a Sphinx source copy beside its HTML, identical bytes)
    skipped_excluded: int = 0  # by the user's include/exclude globs
    skipped_generated: int = 0  # builder output that is not a page (filters.GENERATED)
    skipped_redirect: int = 0  # a page that only sends the reader elsewhere (an immediate meta refresh)
    errors: int = 0  # files that could not be read (permissions, vanished, I/O errors)
    legacy_encoding: int = 0  # indexed, but not UTF-8: read as the page's declared charset or Windows-1252
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return (self.skipped_binary + self.skipped_large + self.skipped_unsupported + self.skipped_duplicate
                + self.skipped_excluded + self.skipped_generated + self.skipped_redirect)

    def describe(self) -> str:
        return (
            f"{self.seen:,} files seen · {self.indexed:,} indexed · {self.unchanged:,} unchanged · "
            f"{self.removed:,} removed · {self.skipped:,} skipped · {self.errors:,} errors · {self.seconds:.1f} s"
        )

    def skipped_reasons(self) -> str:
        """What was left out and why, e.g. "12 duplicates (…), 40 generated (…), 2 binary"; "" when nothing was."""
        reasons = [
            (self.skipped_duplicate, "duplicates (the same page twice, e.g. a Sphinx source copy; the HTML is kept)"),
            (self.skipped_generated, f"generated ({GENERATED_DESCRIPTION}; --include to keep)"),
            (self.skipped_excluded, "excluded by --include/--exclude"),
            (self.skipped_redirect, "redirect pages (an immediate refresh to another page)"),
            (self.skipped_binary, "binary"),
            (self.skipped_large, "too large"),
            (self.errors, "unreadable"),
            (self.skipped_unsupported, "of other types"),
        ]
        text = ", ".join(f"{count:,} {why}" for count, why in reasons if count)
        if self.legacy_encoding:
            text += f"{'; ' if text else ''}{self.legacy_encoding:,} not UTF-8 (read as their declared charset or " \
                    "Windows-1252)"
        return text

    def nothing_indexed(self, root: Path) -> str:
        """The message for a pass that found no document at all."""
        kinds = KINDS_DESCRIPTION
        reasons = self.skipped_reasons()
        found = f"{self.seen:,} files found, none of them a document: {reasons}" if self.seen else "the folder is empty"
        return f"no documents to index under {root} (looked for {kinds}; {found})"


@dataclass(frozen=True, slots=True)
class Passage:
    path: str
    title: str  # the document's title
    heading: str  # the section's heading ("" before the first heading)
    snippet: str  # the text around the match, matches marked **like this**
    text: str
    score: float  # higher is better (negated bm25)


Progress = Callable[[IndexStats], None]


def default_index_path(data_dir: Path, root: Path) -> Path:
    """Where the CLI and server keep the index of `root`: one file per resolved folder path."""
    digest = hashlib.sha256(str(Path(root).expanduser().resolve()).encode()).hexdigest()[:16]
    return Path(data_dir) / "index" / f"{digest}.sqlite"


def fts_query(query: str, operator: str = "OR") -> str:
    """Arbitrary user text as a safe FTS5 expression: each word quoted (so NEAR, AND, `*`, `-`, `"` are just words or
    gone), and each symbol-bearing form looked for whole in the `symbols` column, joined by `operator`. Stopwords are
    dropped unless nothing else is left. "" when there is no word."""
    words = list(dict.fromkeys(w.lower() for w in _TERM.findall(query)))
    content = [w for w in words if w not in _STOPWORDS] or words
    symbols = [f'symbols : "{term}"' for term in symbol_terms(query)[:MAX_QUERY_SYMBOLS]]
    return f" {operator} ".join([f'"{w}"' for w in content[: MAX_QUERY_TERMS - len(symbols)]] + symbols)


def symbol_terms(text: str) -> list[str]:
    """The symbol-bearing forms of `text` ("HEAD~2", "A...B"), each spelled as one token: letters and digits as
    they are, lower-cased, every other character as "x<hex code>x" ("head~2" -> "headx7ex2"). In order, once each."""
    terms: dict[str, None] = {}
    if "~" not in text and "^" not in text and ".." not in text and "@{" not in text:
        return []  # most passages: four substring scans, several times faster than the pattern's
    # From each mark out to the spaces around it, then on from there, so only the marks' chunks are read in Python
    # (a chunk such as an AsciiDoc "~~~~" underline holds many marks).
    mark = _SYMBOL_MARK.search(text)
    while mark is not None:
        at = start = mark.start()
        while start > 0 and not text[start - 1].isspace() and at - start <= MAX_SYMBOL_CHARS:
            start -= 1
        space = _SPACE.search(text, at)
        end = space.start() if space is not None else len(text)
        mark = _SYMBOL_MARK.search(text, end)
        chunk = text[start:end].strip(_SYMBOL_EDGES)
        if chunk.endswith(".") and not chunk.endswith(".."):
            chunk = chunk[:-1].rstrip(_SYMBOL_EDGES)  # a sentence's full stop
        if len(chunk) > MAX_SYMBOL_CHARS or not any(c.isalnum() for c in chunk) or not _SYMBOL_MARK.search(chunk):
            continue
        terms["".join(c if c.isalnum() else f"x{ord(c):x}x" for c in chunk.lower())] = None
    return list(terms)


class DocumentIndex:
    """The index stored at `db_path`. Create the folder (mode 0o700) and the file (0o600) when missing."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path).expanduser()
        try:
            _make_private_dirs(self.db_path.parent)
            if not self.db_path.exists():
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise InputError(f"cannot create the index file {self.db_path}: {exc.strerror or exc}") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._writer = _connect(self.db_path)
            self._ensure_schema()
            self._reader = _connect(self.db_path)
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(AttributeError):
                self._writer.close()
            raise InputError(f"the index {self.db_path} cannot be used ({exc}); delete it to rebuild") from exc

    def __enter__(self) -> DocumentIndex:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop a running `index_directory` at the next file (its last batch is rolled back) and close."""
        self._stop.set()
        with self._write_lock:
            self._writer.close()
        with self._read_lock:
            self._reader.close()

    def _ensure_schema(self) -> None:
        version = self._writer.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):  # written by another version: it is only a cache, so start over
            self._writer.executescript("DROP TABLE IF EXISTS passages_fts; DROP TABLE IF EXISTS passages; "
                                       "DROP TABLE IF EXISTS files;")
        self._writer.executescript(_SCHEMA)
        self._writer.execute("CREATE TEMP TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY)")

    # -- indexing ------------------------------------------------------------------------------------------------

    def index_directory(
        self, root: Path, *, progress: Progress | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> IndexStats:
        """Bring the index up to date with the files under `root`; `progress` gets a snapshot every batch.
        `include`/`exclude` are globs over paths relative to `root` (see `filters`); builder noise is skipped
        unless an include names it. Files no longer kept are removed from the index."""
        rules = PathFilter.of(include, exclude)
        root = Path(root).expanduser()
        if not root.is_dir():
            raise InputError(f"{root} is not a folder" if root.exists() else f"{root} does not exist")
        root = root.resolve()
        stats = IndexStats()
        started = time.perf_counter()

        def report() -> None:
            stats.seconds = time.perf_counter() - started
            if progress is not None:
                progress(dataclasses.replace(stats))

        with self._write_lock:
            db = self._writer
            try:
                db.execute("DELETE FROM temp.seen")
                with contextlib.closing(_walk(root, stats)) as files:
                    self._index_files(db, root, files, rules, stats, max_file_bytes, report)
                stats.removed = self._sweep(db, root)
                if stats.indexed or stats.removed:
                    self._weigh(db, root)
                    self._distinct_titles(db, root)
                db.execute("DELETE FROM temp.seen")
                db.commit()
            except BaseException:
                db.rollback()
                raise
        report()
        return stats

    def _index_files(
        self, db: sqlite3.Connection, root: Path, files: Iterator[os.DirEntry[str]], rules: PathFilter,
        stats: IndexStats, limit: int, report: Callable[[], None],
    ) -> None:
        prefix = len(str(root).rstrip(os.sep)) + 1
        # Text copies of pages that may sit beside their HTML (Sphinx's _sources/): read after every page is in, so
        # the copy can be compared with the page whatever order the folder lists them in.
        copies: list[tuple[os.DirEntry[str], str]] = []
        for entry in files:
            if self._stop.is_set():
                raise InterruptedError("the index was closed while indexing")
            stats.seen += 1
            verdict = rules.verdict(entry.path[prefix:].replace(os.sep, "/"))
            if verdict == "excluded":
                stats.skipped_excluded += 1
            elif verdict == "generated":
                stats.skipped_generated += 1
            elif (twin := _html_twin(entry.path, str(root))) is not None:
                copies.append((entry, twin))
            else:
                self._index_file(db, entry, stats, limit, prefix=prefix)
            if stats.seen % BATCH_FILES == 0:
                db.commit()
                report()
        for entry, twin in copies:
            if self._stop.is_set():
                raise InterruptedError("the index was closed while indexing")
            self._index_file(db, entry, stats, limit, twin=twin, prefix=prefix)

    def _index_file(
        self, db: sqlite3.Connection, entry: os.DirEntry[str], stats: IndexStats, limit: int, twin: str | None = None,
        prefix: int = 0,
    ) -> None:
        """Index one file. `twin` is the HTML page this file may be a text copy of: when it is (same title, the
        same words), the file is skipped as a duplicate and the page is kept. `prefix`: the length of the indexed
        folder's path and separator, so `entry.path[prefix:]` is the file's path under it."""
        name = document_name(entry.name)
        if name is None or entry.is_symlink():
            stats.skipped_unsupported += 1
            return
        try:
            info = entry.stat(follow_symlinks=False)
            row = db.execute("SELECT id, mtime_ns, size, sha256 FROM files WHERE path = ?", (entry.path,)).fetchone()
            if twin is None and row is not None and (row[1], row[2]) == (info.st_mtime_ns, info.st_size):
                db.execute("INSERT OR IGNORE INTO temp.seen VALUES (?)", (row[0],))
                stats.unchanged += 1
                return
            if info.st_size > limit:  # never opened: a 50 MB log costs one stat
                stats.skipped_large += 1
                return
            with open(entry.path, "rb") as handle:
                # Sized by stat, not by the cap: read(n) allocates n bytes up front, 5 MB for every small file.
                data = handle.read(info.st_size + 1)
                if len(data) > info.st_size:  # it grew since stat: read on, up to one byte over the cap
                    data += handle.read(limit + 1 - len(data))
        except OSError:
            stats.errors += 1
            return
        if len(data) > limit:
            stats.skipped_large += 1
            return
        content = document_bytes(entry.name, data, limit)
        if content is None:
            stats.errors += 1  # named .gz, not gzip data (or cut short): unreadable
            return
        if len(content) > limit:  # unpacked past the cap
            stats.skipped_large += 1
            return
        decoded = decode_text(content, name)
        if decoded is None:
            stats.skipped_binary += 1
            return
        text, legacy = decoded
        if Path(name).suffix.lower() in HTML_SUFFIXES and _REDIRECT.search(text[:_REDIRECT_HEAD]):
            # Texinfo and Sphinx leave a stub per moved node ("The node you are looking for is at Aliasing."): 144
            # of zsh's 186 pages. Titled like the topic, a stub won search slots and said nothing.
            stats.skipped_redirect += 1
            return
        digest = hashlib.sha256(data).hexdigest()
        if self._kept_elsewhere(db, digest, entry.path):
            stats.skipped_duplicate += 1
            return
        parsed = None
        if twin is not None:
            # A text copy of a page is reStructuredText or markdown whatever its .txt says (x.rst.txt, Django's x.txt).
            parsed = parse_document(_copy_source_name(name), text)
            if self._same_page(db, twin, parsed.title, parsed.sections):
                stats.skipped_duplicate += 1
                return
        if row is not None and row[3] == digest:  # touched, not changed
            db.execute("UPDATE files SET mtime_ns = ?, size = ? WHERE id = ?", (info.st_mtime_ns, info.st_size, row[0]))
            db.execute("INSERT OR IGNORE INTO temp.seen VALUES (?)", (row[0],))
            stats.unchanged += 1
            return
        if parsed is None:
            parsed = parse_document(name, text)
        if parsed.title == name != entry.name:  # titled by its name: the file's own ("php", not "php.txt")
            parsed = dataclasses.replace(parsed, title=entry.name)
        stats.legacy_encoding += legacy
        kind = page_kind(entry.path[prefix:].replace(os.sep, "/"), parsed.title, parsed.first_heading,
                         parsed.link_share, parsed.words)
        # The file's search weight follows from its kind, once the pass is in (`_weigh`).
        if row is None:
            file_id = db.execute(
                "INSERT INTO files (path, mtime_ns, size, sha256, title, kind) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.path, info.st_mtime_ns, info.st_size, digest, parsed.title, kind),
            ).lastrowid
        else:
            file_id = row[0]
            _delete_passages(db, file_id)
            db.execute(
                "UPDATE files SET mtime_ns = ?, size = ?, sha256 = ?, title = ?, kind = ? WHERE id = ?",
                (info.st_mtime_ns, info.st_size, digest, parsed.title, kind, file_id),
            )
        for seq, chunk in enumerate(chunk_sections(parsed.sections)):
            passage_id = db.execute(
                "INSERT INTO passages (file_id, seq, section) VALUES (?, ?, ?)", (file_id, seq, chunk.section)
            ).lastrowid
            db.execute(
                "INSERT INTO passages_fts (rowid, title, heading, text, symbols) VALUES (?, ?, ?, ?, ?)",
                (passage_id, parsed.title, chunk.heading, chunk.text, " ".join(symbol_terms(chunk.text))),
            )
        db.execute("INSERT OR IGNORE INTO temp.seen VALUES (?)", (file_id,))
        stats.indexed += 1

    @staticmethod
    def _kept_elsewhere(db: sqlite3.Connection, digest: str, path: str) -> bool:
        """Whether a file with exactly these bytes is already kept by this pass under another path (the first one
        met keeps the place; folder listings come in a stable order, so it stays the same one)."""
        found = db.execute(
            "SELECT 1 FROM files WHERE sha256 = ? AND path != ? AND id IN (SELECT id FROM temp.seen) LIMIT 1",
            (digest, path),
        ).fetchone()
        return found is not None

    def _same_page(self, db: sqlite3.Connection, twin: str, title: str, sections: list[Section]) -> bool:
        """Whether a text copy holds the page `twin`: the page is indexed in this pass, and most of the copy's
        words occur in the page (markup such as `.. code-block::` accounts for the rest) when its title starts with
        the copy's (Sphinx appends " — Project documentation"), nearly all of them when the titles disagree."""
        row = db.execute(
            "SELECT id, title FROM files WHERE path = ? AND id IN (SELECT id FROM temp.seen)", (twin,)
        ).fetchone()
        if row is None:
            return False
        copy_key = _title_key(title)
        titled = bool(copy_key) and _title_key(row[1]).startswith(copy_key)
        copy_words = _words(" ".join(f"{s.heading} {s.body}" for s in sections))
        if not copy_words:
            return titled
        page_words: set[str] = set()
        for (text,) in db.execute(
            "SELECT fts.text FROM passages AS p JOIN passages_fts AS fts ON fts.rowid = p.id WHERE p.file_id = ?",
            (row[0],),
        ):
            page_words |= _words(text)
        share = DUPLICATE_WORD_SHARE if titled else DUPLICATE_WORD_SHARE_UNTITLED
        return len(copy_words & page_words) >= share * len(copy_words)

    def _weigh(self, db: sqlite3.Connection, root: Path) -> None:
        """Each file's search weight from its stored kind (the one place it is set), and compilations found: a page
        most of whose sections are titled as other pages under `root` are (kinds.is_compilation). Only pages with
        many sections are read, so a pass costs a few queries."""
        under = _under(root)
        files = {
            file_id: _title_key(title)
            for file_id, title in db.execute(f"SELECT id, title FROM files WHERE {_UNDER}", under)
        }
        titles: dict[str, int] = {}
        for key in files.values():
            titles[key] = titles.get(key, 0) + 1
        compilations: list[int] = []
        for (file_id,) in db.execute(
            "SELECT file_id FROM passages GROUP BY file_id HAVING count(DISTINCT section) >= ?",
            (COMPILATION_MIN_SECTIONS,),
        ).fetchall():
            if file_id not in files:
                continue
            own = files[file_id]
            headings = {
                _title_key(heading)
                for (heading,) in db.execute(
                    "SELECT fts.heading FROM passages AS p JOIN passages_fts AS fts ON fts.rowid = p.id "
                    "WHERE p.file_id = ?", (file_id,),
                )
            } - {""}
            others = {key for key, count in titles.items() if key != own or count > 1}
            if is_compilation(headings, others):
                compilations.append(file_id)
        db.execute(f"UPDATE files SET weight = CASE kind {' '.join(f'WHEN {k!r} THEN {w}' for k, w in WEIGHTS.items())}"
                   f" ELSE 1.0 END WHERE {_UNDER}", under)
        db.executemany("UPDATE files SET weight = weight * ? WHERE id = ?",
                       [(WEIGHTS["compilation"], file_id) for file_id in compilations])

    @staticmethod
    def _distinct_titles(db: sqlite3.Connection, root: Path) -> None:
        """Pages under `root` that share a title get the shortest tail of their path that tells them apart: Sphinx
        titles every changelog page of a project "Change history", and Django has a "Signals" page in both ref/ and
        topics/; a report citing two of them would list the same source twice to a reader. "Change history
        (changelog-3.1)", "Signals (ref/signals)". Run after every pass that changed something; a title already given
        its tail is recognised by it, so the tails are added once."""
        groups: dict[str, list[tuple[int, str, list[str]]]] = {}
        for file_id, path, title in db.execute(f"SELECT id, path, title FROM files WHERE {_UNDER}", _under(root)):
            tails = _path_tails(path, root)
            base = next((title.removesuffix(f" ({tail})") for tail in tails if title.endswith(f" ({tail})")), title)
            groups.setdefault(_title_key(base), []).append((file_id, base, tails))
        for group in groups.values():
            if len(group) < 2:
                continue
            depth = next((d for d in range(max(len(t) for _, _, t in group))
                          if len({t[min(d, len(t) - 1)] for _, _, t in group}) == len(group)), None)
            if depth is None:
                continue  # the paths would not tell them apart either
            for file_id, base, tails in group:
                title = f"{base} ({tails[min(depth, len(tails) - 1)]})"
                db.execute("UPDATE files SET title = ? WHERE id = ?", (title, file_id))
                db.execute("UPDATE passages_fts SET title = ? WHERE rowid IN (SELECT id FROM passages WHERE "
                           "file_id = ?)", (title, file_id))

    def _sweep(self, db: sqlite3.Connection, root: Path) -> int:
        """Drop files under `root` this pass did not keep: deleted, now binary, too large or unreadable. Other
        folders sharing the database are left alone."""
        gone = [
            file_id
            for (file_id,) in db.execute(
                f"SELECT id FROM files WHERE {_UNDER} AND id NOT IN (SELECT id FROM temp.seen)", _under(root)
            )
        ]
        for file_id in gone:
            _delete_passages(db, file_id)
            db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        return len(gone)

    # -- reading -------------------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The `k` best passages for arbitrary text: passages with every word first, then any word."""
        k = max(1, int(k))
        found: list[Passage] = []
        strict, loose = fts_query(query, "AND"), fts_query(query, "OR")
        for expression in dict.fromkeys(e for e in (strict, loose) if e):
            seen = {(p.path, p.text) for p in found}
            found += [p for p in self._match(expression, k) if (p.path, p.text) not in seen]
            if len(found) >= k:
                break
        return found[:k]

    def _match(self, expression: str, k: int) -> list[Passage]:
        # Ranked first, read after: the k best rows are chosen from the scores alone, and only they have their text
        # and snippet read. In one query SQLite computes every result column of every matching row before sorting;
        # an OR of common words matches most of a manual (6,958 of SQLite's 7,812 passages), so the snippets cost
        # more than the ranking (SQLite's docs: 39-55 ms a search -> 21-39 ms, the same rows in the same order).
        sql = f"""
            WITH top AS MATERIALIZED (
                SELECT fts.rowid AS id, bm25(passages_fts, {", ".join(map(str, BM25_WEIGHTS))}) * f.weight AS score
                FROM passages_fts AS fts JOIN passages AS p ON p.id = fts.rowid JOIN files AS f ON f.id = p.file_id
                WHERE passages_fts MATCH ? ORDER BY score LIMIT ?)
            SELECT f.path, fts.title, fts.heading, snippet(passages_fts, 2, '**', '**', '…', 40), fts.text, top.score
            FROM top JOIN passages_fts AS fts ON fts.rowid = top.id JOIN passages AS p ON p.id = fts.rowid
            JOIN files AS f ON f.id = p.file_id
            WHERE passages_fts MATCH ? ORDER BY top.score, top.id"""
        with self._read_lock:
            rows = self._reader.execute(sql, (expression, k, expression)).fetchall()
        return [Passage(path, title, heading, snippet, text, -score) for path, title, heading, snippet, text, score
                in rows]

    def read(self, path: str, section: str | None = None) -> tuple[str, str]:
        """(title, text) of an indexed document, or of its first section whose heading matches `section`
        (exactly, ignoring case, else as a substring). `path` may also be a unique tail such as "guide/intro.md"."""
        with self._read_lock:
            file_id, _, title = self._resolve(path)
            rows = self._reader.execute(
                "SELECT p.section, fts.heading, fts.text FROM passages AS p JOIN passages_fts AS fts "
                "ON fts.rowid = p.id WHERE p.file_id = ? ORDER BY p.seq",
                (file_id,),
            ).fetchall()
        if section is None or not section.strip():
            return title, "\n\n".join(text for _, _, text in rows)
        wanted = " ".join(section.split()).casefold()
        headings = list(dict.fromkeys((ordinal, heading) for ordinal, heading, _ in rows))
        match = next((h for h in headings if h[1].casefold() == wanted), None) or next(
            (h for h in headings if wanted in h[1].casefold()), None
        )
        if match is None:
            known = ", ".join(repr(h) for _, h in headings if h)[:2_000] or "none"
            raise InputError(f"no section {section!r} in {path}; its sections are: {known}")
        return f"{title} — {match[1]}", "\n\n".join(text for ordinal, _, text in rows if ordinal == match[0])

    def locate(self, path: str) -> str:
        """The indexed absolute path that `path` names (itself, a relative tail, or an unresolved form)."""
        with self._read_lock:
            return self._resolve(path)[1]

    def _resolve(self, path: str) -> tuple[int, str, str]:
        missing = InputError(f"{path!r} is not in the document index; use a path from a search result")
        given = path.strip()
        if not given or "\x00" in given:
            raise missing
        candidates = [given]
        with contextlib.suppress(OSError, ValueError):
            candidates.append(str(Path(given).expanduser().resolve()))
        for candidate in dict.fromkeys(candidates):
            row = self._reader.execute("SELECT id, path, title FROM files WHERE path = ?", (candidate,)).fetchone()
            if row is not None:
                return row[0], row[1], row[2]
        relative = os.path.normpath(given)
        if not os.path.isabs(relative) and not relative.startswith(".."):
            tail = os.sep + relative
            rows = self._reader.execute(
                "SELECT id, path, title FROM files WHERE substr(path, -?) = ? LIMIT 2", (len(tail), tail)
            ).fetchall()
            if len(rows) == 1:  # an ambiguous tail is refused rather than guessed
                return rows[0][0], rows[0][1], rows[0][2]
        raise missing

    def document_count(self, root: Path | None = None) -> int:
        """Indexed files, all of them or those under `root`."""
        with self._read_lock:
            if root is None:
                return int(self._reader.execute("SELECT count(*) FROM files").fetchone()[0])
            query = f"SELECT count(*) FROM files WHERE {_UNDER}"
            return int(self._reader.execute(query, _under(Path(root).expanduser().resolve())).fetchone()[0])


# Files under a folder, by the stored path's start: the folder's path and a separator, so "/docs" holds "/docs/a.html"
# and not "/docs2/a.html". Other folders may share the database.
_UNDER = "substr(path, 1, ?) = ?"


def _under(root: Path) -> tuple[int, str]:
    """The parameters of `_UNDER` for `root`."""
    prefix = str(root).rstrip(os.sep) + os.sep
    return len(prefix), prefix


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: calls arrive on asyncio.to_thread workers; each connection has its own lock.
    db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, and the index is rebuildable
    return db


def _path_tails(path: str, root: Path) -> list[str]:
    """The tails of a file's path under `root` without its extension, shortest first: "signals", "ref/signals"."""
    relative = os.path.relpath(path, root) if os.path.isabs(path) else path
    parts = os.path.splitext(relative)[0].split(os.sep)
    return ["/".join(parts[-n:]) for n in range(1, len(parts) + 1)]


def _make_private_dirs(directory: Path) -> None:
    """Create missing folders with mode 0o700; existing ones (the user's own, say /tmp) keep their mode."""
    missing: list[Path] = []
    current = directory.absolute()
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)


def _delete_passages(db: sqlite3.Connection, file_id: int) -> None:
    db.execute("DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE file_id = ?)", (file_id,))
    db.execute("DELETE FROM passages WHERE file_id = ?", (file_id,))


def _walk(root: Path, stats: IndexStats) -> Iterator[os.DirEntry[str]]:
    """Files under `root`, lazily: only the folders still to visit are held, never the tree. Symlinked folders are
    not entered, so nothing outside `root` gets in and link loops cannot happen."""
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if entry.name not in SKIPPED_DIRS:
                                pending.append(entry.path)
                        elif entry.is_file():  # a symlink to a file counts; _index_file skips it
                            yield entry
                    except OSError:
                        stats.errors += 1
        except OSError:
            stats.errors += 1


def _title_key(title: str) -> str:
    # Letters and digits only: "``QuerySet`` API reference" and "QuerySet API reference — Django docs" compare.
    return "".join(ch for ch in title.casefold() if ch.isalnum())


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _copy_source_name(name: str) -> str:
    """The name to parse a text copy of a page by: x.rst.txt → x.rst, x.md.txt → x.md, and a bare x.txt (Django's
    sources are reStructuredText named .txt) → x.rst; a source named by its own syntax (x.md) as it is."""
    if not name.lower().endswith(".txt"):
        return name
    stem = name[: -len(".txt")]
    return stem if os.path.splitext(stem)[1].lower() in RST_SUFFIXES | MARKDOWN_SUFFIXES else stem + ".rst"


def _html_twin(path: str, root: str) -> str | None:
    """For a text file that may be a copy of a page, the page's path when that file exists: Sphinx keeps
    `<root>/_sources/a/b.rst.txt` (or `b.txt`) for `<root>/a/b.html`; other tools put `b.txt` or the page's source
    (`b.md`, gzipped by Debian: Node's `b.md.gz`) beside `b.html`."""
    stem, syntax = os.path.splitext(_copy_source_name(document_name(os.path.basename(path)) or ""))
    if syntax.lower() not in RST_SUFFIXES | MARKDOWN_SUFFIXES:
        return None
    folder = os.path.dirname(path)
    parts = os.path.relpath(folder, root).split(os.sep)
    if "_sources" in parts:
        at = len(parts) - 1 - parts[::-1].index("_sources")
        folder = os.path.join(root, *parts[:at], *parts[at + 1 :])
    for suffix in (".html", ".htm"):
        candidate = os.path.join(folder, stem + suffix)
        if os.path.isfile(candidate):
            return candidate
    return None
