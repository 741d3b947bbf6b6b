"""Research planning without a model: a question into sub-topics, each researched on its own (what a researcher
searches for a topic, and with which tool, is `research.py`'s).

The rules are deliberately shallow (word lists and punctuation, no parsing): statements before or between the asks
set the scene and are no topic, each ask is a topic (with what its pronouns point at carried along in parentheses),
comparisons and enumerations of things become one topic per item, anything else stays one topic with at most two
narrower facets. Shallow rules fail safe: when no split is recognised, the question itself is researched. Where the
asks are (sentences, scene statements, several asks in one sentence) is `asks.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ... import prompts
from .asks import ASKING, SCOPE_PREFIX, is_ask, next_action, split_clauses, split_request
from .extract import GENERIC, STOPWORDS, content_terms, keyword_runs, split_carried, stem, without_scope, word_set

MAX_TOPICS = 5
MAX_ITEM_WORDS = 5

_WORD = r"[^\W_][\w'./+#~^-]*[\w+#]|[^\W_]"
_TOKEN = re.compile(rf"{_WORD}|[,;:?!.]")
# A facet names an option with its dashes ("-v flag", not "v flag"); elsewhere a bare dash does not make a word a name.
_OPTION_TOKEN = re.compile(rf"(?:(?<![\w-])--?(?=[^\W_]))?(?:{_WORD})|[,;:?!.]")
_PUNCT = frozenset(",;:?!.")
# Words that make a question a comparison; they are structure, so they never belong to an item or to the focus.
_CUES = word_set(
    """compare compares compared comparing comparison contrast contrasting difference differences differ differs
    distinguish versus vs"""
)
# Words that frame an aside or an illustration ("including when …", "e.g. …"), and the tails of contractions a
# curly apostrophe splits off ("we’re"): never a search term.
_ASIDES = word_set("including especially particularly notably regarding concerning e.g i.e etc re ve ll")
# Evaluative words also signal a comparison but stay in the focus ("which is cheaper" is what to research).
_EVALUATIVE = word_set("better worse faster slower cheaper costlier safer prefer preferable choose")
_ARTICLES = frozenset({"the", "a", "an"})
# Words that qualify a facet without naming anything a page would be about ("documented trade-offs").
_VAGUE = word_set(
    """documented trade-offs tradeoffs trade-off pros cons advantages disadvantages benefits drawbacks options features
    details various different common typical recommended possible general specific relevant related important good
    bad new old current available"""
)
# Words after which a comma-separated list can start ("capacities of A, B and C"); elsewhere a comma before the
# items more likely ends a clause ("faster for caching, A or B").
_LIST_INTRODUCERS = word_set(
    ": of between among including like as about compare comparing contrast do does did are is were was use using "
    "choose pick prefer"
)
_SEPARATORS = frozenset({",", "and", "or", "vs", "versus"})
# Verbs a how-to question joins with "or" ("filtered or turned into errors", "change the rules or exclude paths"):
# an item opening with one is an action, not a thing to compare. Only words rarely used as nouns.
_ACTIONS = word_set(
    """turn turns exclude excludes change make get add remove read write create delete enable disable stop skip
    configure install load save avoid pass print open close send receive define register raise catch include
    find allow deny protect restrict validate convert parse build override replace rerun inspect relax throw undo
    drop strip"""
)
# Leading words that make a run of subject words a clause fragment rather than a thing ("including generating",
# "failing test"): participles and quantifiers; and adverbs, which name no thing anywhere ("file instead").
_NOT_A_THING = word_set(
    """including using failing generating running having getting making doing following based according several
    many various early late unless asked described given goes project projects documentation docs manual instead
    automatically manually properly correctly separately directly"""
)
# Phrases that set two things against each other work like "versus" ("How does X differ from Y?").
_COMPARED = re.compile(
    r"\b(?:differs?|different|distinct)\s+from\b|\bcompared\s+(?:to|with)\b|\bas\s+opposed\s+to\b",
    re.IGNORECASE,
)
# Words that point back at an earlier clause's subject ("what are *their* defaults?").
_COUNTERPART = re.compile(r"\b(?:instead of|rather than|in place of)\b.*$", re.IGNORECASE)
_REFERRING = word_set("it its it's they them their theirs this these those that each both such ours")
def plan_topics(question: str, max_topics: int = MAX_TOPICS, known: Sequence[str] = ()) -> list[str]:
    """Sub-topics to research in parallel, each self-contained, at most `max_topics`, without duplicates: the
    first `max_topics` of `plan_parts` that no `known` topic (a follow-up's earlier run) covers. The report names the
    parts left out (see `dropped_parts`)."""
    return [p for p in plan_parts(question) if not covered(p, known)][: max(1, max_topics)]


_KNOWN_TOPIC = re.compile(r"^### (.+)$", re.MULTILINE)


def split_follow_up(message: str) -> tuple[str, list[str]]:
    """A supervisor's message without a follow-up's block (prompts.SUPERVISOR_FOLLOW_UP), and the topics that block
    says the earlier run researched."""
    head, marker, block = message.partition(prompts.FOLLOW_UP_MARKER)
    return (head.strip(), _KNOWN_TOPIC.findall(block)) if marker else (message, [])


def covered(topic: str, known: Sequence[str]) -> bool:
    """Whether an earlier topic already names everything `topic` is about (its subject terms are among the
    earlier one's): "VACUUM" is covered by "VACUUM and autovacuum", not the other way round."""
    terms = set(content_terms(topic))
    return bool(terms) and any(terms <= set(content_terms(k)) for k in known)


def plan_parts(question: str) -> list[str]:
    """Every part of the question worth its own researcher, in the order they should be researched (see
    `plan_with_facets`)."""
    return plan_with_facets(question)[0]


def plan_with_facets(question: str) -> tuple[list[str], list[str]]:
    """(every part of the question worth its own researcher, the facets among them). A facet belongs to a single ask
    ("tab completion" of "How do I set up tab completion for my click CLI?"): a narrower search for the same answer,
    not a part of the question of its own.

    A question of several asks gets one topic per ask; a later ask that names nothing specific ("what are their
    defaults?") carries the subject of the first along, and every item an ask compares or enumerates is researched
    on its own, since a page about one item rarely names the other. Statements around the asks ("My access_log keeps
    growing forever.", "I need to reload the config on a busy server.") set the scene: no part of their own, they
    say what the asks' pronouns point at ("What is it?" after "I found a file named mydb.db-journal.")."""
    text = " ".join(question.split())
    if not text:
        return [], []
    if scope := SCOPE_PREFIX.match(text):
        # "HAProxy: how do I send /api to another backend, and …?" names where it asks, as a scene would: read as
        # a list after a colon, its asks were items ("another backend").
        rest = text[scope.end():]
        text = f"{scope.group(1)}. {rest[0].upper()}{rest[1:]}"
    sentences = split_request(text)
    scene = " ".join(s for s in sentences if not is_ask(s))
    asks = [s for s in sentences if is_ask(s)]
    if not asks or not scene:
        asks, scene = sentences, ""
    clauses = [c for a in asks for c in split_clauses(a)]
    # A later clause may name one thing only ("… and what is a Lock for?"), or nothing but what it points at ("What
    # is it?" after a statement naming it); the first of a bare question must say more than one word.
    clauses = [c for i, c in enumerate(clauses)
               if len(content_terms(c)) >= (2 if i == 0 and not scene else 1) or ((scene or i) and refers(c))
               or next_action(clauses, i)]
    if len(clauses) < 2 and not (scene and clauses):
        if items := _tidy(split_items(text)):
            return items, []
        parts = _tidy([text, *facets(text)])
        return parts, parts[1:]
    topics: list[str] = []
    for i in range(len(clauses)):
        topics.append(_ask_topic(clauses, i, topics, scene))
    items = [item for clause in clauses for item in split_items(clause)]
    # An item is researched on its own even when its words are all the comparison's: "VACUUM FULL" is one side of
    # "How does VACUUM differ from VACUUM FULL?", not the same topic.
    clause_topics = _tidy(topics)
    return [*clause_topics, *(item for item in _tidy(items) if item not in clause_topics)], []


def _ask_topic(clauses: list[str], i: int, topics: list[str], scene: str) -> str:
    """The topic for ask `clauses[i]`: the ask with what it is about carried along in parentheses, from the scene or
    an earlier ask (`topics` holds the earlier asks' topics)."""
    clause = clauses[i]
    # The first earlier ask that names its own subject: what "it" and "them" point at, and "What about X?" asks again.
    own = next((c for c in clauses[:i] if not refers(c) and content_terms(c)), "")
    if i and _FOLLOW_ON.match(clause):
        # "What about a Django project?" asks an earlier ask's question again, of something else.
        return _carried(clause, key_phrases(own or clauses[0]))
    if next_action(clauses, i) and not _names(clause) and (given := _given(topics[i - 1])):
        # "How do I wait longer between attempts?" after "How do I make it retry (Celery)?": the same thing's.
        return _carried(clause, given)
    if i and (_only_vague(clause) or (len(content_terms(clause)) <= 1 and not _names(clause))):
        # An ask that names nothing but how to judge something ("What are the drawbacks?", "What is the default?")
        # is about what the ask before it asked, not about the question's opening; an ask before that points back
        # too passes on what it was given.
        before = clauses[i - 1]
        given = _given(topics[i - 1]) if refers(before) else ""
        return _carried(clause, given or key_phrases(before) or _plain(before))
    if refers(clause):
        if own:
            return with_subject(clause, own)
        # Nothing asked before names it: the scene does ("mydb.db-journal", "huge data file"), unless the ask names
        # its own thing, which the pronoun then points at as likely ("restart a Celery worker without losing the
        # tasks it is working on"). An ask of hardly a word of its own ("How does that work?") takes all the
        # scene's words, its only words to search, unless the scene names a code-like thing to point at.
        if len(content_terms(clause)) <= 1 and not _coded(scene):
            return _carried(clause, _scene_words(scene, limit=None))
        carried = subject_of(scene)[1] or not _names(clause)
        return _carried(clause, key_phrases(scene) or _plain(scene)) if carried else clause
    if not i:
        # What the asker needs ("I need to reload the config without cutting off downloads") is what the first ask
        # is for ("Which signal should I use?").
        return _carried(clause, _scene_words(scene)) if _REQUEST.match(scene) else with_subject(clause, scene)
    if not _colon_list(clauses[0]) and any(_is_named(item.split(": ")[0].split()) for item in split_items(clauses[0])):
        # The first ask compares or lists named things: a later one naming its own words is about neither item.
        return clause
    return with_subject(clause, f"{scene} {clauses[0]}")


def _given(topic: str) -> str:
    """What a topic carries in parentheses ("mydb.db-journal" of "What is it (mydb.db-journal)?")."""
    return split_carried(topic)[1]


def refers(clause: str) -> bool:
    """Whether `clause` points back at something named before ("it", "their defaults", "such an index"); the "it" of
    "is it OK to …" points at nothing."""
    return any(t.lower() in _REFERRING for t in _TOKEN.findall(_DUMMY_IT.sub(" ", clause)))


_DUMMY_IT = re.compile(
    r"\b(?:is|was|would|will|does)\s+it\s+(?:\w+\s+){1,2}?(?:to|that|if)\b|\bit\s+seems\b|\bon\s+(?:its|their)\s+own\b"
    r"|\bworth\s+it\b",
    re.IGNORECASE,
)


# A statement that says what the asker needs, wants or is trying to do.
_REQUEST = re.compile(
    r"^(?:\w+\s+){0,4}?(?:I|we)\s+(?:(?:really|also|just)\s+)?(?:need|want|would like|'d like|have to|am trying "
    r"to|are trying to|must)\b",
    re.IGNORECASE,
)
SCENE_WORDS = 8


def _scene_words(scene: str, limit: int | None = SCENE_WORDS) -> str:
    """The scene's key phrases, then its other subject words, at most `limit` words: "SQLite, search box, product
    descriptions app …" (a heading can show the phrases before the bag of words)."""
    phrases = [p for p in key_phrases(scene).split(", ") if p]
    seen = {w.lower() for p in phrases for w in p.split()}
    rest = [w for w in _plain(scene).split() if w.lower() not in seen and not seen.add(w.lower())]
    words = [w for p in phrases for w in p.split()] + rest
    kept = len(words) if limit is None else limit
    out: list[str] = []
    for phrase in [*phrases, " ".join(rest)]:
        taken = phrase.split()[: max(0, kept - sum(len(o.split()) for o in out))]
        if taken:
            out.append(" ".join(taken))
    return ", ".join(out)


def _coded(text: str) -> bool:
    """Whether `text` names something code-like ("mydb.db-journal", "utf8mb4"): then that is what a pronoun points
    at. A hyphen alone ("on-call") or a figure alone ("90") is plain English."""
    return any(bool(set(w) & set("_./#+")) or (any(c.isdigit() for c in w) and any(c.isalpha() for c in w))
               for _, w in _indexed_words(text))


def _names(clause: str) -> bool:
    return any(_is_special(w, i == 0) for i, w in _indexed_words(clause))


def _plain(text: str) -> str:
    return " ".join(w for w in salient_words(without_scope(text)) if w.lower() not in GENERIC and w.upper() not in
                    _NO_NAMES)


def key_phrases(text: str, limit: int = 2) -> str:
    """What a statement or clause is about, short enough to carry into a clause that points at it: its named or
    code-like phrases, else its first phrases naming a thing ("huge data file" of "Someone committed a huge data
    file long ago")."""
    subject, named = subject_of(text)
    names = [_trimmed(p.split()) for p in subject.split(", ")] if named else []
    things = [_trimmed(t) for t in (_thing([w for _, w in run]) for run in _runs(without_scope(text))) if t]
    # A named thing first; a plain phrase beside it unless a name already holds it ("time zone" beside "Celery").
    plain = [t for t in things if not any(set(content_terms(t)) & set(content_terms(n)) for n in names)]
    return ", ".join([*names[:limit], *plain][:limit])


def _trimmed(words: list[str]) -> str:
    """A phrase without trailing words that name nothing ("mydb.db-journal next", "data file long ago")."""
    while len(words) > 1 and words[-1].lower() in _TRAILING:
        words = words[:-1]
    return " ".join(words)


_TRAILING = word_set(
    """next beside near behind inside outside below above ago long later now again instead away back forever together
    first too lets says tells keeps"""
)


_FOLLOW_ON = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\b", re.IGNORECASE)


def _carried(clause: str, subject: str) -> str:
    if not subject or _named_terms(subject) <= _named_terms(clause):
        return clause
    body = clause.rstrip("?.!")
    return f"{body} ({subject}){clause[len(body):]}"


def _only_vague(clause: str) -> bool:
    """Whether every subject word of `clause` only qualifies ("drawbacks", "trade-offs", "options")."""
    words = [w for _, w in _indexed_words(clause)]
    return bool(words) and all(w.lower() in _VAGUE for w in words)


def dropped_parts(question: str, researched: list[str]) -> list[str]:
    """Parts of `question` the plan has but no researched topic covers (the rest of a plan cut at the cap)."""
    done = {frozenset(content_terms(t)) for t in researched}
    return [p for p in plan_parts(question) if frozenset(content_terms(p)) not in done]


def _tidy(topics: list[str]) -> list[str]:
    """Topics without malformed pieces: no dangling "x:" focus, no trailing colon, something to search for."""
    out: list[str] = []
    for topic in topics:
        text = " ".join(topic.split()).strip(" ,;:")
        head, sep, rest = text.partition(": ")
        if sep and not content_terms(rest):
            text = head.strip(" ,;:")
        if content_terms(text):
            out.append(text)
    return _dedupe(out)


def with_subject(clause: str, first: str) -> str:
    """`clause` with the subject of `first` appended when the clause names nothing specific of its own, or points
    back at it. A clause whose words already contain the subject's ("autovacuum" holds "vacuum") is left alone."""
    pointing = refers(clause) or _only_vague(clause)
    if not pointing and any(_is_special(w, i == 0) for i, w in _indexed_words(clause)):
        return clause
    subject, named = subject_of(first)
    if named:
        subject = ", ".join(_trimmed(p.split()) for p in subject.split(", "))
    # Without a pointing word, only a named subject is carried: "how does the citation pass work" after "how does
    # the scope phase work" is a topic of its own, while "which parts run remotely" after "… postgres_fdw" is not.
    if not subject or not (pointing or named):
        return clause
    own = content_terms(clause)
    # A short word inside a longer one is a different word ("test" in "pytest"); a longer one is the same thing
    # ("vacuum" in "autovacuum").
    if any(any(term == word or (len(term) >= 5 and term in word) for word in own) for term in content_terms(subject)):
        return clause
    if pointing and not named:
        # Nothing named to carry: the first clause's own words say what "them" are ("tests pass fail
        # intermittently"), more than its first two words do.
        subject = _plain(first)
    # A subject of bare names ("Django", "PostgreSQL") is often the documentation's own name: a clause that already
    # shares a word with the first ("… enforce password strength rules" after "… store passwords") needs no more.
    if not pointing and not any(_is_code_like(w) for w in subject.split()) and set(own) & set(content_terms(first)):
        return clause
    body = clause.rstrip("?.!")
    return f"{body} ({subject}){clause[len(body):]}"


def subject_of(text: str) -> tuple[str, bool]:
    """What a clause is about: its runs of subject words that hold a name or code-like word, else its first run of
    several words; and whether it is named. A code-like word keeps the words after it ("row-level security"); a
    capitalised name only the names after it ("PostgreSQL support" is a name and a verb)."""
    runs = _runs(without_scope(text))  # "… in PostgreSQL" says where, not what
    named = _keyword_words(text)
    special: list[str] = []
    for run in runs:
        marks = [i for i, (position, word) in enumerate(run) if _is_special(word, position == 0)]
        if not marks:
            continue
        words = [word for _, word in run[marks[0] :]]
        if not _is_code_like(words[0]):
            kept = _names_from(words, 0)
            # A keyword run later in the same phrase is a name of its own ("SQLite table WITHOUT ROWID").
            later = next((i for i in range(kept, len(words)) if words[i] in named), None)
            if later is not None:
                special.append(" ".join(words[:kept]))
                words = words[later : _names_from(words, later)]
            else:
                words = words[:kept]
        special.append(" ".join(words))
    if special:
        return ", ".join(special[:2]), True
    return next((" ".join(word for _, word in run) for run in runs if len(run) >= 2), ""), False


def _names_from(words: list[str], start: int) -> int:
    """The end of the names that begin at `words[start]`: it, then every name right after it."""
    end = start + 1
    while end < len(words) and _is_special(words[end], False):
        end += 1
    return end


def _keyword_words(text: str) -> frozenset[str]:
    """The stopwords `text` spells as part of a capitalised keyword run ("WITHOUT" of "WITHOUT ROWID"): subject words
    there, as the run names one thing (`keyword_runs`)."""
    stems = {w for run in keyword_runs(text) for w in run.split("_")}
    if not stems:
        return frozenset()
    return frozenset(t for t in _TOKEN.findall(text) if t.isupper() and stem(t.lower()) in stems)


def _indexed_words(text: str) -> list[tuple[int, str]]:
    named = _keyword_words(text)
    return [(i, t) for i, t in enumerate(_TOKEN.findall(text))
            if t not in _PUNCT and (t in named or not _is_stop(t.lower()))]


def _runs(text: str) -> list[list[tuple[int, str]]]:
    """Runs of consecutive subject words (with their token positions): roughly the noun phrases."""
    runs: list[list[tuple[int, str]]] = [[]]
    named = _keyword_words(text)
    for position, token in enumerate(_TOKEN.findall(text)):
        if token in _PUNCT or (_is_stop(token.lower()) and token not in named):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((position, token))
    return [r for r in runs if r]


def _is_special(word: str, initial: bool) -> bool:
    """A name, figure or code-like word. A capital that only opens the sentence does not count, nor "I" or "OK"."""
    if word.upper() in _NO_NAMES:
        return False
    return _is_code_like(word) or any(c.isupper() for c in word[1:]) or (word[:1].isupper() and not initial)


_NO_NAMES = frozenset({"I", "I'M", "I'VE", "I'D", "I'LL", "OK"})


def _is_code_like(word: str) -> bool:
    return any(c.isdigit() for c in word) or bool(set(word) & set("_./#+-"))


def split_items(text: str) -> list[str]:
    """One topic per compared or enumerated item, each carrying the rest of the question as its focus."""
    listed = _colon_list(text)
    if listed:
        return listed
    tokens = _keywords_whole(_TOKEN.findall(_COMPARED.sub(" versus ", text)))
    found = _find_items(tokens)
    if found is None:
        return []
    start, end, items = found
    focus = " ".join(p for p in (_phrase(tokens[:start]), _phrase(tokens[end:])) if p)
    # "… a GIN or a BRIN index instead of a B-tree": the counterpart is no aspect of each item, and as a focus it
    # ranks the pages that name both (an extension mapping one onto the other) above the item's own page.
    focus = _COUNTERPART.sub("", focus).strip()
    has_focus = bool(content_terms(focus))
    *others, last = items
    if len(last.split()) >= 2 and _is_code_like(last.split()[0]) and all(o.islower() and " " not in o for o in others):
        # "Which signal or apache2ctl command": a kind of thing or a named one, not two things ("signal command").
        return []
    items = _shared_head(items)
    return [f"{item}: {focus}" if has_focus else item for item in items]


def _colon_list(text: str) -> list[str]:
    """The items of "What are SQLite's size limits: the largest database file, the longest string or BLOB, …", each
    under the head the colon introduces ("SQLite's size limits: largest database file"): an item alone ("longest
    string") names nothing a page is about."""
    head, sep, rest = text.rstrip("?.!").partition(": ")
    pieces = [p for p in re.split(r",\s*(?:(?:and|or)\s+)?", rest) if p.strip()] if sep else []
    if len(pieces) < 2 or any(len(p.split()) > 7 for p in pieces):
        return []
    head_words = [w for w in _TOKEN.findall(head) if w not in _PUNCT]
    while head_words and (_is_stop(head_words[0].lower()) or ASKING.match(head_words[0])):
        head_words.pop(0)
    subject = " ".join(head_words)
    items = [re.sub(r"^(?:the|a|an)\s+", "", p.strip(), flags=re.IGNORECASE) for p in pieces]
    return [f"{subject}: {item}" if subject else item for item in items if content_terms(item)]


def _shared_head(items: list[str]) -> list[str]:
    """Items that share the last one's head noun get it ("a GIN or a BRIN index" is a GIN index and a BRIN index):
    a bare "GIN" finds every page that names it in passing."""
    *others, last = items
    words = last.split()
    head = words[-1] if len(words) >= 2 else ""
    if not others or not head.isalpha() or not head.islower() or any(len(o.split()) != 1 for o in others):
        return items
    return [*(f"{o} {head}" for o in others), last]


def facets(text: str, limit: int = 2) -> list[str]:
    """Narrower topics from the question's own noun-phrase-like runs of subject words, only when the question has
    several such runs and each facet brings terms the other facets do not cover."""
    runs: list[list[str]] = [[]]
    for token in _OPTION_TOKEN.findall(text):
        if token in _PUNCT or _is_stop(token.lower()):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(token)
    runs = [r for r in runs if r]
    if len(runs) < 2:
        return []
    chosen: list[str] = []
    covered: set[str] = set()
    runs = [_thing(r) for r in runs]
    for run in sorted((r for r in runs if len(r) >= 2), key=lambda r: -max(specificity(w) for w in r)):
        run_terms = set(content_terms(" ".join(run)))
        if run_terms - covered:
            chosen.append(" ".join(run))
            covered |= run_terms
        if len(chosen) == limit:
            break
    return sorted(chosen, key=text.find)  # chosen by specificity, listed as the question orders them


def _thing(run: list[str]) -> list[str]:
    """A run of subject words trimmed to the thing it names: no vague words, no leading verb, participle or
    quantifier, no trailing participle ("run tests described" is "tests"). A single word left is no facet unless it
    is code-like: a bare name ("Django") is what every page of its documentation is about."""
    words = [w for w in run if w.lower() not in _VAGUE and w.lower() not in _NOT_A_THING and w.upper() not in _NO_NAMES]
    while words and words[0].islower() and (words[0] in _ACTIONS or words[0] in GENERIC):
        words.pop(0)
    while words and words[-1].islower() and words[-1].endswith("ed"):
        words.pop()
    return words if len(words) >= 2 or (words and _is_code_like(words[0])) else []


def salient_words(text: str) -> list[str]:
    """Subject words as written (one per stem), in order."""
    seen: dict[str, str] = {}
    named = _keyword_words(text)
    for token in _TOKEN.findall(text):
        low = token.lower()
        if token in _PUNCT or (_is_stop(low) and token not in named) or low in _EVALUATIVE:
            continue
        seen.setdefault(stem(low), token)
    return list(seen.values())


def _keywords_whole(tokens: list[str]) -> list[str]:
    """`tokens` with each capitalised keyword run that holds a stopword as one token: the "OR" of "INSERT OR
    REPLACE" joins no items, and "UNION ALL" is an item apart from "UNION"."""
    if not keyword_runs(" ".join(tokens)):  # none, or the whole request is in capitals
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j]) > 1 and tokens[j].isupper() and tokens[j].replace("_", "").isalnum():
            j += 1
        if j - i >= 2 and keyword_runs(" ".join(tokens[i:j])):
            out.append(" ".join(tokens[i:j]))
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return out


