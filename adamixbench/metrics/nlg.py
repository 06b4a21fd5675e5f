"""NLG metrics that reproduce the official scorers used by microsoft/LoRA and AdaMix on the same outputs.

E2E -- :func:`score_e2e` = e2e-metrics ``measure_scores.py ref pred -p`` (the Python MTEval path):

=========  =================================================================================  ========
metric     how                                                                                scale
=========  =================================================================================  ========
BLEU       sacrebleu ``corpus_bleu`` (13a tokens, lower-cased, no smoothing) = pymteval BLEUScore      percent
NIST       pymteval NISTScore re-implemented (not nltk: its length penalty / casing differ)      raw
METEOR     pycocoevalcap ``Meteor`` (meteor-1.5.jar ``-stdio -l en -norm``) on PTB tokens        percent
ROUGE-L    pycocoevalcap ``Rouge`` (beta 1.2, max P / max R over refs) on PTB tokens              percent
CIDEr      pycocoevalcap ``Cider`` (CIDEr-D, IDF from the evaluated references) on PTB tokens    raw
=========  =================================================================================  ========

"PTB tokens": ``COCOEvalCap.evaluate()`` (what e2e-metrics calls) runs CoreNLP's PTBTokenizer
``-lowerCase`` and drops punctuation before METEOR/ROUGE-L/CIDEr; the scorers are called ONE BY ONE
here (never ``COCOEvalCap.evaluate()``: its SPICE step downloads). Hypotheses and references are
``strip()``-ed like e2e-metrics' ``read_lines``; references are grouped per MR by the caller.

BLEU: sacrebleu's statistics equal pymteval's (13a tokens, case-insensitive n-grams, closest reference
length with ties to the shorter one); measured on 40 random corpora of real E2E references, the scores
agree to 6e-14. They differ only on hypotheses shorter than 4 tokens: pymteval adds ``len - (n - 1)`` to
the n-gram total even when it is negative (and counts an empty hypothesis as one empty token), where
sacrebleu counts 0; with 30% of the hypotheses cut to 1-6 words the measured gap was 0.64 BLEU. Real
system outputs (E2E references average ~24 words) never meet this; a degenerate model's may.

WebNLG / DART -- :func:`score_webnlg` = GenerationEval ``eval.py`` as LoRA runs it
(``gpt2_decode.py --ref_num 6 --tokenize --lower`` then ``eval.py -nr 6 -m bleu,meteor,ter``):

* inputs are first lower-cased and split on non-word characters (LoRA ``post_process``, always: it is
  what produced the paper's numbers); each input keeps its first 6 references, missing ones are padded
  with reference 0;
* BLEU = ``multi-bleu-detok.perl``: sacrebleu ``tokenize="13a"``, ``smooth_method="none"``, case-
  sensitive, closest reference length (ties -> shorter), i.e. the same statistics (checked against the
  Perl script);
* METEOR = meteor-1.5.jar ``hyp ref -l en -norm -r 6`` (file mode) on ``nltk.word_tokenize`` tokens
  (``preserve_line=True``: punkt is not available offline; after LoRA's post-processing every period is
  already a token of its own, so GenerationEval's punkt sentence split would not change the tokens --
  this is why raw, un-post-processed scoring is not offered: without the split, METEOR and TER differ
  from GenerationEval on multi-sentence texts);
* TER = ``pyter.ter`` (the pyter3 package GenerationEval uses: sentence TER, min over the references,
  averaged over inputs) on the same nltk tokens -- not sacrebleu's tercom TER.

When ``java`` is not on PATH, METEOR is reported as ``None`` with the reason under ``"unavailable"``
(never 0), and the E2E ROUGE-L / CIDEr use a pure-Python PTB approximation (noted under ``"notes"``;
identical tokens on all E2E references, 99.2% of sentences over E2E+WebNLG+DART).

Every scorer returns ``{metric: float|None, ..., "unavailable": {metric: reason}, "notes": {...}}``;
:func:`numeric_scores` keeps only the numbers (for a run record's ``scores``).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from adamixbench.metrics.nlg_mteval import pymteval_nist
from adamixbench.metrics.nlg_ptb import java_path, ptb_tokenize, pycocoevalcap_file

__all__ = [
    "score_e2e",
    "score_webnlg",
    "numeric_scores",
    "lora_postprocess",
    "write_e2e_files",
    "write_webnlg_files",
    "E2E_METRICS",
    "WEBNLG_METRICS",
]

E2E_METRICS = ("bleu", "nist", "meteor", "rouge_l", "cider")
WEBNLG_METRICS = ("bleu", "meteor", "ter")
_NO_JAVA = "java not found on PATH"


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _clean(s: str) -> str:
    return s.replace("\r", " ").replace("\n", " ").strip()


def _check(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    if isinstance(hyps, str):
        raise TypeError("hypotheses must be a list of strings, not one string")
    if len(hyps) != len(refs):
        raise ValueError(
            f"{len(hyps)} hypotheses but {len(refs)} reference groups: references must be "
            "grouped per input (one list of references per hypothesis)"
        )
    if not hyps:
        raise ValueError("no hypotheses to score")
    for i, r in enumerate(refs):
        if isinstance(r, str) or len(r) == 0:
            raise ValueError(f"reference group {i} must be a non-empty list of strings, got {r!r}")


def numeric_scores(result: dict) -> dict:
    """Only the metric values (floats or None), without the ``unavailable`` / ``notes`` metadata."""
    return {k: v for k, v in result.items() if k not in ("unavailable", "notes")}


_NON_WORD = re.compile(r"(\W)")


def lora_postprocess(sent: str) -> str:
    """LoRA ``gpt2_decode.py`` ``post_process`` (``--tokenize --lower``): lower-case, then split on every
    non-word character."""
    return " ".join(" ".join(_NON_WORD.split(sent.lower())).split())


def _sacrebleu(hyps: list[str], refs: list[list[str]], *, lowercase: bool) -> float:
    """Corpus BLEU (percent): 13a tokens, no smoothing, closest reference length; references grouped per
    input, any number each (sacrebleu skips the ``None`` padding of shorter groups)."""
    import sacrebleu

    width = max(len(rs) for rs in refs)
    streams = [[rs[i] if i < len(rs) else None for rs in refs] for i in range(width)]
    return float(
        sacrebleu.corpus_bleu(
            hyps,
            streams,
            tokenize="13a",
            smooth_method="none",
            lowercase=lowercase,
            force=True,
            use_effective_order=False,
        ).score
    )


def _meteor_jar() -> str:
    return pycocoevalcap_file("meteor", "meteor-1.5.jar")


# --------------------------------------------------------------------------------------------------
# E2E
# --------------------------------------------------------------------------------------------------
def _coco_meteor(gts: dict, res: dict) -> float:
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        score, _ = scorer.compute_score(gts, res)
    finally:
        p = scorer.meteor_p
        try:
            p.stdin.close()
        except OSError:
            pass
        p.kill()
        p.wait()
    return float(score)


def _meteor_or_reason(enabled: bool, compute, unavailable: dict) -> float | None:
    """METEOR 1.5 in percent, or None with the reason recorded in `unavailable` (never a silent 0)."""
    if not enabled:
        unavailable["meteor"] = "disabled by the caller (meteor=False)"
    elif java_path() is None:
        unavailable["meteor"] = _NO_JAVA
    else:
        try:
            return 100.0 * compute()
        except Exception as e:  # noqa: BLE001 -- report the failure
            unavailable["meteor"] = f"METEOR 1.5 failed: {type(e).__name__}: {e}"
    return None


def score_e2e(hypotheses: list[str], references: list[list[str]], *, meteor: bool = True) -> dict:
    """E2E scores (BLEU, NIST, METEOR, ROUGE-L, CIDEr) with references grouped per MR.

    ``meteor=False`` skips the Java METEOR (reported unavailable with that reason).
    """
    _check(hypotheses, references)
    hyps = [_clean(h) for h in hypotheses]
    refs = [[_clean(r) for r in rs] for rs in references]
    out: dict = {}
    unavailable: dict[str, str] = {}
    notes: dict[str, str] = {}
    out["bleu"] = _sacrebleu(hyps, refs, lowercase=True)
    out["nist"] = pymteval_nist(hyps, refs)

    flat = hyps + [r for rs in refs for r in rs]
    toks, tokenizer = ptb_tokenize(flat)
    res = {i: [toks[i]] for i in range(len(hyps))}
    gts, k = {}, len(hyps)
    for i, rs in enumerate(refs):
        gts[i] = toks[k : k + len(rs)]
        k += len(rs)
    if tokenizer != "ptb-java":
        why = _NO_JAVA if java_path() is None else "CoreNLP PTBTokenizer failed"
        notes["tokenizer"] = (
            f"PTB tokenisation approximated in Python ({why}): ROUGE-L and CIDEr may differ slightly from e2e-metrics"
        )
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    out["meteor"] = _meteor_or_reason(meteor, lambda: _coco_meteor(gts, res), unavailable)
    out["rouge_l"] = 100.0 * float(Rouge().compute_score(gts, res)[0])
    out["cider"] = float(Cider().compute_score(gts, res)[0])
    out = {m: out[m] for m in E2E_METRICS}
    out["unavailable"] = unavailable
    out["notes"] = notes
    return out


# --------------------------------------------------------------------------------------------------
# WebNLG / DART (GenerationEval)
# --------------------------------------------------------------------------------------------------
def _pad_refs(refs: Sequence[Sequence[str]], num_refs: int) -> list[list[str]]:
    return [[rs[i] if i < len(rs) else rs[0] for i in range(num_refs)] for rs in refs]


def _nltk_tok(s: str) -> str:
    from nltk.tokenize import word_tokenize

    return " ".join(word_tokenize(s, preserve_line=True))


def _file_meteor(hyps: list[str], refs: list[list[str]], num_refs: int) -> float:
    """meteor-1.5.jar in GenerationEval's file mode; files written WITHOUT a trailing newline."""
    java = java_path()
    with tempfile.TemporaryDirectory(prefix="adamix-meteor-") as tmp:
        hp, rp = os.path.join(tmp, "hypothesis_meteor"), os.path.join(tmp, "reference_meteor")
        Path(hp).write_text("\n".join(hyps), encoding="utf-8")
        Path(rp).write_text("\n".join(r for rs in refs for r in rs[:num_refs]), encoding="utf-8")
        proc = subprocess.run(
            [java, "-Xmx2G", "-jar", _meteor_jar(), hp, rp, "-l", "en", "-norm", "-r", str(num_refs)],
            capture_output=True,
        )
    text = proc.stdout.decode("utf-8", "replace")
    m = re.search(r"Final score:\s*([0-9.eE+-]+)", text)
    if proc.returncode != 0 or m is None:
        err = (proc.stderr.decode("utf-8", "replace") or text).strip().splitlines()
        raise RuntimeError(f"meteor-1.5.jar exited {proc.returncode}: {' | '.join(err[-3:])}")
    return float(m.group(1))


