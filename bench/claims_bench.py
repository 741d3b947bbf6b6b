"""Claim check benchmark: how often the support check calls a sentence unsupported, per kind of sentence, and how fast.

    python bench/claims_bench.py                      # check eval/claims/pairs.json, print the table
    python bench/claims_bench.py --build [--seed N]   # (re)build the labelled pairs from the corpus, then check
    python bench/claims_bench.py --pairs PATH --json OUT
    python bench/claims_bench.py --memory             # RSS of a run's kept texts and prepared pages, per cap

The pairs are (sentence, source page) over the PostgreSQL 15 manual (`/usr/share/doc/postgresql-doc-15/html`, read
with the engine's own HTML reader), generated with a fixed seed, each labelled with its kind:

- verbatim: a sentence of the page as it is (true);
- reworded: the page's sentence with an adverb dropped, a word swapped for a synonym, or a leading phrase moved to the
  end (true);
- number: one of its numbers changed; negation: a "not"/"never"/"cannot" dropped, or a "not" added; entity: a name
  (capitalised word past the first, all-caps word, identifier) swapped for one the page never uses; stitched: the
  start of one sentence joined to the end of another far away on the same page; wrong_page: a sentence of another
  page (all false).

"Unsupported" is the verdict under test: recall on the false kinds, false alarms on the true ones. "weak" counts as
not flagged. Timings are per sentence, with the page's preparation (splitting, indexing) reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from deep_research_mcp.engine.support.check import SourceText, check_sentence, split_passages
from deep_research_mcp.llm.offline import semantic
from deep_research_mcp.tools.html_text import html_to_text

CORPUS = Path("/usr/share/doc/postgresql-doc-15/html")
PAIRS = Path(__file__).parents[1] / "eval" / "claims" / "pairs.json"
SEED = 2026
PER_KIND = 50
TRUE_KINDS = ("verbatim", "reworded")
FALSE_KINDS = ("number", "negation", "entity", "stitched", "wrong_page")
PARAPHRASES = Path(__file__).parents[1] / "eval" / "claims" / "paraphrases.json"  # hand-written, held out (true)

ADVERBS = ("also", "usually", "generally", "typically", "normally", "currently", "simply", "actually", "often",
           "especially", "particularly", "still", "really", "automatically", "always", "easily", "directly")
SYNONYMS = {
    "allows": "lets", "large": "big", "shows": "displays", "show": "display", "specify": "give", "specifies": "gives",
    "create": "make", "creates": "makes", "begin": "start", "begins": "starts", "example": "instance",
    "needed": "required", "required": "needed", "possible": "feasible", "quickly": "fast", "useful": "handy",
    "returns": "yields", "contains": "holds", "contain": "hold", "provides": "offers", "provide": "offer",
    "modify": "change", "modified": "changed", "remove": "delete", "removes": "deletes", "used": "employed",
    "uses": "employs", "happens": "occurs", "several": "multiple", "entire": "whole", "obtain": "get",
    "ensure": "make sure", "additional": "extra", "however": "but", "therefore": "so",
}
LEADING = re.compile(r"^(?P<head>(?:In|For|When|If|By|With|On|As|After|Before|Unless|Since|Once|During)\b[^,]{3,60}),"
                     r"\s+(?P<rest>.+)\.$")
NEGATION_DROPS = ((r"\bcannot\b", "can"), (r"\bnot\s+", ""), (r"\bnever\s+", ""), (r"\bdoesn't\b", "does"),
                  (r"\bisn't\b", "is"))
AUXILIARIES = re.compile(r"\b(is|are|can|will|does|must|should|was|were|may)\b(?! not)")
NUMBER = re.compile(r"(?<![\w.])(\d{1,6})(?![\w.]\d)")
ENTITY = re.compile(r"(?<=[a-z,;(] )([A-Z][A-Za-z]*[A-Z][A-Za-z]*|[A-Z]{2,}|[A-Z][a-z]{2,})\b|\b([a-z]+_[a-z_]+)\b")


def page_texts(corpus: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(corpus.glob("*.html")):
        text = html_to_text(path.read_text(encoding="utf-8", errors="replace")).text
        if len(text) >= 3_000:
            texts[path.name] = text
    return texts


def prose_sentences(text: str) -> list[str]:
    """The page's sentences a report could plausibly cite: prose, 10 to 40 words, no code, tables or list markers."""
    without_code = re.sub(r"```.*?```", "\n\n", text, flags=re.DOTALL)
    return [s for s in split_passages(without_code)
            if 10 <= len(s.split()) <= 40 and s[0].isupper() and s.endswith(".")
            and not re.search(r"[|`#]|\.\.\.|^\d|see Section|Table \d", s)]


