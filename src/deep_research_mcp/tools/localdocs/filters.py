"""Which files under an indexed folder are documents: the user's include/exclude globs and the generated noise that
documentation builders leave beside the pages (skipped unless an include names it).

Globs are matched against the path relative to the folder, with `/` separators, the way `.gitignore` reads them:

- `*` and `?` stay within one path segment, `**` spans any number of them (`ref/**/*.html`);
- a pattern without a `/` matches a file or folder name at any depth (`*.txt`, `genindex*.html`, `_static`);
- a trailing `/` matches folders only (`_sources/`); a folder that matches covers everything under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

# What Sphinx and DocBook generate next to the pages: source copies, assets, highlighted module source, and index or
# search pages whose text is a list of every term with links, which matches any query and answers none.
# And what Debian's packaging installs beside a package's documents: its change logs (`changelog.Debian.gz`, and
# upstream's raw log renamed `changelog.gz`: git's is a 3 MB shortlog whose "Jeff King (5): send-email: drop …" lines
# were quoted into 9 of 18 git reports once gzipped files were read) and the license text. Not a bare "changelog": a
# pattern without "/" names folders too, and Sphinx trees keep release notes in a changelog/ folder.
GENERATED: tuple[str, ...] = (
    "_sources/", "_static/", "_images/", "_downloads/", "_modules/",
    "genindex.html", "genindex-*.html", "search.html", "py-modindex.html", "bookindex.html",
    "changelog.gz", "changelog.Debian", "changelog.Debian.gz", "copyright",
)
GENERATED_DESCRIPTION = ("Sphinx _sources/, _static/, _images/, _modules/, genindex, search and module-index pages; "
                         "Debian's changelog and copyright files")

Verdict = Literal["keep", "excluded", "generated"]


@lru_cache(maxsize=256)
def _compile(pattern: str) -> tuple[re.Pattern[str], bool, bool]:
    """(regex, matches names at any depth, folders only)."""
    folders_only = pattern.endswith("/")
    body = pattern.strip("/")
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and (end := body.find("]", i + 2)) > 0:
            inner = body[i + 1 : end]
            out.append("[" + ("^" + inner[1:] if inner[0] in "!^" else inner).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    return re.compile("".join(out) + r"\Z"), "/" not in body, folders_only


def matches(pattern: str, relative: str) -> bool:
    """Whether `pattern` matches the file at `relative` (a `/`-separated path) or one of the folders above it."""
    regex, anywhere, folders_only = _compile(pattern)
    parts = relative.split("/")
    if anywhere:
        names = parts[:-1] if folders_only else parts
        return any(regex.match(name) for name in names)
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts) - (1 if folders_only else 0))]
    return any(regex.match(prefix) for prefix in prefixes)


@dataclass(frozen=True, slots=True)
class PathFilter:
    """The include/exclude rules of one index pass. Excludes win over includes; with includes, a file must match one;
    generated noise is skipped unless an include that matches the file names it (`_sources/**` keeps Sphinx's source
    copies; a broad `*.html` does not bring back genindex.html)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    generated: tuple[str, ...] = field(default=GENERATED)

    @classmethod
    def of(cls, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> PathFilter:
        return cls(tuple(p.strip() for p in include or () if p.strip()),
                   tuple(p.strip() for p in exclude or () if p.strip()))

    def verdict(self, relative: str) -> Verdict:
        if any(matches(p, relative) for p in self.exclude):
            return "excluded"
        included = any(matches(p, relative) for p in self.include)
        if self.include and not included:
            return "excluded"
        for noise in self.generated:
            if matches(noise, relative):
                stem = noise.strip("/").replace("*", "")
                named = any(stem in p and matches(p, relative) for p in self.include)
                return "keep" if named else "generated"
        return "keep"
