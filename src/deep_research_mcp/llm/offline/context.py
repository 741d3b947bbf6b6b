"""A sentence's meaning in context: how close to the topic the section it stands in is, as a whole.

A sentence's own average word vector (`semantic`) blurs what it says, and many answers say little alone: "The default
value is four megabytes (4MB)." means "work_mem" only through the entry it stands under, "It returns a dictionary of
name-value pairs." means "aggregate" only through its section. The section read as one text — every candidate
sentence under the same heading of the same page, or the same definition-list entry ("work_mem (integer)") on a
reference page whose one heading covers a hundred entries — says what the topic is about in many words, so its
average vector is a steadier signal than any one sentence's. Selection takes the higher of the two (`select._scores`).

The same packaged wordllama table as `semantic`, so nothing new is loaded or downloaded. A contextual model was
looked for first: no cross-encoder ships its weights inside a wheel, and the MiniLM sentence encoders that do (ONNX,
23-69 MB, tokenizer not included) embed 100 sentences in 1.1-1.8 s on this machine's two cores, over the whole
research step's 1 s budget; see eval/RESULTS.md ("Meaning-based signals").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from . import semantic

SCALE_QUANTILE = 0.97  # a section this high among the candidates' sections counts as fully close
CAP = 1.2  # how far past the scale's top a closeness counts (`scaled`, for sentences and sections alike)


def scaled(sim: float, middle: float, spread: float) -> float:
    """A cosine made relative to the candidates' own: 0 at or under their median `middle`, 1 at `middle + spread`,
    at most `CAP`. The one scale for a sentence's own closeness and its section's."""
    return min(CAP, max(0.0, (sim - middle) / spread))


def section_closeness(query: str, sections: Sequence[Hashable], texts: Sequence[str]) -> list[float]:
    """For each text, how close to `query` its section is (0 to `CAP`; 0 for a section of one text), where
    `sections[i]` names the section of `texts[i]`: the cosine between the query and all the section's texts read
    together, relative to the median and the `SCALE_QUANTILE` over the texts, as `select._scores` scales a
    sentence's own similarity. All zeros when the model is unavailable."""
    if not texts:
        return []
    members: dict[Hashable, list[str]] = {}
    for section, text in zip(sections, texts, strict=True):
        members.setdefault(section, []).append(text)
    keys = list(members)
    sims = dict(zip(keys, semantic.similarities(query, [" ".join(members[k]) for k in keys]), strict=True))
    per = [sims[section] for section in sections]
    ordered = sorted(per)
    middle = ordered[len(ordered) // 2]
    spread = max(ordered[min(len(ordered) - 1, int(len(ordered) * SCALE_QUANTILE))] - middle, 1e-6)
    # A section of one text is no context: that text's own closeness already says how close it is.
    return [scaled(sim, middle, spread) if len(members[section]) > 1 else 0.0
            for sim, section in zip(per, sections, strict=True)]