def _generationeval_ter(hyps: list[str], refs: list[list[str]], num_refs: int) -> float:
    import pyter

    total = 0.0
    for hyp, rs in zip(hyps, refs):
        hw = hyp.split()
        cache: dict[str, float] = {}
        cands = []
        for ref in rs[:num_refs]:
            if len(ref) == 0:
                cands.append(1.0)
                continue
            if ref not in cache:  # padded duplicates give the same value: compute once
                try:
                    cache[ref] = pyter.ter(hw, ref.split())
                except Exception:  # noqa: BLE001 -- GenerationEval scores a failure as 1
                    cache[ref] = 1.0
            cands.append(cache[ref])
        total += min(cands)
    return total / len(hyps)


def score_webnlg(hypotheses: list[str], references: list[list[str]], *, num_refs: int = 6, meteor: bool = True) -> dict:
    """WebNLG / DART scores as GenerationEval reports them in the LoRA pipeline: BLEU, METEOR, TER.

    ``references`` are grouped per input (any number each; the first ``num_refs`` are used, missing
    ones padded with the first). Texts pass LoRA's ``--lower --tokenize`` first (module docstring).
    """
    _check(hypotheses, references)
    if num_refs < 1:
        raise ValueError("num_refs must be >= 1")
    hyps = [lora_postprocess(_clean(h)) for h in hypotheses]
    refs = _pad_refs([[lora_postprocess(_clean(r)) for r in rs] for rs in references], num_refs)
    out: dict = {"bleu": _sacrebleu(hyps, refs, lowercase=False)}
    unavailable: dict[str, str] = {}
    hyps_tok = [_nltk_tok(h) for h in hyps]
    refs_tok = [[_nltk_tok(r) for r in rs] for rs in refs]
    out["meteor"] = _meteor_or_reason(meteor, lambda: _file_meteor(hyps_tok, refs_tok, num_refs), unavailable)
    out["ter"] = _generationeval_ter(hyps_tok, refs_tok, num_refs)
    out["unavailable"] = unavailable
    out["notes"] = {}
    return out


