"""Extractive reading without a model: markdown-aware sentence splitting, crude stemming, BM25-style ranking.

Everything here works on the few documents one researcher retrieved, never on a whole corpus, so simple
per-call statistics (document frequencies over the candidate sentences) are both cheap and good enough.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...spans import outside

# Hyphenated, dotted and snake_case compounds stay one token ("deep-research-mcp" is a name, not three words).
_TOKEN = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_PART = re.compile(r"[-_.]")


def word_set(text: str) -> frozenset[str]:
    """A word list written as one string, so long lists stay readable."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a about above after again against all also am an and any are aren as at be because been before being below
    between both but by can cannot could did didn do does doesn doing don down during each either else ever every few
    for from further get gets got had has have having he her here hers herself him himself his how i if in into is isn
    it its itself just let me might more most much must my myself need no nor not now of off on once one only or other
    our ours out over own per please same shall she should so some such than that the their theirs them themselves
    then there these they this those through thus to too under until up upon us very via was wasn we were what when
    where whether which while who whom whose why will with within without would yet you your yours"""
)
# Question scaffolding: words that shape a request but say nothing about its subject.
GENERIC = word_set(
    """compare compared comparing comparison difference differences differ differs distinguish explain describe
    overview tell know want like way ways thing things work works working mean means meaning versus vs kind kinds
    type types main key major primary important example examples better best worse worst list give show find
    happen happens happened use used using handle handles handled handling keep keeps kept make makes made
    making ensure ensures deal deals dealt"""
)
MAX_OPEN_CHARS = 300  # a stray "(" (a list's "a)" written as "(a") does not swallow a whole paragraph
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|eg|ie|viz|etc|vs|cf|approx|dr|mr|mrs|ms|st|no|fig|inc|ltd|jr|sr)\.$",
                           re.IGNORECASE)
_INITIAL = re.compile(r"\b[A-Z]\.$")  # "J. Smith", but not "13.5 m."
_WORD_CHAR = re.compile(r"\w")
_ALNUM = re.compile(r"[a-z0-9]+")
_OPEN_END = re.compile(r"\b(?:that|which|who|whose|the|a|an|of|to|and|or|is|are|as|with|for|from|by|in|on|either|both|"
                       r"whether|when|if|than)$", re.IGNORECASE)
_LONE_DOT = re.compile(r"\s\.$")  # a "." standing alone is a path ("cmake --build . will use …"), not a full stop
_ANAPHORA = re.compile(r"^(?:it|its|this|these|that|those|they|their|he|she|his|her)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(r"^(?:see|read|click|visit|learn more|for more|check out|subscribe|sign up)\b", re.IGNORECASE)
# Any word may open a sentence ("… as low as 49%. deep-research-mcp makes …"); abbreviations are merged back after.
# A closing quote or bracket after the stop belongs to the sentence it closes ('… "stop." Then', '(… it is.) Next').
# A sentence may open with a tag name as code ("`<Location>` sections are processed …"), not only a letter.
# After a closing quote or bracket only a capital opens a sentence: "Neither "fixup!" nor "amend!" commits change …"
# is one sentence, while "… merge result. git commit also …" is two (commands start in lower case).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=(?:[\"'(\[*_<]|`<?)?[A-Za-z0-9])"
                             r"|(?<=[.!?][\"')\]])\s+(?=(?:[\"'(\[*_<]|`<?)?[A-Z0-9])")
_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_SECTION_MARKER = re.compile(r"^\[section:\s*(.+?)\]$")
PASSAGE_BREAK = "[…]"  # between two passages of one page shown apart (`documents`)
_NUMBER_ONLY = re.compile(r"^\d+(?:\.\d+)*\.?$")
_RULE = re.compile(r"^([-*_=]\s*){3,}$")
_TABLE_SEPARATOR = re.compile(r"^\|?[\s:|-]+\|[\s:|-]*$")
_FIELDS_ROW = re.compile(r"^[^|`\s][^|]{0,60}?(?:\s\|\s[A-Z][\w ]{0,15}:\s[^|]{1,40}?){2,}$")
_TWO_CELLS = re.compile(r"^([^|`]{1,60}?)\s\|\s+((?:(?!\s\|\s).)*\S)$")  # html_text joins a row's cells with " | "
_HTML_LINE = re.compile(r"^<[^>]+>$|^<!--.*-->$")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(?P<body>.+)$")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
# Inline HTML a markdown page may hold. Only real element names: "clean_<fieldname>()" or "<app_label>/" in prose is
# a placeholder of the documented name, and dropping it would misquote the page.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|cite|code|del|dfn|div|em|font|i|img|ins|kbd|mark|p|q|s|samp|small|span|strike|strong|"
    r"sub|sup|tt|u|var|wbr|details|summary|table|tr|td|th|ul|ol|li|dl|dt|dd|hr|h[1-6]|pre|blockquote|section|"
    r"figure|figcaption|picture|source|video|audio|iframe|center|nobr)(?:\s[^>]*)?/?>",
    re.IGNORECASE,
)
# A word with a placeholder or an expression in angle brackets ("clean_<fieldname>()", "CMAKE_<LANG>_FLAGS_<CONFIG>",
# CMake's "$<CONFIG:Debug>", "-DCMAKE_POLICY_DEFAULT_CMP<NNNN>=<OLD|NEW>", "<string[]>"): code, whole, so that Markdown
# shows it instead of taking it for a tag. So is an address in angle brackets ("Your Name <your@email.address>"): left
# as text it would be escaped to an inert "&lt;" in the report, which reads as markup. `_angle_word` checks brackets.
_ANGLE_WORD = re.compile(r"(?<!\S)[^\s`]*<[A-Za-z_$][^\s`]*>[^\s`]*(?!\S)")
_OPENING_MARKS = "(\"'“‘["
_CLOSING_MARKS = ".,;:!?)\"'”’]"
# A placeholder of a few words ("<ascii type without space>", git's object format): code as well, for the same reason.
_PHRASE_PLACEHOLDER = re.compile(r"(?<![\w`<])<[a-z][\w.\\-]*(?: [\w.\\-]+){0,5}>(?![\w`>])")
# A configuration section's tag as Apache httpd's manual writes it: closing (`</Location>`) or with its arguments
# (`<Directory "/usr/local/htdocs">`, `<VirtualHost *:80>`). Code as well: Markdown would take it for a tag and the
# report would show an inert "&lt;Location>". Real HTML elements are left to `_placeholder`, which keeps them markup.
_SECTION_TAG = re.compile(r"(?<![\w`<])(?:</[A-Za-z][\w.:-]*>|<[A-Za-z][\w.:-]*\s+[^<>`\n]{1,80}>)(?![\w`])")
# An AsciiDoc definition list's term, on its own line above its definition (git's "subtree[=<path>];;" or
# "--until=<date>::" in the text pages beside its HTML): read into the definition, "… ;; This option is …" dangled.
_ASCIIDOC_TERM = re.compile(r"^(\S(?:.*\S)?)(?:::|;;)$")
# A definition term: a name, optionally with its type ("shared_buffers (integer)") or fields ("smtp_accept_max (Use:
# main, Type: integer, Default: 20)"), or a few plain words; or what a
# reader of the page kept as code, one span or a few (a man page's "`--until=<date>` `--before=<date>`").
_TERM = re.compile(r"^(?:[A-Za-z_][\w.]*(?: \([\w ,]+\)| \((?:[A-Z][a-z]+: [^(),]{1,30}(?:, |(?=\))))+\))?"
                   r"|[A-Za-z]+(?: [A-Za-z]+){0,3}|`[^`]+`(?:,? `[^`]+`){0,3})$")
# An API reference's entry: the signature on its own line above its description ("update(results)" then "Extend from
# iterable of results."); read as one line, the two ran together ("update(results) Extend from …").
_SIGNATURE = re.compile(r"^(?:(?:class|async|def|property|classmethod|staticmethod)\s+)?[A-Za-z_][\w.]*"
                        r"\((?:[^()]|\([^()]*\))*\)(?:\s*(?:→|->)\s*[\w.\[\], |]+)?$")
_REST_ROLE = re.compile(r":(?:py:)?([a-z]+):`([^`]+)`")
_REST_DIRECTIVE = re.compile(r"^\.\.\s+(?:[\w:-]+::|_[^:]+:|\|)|^:(?:param|type|returns?|rtype|raises)\b[^:]*:\s*$")
# "argv[1]" too: a number in brackets right after a name, with no space, indexes it.
_INDEXED = re.compile(r"(?<![\w`])([A-Za-z_]\w*(?:[._]\w+)*\[\d+\])")
# A name wrapped in underscores (SQLite's "_ROWID_", or "_rowid_" in quotes) would read as emphasis and lose them.
_UNDERSCORED_NAME = re.compile(r"(?<![\w`])(_[A-Z][A-Z0-9]*_|(?<=[\"'“‘])_[a-z][a-z0-9]*_(?=[\"'”’]))(?![\w`])")
_DUNDER = re.compile(r"(?<![\w`.])((?:[A-Za-z_]\w*\.)*__[A-Za-z]\w*?__(?:\(\))?)(?![\w`])")
# A web address, without the punctuation of the sentence it ends ("… at http://www.apache.org/. This …").
_URL = re.compile(r"<?(https?://[^\s<>)\]`]*[^\s<>)\].,;:!?'\"`])>?")
_CITATION_LIKE = re.compile(r"\s*\[\s*S?\d+(?:\s*[,;]\s*S?\d+)*\s*\]")
_UNIT = re.compile(
    r"\d(?:[\d.,]*)\s?(?:%|percent|[kmgt]?w\b|[kmgt]wh\b|km\b|cm\b|mm\b|m\b|kg\b|g\b|t\b|ms\b|s\b|sec|seconds?\b|"
    r"minutes?\b|hours?\b|days?\b|weeks?\b|months?\b|years?\b|°|[kmgt]b\b|usd\b|eur\b|tokens?\b|chars?\b|"
    r"characters\b|times\b|x\b)|[$€£]\s?\d",
    re.IGNORECASE,
)
_CODE_LIKE = re.compile(r"`[^`]+`|\b\w+_\w+\b|\b[a-z]+[A-Z]\w*\b|\b\w+\(\)|(?<!\w)--?[a-z][\w-]+|\b\w+\.\w+\(")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]{2,}")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Crude suffix stripping so "stores", "stored", "storing" and "store" meet; not a linguistic stemmer."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ings") and len(word) > 6:
        word = word[:-1]  # "settings", "warnings" meet "setting" and "warning", which meet "set" and "warn"
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ing") and len(word) > 5:
        word = _undoubled(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undoubled(word[:-2])
    elif word.endswith("es") and len(word) > 4 and word[-3] in "sxzh":
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _undoubled(stem: str) -> str:
    """"stopp" (stopping, stopped) is "stop", "sett" is "set", "committ" is "commit"; "fall", "pass", "buzz" and
    "add" (whose "ad" would be too short to tell apart) keep their pair."""
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouylsz":
        return stem[:-1]
    return stem


def terms(text: str) -> list[str]:
    """Stemmed words that carry meaning, in order, repeats kept (term frequencies count)."""
    return list(_terms(text))


@functools.lru_cache(maxsize=100_000)
def _terms(text: str) -> tuple[str, ...]:
    # Researchers of one run rank the same retrieved sentences again and again: tokenize each once.
    out: list[str] = []
    for word in _TOKEN.findall(text.lower()):
        parts = _PART.split(word)
        # A compound also counts as its parts here (not in queries), so "research" finds "deep-research-mcp".
        for part in [word, *parts] if len(parts) > 1 else parts:
            if part not in STOPWORDS and (len(part) > 1 or part.isdigit()):
                out.append(stem(part))
    return tuple(out)


def content_terms(text: str) -> list[str]:
    """Distinct stemmed subject terms of a question or topic: no stopwords, no question scaffolding."""
    seen: dict[str, None] = {}
    for word in _TOKEN.findall(text.lower()):
        if word in STOPWORDS or word in GENERIC or (len(word) < 2 and not word.isdigit()):
            continue
        seen.setdefault(stem(word), None)
    return list(seen)


def words(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def split_sentences(markdown: str) -> list[str]:
    """Prose sentences of a markdown (or plain) text: headings, code, tables and rules are skipped; every list
    item is a sentence of its own; inline markup is removed but its text kept."""
    return [sentence for sentence, _ in split_passages(markdown)]


def split_passages(markdown: str) -> list[tuple[str, str]]:
    """`split_sentences` with the heading each sentence stands under: a heading often names what a terse sentence
    is about ("## Costs" over "Barrages are expensive to build")."""
    return [(unit.text, unit.heading) for unit in split_units(markdown) if not unit.code]


@dataclass(frozen=True, slots=True)
class Unit:
    """One sentence of a document, the heading it stands under, and whether it introduces what follows (it ended in
    a colon: "PostgreSQL offers the following forms of partitioning:" says nothing without the next lines)."""

    text: str
    heading: str
    intro: bool = False
    lead: str = ""  # the definition term it stands under, and its paragraph's opening words when it does not open it
    label: str = ""  # the definition term right above its paragraph, when it names a term ("work_mem (integer)")
    paragraph: int = 0  # which block of the document it is in
    first: bool = True  # whether it opens that block
    item: bool = False  # a list item
    code: bool = False  # a fenced code block, verbatim in `text`: never a sentence, shown after its lead-in
    opens: bool = False  # the first sentence right under a heading of the page (not a search passage's "[section:]")


def split_units(markdown: str) -> list[Unit]:
    """`split_passages` as `Unit`s."""
    return list(_split_units(markdown))


@functools.lru_cache(maxsize=2_048)
def _split_units(markdown: str) -> tuple[Unit, ...]:
    # A page is shown to several researchers of a run, and compression, planning and ranking all split it.
    return tuple(_units_of(markdown))


def _units_of(markdown: str) -> list[Unit]:
    # text, heading, whether it could be a label (one plain line), whether it is a list item
    blocks: list[tuple[str, str, bool, bool]] = []
    block: list[str] = []
    heading = ""
    in_fence = False
    last_blank = True
    listed = False
    fresh = False  # a heading was just read: the next block opens its section
    opening: set[int] = set()
    breaks: set[int] = set()  # where one search passage ends and another of the page begins

    def flush() -> None:
        nonlocal fresh
        terms: list[str] = []
        while len(block) > 1 and not listed and (term := _ASCIIDOC_TERM.match(block[0])):
            terms.append(term.group(1))  # several terms may share one definition ("--until=<date>::" "--before=…")
            block.pop(0)
        if terms and len(" ".join(terms).split()) <= LABEL_WORDS:
            blocks.append((" ".join(terms), heading, True, False))
        elif terms:
            block[:0] = [f"{term}:" for term in terms]
        if len(block) > 1 and not listed and (_TERM.match(first := clean_inline(block[0])) and _is_label(first)
                                              or is_signature(block[0])):
            # A definition term on its own line right above its definition ("extensions (string)" then "This
            # option is …"): a label of its own, as if a blank line stood between them.
            blocks.append((block.pop(0), heading, True, False))
        if block:
            if fresh:
                opening.add(len(blocks))
            fresh = False
            blocks.append((" ".join(block), heading, len(block) == 1 and not listed, listed))
            block.clear()

    code: list[str] = []
    codes: dict[int, str] = {}  # block number -> the fenced code it holds
    for raw in markdown.splitlines():
        line = raw.strip()
        if _FENCE.match(line):
            flush()
            fresh = False
            if in_fence:
                codes[len(blocks)] = "\n".join(code).strip("\n")
                blocks.append(("", heading, False, False))  # code between two blocks: they are not adjacent
                code.clear()
            in_fence = not in_fence
            continue
        if in_fence:
            code.append(raw.rstrip())
            continue
        if not line:
            flush()
            last_blank = True
            continue
        indented_code = last_blank and not block and raw.startswith(("    ", "\t"))
        last_blank = False
        if _HEADING.match(line):
            flush()
            heading = clean_inline(line.lstrip("#").strip())
            fresh = True
            continue
        marker = _SECTION_MARKER.match(line)
        # A search tool's "[section: …]" line (the passage below continues that section), or another passage.
        if marker or line == PASSAGE_BREAK:
            flush()
            fresh = False
            if blocks:
                breaks.add(len(blocks))
                blocks.append(("", heading, False, False))
            if marker:
                heading = clean_inline(marker.group(1))
            continue
        if _FIELDS_ROW.match(line) and not indented_code:
            # An option's header row ("smtp_accept_max | Use: main | Type: integer | Default: 20", Exim's reference)
            # names what the paragraphs under it describe ("This option specifies …"): a term, as a definition
            # list's would be, its fields in parentheses. As a table it was dropped, and the option never named.
            flush()
            fresh = False
            cells = [c.strip() for c in line.split(" | ")]
            block.append(f"{cells[0]} ({', '.join(cells[1:])})")
            flush()
            continue
        row = _TWO_CELLS.match(line)
        if row and not indented_code:
            # A two-column table's row ("Default: | AllowOverride None", a directive's synopsis; "END | Stop the
            # rewriting process …", a flag table) is one statement of its own: read into the lines around it, a
            # synopsis became one long sentence of "Description: | … Syntax: | … Context: | …".
            flush()
            fresh = False
            block.append(f"{row.group(1).rstrip(':').strip()}: {row.group(2).strip()}")
            listed = True
            flush()
            continue
        if (indented_code or _RULE.match(line) or _HTML_LINE.match(line) or _is_table(line)
                or _REST_DIRECTIVE.match(line)):
            flush()
            fresh = False
            if blocks and blocks[-1][0]:
                blocks.append(("", heading, False, False))
            continue
        line = re.sub(r"^(>\s?)+", "", line).strip()
        if not block and _NUMBER_ONLY.match(line):
            continue  # a table of contents' section number on a line of its own ("8.6."): it labelled the title above
        item = _LIST_ITEM.match(line)
        if item:
            flush()  # a list item is its own sentence unit; lines that follow without a gap continue it
            line = re.sub(r"^(?:[-*+]\s+)+", "", item.group("body"))  # "- - nested" is one item
        if not block:
            listed = item is not None
        block.append(line)
    flush()
    units: list[Unit] = []
    label = ""
    label_at = -2
    for number, (text, where, single, is_item) in enumerate(blocks):
        if number in breaks:
            # A definition term that ended one passage is not the term of the next passage's first paragraph
            # ("SQLITE_OMIT_DISKIO: An INSERT statement with multiple values …").
            label, label_at = "", -2
            continue
        if codes.get(number, "").strip():
            units.append(Unit(codes[number], where, paragraph=number, code=True))
            continue
        cleaned = clean_inline(text)
        if (number + 1 < len(blocks) and blocks[number + 1][1] == where and single
                and (_is_label(cleaned) or is_signature(cleaned)) and not _listing(blocks[number + 1])):
            # A short line with no sentence end before a paragraph is a definition list's term ("shared_buffers
            # (integer)", "Range Partitioning"): not a statement, but what the paragraphs under it are about.
            label = cleaned
            label_at = number
            continue
        if number and blocks[number - 1][1] != where:
            label = ""
        # "… a task's state:." (Sphinx keeps the period after a literal block's colon) introduces what follows.
        sentences = [re.sub(r"([:;,])\.$", r"\1", s.rstrip()) for s in _sentences_of(cleaned)]
        # A paragraph's opening often names what the rest is about too.
        lead = " ".join(sentences[0].split()[:LEAD_CONTEXT_WORDS]) if sentences else ""
        # A paragraph whose last sentence stops on a word that cannot end one, right above a list, is continued by
        # the list's items (SQLite: "A "rowid table" is any table in an SQLite schema that" / "- is not a virtual
        # table, and" / "- is not a WITHOUT ROWID table."): a lead-in, quoted with them or not at all.
        runs_on = (not is_item and number + 1 < len(blocks) and blocks[number + 1][3] and blocks[number + 1][1] == where
                   and bool(sentences) and ends_open(sentences[-1]))
        units += [Unit(finish(s), where, s.rstrip().endswith(":") or (runs_on and i == len(sentences) - 1),
                       " ".join((label, lead if i else "")).strip(),
                       label if label_at == number - 1 and (_TERM.match(label) or is_signature(label)) else "",
                       number, i == 0, is_item,
                       opens=i == 0 and number in opening)
                  for i, s in enumerate(sentences)]
    return units


def ends_open(sentence: str) -> bool:
    """Whether `sentence` stops on a word that cannot end one ("… any table in an SQLite schema that")."""
    return _OPEN_END.search(sentence.rstrip(". ")) is not None


def prose_words(text: str) -> int:
    """Words outside code spans: "Syntax: `<Directory path>`... `</Directory>`." says one word of its own, and a
    reader (and the readability check) takes it for a fragment. A dash or bracket alone is no word ("7Z - 7zip -
    (.7z)" is three)."""
    return sum(1 for token in _CODE_SPAN.sub(" ", text).split() if _WORD_CHAR.search(token))


def is_signature(text: str) -> bool:
    """Whether `text` is a function or class signature standing as an API entry's term."""
    return bool(_SIGNATURE.match(text))


def _listing(block: tuple[str, str, bool, bool]) -> bool:
    """Whether `block` is a short line like the one before it, as in a table of contents: then neither is a term of
    what follows ("Session state at disconnection" is not what "Non-printable characters" is about)."""
    text, _, single, _ = block
    return single and _is_label(text) and not _TERM_LINE.match(text)


_TERM_LINE = re.compile(r"^`|[(_:]|::$")  # a code span, a typed or underscored name: a term's own line, not a title


def _is_label(text: str) -> bool:
    return 0 < len(text.split()) <= LABEL_WORDS and not re.search(r"[.!?:;,]$", text)


def _is_table(line: str) -> bool:
    return line.startswith("|") or bool(_TABLE_SEPARATOR.match(line)) or line.count(" | ") >= 2


def clean_rest(text: str) -> str:
    """reST roles as plain names: ":func:`~asyncio.gather`" is "asyncio.gather()", ":class:`Task`" is
    "Task", ":ref:`the docs <target>`" is "the docs", "``code``" is "code"."""

    def role(match: re.Match[str]) -> str:
        kind, body = match.group(1), match.group(2)
        titled = re.match(r"^(.*?)\s*<[^>]+>$", body)
        if titled and titled.group(1):
            return titled.group(1)
        name = body.lstrip("!~")  # the full dotted name says more than the short form "~" would render
        return f"{name}()" if kind in ("func", "meth") and not name.endswith(")") else name

    text = _REST_ROLE.sub(role, text)
    return re.sub(r"``([^`]+)``", r"\1", text)


_TYPEWRITER_QUOTE = re.compile(r"`([^`\s']{1,40})'(?!\w)")


@functools.lru_cache(maxsize=16_384)
def clean_inline(text: str) -> str:
    """Drop markup and anything that would pose as a citation; code spans stay as they are. Cached: one page's
    paragraphs reach every researcher that finds it, each time inside a differently cut transcript."""
    text = clean_rest(text)
    # Old typewriter quoting (the Apache manual's "match a `/' character"): a grave accent that opens a quote closed
    # by an apostrophe is no code span; left as is, it opened one that swallowed the rest of the sentence.
    text = _TYPEWRITER_QUOTE.sub(r"‘\1’", text)
    # An index on an identifier ("settings.PASSWORD_HASHERS[0]") is code: a code span, so that no citation pass
    # takes "[0]" for a marker.
    # Angle-bracket words first, and each later pass outside code spans only: "CMAKE_<LANG>_FLAGS_<CONFIG>" is one
    # name, not "_FLAGS_" as an underscored name between two placeholders, and a definition's term already in a code
    # span ("`--repeat-until-fail <n>`") is not wrapped again.
    text = code_tags(text)
    text = outside_code(text, lambda prose: _INDEXED.sub(r"`\1`", prose))
    text = outside_code(text, dunders_as_code)
    text = outside_code(text, lambda prose: _UNDERSCORED_NAME.sub(r"`\1`", prose))
    return " ".join(outside_code(text, _clean_prose).split())


def dunders_as_code(text: str) -> str:
    """Special method names as code spans: bare, Markdown renders "Pizza.__str__()" as "Pizza.str()" in bold."""
    return _DUNDER.sub(r"`\1`", text)


# A shell's here-document and here-string operators ("<<EOF", "<<-END", "<<<"): as text, the report's HTML escaping
# showed "<&lt;EOF".
_REDIRECTION = re.compile(r"(?<![\w`<])(<<-?['\"]?[A-Za-z_]\w*['\"]?|<<<)(?![\w`<>])")


def code_tags(text: str) -> str:
    """`text` with the placeholders and configuration tags its prose names in angle brackets ("<name>",
    "<ascii type without space>", `</Location>`, `<Directory "/">`) as code spans, so Markdown shows them as written."""
    text = outside_code(text, lambda prose: _ANGLE_WORD.sub(_angle_word, prose))
    text = outside_code(text, lambda prose: _REDIRECTION.sub(r"`\1`", prose))
    return outside_code(text, lambda prose: _SECTION_TAG.sub(
        _placeholder, _PHRASE_PLACEHOLDER.sub(_placeholder, prose)))


def outside_code(text: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to what lies outside its code spans."""
    return outside(_CODE_SPAN, text, change)


def _angle_word(match: re.Match[str]) -> str:
    """The word as a code span without the sentence's punctuation around it, if its angle brackets pair up and none is
    an HTML element (markup, removed with the rest of it)."""
    word = match.group(0)
    start, end = 0, len(word)
    while start < end and word[start] in _OPENING_MARKS and not _pairs(word[start + 1 : end], word[start]):
        start += 1
    while end > start and word[end - 1] in _CLOSING_MARKS and not _pairs(word[start : end - 1], word[end - 1]):
        end -= 1
    core = word[start:end]
    depth = 0
    for char in core:
        depth += (char == "<") - (char == ">")
        if depth < 0:
            return word
    if depth or "<" not in core or any(_HTML_TAG.fullmatch(tag) for tag in re.findall(r"<[^<>]+>", core)):
        return word
    return f"{word[:start]}`{core}`{word[end:]}"


def _pairs(rest: str, mark: str) -> bool:
    """Whether `mark` at the edge of a word closes or opens a bracket of the word itself ("clean_<x>()" keeps its
    ")"); quotes and sentence punctuation never do."""
    pair = {"(": ")", ")": "(", "[": "]", "]": "["}.get(mark)
    return pair is not None and rest.count(pair) > rest.count(mark)


def _placeholder(match: re.Match[str]) -> str:
    name = match.group(0)
    if any(_HTML_TAG.fullmatch(tag) for tag in re.findall(r"<[^>]+>", name)):
        return name  # markup, removed with the rest of it
    core = name.rstrip(".")
    return f"`{core}`{name[len(core):]}"


def _citation_or_value(match: re.Match[str]) -> str:
    """"" for a page's own citation mark ("[2]"); a list holding a zero is a value ("range(4) … return [0, 1, 2, 3]"),
    kept as code, where the citation pass does not read it."""
    found = match.group()
    return f" `{found.strip()}`" if re.search(r"(?<![\dS])0(?!\d)", found) else ""


def _clean_prose(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    # Bracketed numbers and bare URLs in page text would read as citations to the engine's citation pass.
    text = _CITATION_LIKE.sub(_citation_or_value, text)
    # An address the sentence needs ("… can be found at http://www.apache.org/. This will list …") is kept as code,
    # where the citation pass neither drops it nor reads it as a citation, and a reader's Markdown does not link it.
    text = _URL.sub(lambda m: f"`{m.group(1)}`", text)
    text = _HTML_TAG.sub("", text)
    # Underscores inside or around a word belong to identifiers ("__enter__()", "work_mem"), not emphasis.
    text = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    # "_word_", not "__x__", nor a name that goes on ("_cache_{name}", "_x_(…)") or is an attribute ("obj._x_").
    text = re.sub(r"(?<![\w_.])_([^\s_](?:[^_]*[^\s_])?)_(?![\w_{(\[<=])", r"\1", text)
    return re.sub(r"~~(.+?)~~", r"\1", text)


@functools.lru_cache(maxsize=16_384)
def _sentences_of(block: str) -> tuple[str, ...]:
    # Each topic's transcript shows a page's paragraphs again, in other company: split once per paragraph.
    pieces = [p.strip() for p in _SENTENCE_BREAK.split(block) if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and (_ABBREVIATION.search(merged[-1]) or _INITIAL.search(merged[-1]) or _LONE_DOT.search(merged[-1])
                       or _open(merged[-1])):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return tuple(s for s in merged if _TOKEN.search(s.lower()))


def _open(piece: str) -> bool:
    """Whether a parenthesis is still open at the end of `piece`: "… a remote URL (ie. anything with a method …)" is
    one sentence, not two halves that each read as a fragment."""
    return piece.count("(") > piece.count(")") and len(piece) < MAX_OPEN_CHARS


def finish(sentence: str) -> str:
    """One sentence ending in terminal punctuation (list items and colons become statements)."""
    text = sentence.strip().rstrip(":;,").rstrip()
    if not re.search(r"[.!?][\"')\]]?$", text):
        text += "."
    return text


def fact_count(sentence: str) -> int:
    """How concrete a sentence is: figures, units, names and code-like tokens, capped so they only break ties."""
    count = 0
    if re.search(r"\d", sentence):
        count += 1
    if _UNIT.search(sentence):
        count += 1
    count += min(2, len(_PROPER.findall(sentence)))
    if _CODE_LIKE.search(sentence):
        count += 1
    return min(count, 4)


# Words that answers to a kind of question tend to use, though the question does not: "when is X triggered?" is
# answered by "… if the count exceeds the threshold". Keyed by the question's opening words; plain English, nothing
# about any one corpus.
_CUES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"^\W*why\b|\breasons?\b|\bpurpose\b", re.IGNORECASE),
     word_set("because since so therefore thus hence prevent prevents avoid avoids otherwise reason ensure ensures "
              "must necessary order")),
    (re.compile(r"^\W*when\b|\btrigger(?:s|ed)?\b|\bhow often\b", re.IGNORECASE),
     word_set("when whenever if once after before until every exceeds exceeded exceed threshold reaches reached "
              "triggers triggered")),
    (re.compile(r"^\W*how (?:much|many|big|large|long)\b|\bsize\b|\bdefaults?\b", re.IGNORECASE),
     word_set("default defaults typically value setting mb gb kb percent megabytes gigabytes reasonable")),
    (re.compile(r"^\W*(?:which|what) (?:\w+ )?(?:kinds?|types?|forms?|methods?|levels?)\b", re.IGNORECASE),
     word_set("following types kinds forms include includes including supports provides offers")),
    (re.compile(r"\bdiffer|\bdifference|\bcompare|\bversus\b|\bvs\b|\bprefer", re.IGNORECASE),
     word_set("whereas while unlike instead contrast rather than however only both more less")),
)


def answer_cues(question: str) -> frozenset[str]:
    """The cue words of every kind of question `question` is."""
    found: set[str] = set()
    for pattern, cue_words in _CUES:
        if pattern.search(question):
            found |= cue_words
    return frozenset(found)


def is_prose(sentence: str) -> bool:
    """Whether a sentence reads as a statement rather than a list of names, an index entry or a command synopsis:
    statements need function words ("GIN, GIN, Preferred Index Types for Text Search" has one, and commas)."""
    if sum(sentence.count(c) for c in "[{|") >= 2:
        return False
    function_words = sum(1 for w in _TOKEN.findall(sentence.lower()) if w in STOPWORDS)
    return function_words >= 2 or (function_words == 1 and sentence.count(",") < 2)


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int
    score: float
    matched: int


def rank(
    texts: Sequence[str], query: str, *, head: str = "", contexts: Sequence[str] | None = None,
    priors: Sequence[float] | None = None, min_matches: int | None = None,
) -> list[Ranked]:
    """Texts that are about `query`, best first. BM25 over the given texts only; terms of `head` (the subject of a
    "subject: focus" topic) count more, and its head word must appear.

    A text qualifies with one query term, or two when the query has four or more terms, because long queries
    match incidental words. A text's context (its document title and heading) can supply missing terms, with a
    small weight, so a terse sentence under "## Costs" still counts as being about costs."""
    query_terms = content_terms(query)
    head_terms = set(content_terms(head))
    if not query_terms or not texts:
        return []
    need = min_matches if min_matches is not None else (2 if len(query_terms) >= 4 else 1)
    need = max(1, min(need, len(query_terms)))
    bags = [Counter(terms(t)) for t in texts]
    around = [set(terms(c)) for c in contexts] if contexts is not None else [set() for _ in texts]
    lengths = [sum(b.values()) for b in bags]
    average = (sum(lengths) / len(lengths)) or 1.0
    df = Counter(t for bag in bags for t in set(bag) if t in query_terms or t in head_terms)
    n = len(texts)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in {*query_terms, *head_terms}}
    # The subject's head word (English noun phrases end in it) must be there: in "tidal lagoons", "tidal" alone
    # would admit every barrage sentence. A word no candidate has cannot be required, but one of them must be there.
    ordered_head = content_terms(head)
    key = next((t for t in reversed(ordered_head) if df[t] or any(t in c for c in around)), None)
    if head_terms and key is None:
        return []  # none of the retrieved text names the subject: nothing here is about it
    # What the sentence should be about: the subject of a "subject: focus" topic, else the two rarest query terms.
    lead = head_terms or set(sorted((t for t in query_terms if df[t]), key=lambda t: (-idf[t], t))[:2])
    cues = answer_cues(query)
    k1, b = 1.2, 0.75
    out: list[Ranked] = []
    for index, (bag, text) in enumerate(zip(bags, texts, strict=True)):
        direct = [t for t in query_terms if t in bag]
        implied = [t for t in query_terms if t not in bag and t in around[index]]
        matched = direct + implied
        if len(matched) < need or (key is not None and key not in matched):
            continue
        norm = k1 * (1 - b + b * lengths[index] / average)
        weight = {t: idf[t] * (1.5 if t in head_terms else 1.0) for t in matched}
        relevance = sum(weight[t] * bag[t] * (k1 + 1) / (bag[t] + norm) for t in direct)
        relevance += sum(0.5 * weight[t] for t in implied)
        relevance *= 0.25 + len(matched) / len(query_terms)  # covering more of the query beats repeating a term
        size = len(text.split())
        shape = 0.5 if size < 6 else 0.6 if size > 60 else 1.0
        if text.rstrip().endswith("?"):
            shape *= 0.7  # a question in the source is rarely the answer
        if _ANAPHORA.match(text):
            shape *= 0.75  # "It has 24 turbines" needs the sentence before it; prefer self-contained ones
        if _BOILERPLATE.match(text):
            shape *= 0.5  # "See the X page" names the subject without saying anything about it
        if not is_prose(text):
            shape *= 0.3  # an index entry, a list of names or a command synopsis: words, but no statement
        if lead and set(terms(" ".join(text.split()[:LEAD_WORDS]))) & lead:
            shape *= 1.25  # the subject opens the sentence: "GIN indexes are …" defines, "… unlike GIN" mentions
        if cues and cues & words(text):
            shape *= 1.2  # phrased like an answer to this kind of question ("… if it exceeds" for "when …")
        prior = priors[index] if priors is not None else 1.0
        out.append(Ranked(index, relevance * (1 + SPECIFICITY * fact_count(text)) * shape * prior, len(matched)))
    out.sort(key=lambda r: (-r.score, r.index))
    return out


RELATIVE_FLOOR = 0.4
SPECIFICITY = 0.1  # how much concrete details (figures, names, identifiers) lift a sentence: they break ties
LEAD_WORDS = 5
LEAD_CONTEXT_WORDS = 6
LABEL_WORDS = 8

# --- researcher transcripts ----------------------------------------------------------------------------------

_DOCUMENT = re.compile(
    r'<document id="(S\d+)">\n?(?:Title: [^\n]*\nLocation: [^\n]*\n\n)?(.*?)\n?</document>', re.DOTALL
)
_TITLE = re.compile(r'^<document id="(S\d+)">\nTitle: (.+)$', re.MULTILINE)


def documents(transcript: str) -> dict[str, tuple[str, str]]:
    """(title, text) by source id from the engine's `<document id="S<n>">` blocks; an id shown more than once
    keeps each distinct text."""
    titles = {sid: title.removesuffix(" (already shown above)") for sid, title in _TITLE.findall(transcript)}
    texts: dict[str, list[str]] = {}
    for source_id, raw in _DOCUMENT.findall(transcript):
        text = raw.strip().removeprefix("[extractive summary]").strip()
        seen = texts.setdefault(source_id, [])
        if text and text not in seen:
            seen.append(text)
    # Two passages of a page are not one text: a term ending one is not the label of the next one's first line.
    return {sid: (titles.get(sid, ""), f"\n\n{PASSAGE_BREAK}\n\n".join(parts)) for sid, parts in texts.items()}


def between(text: str, start: str, end: str) -> str:
    """The part of a filled prompt template between `start` and the last `end` (all of `text` when `start` is
    missing, the rest when `end` is)."""
    _, found, rest = text.partition(start)
    body = rest if found else text
    return body.rsplit(end, 1)[0] if end and end in body else body


_SCOPE = re.compile(r"(?:,\s*|\s+)(?:in|on|for|within|inside|under)\s+(?:the\s+)?[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*)*"
                    r"(?=\s*(?:\([^)]*\))?\s*[?.!]?\s*$)")


_NAMES_ONLY = re.compile(r"^\s*[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*)*\s*[?.!]?\s*$")


def without_scope(topic: str) -> str:
    """`topic` without a closing "in <Name>" that only says where the question applies ("… work in PostgreSQL?"):
    every page of that product's documentation names it, so as a ranking term it picks sentences at random. Kept when
    nothing else would be left."""
    body, sep, focus = topic.partition(": ") if ": " in topic else ("", "", topic)
    # "logical replication: PostgreSQL" is the item of "… differ … in PostgreSQL?" with the scope as its focus.
    trimmed = "" if sep and _NAMES_ONLY.match(focus) else _SCOPE.sub("", focus)
    if trimmed == focus or not content_terms(f"{body} {trimmed}"):
        return topic
    return f"{body}{sep}{trimmed}" if trimmed.strip(" ?.!") else body


# The planner writes what an ask carries as " (words)" before the ask's closing mark (planner._carried and
# with_subject); a call's own brackets ("fetch(url)?") have no space before them.
_CARRIED = re.compile(r" \(([^()]+)\)(?=[?.!]?\s*$)")
ASKED_TERMS = 2  # an ask with fewer words of its own is ranked by what it carries too


def split_carried(topic: str) -> tuple[str, str]:
    """(the ask, the words the planner carried into it): ("What is it?", "mydb.db-journal") for "What is it
    (mydb.db-journal)?"; (topic, "") when it carries none."""
    found = _CARRIED.search(topic)
    if not found:
        return topic, ""
    return topic[: found.start()] + topic[found.end() :], found.group(1)


def asked(topic: str) -> str:
    """`topic` without the words the planner carried into it in closing parentheses ("How long are the records kept
    (re-merging master, long-running topic branch)?"), when the ask keeps `ASKED_TERMS` words of its own. The
    carried words say what the ask is about, which finds the right pages; as ranking terms they outweigh the ask
    inside those pages: every sentence of a topic-branch page names "topic branch", the one answering "how long are
    the records kept" says "kept for 60 days". An ask of fewer words ("What is it (mydb.db-journal)?") keeps them."""
    topic = without_scope(topic)
    ask, carried = split_carried(topic)
    return ask if carried and len(content_terms(ask)) >= ASKED_TERMS else topic


def focus(label: str, wanted: set[str]) -> float:
    """How much of a title or heading is the topic: the share of its words that are topic terms (numbering and
    words like "chapter" aside)."""
    named = {t for t in terms(label) if not t.replace(".", "").isdigit() and t not in _LABEL_WORDS}
    return len(named & wanted) / len(named) if named else 0.0


_LABEL_WORDS = word_set("chapter section part appendix introduction overview")


def states(container: str, sentence: str) -> bool:
    """Whether `container` holds `sentence` word for word (case, punctuation and markup aside)."""
    return holds(flat_words(container), flat_words(sentence))


def flat_words(text: str) -> str:
    """`text`'s letters and digits, lower case, one space between runs: what `states` compares."""
    return " ".join(_ALNUM.findall(text.lower()))


def holds(container: str, sentence: str) -> bool:
    """`states` for texts already flattened by `flat_words` (a caller comparing one text with many flattens once)."""
    return bool(sentence) and f" {sentence} " in f" {container} "
