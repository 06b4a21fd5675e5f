"""NLG metrics: hand-checkable values, official-script conventions, Java-less behaviour."""

from __future__ import annotations

import math
import shutil

import pytest

from adamixbench.metrics import nlg as M
from adamixbench.metrics.nlg_mteval import mteval_tokenize, pymteval_nist
from adamixbench.metrics.nlg_ptb import ptb_tokenize_java, ptb_tokenize_python

HAS_JAVA = shutil.which("java") is not None
needs_java = pytest.mark.skipif(not HAS_JAVA, reason="java not on PATH (METEOR 1.5 / CoreNLP jars)")

CAT = "the cat sat on the mat"


@pytest.fixture()
def no_java(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "java" else real(name, *a, **k))


# ------------------------------------------------------------------------------------------- BLEU
def test_identical_hypotheses_give_bleu_100(no_java):
    hyps = [CAT, "a dog ran in the park today"]
    refs = [[CAT], ["a dog ran in the park today", "some other text"]]
    assert M.score_e2e(hyps, refs)["bleu"] == pytest.approx(100.0)
    assert M.score_webnlg(hyps, refs)["bleu"] == pytest.approx(100.0)


def test_bleu_brevity_penalty_by_hand(no_java):
    # every n-gram of the 6-token hypothesis occurs in the 7-token reference: BLEU = BP = exp(1 - 7/6)
    expected = 100 * math.exp(1 - 7 / 6)
    refs = [[CAT + " today", "a cat was sitting on a mat in the sun today"]]  # 7 and 11 tokens: closest 7
    assert M.score_e2e([CAT], refs)["bleu"] == pytest.approx(expected, abs=1e-9)
    assert M.score_webnlg([CAT], refs)["bleu"] == pytest.approx(expected, abs=1e-9)


def test_bleu_closest_reference_tie_takes_the_shorter(no_java):
    # references of 7 and 5 tokens are both 1 away from the 6-token hypothesis; multi-bleu-detok and
    # pymteval take the SHORTER (5) -> no brevity penalty; taking the 7-token one would give 84.65
    refs = [[CAT + " today", "dogs run in a park"]]
    assert M.score_e2e([CAT], refs)["bleu"] == pytest.approx(100.0)
    assert M.score_webnlg([CAT], refs)["bleu"] == pytest.approx(100.0)


def test_webnlg_bleu_is_unsmoothed(no_java):
    # no 4-gram of the hypothesis is in the reference: multi-bleu-detok.perl gives exactly 0 (no smoothing)
    assert M.score_webnlg(["the cat sat under the mat"], [[CAT]], meteor=False)["bleu"] == 0.0


def test_webnlg_pads_missing_references_with_the_first(no_java):
    # one 10-token reference, padded to 6 with itself (LoRA gpt2_decode.py): the brevity penalty of the
    # 4-token hypothesis is exp(1 - 10/4); padding with empty references would make 0 the closest length
    long_ref = "the cat sat on the mat in the sun today"
    bleu = M.score_webnlg(["the cat sat on"], [[long_ref]], meteor=False)["bleu"]
    assert bleu == pytest.approx(100 * math.exp(1 - 10 / 4))


def test_e2e_bleu_is_case_insensitive_and_13a_tokenised(no_java):
    # 13a: the apostrophe is not split, a dash after a digit is; '.'/',' only when not inside a number
    assert mteval_tokenize("Hello, world.  It's £20-25, 3.5!") == [
        "Hello",
        ",",
        "world",
        ".",
        "It's",
        "£20",
        "-",
        "25",
        ",",
        "3.5",
        "!",
    ]
    assert M.score_e2e(["The Cat Sat On The Mat."], [["the cat sat on the mat ."]])["bleu"] == pytest.approx(100.0)
    # WebNLG/DART BLEU is case-sensitive, but LoRA's post-processing lower-cases both sides first
    assert M.score_webnlg(["The Cat Sat On The Mat."], [["the cat sat on the mat ."]])["bleu"] == pytest.approx(100.0)