def reworded(sentence: str, rng: random.Random) -> str | None:
    options = []
    adverbs = [a for a in ADVERBS if re.search(rf" {a}\b", sentence)]
    if adverbs:
        options.append(lambda s: re.sub(rf" {rng.choice(adverbs)}\b", "", s, count=1))
    swaps = [w for w in SYNONYMS if re.search(rf"\b{w}\b", sentence)]
    if swaps:
        options.append(lambda s: re.sub(rf"\b{(w := rng.choice(swaps))}\b", SYNONYMS[w], s, count=1))
    match = LEADING.match(sentence)
    if match:
        head, rest = match.group("head"), match.group("rest")
        options.append(lambda _s: f"{rest[0].upper()}{rest[1:]} {head[0].lower()}{head[1:]}.")
    if not options:
        return None
    changed = rng.choice(options)(sentence)
    return changed if changed != sentence else None


def number_changed(sentence: str, rng: random.Random) -> str | None:
    numbers = list(NUMBER.finditer(sentence))
    if not numbers:
        return None
    match = rng.choice(numbers)
    value = int(match.group(1))
    new = value + rng.choice((1, 2, 10)) if value < 1_000 else value * 2
    return sentence[: match.start(1)] + str(new) + sentence[match.end(1):]


def negation_flipped(sentence: str, rng: random.Random) -> str | None:
    drops = [(p, r) for p, r in NEGATION_DROPS if re.search(p, sentence)]
    if drops and rng.random() < 0.6:
        pattern, replacement = rng.choice(drops)
        return re.sub(pattern, replacement, sentence, count=1)
    if re.search(r"\b(not|never|cannot|no|without)\b|n't", sentence):
        return None
    match = AUXILIARIES.search(sentence)
    if not match:
        return None
    return sentence[: match.end()] + " not" + sentence[match.end():]


def entity_swapped(sentence: str, page_vocabulary: set[str], pool: list[str], rng: random.Random) -> str | None:
    entities = list(ENTITY.finditer(sentence))
    if not entities:
        return None
    match = rng.choice(entities)
    old = match.group(0)
    kind = _entity_kind(old)
    choices = [e for e in pool if _entity_kind(e) == kind and e.lower() not in page_vocabulary and e != old]
    if not choices:
        return None
    return sentence[: match.start()] + rng.choice(choices) + sentence[match.end():]


def _entity_kind(word: str) -> str:
    return "identifier" if "_" in word else "caps" if word.isupper() else "name"


