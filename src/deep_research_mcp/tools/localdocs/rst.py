"""reStructuredText markup to the reader's plain format, so a `.rst` file reads like the HTML it would build to.

Not a docutils renderer (that would mean a heavy dependency and running directives): a line-based pass that knows
the few constructs that otherwise end up in cited sentences. Section titles are left for `rst_sections`.

- literal blocks (a paragraph ending in `::`) and `code-block`/`code`/`sourcecode`/`doctest` directives become
  fenced code, verbatim;
- admonitions become a lead word ("Note: …", "Warning: …"), version notes a sentence ("New in version 3.5.");
- API directives (`function`, `class`, `method`, …) keep their signature as a line and their content below it;
- comments, link targets, substitutions and build-only directives (`toctree`, `index`, `image`, …) are dropped;
- inline roles and literals lose their markup: ":func:`~asyncio.gather`" → "gather()", "``x``" → "x",
  "`text <url>`_" → "text".
"""

from __future__ import annotations

import re

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:.+-]+)::(?:\s+(.*))?$")
_EXPLICIT = re.compile(r"^(\s*)\.\.(?:\s|$)")  # any other explicit markup: comments, targets, substitutions
_OPTION = re.compile(r"^\s*:[\w -]+:(?:\s.*)?$")
_ROLE = re.compile(r":(?:[\w-]+:)*([\w-]+):`([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_LINK = re.compile(r"`([^`]+)`__?")  # `text <url>`_, `text`_, `text`__ (the target is taken off in _link_text)
_INTERPRETED = re.compile(r"(?<![\w`])`([^`\s][^`]*)`(?![\w`])")
_ESCAPED_SPACE = re.compile(r"\\ ")

CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "doctest", "testcode", "testoutput", "parsed-literal"})
ADMONITIONS = {
    "note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important", "caution": "Caution",
    "attention": "Attention", "danger": "Danger", "hint": "Hint", "error": "Error", "seealso": "See also",
    "admonition": "",
}
VERSION_NOTES = {"versionadded": "New in version", "versionchanged": "Changed in version",
                 "deprecated": "Deprecated since version", "versionremoved": "Removed in version"}
# Directives whose content is build machinery, not prose.
DROPPED = frozenset({
    "toctree", "index", "image", "figure", "highlight", "include", "literalinclude", "contents", "raw", "only",
    "tabularcolumns", "currentmodule", "sectionauthor", "moduleauthor", "meta", "role", "default-role", "autosummary",
    "automodule", "autoclass", "autofunction", "automethod", "program", "glossary",
})
_CALLABLE_ROLES = frozenset({"func", "meth"})


def inline(text: str) -> str:
    """One line's inline markup removed."""
    text = _ROLE.sub(_role_text, text)
    text = _LITERAL.sub(lambda m: m.group(1), text)
    text = _LINK.sub(_link_text, text)
    text = _INTERPRETED.sub(lambda m: m.group(1), text)
    return _ESCAPED_SPACE.sub("", text)


def _link_text(match: re.Match[str]) -> str:
    # String methods rather than a regex over "text <target>": no backtracking on a hostile line.
    content = match.group(1)
    if content.endswith(">") and "<" in content:
        content = content[: content.rindex("<")]
    return content.strip()


def _role_text(match: re.Match[str]) -> str:
    role, content = match.group(1), match.group(2).strip()
    if content.endswith(">") and "<" in content[:-1] and content.rindex("<") > 0:
        return content[: content.rindex("<")].strip()
    content = content.lstrip("!")
    if content.startswith("~"):
        content = content[1:].rsplit(".", 1)[-1]
    if role in _CALLABLE_ROLES and not content.endswith(")"):
        content += "()"
    return content


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], start: int, base: int) -> tuple[list[str], int]:
    """The lines from `start` indented deeper than `base` (blank lines included), dedented; and where they end."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    block = lines[start:end]
    while block and not block[-1].strip():
        block.pop()
    depth = min((_indent(line) for line in block if line.strip()), default=0)
    return [line[depth:] for line in block], end


def _fenced(code: list[str], indent: str) -> list[str]:
    while code and not code[0].strip():
        code.pop(0)
    if not code:
        return []
    longest = max((len(run) for line in code for run in re.findall(r"`{3,}", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return ["", indent + fence, *(indent + line if line else "" for line in code), indent + fence, ""]


# Directives nest by indentation; deeper than this (only a hostile file goes there) their content is kept as it is.
MAX_NESTING = 8


def rst_to_text(text: str, depth: int = 0) -> str:
    """`text` (reStructuredText) with the markup described above converted; section titles untouched."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive:
            indent, name, argument = directive.group(1), directive.group(2).lower(), (directive.group(3) or "").strip()
            content, i = _block(lines, i + 1, len(indent))
            options = 0
            while options < len(content) and _OPTION.match(content[options]):
                options += 1
            out.extend(_directive(name.rsplit(":", 1)[-1], argument, content[options:], indent, depth))
            continue
        if _EXPLICIT.match(line):  # a comment, a link target or a substitution: skipped with its indented block
            _, i = _block(lines, i + 1, _indent(line))
            continue
        stripped = line.rstrip()
        if stripped.endswith("::") and i + 1 < len(lines):
            code, end = _block(lines, i + 1, _indent(line))
            if any(c.strip() for c in code):
                lead = stripped[:-2].rstrip()
                if lead:  # "Example::" reads "Example:"; a bare "::" line is dropped
                    out.append(inline(lead + (":" if not stripped[-3:-2].isspace() else "")))
                out.extend(_fenced(code, " " * _indent(line)))
                i = end
                continue
        out.append(inline(line))
        i += 1
    return "\n".join(out)


def _directive(name: str, argument: str, content: list[str], indent: str, depth: int) -> list[str]:
    if name in DROPPED:
        return []
    if name in CODE_DIRECTIVES:
        return _fenced(content, indent)
    inner = rst_to_text("\n".join(content), depth + 1) if depth < MAX_NESTING else "\n".join(content)
    body = [indent + line if line else "" for line in inner.split("\n")]
    if name in ADMONITIONS:
        lead = ADMONITIONS[name] or inline(argument)
        first = next((n for n, line in enumerate(body) if line.strip()), None)
        if first is None:
            return ["", indent + f"{lead}: {inline(argument)}".rstrip(": "), ""] if lead or argument else []
        if ADMONITIONS[name] and argument:  # "seealso:: other" holds its text on the directive line
            body.insert(first, indent + inline(argument))
        body[first] = indent + f"{lead}: {body[first].strip()}" if lead else body[first]
        return ["", *body, ""]
    if name in VERSION_NOTES:
        version, _, rest = argument.partition(" ")
        sentence = f"{VERSION_NOTES[name]} {version}." + (f" {inline(rest)}" if rest else "")
        return ["", indent + sentence, *body, ""]
    # API descriptions (function, class, method, attribute, data, envvar, option, …) and anything unknown: the
    # argument (a signature) on its own line, the content under it.
    head = [indent + inline(argument)] if argument else []
    return ["", *head, *body, ""]