def _find_items(tokens: list[str]) -> tuple[int, int, list[str]] | None:
    low = [t.lower() for t in tokens]
    versus = [i for i, t in enumerate(low) if t in ("vs", "versus")]
    cue = any(t in _CUES or t in _EVALUATIVE for t in low)
    if versus:
        pivots, need = versus, 2
    elif cue:
        pivots, need = [i for i, t in enumerate(low) if t in ("and", "or")], 2
    else:
        # Without a cue, "X or Y" is still a choice; "and" only makes an enumeration when commas list 3+ items.
        pivots = [i for i, t in enumerate(low) if t == "or"]
        pivots += [i for i, t in enumerate(low) if t in ("and", "or") and "," in low[:i]]
        # Two names joined by "and" are an enumeration too ("size shared_buffers and work_mem"): a page about one
        # rarely covers the other. Plain words are not ("found and loaded", "stdout and stderr").
        pivots += [i for i, t in enumerate(low) if t == "and" and i not in pivots]
        need = 2
    for pivot in pivots:
        found = _items_around(tokens, low, pivot)
        if found is None:
            continue
        start, end, items = found
        named_pair = low[pivot] == "and" and len(items) == 2 and all(map(_is_named, items))
        if len(items) >= need and (versus or cue or low[pivot] == "or" or len(items) >= 3 or named_pair):
            if not (versus or cue) and any(_is_action(item) for item in items):
                continue
            if not all(map(_is_named, items)) and _situations(tokens, low, start, end, items):
                continue
            if named_pair:
                while len(items[0]) > 1 and not _is_named(items[0][:1]):
                    items[0] = items[0][1:]  # "size shared_buffers": the verb before the first name is no part of it
                    start += 1
            return start, end, [" ".join(item) for item in items]
    return None


