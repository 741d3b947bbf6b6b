"""The evaluation set's file format: questions over one corpus, each with gold facts and gold source files."""

from __future__ import annotations

import re
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


def load_questions(path: Path) -> QuestionSet:
    if not path.is_file():
        raise InputError(f"question file {path} does not exist")
    return QuestionSet.model_validate_json(path.read_text(encoding="utf-8"))
