"""Corpus NIST exactly as e2e-metrics computes it with ``measure_scores.py -p``.

A re-implementation of e2e-metrics ``metrics/pymteval.py`` (NISTScore; no maintained package computes
this variant -- BLEU comes from sacrebleu, see :mod:`.nlg`), which the
microsoft/LoRA and AdaMix NLG pipelines use (``python eval/e2e/measure_scores.py ref pred -p``):

* tokenisation: mteval-v13a's (the same regexes as sacrebleu's ``13a``), then CASE-INSENSITIVE matching
  (n-grams are lower-cased);
* NIST: 5-gram, information weights ``log2(count(w1..wn-1) / count(w1..wn))`` from the n-gram counts of
  ALL references of the evaluated corpus (0-gram count = total reference length), length penalty
  ``exp(-beta * log(ratio)^2)`` with beta = -log(0.5)/log(1.5)^2 against the SUM over segments of the
  AVERAGE reference length of each segment.

The Perl mteval path of e2e-metrics (its default, not used by LoRA/AdaMix) pads segments that have fewer
references with empty references and so gives a different NIST when the number of references varies;
nltk's ``corpus_nist`` differs as well (it uses the closest reference length and no lower-casing).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

__all__ = ["mteval_tokenize", "pymteval_nist"]

_NIST_BETA = -math.log(0.5) / math.log(1.5) ** 2

_PUNCT = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_PERIOD_COMMA_1 = re.compile(r"([^0-9])([\.,])")
_PERIOD_COMMA_2 = re.compile(r"([\.,])([^0-9])")
_DASH = re.compile(r"([0-9])(-)")
_SPACES = re.compile(r"\s+")


def mteval_tokenize(sent: str) -> list[str]:
    """mteval-v13a tokenisation as written in pymteval (an empty string gives ``['']``, as there)."""
    sent = sent.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    sent = sent.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    sent = " " + sent + " "
    sent = _PUNCT.sub(r" \1 ", sent)
    sent = _PERIOD_COMMA_1.sub(r"\1 \2 ", sent)
    sent = _PERIOD_COMMA_2.sub(r" \1 \2", sent)
    sent = _DASH.sub(r"\1 \2 ", sent)
    sent = _SPACES.sub(" ", sent).strip()
    return sent.split(" ")


def _ngrams(n: int, toks: Sequence[str]) -> list[tuple[str, ...]]:
    low = [t.lower() for t in toks]
    return [tuple(low[i : i + n]) for i in range(len(low) - n + 1)]


def _max_ref_counts(n: int, refs: Sequence[Sequence[str]]) -> dict[tuple[str, ...], int]:
    merged: dict[tuple[str, ...], int] = {}
    for ref in refs:
        for ng, c in Counter(_ngrams(n, ref)).items():
            if c > merged.get(ng, 0):
                merged[ng] = c
    return merged


def _prep(hyps: Sequence[str], refs: Sequence[Sequence[str]]):
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference groups")
    for i, r in enumerate(refs):
        if not r:
            raise ValueError(f"segment {i} has no reference")
    return [mteval_tokenize(h) for h in hyps], [[mteval_tokenize(r) for r in rs] for rs in refs]


def pymteval_nist(hyps: Sequence[str], refs: Sequence[Sequence[str]], max_ngram: int = 5) -> float:
    """Corpus NIST (raw scale, as reported)."""
    H, R = _prep(hyps, refs)
    ref_counts = [defaultdict(int) for _ in range(max_ngram + 1)]  # index 0: the 0-gram
    hit_ngrams: list[list[dict]] = [[] for _ in range(max_ngram)]
    cand_lens = [0] * max_ngram
    avg_ref_len = 0.0
    for h, rs in zip(H, R):
        for n in range(1, max_ngram + 1):
            cand_lens[n - 1] += len(h) - (n - 1)
            merged = _max_ref_counts(n, rs)
            seg_hits = {}
            for ng, c in Counter(_ngrams(n, h)).items():
                k = min(c, merged.get(ng, 0))
                if k:
                    seg_hits[ng] = k
            hit_ngrams[n - 1].append(seg_hits)
            for r in rs:
                for ng in _ngrams(n, r):
                    ref_counts[n][ng] += 1
        total = sum(len(r) for r in rs)
        ref_counts[0][()] += total
        avg_ref_len += total / float(len(rs))

    def info(ng: tuple[str, ...]) -> float:
        if ng not in ref_counts[len(ng)]:
            return 0.0
        return math.log(ref_counts[len(ng) - 1][ng[:-1]] / float(ref_counts[len(ng)][ng]), 2)

    if any(total == 0 for total in cand_lens):
        # pymteval divides by zero here; GEM-metrics' copy of it returns 0 for such degenerate input
        return 0.0
    nist_sum = 0.0
    for n in range(max_ngram):
        hit_info = sum(info(ng) * k for seg in hit_ngrams[n] for ng, k in seg.items())
        nist_sum += hit_info / cand_lens[n]
    ratio = cand_lens[0] / float(avg_ref_len)
    if ratio >= 1:
        bp = 1.0
    elif ratio <= 0:
        bp = 0.0
    else:
        bp = math.exp(-_NIST_BETA * math.log(ratio) ** 2)
    return bp * nist_sum