def _items_around(tokens: list[str], low: list[str], pivot: int) -> tuple[int, int, list[list[str]]] | None:
    left: list[list[str]] = []
    start = pivot
    i = pivot - 1
    if i >= 0 and low[i] == ",":
        i -= 1
    while i >= 0:
        j = i
        while j >= 0 and _is_item_word(low[j]) and i - j < MAX_ITEM_WORDS:
            j -= 1
        if j == i:
            break
        left.insert(0, tokens[j + 1 : i + 1])
        start = j + 1
        if j >= 0 and low[j] == ",":
            i = j - 1
            continue
        break
    right: list[list[str]] = []
    end = pivot + 1
    k = pivot + 1
    while k < len(tokens):
        while k < len(tokens) and low[k] in _ARTICLES:
            k += 1
        m = k
        while m < len(tokens) and _is_item_word(low[m]) and m - k < MAX_ITEM_WORDS:
            m += 1
        if m == k:
            break
        right.append(tokens[k:m])
        end = m
        if m < len(tokens) and low[m] in _SEPARATORS:
            k = m + 1
            if low[m] == "," and k < len(tokens) and low[k] in ("and", "or"):
                k += 1
            continue
        break
    if not left or not right:
        return None
    # Two items before the pivot may start with a word of the clause before ("for caching, A or B"); three or more
    # comma-separated ones are a list whatever precedes it ("the modules os, sys, shutil and pathlib").
    before = start - 1
    while before > 0 and low[before] in _ARTICLES:
        before -= 1  # "Compare a group, chunks and map": the list starts after "Compare", not "a"
    if len(left) == 2 and before >= 0 and low[before] not in _LIST_INTRODUCERS:
        start += sum(len(item) + 1 for item in left[:-1])
        left = left[-1:]
    items = left + right
    # An edge item longer than the others has probably swallowed words of the question ("plants harm fish").
    longest_inner = max(len(it) for it in items[1:]) if len(items) > 1 else MAX_ITEM_WORDS
    if len(items) >= 4 and max(len(it) for it in items[1:-1]) == 1:
        longest_inner = 0  # one-word items: a longer first one holds a word of the question ("modules os")
    if len(items[0]) > longest_inner + 1:
        cut = len(items[0]) - (longest_inner + 1)
        items[0] = items[0][cut:]
        start += cut
    longest_inner = max(len(it) for it in items[:-1])
    if len(items) >= 4 and max(len(it) for it in items[1:-1]) == 1:
        longest_inner = 0  # one-word items: a longer last one has swallowed a verb ("pathlib provide")
    if len(items[-1]) > longest_inner + 1:
        cut = len(items[-1]) - (longest_inner + 1)
        items[-1] = items[-1][:-cut]
        end -= cut
    return start, end, items


