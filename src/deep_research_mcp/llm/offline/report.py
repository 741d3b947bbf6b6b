"""The offline report: the answer first, then one section per topic, every sentence quoted and cited.

The researchers' notes arrive one passage per line (sentences that read together, each ending in its `[S<n>]`
markers). The report opens with a short answer (the best passage of each topic, 3–6 sentences), says which parts of
the question were left out when the plan was cut, then gives each topic a section under a short heading. Rewrite
instructions (`write` on a finished run) are honoured where an extractive writer can (shorter, summary only, bullets,
order or subset of sections); what it cannot do (another language, another tone) is said in a writer's note, which
the engine's writer turns into a warning.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

from ... import prompts
from .asks import is_ask, split_clauses
from .extract import STOPWORDS, between, content_terms, documents, jaccard, rank, split_carried, terms, word_set, words
from .extract import asked as topic_ask  # write_report's `asked` holds the rewrite instructions
from .inline import code_tags, dunders_as_code, outside_code
from .planner import dropped_parts, plan_with_facets, refers
from .select import cited_passages, needs_previous
from .units import finish

REPORT_SENTENCES = 60  # in the sections, after the short answer
MIN_SECTION_SENTENCES = 5
MAIN_PAGE_EXTRA = 4  # sentences a section may add beyond its share when they come from its main page
SUMMARY_MIN, SUMMARY_MAX = 3, 6
# How far the answer prefers passages of the pages the research quoted most: x0.2 for a page quoted once in a run
# whose main page was quoted often, x1.0 for that page.
SUMMARY_PAGE_WEIGHT = 0.8
SUMMARY_PASSAGE = 3  # sentences a passage may have to be quoted whole in the answer
SUMMARY_CHANCE_MASS = 0.5  # a page quoted less than half as often as the run's main page may share a word by chance
PARAGRAPH_SENTENCES = 3
TITLE_CHARS = 100
SCENE_TITLE_CHARS = 160  # a scene sentence and the ask that points back at it
HEADING_CHARS = 60
NOTHING_FOUND = "No relevant passages were found for this topic."
WRITER_NOTE = "> Writer's note: "  # engine/writer.py turns these lines into run warnings

_CITED_SENTENCE = re.compile(
    r"(?P<text>.+?)(?P<marks>(?:\s*\[S\d+(?:\s*,\s*S\d+)*\])+)(?P<end>[.!?;:]?)(?=\s|$)"
)
Note = tuple[str, list[str]]


@dataclass(slots=True)
class Section:
    topic: str
    passages: list[list[Note]] = field(default_factory=list)
    nothing: str = ""  # the researcher's "nothing found" line, when it found nothing

    @property
    def notes(self) -> list[Note]:
        return [note for passage in self.passages for note in passage]


def parse_findings(
    findings: str, recover: Callable[[str, str], list[list[Note]]] | None = None
) -> list[Section]:
    """Sections of the findings; each line of a note is a passage. `recover(body, topic)` turns a raw transcript
    (compression failed upstream) into passages."""
    parts = re.split(r"^## (.+)$", findings, flags=re.MULTILINE)
    pairs = list(zip(parts[1::2], parts[2::2], strict=True))
    if not pairs and parts[0].strip():
        pairs = [("", parts[0])]
    sections: list[Section] = []
    for topic, body in pairs:
        section = Section(topic.strip())
        if "<document" in body:
            if recover is not None:
                section.passages = recover(body, section.topic)
            sections.append(section)
            continue
        fence: list[str] | None = None
        # Code right after a passage's line belongs to it (it introduced it); after a blank line, or first in the
        # section, code opens a passage: the example a "This …" sentence right after it points at. A pointing
        # line right after code reads on from it, so it joins the code's passage.
        opens = True  # the next code block opens a passage
        after_code = False
        for raw in body.splitlines():
            if raw.strip().startswith("```"):
                if fence is None:
                    fence = [raw.rstrip()]
                    continue
                fence.append(raw.rstrip())
                code: Note = ("\n".join(fence), [])
                if opens or not section.passages:
                    section.passages.append([code])
                else:
                    section.passages[-1].append(code)
                fence, opens, after_code = None, False, True
                continue
            if fence is not None:
                fence.append(raw.rstrip())
                continue
            if not raw.strip():
                opens, after_code = True, False
                continue
            # A bullet's marker, not the dashes of an option the note opens with ("--grep=<pattern> Limit …").
            line = re.sub(r"^(?:[-*•+]\s+)+", "", raw.strip()).lstrip("*").strip()
            if line.startswith((NOTHING_FOUND, "No sources were read")):
                section.nothing = line
                continue
            passage: list[Note] = []
            for cited in _CITED_SENTENCE.finditer(line):
                ids = re.findall(r"S\d+", cited.group("marks"))
                text = (cited.group("text").strip() + cited.group("end")).strip()
                if text.strip(".!?;: "):
                    # A lead-in the notes quote with its items after it keeps its colon ("…, such as:").
                    passage.append((text if text.endswith(":") else finish(text), list(dict.fromkeys(ids))))
            if passage and after_code and needs_previous(passage[0][0]):
                section.passages[-1] += passage
            elif passage:
                section.passages.append(passage)
            opens = after_code = False
        # Code no sentence read on from is the example of the passage before it, as a writer's notes mean it.
        merged: list[list[Note]] = []
        for passage in section.passages:
            if merged and not any(ids for _, ids in passage):
                merged[-1] += passage
            elif any(ids for _, ids in passage):
                merged.append(passage)
        section.passages = merged
        sections.append(section)
    return sections


@dataclass(frozen=True, slots=True)
class Instructions:
    """What an extractive writer can do with rewrite instructions, and what it has to decline."""

    summary_only: bool = False
    bullets: bool = False
    shorter: bool = False
    sentences: int | None = None  # "a three-bullet summary"
    first: tuple[str, ...] = ()  # sections to put first, as asked
    only: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    declined: tuple[str, ...] = ()
    longer: bool = False  # quote more of the notes (they hold more than a report quotes); nothing new is written


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10}
_LANGUAGES = ("english", "french", "german", "spanish", "italian", "portuguese", "dutch", "russian", "chinese",
              "japanese", "korean", "arabic", "hindi", "polish", "swedish", "turkish", "ukrainian", "czech")
_TONE = re.compile(r"\b(?:tone|formal|informal|casual|friendly|funny|humou?rous|playful|persuasive|enthusiastic|"
                   r"simpler? words|plain language|for (?:a child|children|kids|beginners|executives|managers)|"
                   r"eli5|like i'?m five|rhym\w*|poem|poetic|in the style of|first person|more engaging)\b", re.I)
_LONGER = re.compile(r"\b(?:longer|expand|elaborate|more detail(?:ed)?|in (?:more )?depth|more thorough)\b", re.I)
_NEW_MATERIAL = re.compile(r"\badd (?:an? )?(?:section|example|conclusion|introduction)\b", re.I)
LONGER_FACTOR = 1.5  # "longer": more of the researchers' notes, which hold about twice what a report quotes


def parse_instructions(text: str) -> Instructions:
    low = " ".join(text.lower().split())
    if not low:
        return Instructions()
    declined: list[str] = []
    language = next((lang for lang in _LANGUAGES if re.search(rf"\b(?:in|into|to) {lang}\b", low)), None)
    if language or re.search(r"\btranslat", low):
        declined.append(f"write in another language ({language.title() if language else 'a translation'}): it "
                        "only quotes the sources, in their own language")
    tone = _TONE.search(low)
    if tone:
        declined.append(f"change the tone or style ({tone.group(0)}): it only quotes the sources, in their words")
    if _NEW_MATERIAL.search(low):
        declined.append("add material of its own: it can only choose, order and shorten the quoted passages")
    longer = bool(_LONGER.search(low))
    count = re.search(r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")[- ](?:bullet|sentence|point|line)s?\b", low)
    sentences = None
    if count:
        sentences = int(count.group(1)) if count.group(1).isdigit() else _NUMBERS[count.group(1)]
    summary_only = bool(re.search(r"\bsummary only\b|\bonly (?:the |a )?summary\b|\bjust (?:the |a )?summary\b|"
                                  r"\btl;?dr\b|\b(?:make|turn) it (?:into )?an? [\w-]*\s*summary\b|"
                                  r"\bbullet summary\b", low)) or (sentences is not None and "summary" in low)
    bullets = bool(re.search(r"\bbullet|\bbulleted\b|\bas a list\b|\blist form\b|\bpoints\b", low))
    shorter = bool(re.search(r"\bshort(?:er)?\b|\bbrief(?:er)?\b|\bconcise\b|\bcondense|\btrim\b|\bcut\b", low))
    first = tuple(m.strip() for m in re.findall(r"\b(?:put|move|start with|begin with|lead with)\s+(?:the\s+)?"
                                                r"([\w .:-]+?)(?:\s+(?:section\s+)?first|\s+at the top|[.;,]|$)", low))
    only = tuple(m.strip() for m in re.findall(r"\bonly (?:keep |include |the )?(?:sections? (?:on|about) )?"
                                               r"([\w .:-]+?)(?:\s+sections?)?(?:[.;,]|$)", low)
                 if "summary" not in m)
    omit = tuple(m.strip() for m in re.findall(r"\b(?:omit|drop|remove|skip|leave out|without)\s+(?:the\s+)?"
                                               r"([\w .:-]+?)(?:\s+sections?)?(?:[.;,]|$)", low))
    return Instructions(summary_only, bullets, shorter and not longer, sentences, first, only, omit, tuple(declined),
                        longer and not shorter)


_FILLER = word_set("part parts section sections bit bits topic topics one ones")


def _matches(section: Section, wanted: tuple[str, ...]) -> bool:
    own = set(terms(section.topic)) | set(words(section.topic))  # "asyncio.TaskGroup" is also "taskgroup"
    for phrase in wanted:
        named = {t for t in content_terms(phrase) if t not in _FILLER}
        if named and named <= own:
            return True
    return False


def write_report(user_text: str) -> str:
    brief = between(user_text, "Research brief:\n", "\n\nFindings (cited notes from the researchers):").strip()
    findings = between(user_text, "Findings (cited notes from the researchers):\n", "")
    findings, _, extra = findings.partition("\nAdditional instructions for this report:")
    findings, _, language = findings.partition(prompts.REPORT_LANGUAGE_HEAD)
    findings = findings.replace(prompts.FINDINGS_TRUNCATED.strip(), "").strip()
    asked = parse_instructions(extra.strip())
    if language := language.split(". ", 1)[0].strip():
        asked = replace(asked, declined=(f"write the report in {language}: it only quotes the sources, in their "
                                         "own language, and cannot translate", *asked.declined))
    title = report_title(brief)
    # The engine's placeholder when every researcher failed: there are no sections, not one empty one.
    sections = [] if findings == "No findings were gathered." else parse_findings(findings, _recover)
    if not any(s.passages for s in sections):
        return _empty_report(title, sections, asked)
    lines = [f"# {title}", *(f"{WRITER_NOTE}The offline writer cannot {d}." for d in asked.declined)]
    sections = _arranged(sections, asked)
    summary, used = _summary(sections, asked, brief)
    lent = {passage[0][0] for passage in summary if passage}  # first sentences the answer borrowed
    # Each sentence once: a page that states a sentence twice gave a passage holding it twice.
    cited = list({note[0]: note for passage in summary for note in passage if note[1]}.values())
    if cited and asked.bullets:
        lines.append("\n".join(f"- {_cite(*note)}" for note in cited))
    elif cited:  # a single passage stays with its section: then there is no separate answer, not an empty one
        lines.append(" ".join(_cite(*note) for note in cited))
    planned, facet_parts = plan_with_facets(brief)
    if planned and any(s.topic in planned for s in sections):  # the offline planner's plan: it can say what it left
        left = dropped_parts(brief, [s.topic for s in sections])
        if left and not (asked.only or asked.omit):
            lines.append(f"> Not researched (over the limit of topics researched at once): {'; '.join(left)}.")
    if asked.summary_only or asked.sentences is not None:
        return "\n\n".join(lines) + "\n"
    # The report has a length budget rather than each section: two topics get half of it each, five a fifth, so a
    # question split finer does not make a longer report, only a broader one.
    budget = REPORT_SENTENCES // 2 if asked.shorter else int(REPORT_SENTENCES * (LONGER_FACTOR if asked.longer else 1))
    cap = max(MIN_SECTION_SENTENCES // (2 if asked.shorter else 1),
              budget // max(1, sum(1 for s in sections if s.passages)))
    offered: list[list[list[Note]]] = []
    for section in sections:
        fresh = ([p for p in section.passages if p not in used and not _repeats(p, used)]
                 or [p for p in section.passages if p not in used])
        rests = [rest for rest in (_without_lent(p, lent) for p in fresh) if rest]
        # All it found leans on sentences the answer borrowed ("It has 24 turbines …" after the sentence the answer
        # quotes): quoted whole, the section keeps the facts only it states, rather than vanishing.
        offered.append(rests or [p for p in fresh if len(p) > 1 and p[0][0] in lent])
    if asked.shorter:
        offered = [_main_page_first(section, passages) for section, passages in zip(sections, offered, strict=True)]
    chosen = _fill(offered, cap, budget, used)
    said = {text for text, _ in cited}  # what the answer quotes
    if not asked.shorter:
        chosen = _main_page_extra(sections, offered, chosen, used)
    # A facet of a single ask ("tab completion" of "How do I set up tab completion for my click CLI?") searched for
    # the same answer: what it found goes on under the ask's heading, not under a heading of two loose words.
    facets = set(facet_parts)
    headed = False
    for section, candidates, kept in zip(sections, offered, chosen, strict=True):
        facet = section.topic in facets
        if not section.passages:
            if not facet:
                lines.append(f"## {heading(section.topic) if section.topic else 'Findings'}")
                lines.append(_found_nothing(section.topic))
            continue
        if not candidates:
            continue  # everything found for this topic is already quoted above: no section repeats it
        if not (kept := _once(kept, said, lent)):
            continue  # all it quotes, the report has already said
        if not facet or not headed:
            topic = sections[0].topic if facet else section.topic
            lines.append(f"## {heading(topic) if topic else 'Findings'}")
            headed = True
        lines += _paragraphs(kept, asked.bullets)
    return "\n\n".join(lines) + "\n"


def _fill(offered: list[list[list[Note]]], cap: int, budget: int, used: list[list[Note]]) -> list[list[list[Note]]]:
    """The passages each section quotes, in its own order: first up to `cap` sentences each, then what the sections
    that found less left of `budget` goes to the others, in section order. A passage is never split, and none
    repeats one already quoted (`used`, which grows with what is picked)."""
    picked: list[set[int]] = [set() for _ in offered]
    counts = [0] * len(offered)
    for si, passages in enumerate(offered):
        for pi, passage in enumerate(passages):
            if counts[si] and counts[si] + len(passage) > cap:
                continue  # a shorter passage further down may still fit
            if counts[si] and _repeats(passage, used):
                continue
            picked[si].add(pi)
            counts[si] += len(passage)
            used.append(passage)
    left = budget - sum(counts)
    for si, passages in enumerate(offered):
        for pi, passage in enumerate(passages):
            if pi not in picked[si] and len(passage) <= left and not _repeats(passage, used):
                picked[si].add(pi)
                left -= len(passage)
                used.append(passage)
    return [[p for pi, p in enumerate(passages) if pi in picked[si]] for si, passages in enumerate(offered)]


def _main_page_first(section: Section, passages: list[list[Note]]) -> list[list[Note]]:
    """A short report's order of a section's passages: those of its main page first, then the rest, each in the
    notes' order.

    The notes come best first for their topic one sentence at a time (`select.cited_passages`); which page the
    topic is about shows only across them all: the page most of them quote (`_main_page`). Its passages hold more
    of the answer than the best-ranked sentences of pages that only mention the topic, which is why a standard report
    adds them beyond its share (`_main_page_extra`). A short report has no room beyond its share, so they go first
    within it (tune halves at --length short, facts kept: flask 48 -> 48, django 55 -> 57, werkzeug 46 -> 44,
    celery 45 -> 48 for as many sentences; ranking the passages by the topic's words instead lost 1 to 2 per corpus).
    """
    main = _main_page(section)
    return sorted(passages, key=lambda passage: _first_page(passage) != main)  # stable: the notes' order within


def _quoted_first(sections: list[Section]) -> dict[str, int]:
    """How many of the sections' notes quote each page first, in the order the pages first appear."""
    counts: dict[str, int] = {}
    for section in sections:
        for _, ids in section.notes:
            if ids:
                counts[ids[0]] = counts.get(ids[0], 0) + 1
    return counts


def _main_page(section: Section) -> str | None:
    """The page most of a section's sentences are quoted from (on a tie, the one its best note quotes)."""
    counts = _quoted_first([section])
    return max(counts, key=lambda sid: counts[sid]) if counts else None  # dicts keep the notes' order for ties


def _main_page_extra(sections: list[Section], offered: list[list[list[Note]]], chosen: list[list[list[Note]]],
                     used: list[list[Note]]) -> list[list[list[Note]]]:
    """`chosen` with up to `MAIN_PAGE_EXTRA` more sentences per section from the passages of its main page that the
    even split left out, in the section's own order. The page most of a topic's notes quote is the one about it:
    its next passages hold more of the answer than the sentences of pages that only mention the topic, which
    the split does not let in either (measured on the tune halves: recall +0.01 to +0.03 per corpus for ~7% more
    words; giving the main page's passages precedence within the split instead lost recall, the other pages hold
    facts too)."""
    out: list[list[list[Note]]] = []
    for section, passages, kept in zip(sections, offered, chosen, strict=True):
        main = _main_page(section)
        left = MAIN_PAGE_EXTRA
        picked = {id(p) for p in kept}
        for passage in passages:
            if left <= 0:
                break
            cited = [ids for _, ids in passage if ids]
            if (id(passage) in picked or not cited or any(ids[0] != main for ids in cited) or len(passage) > left
                    or _repeats(passage, used)):
                continue
            picked.add(id(passage))
            used.append(passage)
            left -= len(passage)
        out.append([p for p in passages if id(p) in picked])
    return out


def _recover(body: str, topic: str) -> list[list[Note]]:
    return cited_passages(documents(body), topic)


def _arranged(sections: list[Section], asked: Instructions) -> list[Section]:
    kept = [s for s in sections if not asked.only or _matches(s, asked.only)] or sections
    kept = [s for s in kept if not asked.omit or not _matches(s, asked.omit)] or kept
    if asked.first:
        kept = sorted(kept, key=lambda s: 0 if _matches(s, asked.first) else 1)  # stable: the rest keep their order
    return kept


def _summary(
    sections: list[Section], asked: Instructions, brief: str
) -> tuple[list[list[Note]], list[list[Note]]]:
    """The passage of each section that best answers the question (each part gets its answer), then the next best
    until there are at least three sentences; at most six, or as many as asked. Short passages only: a list with its
    introduction belongs in its section."""
    most = asked.sentences or SUMMARY_MAX
    least = min(SUMMARY_MIN, most)
    # A longer passage lends its first sentence, which never leans on another; a lead-in does not stand alone.
    full: dict[int, list[Note]] = {}
    pool: list[tuple[int, list[Note]]] = []
    for si, section in enumerate(sections):
        for passage in section.passages:
            short = passage if len(passage) <= SUMMARY_PASSAGE and all(ids for _, ids in passage) else passage[:1]
            if short is not passage and (re.search(r"\bfollowing\b|:$", short[0][0])
                                         or len(passage) > 1 and not passage[1][1]):
                continue  # a lead-in without its list or code example says nothing
            if not any(ids for _, ids in short):
                continue  # code on its own: the answer quotes sentences
            full[id(short)] = passage
            pool.append((si, short))
    # The researchers' notes come best first for their topic: an earlier note is the likelier answer.
    position = {id(p): pi for s in sections for pi, p in enumerate(s.passages)}
    priors = [1 / (1 + position[id(full[id(p)])]) for _, p in pool]
    # The pages most notes quote across all topics are the ones the research found to be about the question (they
    # are its gold pages far more often than the pages quoted once): the answer quotes them before a passage that
    # shares the question's words by chance ("downloads" in a question about reloading, a download page).
    mass = _page_mass(sections)
    priors = [prior * (1 - SUMMARY_PAGE_WEIGHT + SUMMARY_PAGE_WEIGHT * mass.get(_first_page(p), 0.0))
              for prior, (_, p) in zip(priors, pool, strict=True)]
    if not pool:
        first = next(s for s in sections if s.passages).passages[0]
        return [first[:1]], []
    texts = [" ".join(text for text, _ in passage) for _, passage in pool]
    contexts = [sections[si].topic for si, _ in pool]
    ranked = [r.index for r in rank(texts, brief, contexts=contexts, priors=priors, min_matches=1)]
    # A passage that shares a single word with its topic, on a page the research hardly quoted, shares it by chance
    # ("drop" brought a passage about silent-drop to a question about dropping privileges): it comes after the
    # others. `rank` cannot tell, since a passage's topic supplies the words it lacks (to it, every passage of a
    # one-topic question names them all). One word on a page quoted often stays where it ranks: that page is about
    # the topic (see `_page_mass`). Tune halves of flask, django, werkzeug and celery: recall unchanged, the
    # answers' facts 46 -> 47. Putting every one-word passage last instead: 46 -> 49, and the answers' sentences
    # sharing fewer than two of the question's words 55 -> 42 of 245, but a passage sharing two words by chance
    # ("server", "downloads") then came before the page the research quoted most.
    chance = [_shared_words(text, sections[si].topic) < min(2, len(content_terms(sections[si].topic)))
              and mass.get(_first_page(passage), 0.0) < SUMMARY_CHANCE_MASS
              for text, (si, passage) in zip(texts, pool, strict=True)]
    ranked = [i for i in ranked if not chance[i]] + [i for i in ranked if chance[i]]
    # Passages no word of the question reaches still answer their own topic: each section's first comes next.
    ranked += [i for i in range(len(pool)) if i not in ranked]
    chosen: list[int] = []
    count = 0

    def take(index: int) -> None:
        nonlocal count
        si, passage = pool[index]
        whole = full[id(passage)] is passage
        # A section keeps at least one passage of its own: the summary answers, the sections show the evidence.
        taken = [pool[c][1] for c in chosen]
        left = sum(1 for p in sections[si].passages if p is not passage and p not in taken
                   and not _repeats(p, [*taken, passage]))
        if whole and left < 1 and not asked.summary_only and asked.sentences is None:
            return
        if count + len(passage) <= most and not _repeats(passage, [pool[c][1] for c in chosen]):
            chosen.append(index)
            count += len(passage)

    for index in ranked:  # the best of each section first
        if pool[index][0] not in {pool[c][0] for c in chosen}:
            take(index)
    for index in ranked:
        if count >= least:
            break
        if index not in chosen:
            take(index)
    ordered = sorted(chosen, key=lambda c: (pool[c][0], ranked.index(c)))
    # A whole passage quoted in the summary leaves its section; one that lent its first sentence stays there whole.
    return [pool[c][1] for c in ordered], [pool[c][1] for c in chosen if full[id(pool[c][1])] is pool[c][1]]


def _shared_words(text: str, topic: str) -> int:
    """How many of `topic`'s words `text` names: a name's parts count for it ("TaskGroup" for "asyncio.TaskGroup"),
    and so does a word of five letters or more that begins the other ("cancell", from "cancelled", for
    "cancellation"): the terms' stemming leaves such forms apart."""
    bag = set(terms(text))
    return sum(1 for term in content_terms(topic)
               if any(a == b or min(len(a), len(b)) >= 5 and (a.startswith(b) or b.startswith(a))
                      for a in {term, *terms(term)} for b in bag))


def _page_mass(sections: list[Section]) -> dict[str, float]:
    """Each page's share of the notes that quote it first, relative to the page quoted most (1.0)."""
    counts = _quoted_first(sections)
    top = max(counts.values(), default=1)
    return {sid: count / top for sid, count in counts.items()}


def _first_page(passage: list[Note]) -> str:
    return next((ids[0] for _, ids in passage if ids), "")


def _paragraphs(passages: list[list[Note]], bullets: bool) -> list[str]:
    """Passages joined into paragraphs of a few sentences, never split; a code block stands as a block of its own
    where its passage has it: after the sentence that introduces it, or before the one that points at it."""
    out: list[str] = []
    current: list[str] = []
    for passage in passages:
        cited = [_cite(*note) for note in passage if note[1]]
        code = [text for text, ids in passage if not ids]
        if bullets:
            item: list[str] = []
            for text, ids in passage:  # a bullet per run of sentences, code where it stands
                if ids:
                    item.append(_cite(text, ids))
                    continue
                if item:
                    out.append(f"- {' '.join(item)}")
                    item = []
                out.append(text)
            if item:
                out.append(f"- {' '.join(item)}")
            continue
        if current and (code or len(current) + len(cited) > PARAGRAPH_SENTENCES):
            out.append(" ".join(current))
            current = []
        for text, ids in passage:
            if ids:
                current.append(_cite(text, ids))
                continue
            if current:
                out.append(" ".join(current))
                current = []
            out.append(text)  # the code stands where the page had it: after its lead-in, before "This …"
        if code and current:  # a passage with code is a paragraph of its own
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    if bullets:  # consecutive bullets make one list
        merged: list[str] = []
        for block in out:
            if merged and block.startswith("- ") and merged[-1].startswith("- "):
                merged[-1] += "\n" + block
            else:
                merged.append(block)
        return merged
    return out


def _without_lent(passage: list[Note], lent: set[str]) -> list[Note]:
    """`passage` without the first sentence the short answer already quotes: the rest when it reads on its own, else
    nothing ("It …" after a sentence quoted elsewhere would refer to nothing). Code stays with its lead-in, which is
    then quoted again: the example is the answer the summary could only point at."""
    if not passage or passage[0][0] not in lent:
        return passage
    rest = passage[1:]
    if rest and not rest[0][1]:
        return passage
    if not rest or needs_previous(rest[0][0]):
        return []
    return rest


def _once(passages: list[list[Note]], said: set[str], lent: Collection[str] = ()) -> list[list[Note]]:
    """`passages` without a sentence the report has already quoted word for word (`said`, which grows): a page that
    states a sentence twice, or a sentence that two passages lean on, printed it twice. What leans on the repeat
    goes with it ("In that case …" or a code example far from what introduces it). When that would leave the
    section nothing, a passage whose repeat is the first sentence the short answer borrowed from it (`lent`) stays
    whole: the facts only it states outweigh that one repeated sentence. A passage repeating a sentence the answer
    quoted with others is left out: the answer already says it."""
    out: list[list[Note]] = []
    for passage in passages:
        kept: list[Note] = []
        dropping = False
        for text, ids in passage:
            if (ids and (text in said or any(text == k for k, _ in kept))
                    or dropping and (not ids or needs_previous(text))):
                dropping = True
                continue
            dropping = False
            kept.append((text, ids))
        if any(ids for _, ids in kept):
            out.append(kept)
    out = out or [p for p in passages if any(ids and text not in said for text, ids in p)
                  and all(text in lent or text not in said for text, ids in p if ids)]
    said.update(text for passage in out for text, ids in passage if ids)
    return out


def _repeats(passage: list[Note], used: list[list[Note]]) -> bool:
    return any(jaccard(_word_bag(a[0]), _word_bag(b[0])) >= 0.6 for a in passage for other in used for b in other)


@functools.lru_cache(maxsize=8_192)
def _word_bag(text: str) -> frozenset[str]:
    # `_repeats` compares every note with every note quoted so far, for each passage the report considers: the same
    # sentences are tokenised thousands of times a report (6% of a research on exim's long chapters).
    return frozenset(words(text))


def _empty_report(title: str, sections: list[Section], asked: Instructions) -> str:
    lines = [f"# {title}", *(f"{WRITER_NOTE}The offline writer cannot {d}." for d in asked.declined)]
    if not sections:
        lines.append("No findings were gathered, so this question cannot be answered from the searched documents.")
        return "\n\n".join(lines) + "\n"
    lines.append("Nothing relevant to this question was found in the searched documents, so it cannot be answered "
                 "from them.")
    lines.append("## What was searched")
    searched = []
    for section in sections:
        what = section.nothing.partition("Searched:")[2].strip().rstrip(".") or "no searches were recorded"
        searched.append(f"- {heading(section.topic) if section.topic else 'Research'}: {what}.")
    lines.append("\n".join(searched))
    lines.append(NOTHING_TO_TRY)
    return "\n\n".join(lines) + "\n"


# What a reader can do about a report that found nothing: the searches listed above are the engine's own, so the
# report ends with the two things that usually help (Vim's help, all code to the reader before session 14, found
# nothing for any question: the index summary said what was read).
NOTHING_TO_TRY = ("Try asking in the words the documents use, or check what the searched folder holds: "
                  "`deep-research index FOLDER` lists what it indexed and what it skipped, and why.")


def _found_nothing(topic: str) -> str:
    """What a section that found nothing tells the reader: what it looked for, that nothing matched, and what to try.
    The researcher's note lists its searches, keyword strings and words learnt from the documents: how the engine
    searched, which says nothing to a reader and reads as if the report had failed (a report that found nothing at
    all lists them under "What was searched")."""
    ask = _names_as_code(" ".join(topic_ask(topic).split()))
    looked = f'"{ask}"' if ask else "this part of the question"
    return (f"Nothing in the searched documents matched {looked}; try asking it in other words, or searching "
            "documents that cover it.")


def report_title(brief: str) -> str:
    """The question itself, or its first clause when the whole is long; never cut inside a clause. What it names in
    angle brackets (`<Directory>`, `</Location>`) is code, as in the quoted sentences."""
    return _names_as_code(_title(brief))


def _title(brief: str) -> str:
    text = " ".join(brief.split())
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()] or ["Research report"]
    # A statement before the question sets the scene ("Users can edit some templates on my site. How do I run them
    # safely?"): the title is the question, unless it names nothing without the scene ("What is it?" after "I found
    # a file named mydb.db-journal."). An ask that points back at the scene ("How do I fix it properly?" after "I get
    # CERTIFICATE_VERIFY_FAILED against our internal server.") is read with it, when the two are short enough.
    asked = next((s for s in sentences if is_ask(s)), None)
    scene = [s for s in sentences if not is_ask(s)]
    if asked is not None and len(scene) == 1 and refers(asked):
        both = f"{scene[0]} {_short(asked[0].upper() + asked[1:])}"
        if len(both) <= SCENE_TITLE_CHARS:
            return both
    first = asked if asked is not None and content_terms(asked) else sentences[0]
    return _short(first[0].upper() + first[1:])