def test_e2e_nist_is_case_insensitive():
    refs = [["the cat sat on the mat .", "a cat was on the mat ."]]
    lower = pymteval_nist(["the cat sat on the mat ."], refs)
    assert lower > 0 and pymteval_nist(["The Cat Sat On The Mat ."], refs) == pytest.approx(lower)


def test_bleu_by_hand_with_a_varying_number_of_references(no_java):
    # segment 1: hyp "a b c d" vs refs ["a b c d"]; segment 2: "a b x d" vs ["a b c d", "a b x y"]
    # clipped hits / totals: 1-grams 8/8, 2-grams (3 + 2)/6, 3-grams (2 + 1)/4, 4-grams (1 + 0)/2; lengths equal
    expected = 100 * (1 * 5 / 6 * 3 / 4 * 1 / 2) ** 0.25
    hyps, refs = ["a b c d", "a b x d"], [["a b c d"], ["a b c d", "a b x y"]]
    assert M.score_e2e(hyps, refs)["bleu"] == pytest.approx(expected)
    # no smoothing: a missing 4-gram match makes BLEU 0
    assert M.score_e2e(["a b x d"], [["a b c d"]])["bleu"] == 0.0


def test_webnlg_and_dart_scoring_lower_cases_mixed_case_text():
    # (the NLG engine scores DART with score_webnlg too: the same GenerationEval call in LoRA)
    # LoRA's gpt2_decode.py --lower: casing never costs BLEU or TER; GenerationEval itself is case-sensitive
    hyps = ["Alan Bean was born in Wheeler, Texas.", "The Acharya Institute Of Technology is in Bangalore"]
    refs = [
        ["alan bean was born in wheeler , texas ."],
        ["the Acharya institute of technology is in BANGALORE", "Another reference"],
    ]
    scores = M.score_webnlg(hyps, refs, meteor=False)  # case-sensitive scoring of these texts: BLEU < 40, TER > 0.3
    assert scores["bleu"] == pytest.approx(100.0) and scores["ter"] == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------- NIST
def _nist_bp(ratio):
    beta = -math.log(0.5) / math.log(1.5) ** 2
    return 1.0 if ratio >= 1 else math.exp(-beta * math.log(ratio) ** 2)


def test_nist_matches_the_formula():
    ref = "the cat sat on a mat"  # 6 distinct words: unigram info log2(6/1); higher-order infos 0
    assert pymteval_nist([ref], [[ref]]) == pytest.approx(math.log2(6))
    # 5 of the 6 words: same information per hit, length penalty exp(-beta log(5/6)^2)
    assert pymteval_nist(["the cat sat on a"], [[ref]]) == pytest.approx(math.log2(6) * _nist_bp(5 / 6))
    # two references: info uses counts over ALL references, penalty uses the AVERAGE reference length
    refs = [[ref, "the cat sat on the mat today"]]
    # counts: 0-gram 13; the:3 cat:2 sat:2 on:2 a:1 mat:2 today:1; "the cat" 2 -> info log2(3/2)
    uni = sum(math.log2(13 / c) for c in (3, 2, 2, 2, 1, 2)) / 6
    # n-gram info log2(count(prefix) / count(n-gram)), hits averaged over the hypothesis' n-grams:
    bi = (math.log2(3 / 2) + 0 + 0 + math.log2(2 / 1) + 0) / 5  # the cat, cat sat, sat on, on a, a mat
    tri = (0 + 0 + math.log2(2 / 1) + 0) / 4  # "sat on a": count(sat on)=2, 1
    four = (0 + math.log2(2 / 1) + 0) / 3  # "cat sat on a"
    five = (math.log2(2 / 1) + 0) / 2  # "the cat sat on a"
    expected = uni + bi + tri + four + five
    assert pymteval_nist([ref], refs) == pytest.approx(expected * _nist_bp(6 / 6.5))
    assert M.score_e2e([ref], refs, meteor=False)["nist"] == pytest.approx(expected * _nist_bp(6 / 6.5))