def stitched(sentences: list[str], rng: random.Random) -> str | None:
    if len(sentences) < 8:
        return None
    i = rng.randrange(len(sentences))
    far = [j for j in range(len(sentences)) if abs(j - i) >= 4]
    j = rng.choice(far)
    first, second = sentences[i].rstrip(".").split(), sentences[j].rstrip(".").split()
    head = first[: max(4, len(first) // 2)]
    tail = second[len(second) // 2:]
    return " ".join(head + tail) + "."


def build(corpus: Path, seed: int, per_kind: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    texts = page_texts(corpus)
    names = sorted(texts)
    rng.shuffle(names)
    sentences = {name: prose_sentences(texts[name]) for name in names}
    names = [n for n in names if len(sentences[n]) >= 8]
    vocabularies = {name: set(re.findall(r"\w+", texts[name].lower())) for name in names}
    pool = sorted({m.group(0) for name in names[:200] for s in sentences[name] for m in ENTITY.finditer(s)})
    pairs: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    kinds = (*TRUE_KINDS, *FALSE_KINDS)

    def make(kind: str, original: str, name: str) -> str | None:
        page = sentences[name]
        if kind == "verbatim":
            return original
        if kind == "reworded":
            return reworded(original, rng)
        if kind == "number":
            return number_changed(original, rng)
        if kind == "negation":
            return negation_flipped(original, rng)
        if kind == "entity":
            return entity_swapped(original, vocabularies[name], pool, rng)
        if kind == "stitched":
            made = stitched(page, rng)
            return None if made is None or made in texts[name] else made
        other = rng.choice([n for n in names if n != name])
        borrowed = rng.choice(sentences[other])
        return None if borrowed in texts[name] else f"{borrowed}\x00{other}: {borrowed}"

    made: str | None = None
    for name in names:
        if all(counts[k] >= per_kind for k in kinds):
            break
        for kind in kinds:
            if counts[kind] >= per_kind:
                continue
            # a few tries at a sentence the change applies to
            for original in rng.sample(sentences[name], min(len(sentences[name]), 6)):
                made = make(kind, original, name)
                if made is not None:
                    break
            if made is None or (made == original) != (kind == "verbatim"):
                continue
            if kind == "stitched":
                original = ""
            elif kind == "wrong_page":
                made, original = made.split("\x00")
            counts[kind] += 1
            pairs.append({"kind": kind, "label": "supported" if kind in TRUE_KINDS else "unsupported",
                          "sentence": made, "source": name, "original": original})
    return pairs


def evaluate(pairs: list[dict[str, Any]], corpus: Path, judge: bool = False) -> dict[str, Any]:
    semantic.available()  # load the embeddings before timing anything
    texts: dict[str, SourceText] = {}
    prepare_s: list[float] = []
    check_s: list[float] = []
    verdicts: list[tuple[str, str, float, str]] = []  # verdict, reason, coverage, evidence per pair
    for pair in pairs:
        name = pair["source"]
        if name not in texts:
            raw = (corpus / name).read_text(encoding="utf-8", errors="replace")
            started = time.perf_counter()
            texts[name] = SourceText(html_to_text(raw).text)
            prepare_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        verdict = check_sentence(pair["sentence"], texts[name], name)
        check_s.append(time.perf_counter() - started)
        verdicts.append((verdict.verdict, verdict.reason, verdict.coverage, verdict.evidence))
    judged = 0
    if judge:
        verdicts, judged = asyncio.run(scripted_judge(pairs, verdicts, texts))
    flagged: Counter[str] = Counter()
    weak: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    for pair, (verdict, reason, coverage, evidence) in zip(pairs, verdicts, strict=True):
        kind = pair["kind"]
        total[kind] += 1
        is_flagged = verdict == "unsupported"
        flagged[kind] += is_flagged
        weak[kind] += verdict == "weak"
        if is_flagged != (pair["label"] == "unsupported"):
            misses.append({**pair, "verdict": verdict, "reason": reason, "coverage": round(coverage, 2),
                           "evidence": evidence[:200]})
    true_positive = sum(flagged[k] for k in FALSE_KINDS)
    false_positive = sum(flagged[k] for k in (*TRUE_KINDS, "paraphrase"))
    false_total = sum(total[k] for k in FALSE_KINDS)
    rows = []
    for kind in (k for k in (*TRUE_KINDS, "paraphrase", *FALSE_KINDS) if total[k]):
        rate = flagged[kind] / total[kind] if total[kind] else 0.0
        # *per kind: as if the set held this kind and the true sentences only
        precision = flagged[kind] / (flagged[kind] + false_positive) if kind in FALSE_KINDS and flagged[kind] else None
        rows.append({"kind": kind, "pairs": total[kind], "flagged": flagged[kind], "weak": weak[kind],
                     "recall" if kind in FALSE_KINDS else "false_alarms": round(rate, 3),
                     "precision": None if precision is None else round(precision, 3)})
    return {
        "rows": rows,
        "precision": round(true_positive / (true_positive + false_positive), 3) if true_positive else 0.0,
        "recall": round(true_positive / false_total, 3) if false_total else 0.0,
        "ms_per_sentence": round(statistics.mean(check_s) * 1000, 2),
        "ms_per_sentence_p99": round(sorted(check_s)[int(len(check_s) * 0.99) - 1] * 1000, 2),
        "ms_per_page_prepared": round(statistics.mean(prepare_s) * 1000, 2),
        "judged": judged,
        "misses": misses,
    }


async def scripted_judge(pairs: list[dict[str, Any]], verdicts: list[tuple[str, str, float, str]],
                         texts: dict[str, SourceText]) -> tuple[list[tuple[str, str, float, str]], int]:
    """The doubted (weak, unsupported) verdicts judged through the engine's judge path by the scripted LLM server's
    literal-minded judge over real HTTP: a check of the plumbing, not of any real model's judgement."""
    from deep_research_mcp.engine.support.check import ClaimCheck
    from deep_research_mcp.engine.writer import judge_with
    from deep_research_mcp.llm.factory import ModelHub
    from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
    from deep_research_mcp.settings import Settings

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    checks = [ClaimCheck(p["sentence"], (1,), (p["source"],), v[0], v[3], p["source"], v[2], 0.0, v[1])
              for p, v in zip(pairs, verdicts, strict=True)]
    async with ScriptedLLMServer(Scenario()) as server:
        settings = Settings(research_model="openai:scripted", openai_base_url=server.openai_base_url,
                            openai_api_key="x", cache_enabled=False)
        async with ModelHub(settings) as hub:
            judged = await judge_with(hub.stage_models().final_report, checks, texts)
        calls = server.stats.calls
    print(f"scripted judge: {calls} calls", file=sys.stderr)
    doubted = sum(1 for v in verdicts if v[0] in ("weak", "unsupported"))
    return [(c.verdict, c.reason, c.coverage, c.evidence) for c in judged], doubted


def table(result: dict[str, Any]) -> str:
    lines = ["| kind | pairs | flagged unsupported | weak | recall / false alarms | precision* |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        rate = row.get("recall", row.get("false_alarms"))
        label = "recall" if "recall" in row else "false alarms"
        precision = "" if row["precision"] is None else f"{row['precision']:.3f}"
        lines.append(f"| {row['kind']} | {row['pairs']} | {row['flagged']} | {row['weak']} | {label} {rate:.3f} | "
                     f"{precision} |")
    lines.append(f"| **all** | {sum(r['pairs'] for r in result['rows'])} | | | recall {result['recall']:.3f} | "
                 f"{result['precision']:.3f} |")
    return "\n".join(lines)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


CITED = 40  # sources a long report cites


def memory_child(corpus: Path, per_source: int, per_run: int) -> dict[str, Any]:
    """What a run that reads the whole manual holds for the claim check: every page kept (up to the caps) and every
    kept page prepared, as if the report cited them all. RSS is measured around it in this fresh process."""
    from deep_research_mcp.engine.support.texts import ReadTexts

    before = _rss_mb()
    texts = ReadTexts(per_source_chars=per_source, per_run_chars=per_run)
    read = 0
    for n, path in enumerate(sorted(corpus.glob("*.html"))):
        page = html_to_text(path.read_text(encoding="utf-8", errors="replace")).text
        read += len(page)
        texts.add(f"S{n + 1}", page, focus=page[len(page) // 2 : len(page) // 2 + 300])
    kept_mb = _rss_mb() - before
    cited = dict(list(texts.as_dict().items())[:CITED])
    prepared = {source_id: SourceText(text) for source_id, text in cited.items()}
    cited_mb = _rss_mb() - before - kept_mb
    prepared.update({source_id: SourceText(text) for source_id, text in texts.as_dict().items()})
    return {"per_source": per_source, "per_run": per_run, "read_chars": read, "kept_chars": texts.chars,
            "sources_kept": len(texts), "rss_texts_mb": round(kept_mb, 1),
            f"rss_{CITED}_cited_prepared_mb": round(cited_mb, 1),
            "rss_all_prepared_mb": round(_rss_mb() - before - kept_mb, 1)}


def memory(corpus: Path) -> list[dict[str, Any]]:
    """One fresh process per pair of caps: the 8M-per-run cap the check had before, the defaults, a tighter one."""
    import subprocess

    rows = []
    for per_source, per_run in ((250_000, 8_000_000), (250_000, 4_000_000), (100_000, 2_000_000)):
        out = subprocess.run([sys.executable, __file__, "--memory-child", f"{per_source},{per_run}",
                              "--corpus", str(corpus)], capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true", help="generate the pairs first (writes --pairs)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", type=Path, help="also write the results (with every miss) as JSON")
    parser.add_argument("--misses", action="store_true", help="print every sentence judged wrongly")
    parser.add_argument("--judge", action="store_true",
                        help="send the doubted verdicts to the scripted LLM server's judge (a plumbing check)")
    parser.add_argument("--memory", action="store_true", help="measure RSS of kept texts per cap, then stop")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        per_source, per_run = (int(x) for x in args.memory_child.split(","))
        print(json.dumps(memory_child(args.corpus, per_source, per_run)))
        return 0
    if args.memory:
        for row in memory(args.corpus):
            print(json.dumps(row))
        return 0
    if args.build:
        pairs = build(args.corpus, args.seed, args.per_kind)
        args.pairs.parent.mkdir(parents=True, exist_ok=True)
        args.pairs.write_text(json.dumps({"seed": args.seed, "corpus": str(args.corpus), "pairs": pairs},
                                         indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {len(pairs)} pairs to {args.pairs}", file=sys.stderr)
    pairs = json.loads(args.pairs.read_text())["pairs"]
    result = evaluate(pairs, args.corpus, judge=args.judge)
    print(table(result))
    print(f"\n{result['ms_per_sentence']} ms per sentence (p99 {result['ms_per_sentence_p99']} ms); "
          f"{result['ms_per_page_prepared']} ms to prepare a page")
    if args.misses:
        for miss in result["misses"]:
            print(json.dumps(miss, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
