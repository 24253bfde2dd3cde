"""The engine: normalisation, the index (estimator conventions), decisions, the model file."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.decide import Scored, decide
from bot.engine.engine import Engine
from bot.engine.index import FEATURES, FaqIndex
from bot.engine.model import DEFAULT_PARAMS, ModelParams, Thresholds
from bot.engine.text import Normalizer, clean, words
from bot.engine.vectors import FastTfidf
from bot.knowledge import Entry, parse_knowledge
from bot.runtime import load_engine
from tests.conftest import ROOT, SHIPPED, TINY


@pytest.mark.parametrize(("raw", "expected"), [
    ("ＫＥＴＡＭＩＮＥ？", "ketamine?"),                # full-width forms (NFKC)
    ("ket\u200bamine", "ketamine"),                    # zero-width space inside a word
    ("\u202eenimatek\u202c", "enimatek"),             # bidi controls
    ("Straße", "strasse"),                             # casefold, not lower
    ("a\tb\n\nc\x00d", "a b c d"),                     # control characters
    ("\x1b[31mred\x1b[0m", "red"),                     # terminal escape codes
    ("   ", ""),
])
def test_clean(raw, expected):
    assert clean(raw) == expected


def test_words_drop_punctuation_and_apostrophes():
    assert words(clean("What's the cost?! (IV) — $450")) == ["whats", "the", "cost", "iv", "450"]


def test_clean_bounds_huge_input():
    assert len(clean("x " * 100_000)) <= 1000


@pytest.fixture(scope="module")
def tiny():
    knowledge, _ = parse_knowledge(TINY.replace(
        "  caffeine: [caffiene]", "  caffeine: [caffiene]\n  side effect: [adverse reaction]"))
    return knowledge


def test_normalizer_synonyms_spelling_and_stems(tiny):
    norm = Normalizer(tiny.synonyms).fit([p for e in tiny.entries for p in e.phrasings])
    assert norm("a cuppa of chai") == norm("a tea of tea")
    assert norm("adverse reactions")  # multi-word variant, stems still applied
    assert norm.tokens("adverse reaction") == ["side", "effect"]
    assert norm.tokens("bewing steeped") == ["brew", "steep"]  # one edit away; stemmed
    assert norm.tokens("xylophone") == ["xylophon"]  # nothing close: left alone
    assert norm.tokens("do ppl brew it thru the night") == norm.tokens(
        "do people brew it through the night")  # chat shorthand


def test_knowledge_synonyms_override_chat_shorthand():
    norm = Normalizer({"dose rate": ["dr"]}).fit(["what is the dose rate"])
    assert norm.tokens("dr") == ["dose", "rate"]
    assert Normalizer().fit([]).tokens("dr") == ["doctor"]


def test_index_follows_estimator_conventions(tiny):
    index = FaqIndex(shortlist=2)
    assert index.get_params()["shortlist"] == 2
    with pytest.raises(NotFittedError):
        index.vectorize(["tea"])
    assert index.fit(tiny.entries, tiny.synonyms) is index
    assert index.entry_ids_ == ["green-tea-caffeine", "brew-time", "water-temperature"]
    assert not hasattr(clone(index), "entry_ids_")
    with pytest.raises(ValueError, match="at least one entry"):
        FaqIndex().fit([])


# No dense block; 2 rows (a product over the block); 48 of 50 terms (rows copied out); whole.
# Each with scipy's compiled kernel walking the posting lists, and without it (numpy's walk).
@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize(("max_dense_bytes", "dense_share"),
                         [(0, 1 / 8), (2400, 1 / 8), (57_600, 0.01), (16 * 2**20, 1 / 8)])
def test_term_documents_scores_one_query_like_the_sparse_product(max_dense_bytes, dense_share,
                                                                 kernel, monkeypatch):
    import scipy.sparse as sp

    from bot.engine import vectors

    if not kernel:
        monkeypatch.setattr(vectors, "_column_product", None)
    rng = np.random.default_rng(0)
    documents = rng.random((300, 50)) * (rng.random((300, 50)) < 0.1)
    documents[:, :3] = rng.random((300, 3))  # terms in every document
    documents[:, 20] = 0.0  # a term no document has: an empty posting list
    scorer = vectors.TermDocuments(sp.csr_matrix(documents, dtype=np.float32),
                                   max_dense_bytes=max_dense_bytes, dense_share=dense_share)
    assert scorer.dense.nbytes <= max_dense_bytes
    # Unsorted, with neighbouring terms and the empty one (the kernel's column ranges).
    for idx in ([0, 2, 7, 31, 49], [49, 8, 7, 20, 21, 0, 30, 2], [20], [13]):
        idx = np.array(idx)
        weights = rng.random(len(idx)).astype(np.float32)
        query = sp.csr_matrix((weights, idx, [0, len(idx)]), shape=(1, 50))
        np.testing.assert_allclose(scorer.score_one(idx, weights), scorer.score_many(query)[0],
                                   rtol=1e-5, atol=1e-7)


def test_softmax_matches_scipy():
    from scipy.special import softmax as scipy_softmax

    from bot.engine.vectors import softmax

    z = np.random.default_rng(1).normal(size=(4, 7)) * 30
    np.testing.assert_allclose(softmax(z, axis=1), scipy_softmax(z, axis=1))
    np.testing.assert_allclose(softmax(z[0]), scipy_softmax(z[0]))
    assert softmax(np.zeros((0, 3)), axis=1).shape == (0, 3)


def test_fast_tfidf_matches_sklearn(tiny):
    index = FaqIndex().fit(tiny.entries, tiny.synonyms)
    texts = [index.normalizer_(q) for q in ["how hot", "green tea caffeine", "zzz"]]
    # The index's own, and word n-grams (the fast path) of another range and tokenizer.
    other = TfidfVectorizer(analyzer="word", tokenizer=lambda t: t.split("e"),
                            token_pattern=None, ngram_range=(2, 3), lowercase=False,
                            sublinear_tf=True).fit([*texts, "green tea is hot", "tea zzz"])
    for vectorizer in (index.word_, index.char_, other):
        fast = FastTfidf(vectorizer)
        np.testing.assert_allclose(fast(texts).toarray(), vectorizer.transform(texts).toarray(),
                                   atol=1e-6)


def test_every_stored_phrasing_retrieves_its_own_entry(tiny):
    engine = Engine(tiny)
    for entry in tiny.entries:
        for phrasing in entry.phrasings:
            assert engine.rank(phrasing)[0].entry.id == entry.id, phrasing


def test_answerability_reading_is_remembered_only_for_the_same_query(tiny):
    answerability = Engine(tiny).index.answerability_
    first = answerability.query("how hot is green tea", {"hot", "green", "tea"})
    assert answerability.query("how hot is green tea", {"hot", "green", "tea"}) is first
    other = answerability.query("how hot is green tea", {"zebra"})  # other content words
    assert other is not first and other[3] == 0.0 < first[3]
    assert answerability.query("green tea", {"hot", "green", "tea"}) is not other


def test_shipped_knowledge_retrieves_itself():
    engine = load_engine(SHIPPED).engine
    misses = [(e.id, p) for e in engine.knowledge.entries for p in e.phrasings
              if engine.rank(p)[0].entry.id != e.id]
    assert not misses
    not_answered = [e.id for e in engine.knowledge.entries
                    if engine.match(e.question).status != "answer"]
    assert not not_answered


@pytest.mark.parametrize("query", ["asdkjh qwezxc vbnm", "what's the weather in paris tomorrow",
                                   "who won the world cup", "write me a poem about trains"])
def test_abstains_on_nonsense_and_unrelated_questions(query):
    match = load_engine(SHIPPED).engine.match(query)
    assert match.status == "unknown"


def _scored(*confidences):
    entry = Entry(id="e", question="q?", answer="a.")
    return [Scored(entry, c, "q?") for c in confidences]


@pytest.mark.parametrize(("confidences", "status", "options"), [
    ((0.9, 0.05), "answer", 1),
    ((0.9, 0.6), "clarify", 2),       # confident but not clearly ahead: ask
    ((0.5, 0.4, 0.3, 0.01), "clarify", 3),
    ((0.2, 0.1), "unknown", 0),
    ((0.3, 0.05), "unknown", 1),      # plausible suggestion kept
    ((0.25, 0.12, 0.08), "clarify", 3),  # broad: no leader, but one of the three fits
    ((0.3, 0.14, 0.05), "clarify", 2),   # a far-behind third is no real option
])
def test_decide(confidences, status, options):
    th = Thresholds(answer=0.8, margin=0.5, clarify=0.4, suggest=0.25)
    match = decide(_scored(*confidences), th)
    assert match.status == status and len(match.candidates) == options


def test_model_file_round_trip_and_errors():
    params = replace(DEFAULT_PARAMS, inputs_hash="abc")
    assert ModelParams.from_json(params.to_json()) == params
    with pytest.raises(ValueError, match="unsupported model format"):
        ModelParams.from_json("{}")
    with pytest.raises(ValueError, match="not JSON"):
        ModelParams.from_json("[1, 2")
    data = json.loads(params.to_json())
    data["features"] = ["word"]
    with pytest.raises(ValueError, match="other features"):
        ModelParams.from_json(json.dumps(data))
    sources = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    assert "import pickle" not in sources and "joblib" not in sources


N = len(FEATURES)


def _model_with(**changes) -> str:
    data = json.loads(DEFAULT_PARAMS.to_json())
    for key, value in changes.items():
        target = data
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(data)


@pytest.mark.parametrize(("text", "reason"), [
    ("null", "not a model file"), ("1", "not a model file"), ('"x"', "not a model file"),
    ("[" * 5000, "not JSON"), ('{"format": 2, "coef": ' + "9" * 5000 + "}", "not JSON"),
    (_model_with(coef=[float("nan")] * N), "coef must be a finite number"),
    (_model_with(intercept=float("inf")), "intercept must be a finite number"),
    (_model_with(scale=[0.0] * N), "scale must be a finite positive number"),
    (_model_with(**{"thresholds.answer": "high"}), "threshold answer must be a number"),
    (_model_with(**{"thresholds.margin": -0.5}), "threshold margin must be a number"),
    (_model_with(use_scope="yes"), "use_scope must be true or false"),
    (_model_with(classifier_c=-1), "classifier_c must be a finite positive number"),
    (_model_with(coef=[1.0]), f"coef must be a list of {N} numbers"),
])
def test_every_model_field_is_checked_with_a_one_line_reason(text, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        ModelParams.from_json(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("content", ["null", "1", '"x"', _model_with(coef=[float("nan")] * N),
                                     _model_with(**{"thresholds.answer": -3})])
def test_a_broken_model_file_gives_a_note_and_safe_weights(tiny_file, content):
    model = tiny_file.with_name("tea.model.json")
    model.write_text(content)
    loaded = load_engine(tiny_file)
    assert any("WARNING" in n and "tea.model.json" in n for n in loaded.notices)
    reply = loaded.engine.match("how hot should the water be")
    assert np.isfinite(reply.confidence) and 0 <= reply.confidence <= 1


def test_weights_trained_on_other_inputs_are_kept_and_thresholds_recalibrated(tiny_file):
    model = tiny_file.with_name("tea.model.json")
    model.write_text(replace(DEFAULT_PARAMS, inputs_hash="not-these-inputs").to_json())
    loaded = load_engine(tiny_file)
    assert any("recalibrated" in n for n in loaded.notices)
    assert loaded.engine.params.coef == DEFAULT_PARAMS.coef
    again = load_engine(tiny_file)  # from the cache this time: same thresholds
    assert again.engine.params.thresholds == loaded.engine.params.thresholds


def _ask(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "bot", "ask", *args], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, timeout=60, check=True)


def test_ask_json_contract():
    data = json.loads(_ask("--json", "how much does an infusion cost").stdout)
    assert data["status"] == "answer"
    assert data["entry"] == "ketamine-cost-and-insurance"
    assert data["answer"].startswith("Because the FDA has not approved IV ketamine")
    assert data["question"] and 0 <= data["confidence"] <= 1
    assert data["text"].startswith(f"Answering: “{data['question']}”")
    assert data["text"].endswith(data["disclaimer"])


def test_ask_batch_is_one_json_line_per_input_line_in_order():
    out = _ask(stdin="how much does an infusion cost\n\nkms\nwhat's the capital of peru\n")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["answer", "invalid", "crisis", "unknown"]
    assert all(set(r) >= {"status", "text", "answer", "entry", "question", "confidence",
                          "suggestions"} for r in rows)


def test_ask_prints_the_reply_as_text():
    out = _ask("hi").stdout
    assert out.startswith("Hi! I answer questions about IV Ketamine Infusion Therapy.")


@pytest.mark.parametrize(("content", "message"), [
    ('{"query": "hi", "expect": "answer"}\nnot json\n', "bad.jsonl:2: not JSON (Expecting value)"),
    ('{"qury": "hi"}\n', "bad.jsonl:1: query: missing or not text"),
    ('{"query": "hi", "expect": "maybe"}\n',
     "bad.jsonl:1: expect: 'maybe' is not one of abstain, answer, concern, crisis, emergency, "
     "none, safe"),
])
def test_bad_eval_files_are_one_line_errors(tmp_path, capsys, content, message):
    from bot.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    assert main(["eval", str(path)]) == 1
    assert capsys.readouterr().err.strip().endswith(message)


def _fitted_classifiers(tiny):
    from bot.engine.classifier import (
        EntryClassifier,
        NearestNegative,
        ScopeClassifier,
        TextFeatures,
    )

    index = FaqIndex().fit(tiny.entries, tiny.synonyms)
    texts, labels = index.phrasing_norm_, index.phrasing_entry_
    negatives = [index.normalizer_(q) for q in ["weather in paris", "football scores",
                                                "hello there", "who won the election",
                                                "recipe for bread"]]
    features = TextFeatures().fit(texts + negatives)
    pos, neg = features.rows(texts, batch=True), features.rows(negatives, batch=True)
    both = sp.vstack([pos.select(), neg.select()], format="csr")
    return (index, features, EntryClassifier().fit(pos.select(), labels, n_entries=index.n_entries),
            ScopeClassifier().fit(both, [True] * len(texts) + [False] * len(negatives)),
            NearestNegative().fit(neg))


def test_classifiers_give_the_same_answer_for_one_query_and_a_batch(tiny):
    index, features, entry, scope, near = _fitted_classifiers(tiny)
    queries = [index.normalizer_(q) for q in ["how hot should the water be",
                                              "caffiene in green tea", "football"]]
    batch = features.rows(queries * 4)
    for i, query in enumerate(queries):
        single = features.rows([query])
        np.testing.assert_allclose(entry.proba(single)[0], entry.proba(batch)[i], atol=1e-6)
        np.testing.assert_allclose(scope.proba(single)[0], scope.proba(batch)[i], atol=1e-6)
        np.testing.assert_allclose(near.similarity(single)[0], near.similarity(batch)[i],
                                   atol=1e-6)


def test_fitted_classifiers_survive_the_cache_round_trip(tiny):
    from bot.engine.classifier import TextFeatures

    index, features, entry, scope, near = _fitted_classifiers(tiny)
    restored_features = TextFeatures.from_arrays(features.to_arrays())
    queries = [index.normalizer_(q) for q in ["how hot should the water be", "football"]]
    rows, again = features.rows(queries), restored_features.rows(queries)
    n = features.n_word_ + features.n_char_
    checks = ((entry, "proba", n), (scope, "proba", n), (near, "similarity", features.n_char_))
    for model, call, size in checks:
        restored = type(model).from_arrays(model.to_arrays(), size)
        np.testing.assert_allclose(getattr(restored, call)(again), getattr(model, call)(rows),
                                   atol=1e-6)
    with pytest.raises(ValueError, match="do not fit these features"):
        type(scope).from_arrays(scope.to_arrays(), n + 1)


def test_nearest_negative_remembers_each_out_of_scope_question(tiny):
    from bot.engine.classifier import NearestNegative

    index = FaqIndex().fit(tiny.entries, tiny.synonyms)
    with pytest.raises(NotFittedError):
        NearestNegative().similarity(index.vectorize(["tea"]))  # type: ignore[arg-type]
    from bot.engine.classifier import TextFeatures

    negatives = [index.normalizer_(q) for q in ["football scores tonight", "weather in paris"]]
    features = TextFeatures().fit(index.phrasing_norm_ + negatives)
    near = NearestNegative().fit(features.rows(negatives, batch=True))
    close, far = near.similarity(features.rows([index.normalizer_(q) for q in [
        "football scores tonight?", "how hot should the water be"]]))
    assert close > 0.99 and far < 0.5
    nothing = features.rows([], batch=True)
    assert NearestNegative().fit(nothing).similarity(features.rows(["tea"]))[0] == 0.0


def test_strip_invisible_is_nfkc_without_invisible_characters():
    import random
    import unicodedata

    from bot.engine.text import INVISIBLE_CODEPOINTS, strip_invisible

    drop = dict.fromkeys(INVISIBLE_CODEPOINTS)
    pool = [chr(c) for c in INVISIBLE_CODEPOINTS] + list("ab @＠é—ﬁ\u2028\x00") + ["\U0001f600"]
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        assert strip_invisible(text) == unicodedata.normalize("NFKC", text).translate(drop)
    assert strip_invisible("@\u200beveryone ＠here") == "@everyone @here"