def _short(first: str) -> str:
    """`first`, or its first clause when it is long; never cut inside a clause."""
    if len(first) <= TITLE_CHARS:
        return first.rstrip(".")
    clause = split_clauses(first)[0]
    if len(clause) <= TITLE_CHARS:
        return clause.rstrip(".")
    # No clause short enough: cut at the last comma that fits ("… a single client IP can make" before ", and reject
    # the ones over the limit?"), else where a phrase ends, else after the last word that fits.
    comma = first.rfind(", ", 0, TITLE_CHARS + 1)
    if comma >= TITLE_CHARS // 2:
        return first[:comma]
    cut = _phrase_cut(first, TITLE_CHARS)
    return cut if len(cut) >= TITLE_CHARS // 2 else _word_cut(first, TITLE_CHARS)


_OPENER = re.compile(r"^(?:(?:how|what|which|why|when|where|who|whose|is|are|was|were|do|does|did|can|could|should|"
                     r"would|will|has|have)\b\s*)+(?:(?:i|we|you|one|it|there)\b\s*)?", re.IGNORECASE)


_COPULA_OPENER = re.compile(r"^(?:what|which|who)\s+(?:is|are|was|were)\s*$", re.IGNORECASE)
_PRONOUN_END = re.compile(r"\b(?:i|we|you|one|there)\s*$", re.IGNORECASE)


