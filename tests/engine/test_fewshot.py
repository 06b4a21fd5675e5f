"""Few-shot loaders on the shipped splits, the split samplers, and prompt construction."""

import shutil
from collections import Counter

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from adamixbench.tasks.fewshot import (
    FEWSHOT_TASKS,
    LIST_SHOTS,
    LIST_SPLITS,
    LMBFF_SEEDS,
    PROMPTS,
    build_prompt_inputs,
    label_word_ids,
    load_fewshot,
    load_fewshot_dev,
    load_fewshot_eval,
    sample_fewshot,
    sample_lmbff_split,
)
from adamixbench.tasks.glue import default_data_dir, load_glue


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def glue_dev_dir(tmp_path_factory):
    """The shipped RTE dev set plus stand-ins for the unshipped MNLI/QQP ones, as a `glue_data_dir`."""
    root = tmp_path_factory.mktemp("glue")
    (root / "RTE").mkdir()
    shutil.copyfile(default_data_dir() / "RTE" / "dev.tsv", root / "RTE" / "dev.tsv")
    (root / "MNLI").mkdir()
    (root / "MNLI" / "dev_matched.tsv").write_text(
        "index\tsentence1\tsentence2\tgold_label\n0\tA man sleeps.\tA man is awake.\tcontradiction\n"
    )
    (root / "QQP").mkdir()
    (root / "QQP" / "dev.tsv").write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tA?\tB?\t0\n")
    return root


@pytest.mark.parametrize("task", sorted(FEWSHOT_TASKS))
def test_every_shipped_list_split_has_k_rows(task, glue_dev_dir):
    for k in LIST_SHOTS:
        for split in LIST_SPLITS:
            train, _ = load_fewshot(task, k, split, glue_data_dir=glue_dev_dir)
            assert len(train) == k
            assert train.column_names == [*FEWSHOT_TASKS[task].text_fields, "label"]


@pytest.mark.parametrize("task", sorted(FEWSHOT_TASKS))
def test_every_shipped_lmbff_split_is_16_per_class(task, glue_dev_dir):
    n_classes = len(FEWSHOT_TASKS[task].label_names)
    for seed in LMBFF_SEEDS:
        train, _ = load_fewshot(task, 16, seed, protocol="lmbff", glue_data_dir=glue_dev_dir)
        dev = load_fewshot_dev(task, seed)
        for ds in (train, dev):
            assert Counter(ds["label"]) == {c: 16 for c in range(n_classes)}
        if task != "mpqa":  # MPQA repeats phrases ("axis of evil"), so its train and dev texts overlap
            assert not set(train[FEWSHOT_TASKS[task].text_fields[0]]) & set(dev[FEWSHOT_TASKS[task].text_fields[0]])


@pytest.mark.parametrize(
    ("task", "k", "split", "first"),
    [
        ("sst2", 10, 1, {"sentence": "inspiration and ", "label": 1}),  # headerless TSV
        ("mpqa", 10, 1, {"sentence": "destroy so - called peace", "label": 0}),  # headerless CSV
        (
            "subj",
            10,
            1,
            {
                "sentence": 'diesel stars as xander " xxx " cage , the notorious underground thrill seeker '
                "who until now has been deemed untouchable by the law .",
                "label": 1,
            },
        ),  # CSV quoting
        (
            "qqp",
            10,
            1,
            {
                "question1": "Are Stephen Hawking theories fictional?",
                "question2": "Do you believe Stephen Hawking's theory that mankind has only 1,000 more years on Earth?",
                "label": 0,
            },
        ),
        (
            "mnli",
            10,
            1,
            {"hypothesis": "Cheetah's Topless Lounge is considered one of the best topless-only clubs.", "label": 0},
        ),  # 5-column LiST format
        (
            "rte",
            10,
            1,
            {
                "sentence2": "Miguel Soler Rodriguez and Martha Luz Lopez were killed by two employees of "
                "Bogota's daily El Espectador.",
                "label": 1,
            },
        ),
        ("sst2", 16, 13, {"sentence": "nothing happens , and it happens to flat characters .", "label": 0}),
        ("mnli", 16, 13, {"premise": "Price caps may sound more attractive with every passing rate case.", "label": 0}),
    ],
)
def test_first_rows(task, k, split, first, glue_dev_dir):
    row = load_fewshot(task, k, split, protocol="list" if k != 16 else "lmbff", glue_data_dir=glue_dev_dir)[0][0]
    assert {key: row[key] for key in first} == first


