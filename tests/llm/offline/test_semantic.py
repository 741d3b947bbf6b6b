"""The packaged sentence embeddings: loaded from the installed wheel with no network (and without wordllama's code),
the same vectors as wordllama's, and ranking by meaning."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

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
    print(vectors.shape[1], len(attempts), sorted({"wordllama", "requests"} & set(sys.modules)))
    sys.exit(1 if attempts else 0)
""")


def test_the_model_loads_from_the_wheel_without_touching_the_network(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}  # an empty home: no ~/.cache/wordllama
    done = subprocess.run([sys.executable, "-c", _GUARDED_LOAD], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # nor imports wordllama's code (its loader brings `requests`, for downloads): only its packaged files are read
    assert done.stdout.split() == [str(semantic.DIM), "0", "[]"]
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



def test_the_vectors_are_the_ones_wordllama_computes() -> None:
    """The table and tokenizer are read here rather than through wordllama (whose loader imports `requests` and
    widens the table to float32, and whose batches pad to their longest text); what comes out must not change."""
    import wordllama
    from wordllama import WordLlama

    reference = WordLlama.load(semantic.CONFIG, cache_dir=Path(wordllama.__file__).parent, dim=semantic.DIM,
                               disable_download=True)
    texts = ["VACUUM reclaims storage occupied by dead tuples.", "Type hints let a static type checker verify it.",
             "naïve café — 東京 🙂", " ".join(["A long passage about indexes and the query planner."] * 300)]
    ours = semantic.load().embed(texts)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), semantic.DIM)
    assert np.abs(ours - reference.embed(texts, norm=True)).max() < 1e-6