# -------------------------------------------------------------------------------------------- TER
def test_ter_one_substitution():
    assert M.score_webnlg([CAT], [["the cat sat on a mat"]], meteor=False)["ter"] == pytest.approx(1 / 6)


def test_ter_shift_counts_as_one_edit_and_min_over_references():
    # pyter (not tercom): one block shift of "the cat sat" = 1 edit over 6 reference words
    assert M.score_webnlg(["on the mat the cat sat"], [[CAT]], meteor=False)["ter"] == pytest.approx(1 / 6)
    r = M.score_webnlg([CAT, CAT], [["a b c d e f", CAT], ["the cat sat on a mat"]], meteor=False)
    assert r["ter"] == pytest.approx((0 + 1 / 6) / 2)
    # an empty reference scores 1 (GenerationEval), the other reference wins the min
    assert M.score_webnlg([CAT], [["", CAT]], meteor=False)["ter"] == 0.0
    assert M.score_webnlg([CAT], [[""]], meteor=False)["ter"] == 1.0


# -------------------------------------------------------------------------------- ROUGE-L / CIDEr
def test_rouge_l_hand_computed_lcs(no_java):
    # LCS("police killed the gunman", "the police kill the gunman today") = police the gunman = 3
    p, r, beta2 = 3 / 4, 3 / 6, 1.2**2
    expected = 100 * (1 + beta2) * p * r / (r + beta2 * p)
    res = M.score_e2e(["police killed the gunman"], [["the police kill the gunman today"]])
    assert res["rouge_l"] == pytest.approx(expected)
    # multi-reference: max precision and max recall are taken separately (coco-caption)
    res2 = M.score_e2e(["police killed the gunman"], [["the police kill the gunman today", "police killed"]])
    p2, r2 = max(3 / 4, 2 / 4), max(3 / 6, 2 / 2)
    assert res2["rouge_l"] == pytest.approx(100 * (1 + beta2) * p2 * r2 / (r2 + beta2 * p2))


def test_cider_sanity(no_java):
    refs = [["alpha beta gamma delta epsilon"], ["one two three four five"], ["red green blue cyan black"]]
    perfect = M.score_e2e([r[0] for r in refs], refs)["cider"]
    assert perfect == pytest.approx(10.0)  # CIDEr-D: cosine 1 for n = 1..4, x10
    worse = M.score_e2e(["alpha beta gamma", "one two three four five", "blue red"], refs)["cider"]
    assert 0 < worse < perfect
    # IDF comes from the evaluated references: with ONE segment every n-gram has idf 0 -> CIDEr 0
    assert M.score_e2e([CAT], [[CAT]])["cider"] == pytest.approx(0.0)


# ------------------------------------------------------------------------------------ tokenisers
def test_python_ptb_approximation():
    got = ptb_tokenize_python(["The Vaults isn't cheap (£20-25), it's near Café Rouge."])
    assert got == ["the vaults is n't cheap -lrb- # 20-25 -rrb- it 's near café rouge"]


@needs_java
def test_python_ptb_matches_java_on_e2e_style_text():
    sents = [
        "The Vaults isn't cheap (£20-25), it's near Café Rouge.",
        "Blue Spice is a family - friendly coffee shop in the riverside area , rated 5 out of 5 .",
        'J. R. R. Tolkien wrote "The Hobbit" in 1937; Dr. Smith read it.',
    ]
    assert ptb_tokenize_python(sents) == ptb_tokenize_java(sents)


def test_multi_sentence_text_is_split_like_generationeval(no_java):
    # LoRA's post-processing separates every period, so GenerationEval's punkt sentence split before
    # nltk.word_tokenize cannot change the tokens: "paris." must not stay one token
    res = M.score_webnlg(["It is in Paris. It has 3 floors."], [["it is in paris . it has 3 floors ."]])
    assert res["bleu"] == pytest.approx(100.0) and res["ter"] == 0.0


