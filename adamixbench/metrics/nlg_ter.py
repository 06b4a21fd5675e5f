"""Sentence TER exactly as ``pyter`` computes it (the TER of WebNLG GenerationEval / the LoRA pipeline).

GenerationEval's ``eval.py`` (the copy microsoft/LoRA ships) scores TER as
``mean over segments of min over references of pyter.ter(hyp.split(), ref.split())`` (1 for an empty
reference or a failure). ``pyter`` (pyter3 0.3 on PyPI, MIT, Hiroyuki Tanaka / Bram Vanroy) is not
maintained, so its algorithm is re-implemented here unchanged, including its greedy shift search and its
tie-breaking (``sort()`` over ``(gain, shifted_words)`` tuples: among equal gains the lexicographically
largest word list wins). It is NOT tercom (sacrebleu's TER): pyter allows shifts of any matching phrase,
with no shift-distance limit and without tercom's "only shift words that are wrong" constraints, and its
score is a per-sentence average, not total edits over total reference words. Checked against pyter3.
"""

from __future__ import annotations

import itertools
from typing import Sequence

__all__ = ["pyter_ter", "edit_distance"]


def edit_distance(hyp: Sequence[str], ref: Sequence[str]) -> int:
    """Word-level Levenshtein distance."""
    prev = list(range(len(ref) + 1))
    for i in range(1, len(hyp) + 1):
        cur = [i] + [0] * len(ref)
        hw = hyp[i - 1]
        for j in range(1, len(ref) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (0 if hw == ref[j - 1] else 1))
        prev = cur
    return prev[-1]


def _findpairs(ws1: Sequence[str], ws2: Sequence[str]):
    for i1, i2 in itertools.product(range(len(ws1)), range(len(ws2))):
        if i1 == i2:
            continue
        if ws1[i1] == ws2[i2]:
            length = 1
            for j1, j2 in zip(range(i1 + 1, len(ws1)), range(i2 + 1, len(ws2))):
                if ws1[j1] == ws2[j2]:
                    length += 1
                else:
                    break
            yield i1, i2, length


class _CachedEditDistance:
    """Edit distance to a fixed reference, caching DP rows per hypothesis prefix (as pyter does)."""

    def __init__(self, rwords: Sequence[str]):
        self.r = list(rwords)
        self.root: dict = {}

    def __call__(self, iwords: Sequence[str]) -> int:
        node, row, start = self.root, tuple(range(len(self.r) + 1)), 0
        for w in iwords:  # longest cached prefix
            if w not in node:
                break
            node, row = node[w]
            start += 1
        r = self.r
        for i in range(start, len(iwords)):
            w = iwords[i]
            cur = [row[0] + 1]
            for j in range(1, len(r) + 1):
                cur.append(min(row[j] + 1, cur[j - 1] + 1, row[j - 1] + (0 if w == r[j - 1] else 1)))
            row = tuple(cur)
            child: dict = {}
            node[w] = (child, row)
            node = child
        return row[-1]


def _shift(iwords: list[str], rwords: list[str], dist: _CachedEditDistance):
    pre = dist(iwords)
    scores = []
    for isp, rsp, length in _findpairs(iwords, rwords):
        shifted = iwords[:isp] + iwords[isp + length:]
        shifted[rsp:rsp] = iwords[isp:isp + length]
        scores.append((pre - dist(shifted), shifted))
    if not scores:
        return 0, iwords
    scores.sort()
    return scores[-1]


def pyter_ter(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """pyter.ter(hyp_words, ref_words): (shifts + edit distance after shifts) / len(ref)."""
    iwords, rwords = list(hyp), list(ref)
    if not rwords:
        raise ZeroDivisionError("empty reference")
    dist = _CachedEditDistance(rwords)
    err = 0
    while True:
        delta, new = _shift(iwords, rwords, dist)
        if delta <= 0:
            break
        err += 1
        iwords = new
    return (err + dist(iwords)) / len(rwords)