# --------------------------------------------------------------------------------------------------
# files for the official scripts
# --------------------------------------------------------------------------------------------------
def write_e2e_files(
    hypotheses: list[str], references: list[list[str]], pred_path: str | Path, ref_path: str | Path
) -> None:
    """Files for ``measure_scores.py ref_path pred_path -p`` (LoRA ``gpt2_decode.py --ref_type e2e``).

    ``pred_path``: one hypothesis per line. ``ref_path``: the references of each MR, one per line, each
    group followed by an empty line. Trailing newlines are harmless for e2e-metrics (it strips lines
    and drops a trailing empty group).
    """
    _check(hypotheses, references)
    with open(pred_path, "w", encoding="utf-8") as f:
        for h in hypotheses:
            f.write(_clean(h) + "\n")
    with open(ref_path, "w", encoding="utf-8") as f:
        for rs in references:
            for r in rs:
                f.write(_clean(r) + "\n")
            f.write("\n")


def write_webnlg_files(
    hypotheses: list[str],
    references: list[list[str]],
    hyp_path: str | Path,
    ref_prefix: str | Path,
    *,
    num_refs: int = 6,
    trailing_newline: bool = False,
) -> list[Path]:
    """Files for GenerationEval ``eval.py -R <ref_prefix> -H <hyp_path> -nr <num_refs>``.

    Writes ``hyp_path`` and ``<ref_prefix>0 .. <ref_prefix>{num_refs-1}`` (LoRA ``gpt2_decode.py
    --ref_type webnlg|dart --ref_num 6 --tokenize --lower``: missing references padded with the
    first one). Lines are joined by ``\\n`` with NO trailing newline by default: ``eval.py`` reads
    ``f.read().split('\\n')``, so a final newline becomes an extra empty segment -- METEOR 1.5 then
    fails ("test and reference not same length"), eval.py silently reports METEOR = -1, and TER scores
    the empty segment as 1. (Caveat for ``multi-bleu-detok.perl`` alone: it ``chop``s every line, so
    without the final newline it drops the last character of the last line; pass
    ``trailing_newline=True`` for the Perl BLEU script only.) Returns the reference paths.
    """
    _check(hypotheses, references)
    hyps = [lora_postprocess(_clean(h)) for h in hypotheses]
    refs = _pad_refs([[lora_postprocess(_clean(r)) for r in rs] for rs in references], num_refs)
    end = "\n" if trailing_newline else ""
    Path(hyp_path).write_text("\n".join(hyps) + end, encoding="utf-8")
    paths = []
    for i in range(num_refs):
        p = Path(f"{ref_prefix}{i}")
        p.write_text("\n".join(rs[i] for rs in refs) + end, encoding="utf-8")
        paths.append(p)
    return paths
