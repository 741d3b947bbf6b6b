"""The evaluation set's file format: questions over one corpus, each with gold facts and gold source files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..errors import InputError

Split = Literal["tune", "holdout"]


class Fact(BaseModel):
    """One thing a good answer states. Found when any pattern (a Python regex, case-insensitive, matched against
    whitespace-normalised report prose) matches."""

    fact: str = Field(description="What the fact says, for people reading the results")
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns


class Question(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    split: Split
    question: str = Field(min_length=10)
    gold_sources: list[str] = Field(min_length=1, description="Files that answer it, relative to the corpus root")
    facts: list[Fact] = Field(min_length=1)

    @field_validator("gold_sources")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"gold source {path!r} must be relative to the corpus root")
        return paths


class QuestionSet(BaseModel):
    corpus: str = ""
    notes: str = ""
    questions: list[Question] = Field(min_length=1)

    @field_validator("questions")
    @classmethod
    def _unique_ids(cls, questions: list[Question]) -> list[Question]:
        ids = [q.id for q in questions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(duplicates)}")
        return questions


def load_questions(*paths: Path) -> QuestionSet:
    """One question set from one or more files (a corpus's tune and held-out halves). A file whose name says which
    half it is (`*tune*.json`, `*heldout*.json`) must hold only questions of that split, so a question cannot slip
    from the held-out half into tuning by a mislabelled `split`."""
    if not paths:
        raise InputError("no question file given")
    sets = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"question file {path} does not exist")
        loaded = QuestionSet.model_validate_json(path.read_text(encoding="utf-8"))
        expected = "holdout" if "heldout" in path.name else "tune" if "tune" in path.name else None
        wrong = [q.id for q in loaded.questions if expected and q.split != expected]
        if wrong:
            raise InputError(f"{path} holds {expected} questions only, but {', '.join(wrong)} say otherwise")
        sets.append(loaded)
    if len(sets) == 1:
        return sets[0]
    return QuestionSet(corpus=sets[0].corpus, notes=sets[0].notes,
                       questions=[q for loaded in sets for q in loaded.questions])


# The evaluation files live in the repository's eval/ folder, beside src/ (an editable install, as the README's
# development setup uses); from anywhere else, eval/ under the working directory.
_REPOSITORY_EVAL = Path(__file__).resolve().parents[3] / "eval"
EVAL_DIR = _REPOSITORY_EVAL if _REPOSITORY_EVAL.is_dir() else Path("eval")


@dataclass(frozen=True, slots=True)
class Corpus:
    """A documentation tree the evaluation knows by name: where Debian installs it (scripts/eval-corpus.sh NAME) and
    its question files."""

    name: str
    root: Path
    question_files: tuple[Path, ...]


def _halves(name: str, root: str) -> Corpus:
    """A corpus whose questions are split in two files under eval/<name>/: the tune half and the held-out half."""
    folder = EVAL_DIR / name
    return Corpus(name, Path(root), (folder / "questions_tune.json", folder / "questions_heldout.json"))


CORPORA: dict[str, Corpus] = {
    "postgres": Corpus("postgres", Path("/usr/share/doc/postgresql-doc-15/html"), (EVAL_DIR / "questions.json",)),
    "django": _halves("django", "/usr/share/doc/python-django-doc/html"),
    "pytest": _halves("pytest", "/usr/share/doc/python-pytest-doc/html"),
    # A test set only: nobody tunes on either half (eval/RESULTS.md). AsciiDoc HTML, not Sphinx.
    "git": _halves("git", "/usr/share/doc/git-doc"),
    # Written before any engine run on them (eval/RESULTS.md): SQLite's own hand-written HTML and a Sphinx tree
    # (Celery 5.2). Their tune halves have been tuned on since; their held-out halves are the test.
    "sqlite": _halves("sqlite", "/usr/share/doc/sqlite3"),
    "celery": _halves("celery", "/usr/share/doc/python-celery-doc/html"),
    # Test sets written in session 7 before any engine run on them: both halves are test-only, run once at its end.
    "apache": _halves("apache", "/usr/share/doc/apache2-doc/manual/en"),
    "postfix": _halves("postfix", "/usr/share/doc/postfix/html"),
    # A test set written in session 9 before any engine run on it: both halves test-only. Node.js 18's API pages,
    # unpacked from Debian's nodejs-doc, never installed: installing it removes a NodeSource Node.js (eval-corpus.sh).
    "node": _halves("node", "/opt/deep-research-eval/nodejs-doc/api"),
    # A test set written in session 9 before any engine run on it (Sphinx, CMake 3.25): both halves test-only.
    "cmake": _halves("cmake", "/usr/share/doc/cmake-data/html"),
    # A test set written in session 10 before any engine run on it (Sphinx, SQLAlchemy 1.4): both halves test-only.
    "sqlalchemy": _halves("sqlalchemy", "/usr/share/doc/python-sqlalchemy-doc/html"),
    # A test set written in session 11 before any engine run on it (the Exim 4.96 spec, one page per chapter).
    "exim4": _halves("exim4", "/usr/share/doc/exim4-doc-html/spec_html"),
    # A test set written in session 11 before any engine run on it (Sphinx, Werkzeug 2.2): both halves test-only.
    "werkzeug": _halves("werkzeug", "/usr/share/doc/python-werkzeug-doc/html"),
    # A test set written in session 11 before any engine run on it (Sphinx, Flask 2.2): both halves test-only.
    "flask": _halves("flask", "/usr/share/doc/python-flask-doc/html"),
    # A test set written in session 12 before any engine run on it (zsh 5.9, texinfo HTML): both halves test-only.
    "zsh": _halves("zsh", "/usr/share/doc/zsh-doc/html"),
}


def resolve_corpus(name_or_path: str, questions: Sequence[Path] = ()) -> Corpus:
    """A corpus by name (`postgres`, `django`, `pytest`, `git`, `sqlite`, `celery`, `apache`, `postfix`, `node`,
    `cmake`, `sqlalchemy`, `exim4`, `werkzeug`, `flask`, `zsh`) or by folder; a folder needs its question files."""
    root = Path(name_or_path)
    # A known corpus by name, or by its folder (what scripts/eval-corpus.sh prints).
    known = CORPORA.get(name_or_path) or next((c for c in CORPORA.values() if c.root == root), None)
    if known is not None:
        return Corpus(known.name, known.root, tuple(questions) or known.question_files)
    if not questions:
        raise InputError(f"corpus {name_or_path!r} is not one of {', '.join(CORPORA)}; for a folder, give --questions")
    return Corpus(root.name or str(root), root, tuple(questions))