def _situations(tokens: list[str], low: list[str], start: int, end: int, items: list[list[str]]) -> bool:
    """Whether the "items" are situations or aspects rather than things: a verb with its object ("a query or scans
    *the* whole table"), a quantified pro-form ("long-running tasks compared with many short ones"), or the
    dimensions of a comparison ("differ in processes and threads")."""
    if end < len(low) and low[end] in _DETERMINERS:
        return True
    if any(w.lower() in _PRO_FORMS or w.lower() in _NOT_A_THING for item in items for w in item):
        return True
    return start >= 2 and low[start - 1] in ("in", "by") and low[start - 2] in _CUES


_PRO_FORMS = word_set("one ones something anything everything nothing few")
_DETERMINERS = word_set("the a an my our your their its his her this that these those")


def _is_named(item: list[str]) -> bool:
    """An item holding a name or a code-like word ("work_mem", "Repeatable Read"), not plain words."""
    return any(_is_code_like(w) or w[:1].isupper() for w in item)


def _is_action(item: list[str]) -> bool:
    """An item that opens with a verb: one of `_ACTIONS`, or a past participle ("filtered")."""
    first = item[0]
    low = first.lower()
    return first.islower() and (low in _ACTIONS or (low.endswith("ed") and len(low) > 4))


def _phrase(tokens: list[str]) -> str:
    """The focus left around the items: structure words dropped, stopwords trimmed from both edges."""
    kept = [t for t in tokens if t.lower() not in _CUES]
    while kept and (kept[0] in _PUNCT or _is_stop(kept[0].lower())):
        kept.pop(0)
    while kept and (kept[-1] in _PUNCT or _is_stop(kept[-1].lower())):
        kept.pop()
    return re.sub(r"\s+([,;:?!.])", r"\1", " ".join(kept))


