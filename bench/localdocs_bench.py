"""Local-document index benchmark: full build, no-change rebuild, a small edit, query latency and peak memory.

Generates a synthetic corpus (markdown, reStructuredText, HTML and plain text, a few KB each, Zipf-distributed
vocabulary so common and rare words behave as in real prose) in a temporary folder, then indexes it with
`DocumentIndex` exactly as `deep-research index` does.

    python bench/localdocs_bench.py [--docs 10000] [--queries 200] [--seed 7] [--json PATH]

Real documentation trees and hostile pages (see bench/README.md, "Reading layer"):

    python bench/localdocs_bench.py --corpus /usr/share/doc/python-django-doc/html \
        --corpus /usr/share/doc/postgresql-doc-15/html --hostile --compare-src /tmp/base/src

`--corpus DIR` times a full build of DIR into a fresh index. `--hostile` times the HTML reader on hostile pages.
`--compare-src SRC` runs the same measurements again in a subprocess importing the package from SRC (e.g. an
earlier commit's `src/`, from `git archive`), so before and after come from one run on one machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
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


HOSTILE_PAGES = {
    "'<a' x 100,000 (200 KB)": lambda: "<a" * 100_000,
    "'<a' x 2,000,000 (4 MB)": lambda: "<a" * 2_000_000,
    "200,000 nested <div>": lambda: "<div>" * 200_000 + "deep",
    "1 MB of '<p>x'": lambda: "<p>x" * 250_000,
}


def time_corpus(root: Path) -> dict[str, object]:
    """A full build of `root` into a fresh index. Works against older versions of the package too (for
    --compare-src), so newer fields are read with getattr."""
    with tempfile.TemporaryDirectory(prefix="localdocs-corpus-") as tmp, \
            DocumentIndex(Path(tmp) / "index.sqlite") as index:
        stats = index.index_directory(root)
        passages = index._reader.execute("SELECT count(*) FROM passages").fetchone()[0]
        sizes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    reasons = getattr(stats, "skipped_reasons", None)
    return {"corpus": str(root), "seconds": round(stats.seconds, 2), "seen": stats.seen, "indexed": stats.indexed,
            "skipped": stats.skipped, "errors": stats.errors, "passages": passages, "db_mb": round(sizes / 1e6, 1),
            "skipped_reasons": reasons() if reasons else ""}


def time_hostile(limit_s: float) -> dict[str, float | None]:
    """Seconds `html_to_text` takes on each hostile page; None when it ran past `limit_s` (each case runs in a
    child process so a quadratic parser can be stopped)."""
    out: dict[str, float | None] = {}
    for name in HOSTILE_PAGES:
        code = ("import sys, time; sys.path.insert(0, 'bench'); from localdocs_bench import HOSTILE_PAGES; "
                "from deep_research_mcp.tools.html_text import html_to_text; "
                f"page = HOSTILE_PAGES[{name!r}](); t = time.perf_counter(); html_to_text(page); "
                "print(time.perf_counter() - t)")
        try:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=limit_s,
                                  check=True)
            out[name] = round(float(done.stdout.strip()), 3)
        except subprocess.TimeoutExpired:
            out[name] = None
    return out


def real_world(args: argparse.Namespace) -> dict[str, object]:
    results: dict[str, object] = {"corpora": [time_corpus(root) for root in args.corpus]}
    if args.hostile:
        results["hostile_s"] = time_hostile(args.hostile_limit)
    return results


def print_real_world(label: str, results: dict[str, object]) -> None:
    for row in results["corpora"]:  # type: ignore[attr-defined]
        print(f"{label:6} {row['corpus']}: {row['seconds']} s, {row['seen']:,} files seen, {row['indexed']:,} "
              f"indexed, {row['skipped']:,} skipped, {row['errors']} errors, {row['passages']:,} passages, "
              f"{row['db_mb']} MB" + (f"\n       skipped: {row['skipped_reasons']}" if row["skipped_reasons"] else ""))
    for name, seconds in dict(results.get("hostile_s") or {}).items():
        print(f"{label:6} html_to_text {name}: " + (f"{seconds} s" if seconds is not None else "still running, "
                                                                                                  "stopped"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--corpus", type=Path, action="append", default=[], help="time a full build of this tree")
    parser.add_argument("--hostile", action="store_true", help="time the HTML reader on hostile pages")
    parser.add_argument("--hostile-limit", type=float, default=60.0, help="stop a hostile case after this many s")
    parser.add_argument("--compare-src", type=Path, help="also measure the package found in this src/ folder")
    args = parser.parse_args(argv)

    if args.corpus or args.hostile:
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        results = {"after": real_world(args)}
        print_real_world("after", results["after"])
        if args.compare_src is not None:
            child = [sys.executable, __file__, *(f"--corpus={c}" for c in args.corpus),
                     *(["--hostile", f"--hostile-limit={args.hostile_limit}"] if args.hostile else []),
                     "--json=/dev/stdout"]
            env = {**os.environ, "PYTHONPATH": str(args.compare_src.resolve())}
            done = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
            results["before"] = json.loads(done.stdout[done.stdout.index("{"):])["after"]
            print_real_world("before", results["before"])
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0

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
