"""Local-document index benchmark: full build, no-change rebuild, a small edit, query latency and peak memory.

Generates a synthetic corpus (markdown, reStructuredText, HTML and plain text, a few KB each, Zipf-distributed
vocabulary so common and rare words behave as in real prose) in a temporary folder, then indexes it with
`DocumentIndex` exactly as `deep-research index` does.

    python bench/localdocs_bench.py [--docs 10000] [--queries 200] [--seed 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deep_research_mcp.tools.localdocs import DocumentIndex

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "bri", "cha", "dro", "fen", "gla", "hur", "jin",
             "kel", "mor", "nax", "pli", "qua", "ster", "tor", "urn", "vex", "wil", "yor", "zan"]
HOSTILE = ['"', "*", "NEAR(", "-", "AND OR", "🌊", "", "a*b", "(x", "col:term"]


@dataclass
class Result:
    documents: int
    corpus_mb: float
    generate_s: float
    build_s: float
    build_files_per_s: float
    rebuild_s: float
    rebuild_files_per_s: float
    edit_s: float
    edited: int
    queries: int
    query_p50_ms: float
    query_p99_ms: float
    query_max_ms: float
    empty_results: int
    db_mb: float
    peak_rss_mb: float


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


class Writer:
    """Random prose from a Zipf-weighted vocabulary; each document gets its own few topic words."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self.rng = rng
        self.words = words
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))

    def sentence(self, topic: list[str]) -> str:
        picked = self.rng.choices(self.words, cum_weights=self.cumulative, k=self.rng.randint(6, 18))
        picked[self.rng.randrange(len(picked))] = self.rng.choice(topic)
        return " ".join(picked).capitalize() + "."

    def paragraph(self, topic: list[str]) -> str:
        return " ".join(self.sentence(topic) for _ in range(self.rng.randint(2, 6)))

    def document(self, n: int) -> tuple[str, str]:
        topic = self.rng.sample(self.words, 3)
        title = f"{topic[0].capitalize()} {topic[1]} report {n}"
        sections = [(" ".join(self.rng.sample(self.words, 2)).capitalize(), [self.paragraph(topic) for _ in
                                                                            range(self.rng.randint(1, 4))])
                    for _ in range(self.rng.randint(2, 5))]
        kind = n % 10
        if kind < 6:
            body = "\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) for h, ps in sections)
            return f"doc{n}.md", f"# {title}\n\n{body}\n"
        if kind < 8:
            body = "\n\n".join(f"{h}\n{'-' * len(h)}\n\n" + "\n\n".join(ps) for h, ps in sections)
            return f"doc{n}.rst", f"{'=' * len(title)}\n{title}\n{'=' * len(title)}\n\n{body}\n"
        if kind < 9:
            body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections)
            return f"doc{n}.html", (f"<html><head><title>{title}</title><style>p{{margin:0}}</style></head>"
                                    f"<body><nav>home | about</nav><h1>{title}</h1>{body}</body></html>")
        return f"doc{n}.txt", "\n\n".join(p for _, ps in sections for p in ps)


def generate(root: Path, count: int, writer: Writer) -> int:
    total = 0
    for n in range(count):
        name, text = writer.document(n)
        folder = root / f"part{n // 500:03d}" / f"sub{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        total += (folder / name).write_text(text, encoding="utf-8")
    return total


def queries(rng: random.Random, words: list[str], count: int) -> list[str]:
    out = []
    for n in range(count):
        if n % 20 == 19:
            out.append(rng.choice(HOSTILE))
        elif n % 4 == 0:  # common words: many matches to rank
            out.append(" ".join(rng.sample(words[:50], rng.randint(1, 3))))
        else:
            out.append(" ".join(rng.sample(words, rng.randint(1, 4))))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    words = vocabulary(rng, 20_000)
    with tempfile.TemporaryDirectory(prefix="localdocs-bench-") as tmp:
        root, db_path = Path(tmp) / "corpus", Path(tmp) / "state" / "index.sqlite"
        started = time.perf_counter()
        corpus_bytes = generate(root, args.docs, Writer(rng, words))
        generate_s = time.perf_counter() - started

        with DocumentIndex(db_path) as index:
            build = index.index_directory(root, progress=lambda s: print(f"  {s.describe()}", end="\r",
                                                                         file=sys.stderr))
            print(file=sys.stderr)
            assert build.indexed == args.docs, build
            rebuild = index.index_directory(root)
            assert rebuild.unchanged == args.docs, rebuild

            edited = sorted(root.rglob("*.md"))[:: max(1, args.docs // 100)]  # about 1% of the corpus
            for path in edited:
                path.write_text(path.read_text() + "\n\nAn appended zeppelin paragraph.\n")
            edit = index.index_directory(root)
            assert edit.indexed == len(edited), edit

            latencies: list[float] = []
            empty = 0
            for query in queries(rng, words, args.queries):
                t0 = time.perf_counter()
                hits = index.search(query, k=5)
                latencies.append((time.perf_counter() - t0) * 1000)
                empty += not hits
        db_bytes = sum(p.stat().st_size for p in db_path.parent.iterdir())

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = Result(
        documents=args.docs,
        corpus_mb=round(corpus_bytes / 1e6, 1),
        generate_s=round(generate_s, 2),
        build_s=round(build.seconds, 2),
        build_files_per_s=round(build.seen / build.seconds),
        rebuild_s=round(rebuild.seconds, 3),
        rebuild_files_per_s=round(rebuild.seen / rebuild.seconds),
        edit_s=round(edit.seconds, 3),
        edited=len(edited),
        queries=len(latencies),
        query_p50_ms=round(statistics.median(latencies), 2),
        query_p99_ms=round(percentile(latencies, 0.99), 2),
        query_max_ms=round(max(latencies), 2),
        empty_results=empty,
        db_mb=round(db_bytes / 1e6, 1),
        peak_rss_mb=round(peak_kib / 1024 if sys.platform != "darwin" else peak_kib / 1024 / 1024, 1),
    )
    print(f"documents        {result.documents:,} ({result.corpus_mb} MB, generated in {result.generate_s} s)")
    print(f"full build       {result.build_s} s  ({result.build_files_per_s:,} files/s)")
    print(f"no-change update {result.rebuild_s} s  ({result.rebuild_files_per_s:,} files/s)")
    print(f"1% edited        {result.edit_s} s  ({result.edited} files)")
    print(f"queries          {result.queries}: p50 {result.query_p50_ms} ms, p99 {result.query_p99_ms} ms, "
          f"max {result.query_max_ms} ms ({result.empty_results} without hits)")
    print(f"index size       {result.db_mb} MB")
    print(f"peak RSS         {result.peak_rss_mb} MB")
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