def _is_stop(word: str) -> bool:
    if "'" in word or "\u2019" in word:  # a contraction: "doesn't", "I'm", "we've" say nothing a page is about
        base = re.split("['\u2019]", word, maxsplit=1)[0]
        return word.endswith(("n't", "n\u2019t")) or base in STOPWORDS
    return word in STOPWORDS or word in GENERIC or word in _CUES or word in _ASIDES


def _is_item_word(word: str) -> bool:
    return word not in _PUNCT and not _is_stop(word) and word not in _EVALUATIVE


def specificity(word: str) -> float:
    """Names, figures and code-like words first, then longer words."""
    special = any(c.isupper() or c.isdigit() for c in word[1:]) or word[:1].isupper() or bool(set(word) & set("_./#+"))
    return (2.0 if special else 0.0) + min(len(word), 12) / 12


_MARKED = re.compile(r"[~^]|\.\.")


def _named_terms(text: str) -> frozenset[str]:
    """`text`'s content terms and its revision-like names whole: "HEAD~2" and "HEAD^2" differ by their marks alone,
    and "A..B" has no content term at all."""
    return frozenset({*content_terms(text), *(t.lower() for t in _TOKEN.findall(text) if _MARKED.search(t))})


def _dedupe(topics: list[str]) -> list[str]:
    seen: set[frozenset[str]] = set()
    out: list[str] = []
    for topic in topics:
        # Revision-like names differ by their marks alone: "HEAD~2" and "HEAD^2" are two items, not one.
        key = _named_terms(topic) or frozenset({topic.lower()})
        if key not in seen:
            seen.add(key)
            out.append(topic)
    return out