def _reads_alone(opener: str) -> bool:
    """Whether a question without its `opener` still reads as a phrase: after a pronoun the rest is what to do ("How
    do I | run the examples …"), after "what is" it is a noun phrase ("What are | the steps of …"); after anything
    else it is the inverted rest of a question ("How does | PostgreSQL decide …", "Which | email backends can I …")."""
    return bool(_PRONOUN_END.search(opener) or _COPULA_OPENER.match(opener))


_LIGHT_WORDS = word_set("the a an does do did is are was were can could should would will which one that each")


def heading(topic: str) -> str:
    """A section heading of at most `HEADING_CHARS` characters: the topic when short; else its subject for a
    "subject: focus" topic; else the question without its opening words, then without its function words. Angle
    bracket names are code, as in the title, and their backticks count."""
    limit = HEADING_CHARS
    while True:
        text = _names_as_code(_heading(topic, limit))
        if len(text) <= HEADING_CHARS or limit <= HEADING_CHARS // 2:
            return text
        limit -= len(text) - HEADING_CHARS


def _names_as_code(text: str) -> str:
    """A title's or heading's angle-bracket names and special method names ("__call__") as code, as a quoted
    sentence's are (`inline.clean_inline`); code spans the question already holds are left as they are."""
    return outside_code(code_tags(text), dunders_as_code)