def test_lora_postprocess():
    assert (
        M.lora_postprocess("Aarhus' leader is Jacob_Bundsgaard, 1.5!")
        == "aarhus ' leader is jacob_bundsgaard , 1 . 5 !"
    )


# ---------------------------------------------------------------------------------------- METEOR
def test_meteor_unavailable_without_java_is_none_not_zero(no_java):
    e2e = M.score_e2e([CAT], [[CAT]])
    web = M.score_webnlg([CAT], [[CAT]])
    for res in (e2e, web):
        assert res["meteor"] is None
        assert res["unavailable"]["meteor"] == "java not found on PATH"
        assert "meteor" not in {k for k, v in M.numeric_scores(res).items() if v is not None}
    assert "tokenizer" in e2e["notes"]  # ROUGE-L / CIDEr computed with the Python PTB approximation
    assert e2e["bleu"] == pytest.approx(100.0) and web["ter"] == pytest.approx(0.0)


@pytest.mark.slow  # two JVM starts of meteor-1.5.jar (paraphrase table): 20-50 s on 2 busy cores
@needs_java
def test_meteor_e2e_and_webnlg_with_the_jar():
    e2e = M.score_e2e([CAT], [[CAT, "a cat sat on a mat"]])
    web = M.score_webnlg(
        [CAT, "a dog ran in the park today"], [[CAT], ["a dog was running in the park", "the dog ran"]]
    )
    for res in (e2e, web):
        assert res["unavailable"] == {}
    # identical hypothesis: METEOR 1.5 drops the fragmentation penalty for a full one-chunk match
    assert e2e["meteor"] == pytest.approx(100.0)
    assert 50.0 < web["meteor"] < e2e["meteor"]


# ----------------------------------------------------------------------------------------- files
def test_write_webnlg_files_pads_and_has_no_trailing_newline(tmp_path):
    hyps = ["The Cat sat.", "Dogs run"]
    refs = [["The cat sat.", "A cat sat."], ["Dogs run."]]
    paths = M.write_webnlg_files(hyps, refs, tmp_path / "hypothesis", tmp_path / "reference")
    assert [p.name for p in paths] == [f"reference{i}" for i in range(6)]
    hyp_text = (tmp_path / "hypothesis").read_text("utf-8")
    assert hyp_text == "the cat sat .\ndogs run"  # no trailing newline: eval.py split('\n')
    assert paths[0].read_text("utf-8") == "the cat sat .\ndogs run ."
    assert paths[1].read_text("utf-8") == "a cat sat .\ndogs run ."  # padded with reference 0
    assert paths[5].read_text("utf-8") == "the cat sat .\ndogs run ."
    for p in paths + [tmp_path / "hypothesis"]:
        assert len(p.read_text("utf-8").split("\n")) == len(hyps)


def test_write_e2e_files_round_trip(tmp_path):
    hyps = ["h one", "h two"]
    refs = [["r1a", "r1b"], ["r2a"]]
    M.write_e2e_files(hyps, refs, tmp_path / "pred.txt", tmp_path / "ref.txt")
    # e2e-metrics read_lines(multi_ref=True): groups separated by empty lines, trailing group dropped
    groups = [[]]
    for line in (tmp_path / "ref.txt").read_text("utf-8").splitlines():
        line = line.strip()
        if not line:
            groups.append([])
        else:
            groups[-1].append(line)
    if not groups[-1]:
        del groups[-1]
    assert groups == refs
    assert (tmp_path / "pred.txt").read_text("utf-8").splitlines() == hyps


def test_input_validation():
    with pytest.raises(ValueError, match="grouped per input"):
        M.score_e2e(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="non-empty list"):
        M.score_webnlg(["a"], [[]])
    with pytest.raises(TypeError):
        M.score_webnlg("a", [["a"]])