def test_evaluation_sets():
    sst2 = load_fewshot_eval("sst2")  # LM-BFF's 872 sentences, not GLUE's dev file
    assert len(sst2) == 872 and sst2[0] == {"sentence": "one long string of cliches .", "label": 0}
    assert sst2["sentence"] != load_glue("sst2", "validation")["sentence"]
    for task in ("mpqa", "subj"):
        ds = load_fewshot_eval(task)
        assert len(ds) == 2_000 and Counter(ds["label"]) == {0: 1_000, 1: 1_000}
    assert load_fewshot_eval("subj")[0] == {
        "sentence": "smart and alert , thirteen conversations about one thing is a small gem .",
        "label": 0,
    }
    assert load_fewshot_eval("rte").to_dict() == load_glue("rte", "validation").to_dict()


@pytest.mark.parametrize(("task", "file"), [("mnli", "MNLI/dev_matched.tsv"), ("qqp", "QQP/dev.tsv")])
def test_unshipped_glue_dev_sets_are_a_clear_error(task, file):
    with pytest.raises(FileNotFoundError) as err:
        load_fewshot(task, 10, 1)
    assert file in str(err.value) and "glue_data_dir" in str(err.value) and "hub" in str(err.value)


def test_bad_requests():
    with pytest.raises(FileNotFoundError, match="sample_fewshot"):
        load_fewshot("rte", 40, 1)
    with pytest.raises(ValueError, match="protocol"):
        load_fewshot("rte", 10, 1, protocol="pet")
    with pytest.raises(ValueError, match="known tasks"):
        load_fewshot("cola", 10, 1)


# --- samplers -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rte_train():
    return load_glue("rte", "train")


def test_k_total_sampler_is_deterministic_nested_and_seed_dependent(rte_train):
    a = sample_fewshot(rte_train, 20, seed=7)
    assert len(a) == 20 and a.to_dict() == sample_fewshot(rte_train, 20, seed=7).to_dict()
    assert a["sentence1"] != sample_fewshot(rte_train, 20, seed=8)["sentence1"]
    assert sample_fewshot(rte_train, 10, seed=7).to_dict() == a.select(range(10)).to_dict()


def test_per_class_sampler_is_stratified_and_seed_dependent(rte_train):
    a = sample_fewshot(rte_train, 8, seed=3, per_class=True)
    assert Counter(a["label"]) == {0: 8, 1: 8}
    assert a.to_dict() == sample_fewshot(rte_train, 8, seed=3, per_class=True).to_dict()
    assert a["sentence1"] != sample_fewshot(rte_train, 8, seed=4, per_class=True)["sentence1"]


def test_samplers_regenerate_the_released_rte_splits(rte_train):
    # LiST: split s = first K of numpy.random.seed(s)-shuffled GLUE train (split 4 was drawn with seed 6)
    for split, seed in ((1, 1), (4, 6)):
        assert sample_fewshot(rte_train, 30, seed).to_dict() == load_fewshot("rte", 30, split)[0].to_dict()
    # LM-BFF: 16 per class, grouped by class, then the next 16 per class as dev
    train, dev = sample_lmbff_split(rte_train, 16, 13)
    assert train.to_dict() == load_fewshot("rte", 16, 13, protocol="lmbff")[0].to_dict()
    assert dev.to_dict() == load_fewshot_dev("rte", 13).to_dict()