def _heading(topic: str, limit: int = HEADING_CHARS) -> str:
    text = " ".join(topic.split()).strip().rstrip("?.!").strip(" :")
    if not text:
        return "Findings"
    if len(text) <= limit:
        return text
    # The subject a planner carried into a pointing clause ("… handle them (tests pass fail)") is for searching.
    ask, carried = split_carried(text)
    if carried and len(ask) <= limit and len(ask.split()) >= 3:
        return _with_referent(ask, carried, limit)
    head, sep, _ = text.partition(": ")
    if sep and len(head) <= limit:
        return head
    opener = _OPENER.match(text)
    if opener and not _reads_alone(opener.group(0)):
        # "Which email backends can I use …" without "Which" reads "Email backends can I use …": an inverted
        # question stays a question, cut where a phrase ends ("Which email backends can I use").
        if len(text) > limit:
            cut = _phrase_cut(text, limit)
            # A phrase boundary too early leaves the bare question ("How does PostgreSQL decide"): the words up to
            # the limit then say more, ending on a word that carries meaning.
            text = cut if len(cut) >= limit // 2 else _word_cut(text, limit)
    else:
        text = text[opener.end():] if opener and opener.end() < len(text) else text
        if len(text) > limit:
            text = _phrase_cut(text, limit) or text
        for dropped in (_LIGHT_WORDS, STOPWORDS):  # articles and auxiliaries first, then every function word
            if len(text) > limit:
                text = " ".join(w for w in text.split() if w.lower().strip(",;()") not in dropped).replace(" ,", ",")
    if len(text) > limit:
        text = text[: limit + 1].rsplit(" ", 1)[0]
    text = text.strip(" ,;:(")
    first = text.split(" ", 1)[0]
    return text[0].upper() + text[1:] if first.isalpha() and first.islower() else text


