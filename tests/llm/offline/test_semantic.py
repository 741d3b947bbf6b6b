"""The packaged sentence embeddings: loaded from the installed wheel with no network, and ranking by meaning."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from deep_research_mcp.llm.offline import semantic

# The loader runs in a fresh interpreter, so the lazy load happens there; every socket connection is refused and any
# attempt is reported on stderr (a download would also need DNS, which goes through socket.getaddrinfo).
_GUARDED_LOAD = textwrap.dedent("""
    import socket, sys
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.getaddrinfo = refuse
    socket.create_connection = refuse
    from deep_research_mcp.llm.offline import semantic
    model = semantic.load()
    vectors = semantic.embed(["a sentence about tables", "another sentence"])
    print(vectors.shape[1], len(attempts))
    sys.exit(1 if attempts else 0)
""")


def test_the_model_loads_from_the_wheel_without_touching_the_network(tmp_path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}  # an empty home: no ~/.cache/wordllama
    done = subprocess.run([sys.executable, "-c", _GUARDED_LOAD], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(semantic.DIM), "0"]
    assert not (tmp_path / ".cache").exists()  # nothing was downloaded or cached


def test_meaning_separates_senses_that_share_a_word() -> None:
    sims = semantic.similarities("static typing", [
        "Static methods do not receive an implicit first argument.",
        "Type hints let a static type checker verify the code before it runs.",
    ])
    assert sims[1] > sims[0]


def test_the_same_text_always_gets_the_same_vector() -> None:
    first = semantic.embed(["VACUUM reclaims storage occupied by dead tuples.", "Other text."])
    again = semantic.embed(["Other text.", "VACUUM reclaims storage occupied by dead tuples."])
    assert (first[0] == again[1]).all() and (first[1] == again[0]).all()


def test_a_long_text_is_embedded_apart_from_short_ones(monkeypatch) -> None:
    """wordllama pads a batch to its longest text: 63 sentences beside one long passage held ~0.8 GB. Each batch's
    padded size stays under the bound, and the vectors are the ones each text gets on its own."""
    model = semantic.load()
    batches: list[list[str]] = []

    def recording(texts, **kwargs):
        batches.append(list(texts))
        return type(model).embed(model, texts, **kwargs)

    monkeypatch.setattr(model, "embed", recording)
    monkeypatch.setattr(semantic, "_cache", {})
    short = [f"Sentence number {i} is about tables." for i in range(63)]
    long = " ".join(["A long passage about indexes and the planner."] * 400)
    vectors = semantic.embed([*short[:30], long, *short[30:]])
    assert sorted(t for b in batches for t in b) == sorted([*short, long])
    assert all(len(b) == 1 or len(b) * max(map(len, b)) <= semantic.BATCH_CHARS for b in batches), \
        [(len(b), max(map(len, b))) for b in batches]
    alone = type(model).embed(model, [long], norm=True)[0]
    assert abs(vectors[30] - alone).max() < 1e-6
