"""Where a request's questions are: its sentences, which of them ask and which set the scene, and the separate asks
inside one sentence ("How does X…, and how does Y…?", "How do I A, B and C?"). Punctuation and word lists, no parsing;
the planner (`planner.py`) turns the asks into topics.
"""

from __future__ import annotations

import re

from .extract import word_set

# Where a sentence ends: after "?", "!" or ";" closing a word (a "?" standing alone is SQLite's parameter, not an
# end), or after a period before a capital ("2 a.m. local time" goes on).
_SENTENCE_END = re.compile(r"(?<=\S[?!;])\s+|(?<=\.)\s+(?=[A-Z])")
_AUX = r"(?:is|are|was|were|does|do|did|can|could|should|would|will|has|have|may|must)"
_WH = r"(?:how|what|why|when|where|which|who|whose)"
# Where an ask sentence holds a further ask: "…, and how does Y…", "…, and since which version…", "…, what is the
# default, …" (a question word with its verb close behind, not a relative "which"), "…, is the option worth it".
_CLAUSE_SPLIT = re.compile(
    rf",?\s+(?:and|but|also|then)\s+(?=(?:(?:since|in|for|from|on|at|by|with|under|until|after|before|to)\s+)?"
    rf"(?:{_WH}|{_AUX}|has|have)\b)"
    rf"|,\s+(?=(?:how|what|why|where|which|who)(?:\s+[\w'-]+){{0,3}}?\s+{_AUX}\b)"
    rf"|,\s+(?=when\s+{_AUX}\b)"
    rf"|,\s+(?={_AUX}\s+(?:the|a|an|it|this|that|there|i|we|you|my|our|its|their|such)\b)",
    re.IGNORECASE,
)


SCOPE_PREFIX = re.compile(r"^([A-Z][\w.+#-]*(?: [A-Z][\w.+#-]*){0,2}):\s+(?=(?i:how|what|which|why|when|where|who|"
                           r"can|could|should|is|are|do|does)\b)")


# Sentences that ask: a question, or a request in the imperative ("Compare a group, chunks and map/starmap.").
ASKING = re.compile(
    r"^(?:(?:in|for|since|to|from|at|on|by|with|under|until)\s+(?=(?:what|which|how|whom)\b))?"
    r"(?:how|what|which|why|when|where|who|whose|whom|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"may|must|has|have|shall|explain|describe|compare|contrast|list|tell|show|give|summari[sz]e|outline|recommend|"
    r"suggest|name|define|walk)\b",
    re.IGNORECASE,
)
def is_ask(sentence: str) -> bool:
    """Whether a sentence of a request asks (a question, or a request in the imperative) rather than sets the scene."""
    return sentence.endswith("?") or bool(ASKING.match(sentence))


def split_request(text: str) -> list[str]:
    """The sentences of a request, each ending in its own mark ("?" when the request does and it had none)."""
    ends_with_question = text.rstrip().endswith("?")
    out: list[str] = []
    pieces = _SENTENCE_END.split(text)
    last = len(pieces) - 1
    for number, raw in enumerate(pieces):
        sentence = raw.strip(" ,;")
        if sentence:
            # A statement before a ";" is no question ("My users get logged out …; how do I …?"): it sets the scene.
            asks = ends_with_question and (number == last or bool(ASKING.match(sentence)))
            out.append(sentence if sentence[-1] in "?.!" else sentence + ("?" if asks else "."))
    return out


def split_clauses(text: str) -> list[str]:
    """Separate questions asked in one request ("How does X…, and how does Y…?", "What is X, what is its
    default?"), each ending as its sentence does."""
    out: list[str] = []
    for sentence in split_request(text):
        mark = sentence[-1]
        pieces = [p.strip(" ,;") for p in _CLAUSE_SPLIT.split(sentence[:-1])]
        pieces = [p for p in pieces if p]
        if len(pieces) > 1 and not ASKING.match(SCOPE_PREFIX.sub("", pieces[0])):
            # "For a leaderboard query, what is …": an opening phrase, not an ask of its own.
            pieces[:2] = [f"{pieces[0]}, {pieces[1]}"]
        out += [c for p in pieces for a in _action_series(p[0].upper() + p[1:] + mark) for c in _object_pair(a)]
    return out


# "How do I make an option that can be given several times, and a -v flag that counts …?": one action, two things
# to make, each described by a clause of its own; a page tells how to make one of them.
_HOW_DO_I_OPENING = r"how\s+(?:do|can|should|could|would)\s+(?:i|we|you)\s+"
_OBJECT_PAIR = re.compile(rf"^({_HOW_DO_I_OPENING}\w+\s+)((?:a|an)\s+\S+(?:\s+\S+)+?),"
                          r"\s+and\s+((?:a|an)\s+\S+(?:\s+\S+)+)([?.!])$", re.IGNORECASE)


def _object_pair(clause: str) -> list[str]:
    """`clause` as one ask per thing when it asks how to do one action to two described things ("make an X that …,
    and a Y that …"), each of three words or more; `[clause]` otherwise."""
    match = _OBJECT_PAIR.match(clause)
    if not match or min(len(match.group(2).split()), len(match.group(3).split())) < 3:
        return [clause]
    opening, first, second, mark = match.groups()
    return [f"{opening}{first}{mark}", f"{opening}{second}{mark}"]


# "How do I make it retry when the call fails, wait longer between attempts, and give up after a while?": three
# things to do, each an ask of its own ("How do I give up after a while?"), as a page tells one of them at a time.
_HOW_DO_I = re.compile(rf"^({_HOW_DO_I_OPENING})(.+)([?.!])$", re.IGNORECASE)


def _action_series(clause: str) -> list[str]:
    """`clause` as one ask per action of a "How do I A, B(,) and C?" series; `[clause]` unless it is one. Three
    actions or more, each of several words and each after the first opening on a word that can start an action:
    "How do I create, list and clean them up?" is one ask about one thing, and "How do I set the timeout, the retry
    count and the backoff?" lists things (`split_items`' business), not actions. What follows the last action
    stays with it ("…, and search commit messages, even across file renames?")."""
    match = _HOW_DO_I.match(clause)
    if not match:
        return [clause]
    opening, rest, mark = match.groups()
    raw = re.split(r",\s+", rest)
    last = next((i for i, p in enumerate(raw) if i >= 2 and _CONJUNCTION.match(p)), None)
    if last is not None:
        pieces = [*raw[:last], ", ".join([_CONJUNCTION.sub("", raw[last], count=1), *raw[last + 1 :]])]
    else:
        pieces = [*raw[:-1], *re.split(r"\s+(?:and|or)\s+", raw[-1], maxsplit=1)]
    if (len(pieces) < 3 or any(len(p.split()) < 2 for p in pieces)
            or any(not p[0].islower() or p.split()[0].lower() in _NO_ACTION for p in pieces[1:])):
        return [clause]
    return [f"{opening}{piece}{mark}" for piece in pieces]


def next_action(clauses: list[str], i: int) -> bool:
    """Whether `clauses[i]` goes on from a "How do I …?" before it: a series' next action."""
    return i > 0 and bool(_HOW_DO_I.match(clauses[i])) and bool(_HOW_DO_I.match(clauses[i - 1]))


_CONJUNCTION = re.compile(r"^(?:and|or)\s+")
_NO_ACTION = word_set(
    """the a an its their my our your his her this that these those to of in on for with by at from as into onto
    over under when where while if then also so which what who how why even only just all each every both either
    other another some any more most less"""
)