def _with_referent(ask: str, carried: str, limit: int = HEADING_CHARS) -> str:
    """A short ask with the first phrases the planner carried into it, when they fit: "What do I build it with
    (SQLite, search box)" says more than "What do I build it with"; a longer ask says enough alone."""
    if len(ask.split()) > 6:
        return ask
    kept: list[str] = []
    for phrase in carried.split(", ")[:2]:
        words = sum(len(p.split()) for p in kept) + len(phrase.split())
        if words > 4 or len(f"{ask} ({', '.join([*kept, phrase])})") > limit:
            break
        kept.append(phrase)
    return f"{ask} ({', '.join(kept)})" if kept else ask


# Words a phrase can end before: prepositions, conjunctions and clause openers ("… queries (select_related, …)").
_BOUNDARIES = word_set(
    """of in on at to for with from by about into onto over under after before between without within through during
    according including and or but as than when where which that while if whether unless so"""
)


def _word_cut(text: str, limit: int = HEADING_CHARS) -> str:
    """The first words of `text` within `limit` characters, ending on a word that carries meaning, with no "…"."""
    kept = text[: limit + 1].rsplit(" ", 1)[0].split()
    while len(kept) > 3 and (kept[-1].lower().strip(",;:") in STOPWORDS or kept[-1].endswith((",", ";", ":"))):
        kept.pop()
    return " ".join(kept).rstrip(".,;:")


def _phrase_cut(text: str, limit: int = HEADING_CHARS) -> str:
    """The longest run of `text`'s first words within `limit` characters that ends where a phrase does (before a
    preposition, a conjunction, a parenthesis or after a comma), without trailing function words; "" when that
    leaves fewer than three words. Dropping function words instead reads as a garble ("Use avoid extra queries")."""
    tokens = text.split()
    best = 0
    for end in range(1, len(tokens)):
        if len(" ".join(tokens[:end])) > limit:
            break
        following = tokens[end]
        prefix = " ".join(tokens[:end])
        if prefix.count("(") > prefix.count(")"):
            continue  # never inside a parenthesis
        if (following.lower() in _BOUNDARIES or following.startswith("(")
                or tokens[end - 1].endswith((",", ";"))):
            best = end
    kept = tokens[:best]
    while kept and (kept[-1].lower().strip(",;") in STOPWORDS or kept[-1].lower().strip(",;") in _BOUNDARIES):
        kept.pop()
    return " ".join(kept).rstrip(",;") if len(kept) >= 3 else ""


def _cite(text: str, ids: list[str]) -> str:
    return f"{text} [{', '.join(ids)}]"