def test_shipped_list_splits_are_not_stratified():
    """Why the K-total sampler leaves class balance to chance: LiST's own splits do."""
    assert Counter(load_fewshot("mpqa", 10, 5)[0]["label"]) == {0: 9, 1: 1}


def test_sampler_errors(rte_train):
    with pytest.raises(ValueError, match="cannot draw"):
        sample_fewshot(rte_train, 10_000, seed=1)
    with pytest.raises(ValueError, match="smaller than"):
        sample_fewshot(rte_train.select(range(10)), 8, seed=1, per_class=True)


# --- prompts ------------------------------------------------------------------------------------------------

WORDS = ("the cat sat on a mat . It was great terrible yes no maybe , ? is this subjective objective dogs bark").split()


def _tokenizer(with_mask=True):
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]"] + (["[MASK]"] if with_mask else [])
    vocab = {w: i for i, w in enumerate(specials + list(dict.fromkeys(WORDS)))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = None
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    kwargs = {"mask_token": "[MASK]"} if with_mask else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", **kwargs
    )


def test_prompts_cover_every_fewshot_task():
    assert set(PROMPTS) == set(FEWSHOT_TASKS)
    for task, prompt in PROMPTS.items():
        assert sorted(prompt.label_words) == list(range(len(FEWSHOT_TASKS[task].label_names)))
        assert "{mask}" in prompt.template
    assert PROMPTS["sst2"].label_words == {0: "terrible", 1: "great"}
    assert PROMPTS["rte"].label_words == {0: "Yes", 1: "No"}  # entailment=0


def test_single_sentence_prompt():
    tok = _tokenizer()
    enc = build_prompt_inputs(tok, {"sentence": "the cat sat", "label": 1}, "sst2")
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]",
        "the",
        "cat",
        "sat",
        "It",
        "was",
        "[MASK]",
        ".",
        "[SEP]",
    ]
    assert enc["input_ids"].index(tok.mask_token_id) == 6 and enc["label"] == 1 and len(enc["attention_mask"]) == 9


def test_pair_prompt_drops_final_punctuation_and_lowercases():
    tok = _tokenizer()
    example = {"sentence1": "the cat sat on a mat.", "sentence2": "The cat sat.", "label": 0}
    enc = build_prompt_inputs(tok, example, "rte")
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]",
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "?",
        "[MASK]",
        ",",
        "the",
        "cat",
        "sat",
        ".",
        "[SEP]",
    ]
    assert enc["input_ids"].index(tok.mask_token_id) == 8


def test_pair_prompt_lowercases_only_the_first_character():
    """LM-BFF's *sentl_1* lower-cases the first character of the second sentence and nothing else (QQP
    drops no character): a later capitalised word keeps its case ("It" is in the vocabulary, "it" is not)."""
    tok = _tokenizer()
    example = {"question1": "dogs bark?", "question2": "The cat sat. It was great.", "label": 1}
    enc = build_prompt_inputs(tok, example, "qqp")
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == (
        ["[CLS]", "dogs", "bark", "?", "[MASK]", ",", "the", "cat", "sat", ".", "It", "was", "great", ".", "[SEP]"]
    )


def test_truncation_keeps_the_mask():
    tok = _tokenizer()
    example = {"premise": "the cat sat on a mat " * 20 + ".", "hypothesis": "dogs bark.", "label": 2}
    enc = build_prompt_inputs(tok, example, "mnli", max_length=16)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    assert len(tokens) <= 16 and tokens.count("[MASK]") == 1 and tokens[-4:] == ["dogs", "bark", ".", "[SEP]"]


def test_label_word_ids():
    tok = _tokenizer()
    assert tok.convert_ids_to_tokens(label_word_ids(tok, "sst2")) == ["terrible", "great"]


def test_tokenizer_without_mask_token_is_rejected():
    tok = _tokenizer(with_mask=False)
    with pytest.raises(ValueError, match="mask token"):
        build_prompt_inputs(tok, {"sentence": "the cat", "label": 0}, "sst2")
