"""The risk model and what it learns from: the concept lexicon, the safety corpus, grouped
cross-validation, thresholds, and storage that refuses anything it did not write."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from bot.engine.lexicon import ConceptLexicon, flatten
from bot.engine.risk import LABELS, RiskModel, RiskThresholds, grade
from bot.engine.risk_training import SafetyExample, choose_thresholds, out_of_fold_proba
from bot.safety_files import (
    SafetyFileError,
    load_risk_model,
    read_corpus,
    read_corpus_file,
    read_lexicon,
)

LEXICON = {
    "intent": {"en": ["kill myself", "end it all"], "es": ["matarme"]},
    "means": {"en": ["rope", "pill*"], "ja": ["ロープ"]},
    "first_person": {"en": ["i", "my"]},
    "humour": {"emoji": ["💀"]},
}


def test_lexicon_matches_words_phrases_stems_and_unspaced_scripts():
    lexicon = ConceptLexicon(LEXICON).fit()
    counts = dict(zip(lexicon.names_, lexicon.counts(flatten(
        "I want to KILL myself, my pills and the rope 💀 ロープがある")), strict=True))
    assert counts == {"first_person": 2, "humour": 1, "intent": 1, "means": 3}
    assert lexicon.counts(flatten("Quiero matárme"))[lexicon.names_.index("intent")] == 1
    assert lexicon.counts(flatten("roper skills"))[lexicon.names_.index("means")] == 0


TINY_CORPUS = [
    ("i want to kill myself tonight", "crisis"), ("going to end it all, the rope is ready",
                                                  "crisis"),
    ("i took all my pills and vodka", "emergency"), ("he swallowed 40 pills", "emergency"),
    ("does ketamine help suicidal thoughts", "concern"), ("i was suicidal years ago, fine now",
                                                         "concern"),
    ("how much does an infusion cost", "none"), ("this commute is killing me lol", "none"),
] * 3


def _tiny_model() -> RiskModel:
    texts, labels = zip(*TINY_CORPUS, strict=True)
    return RiskModel(LEXICON, C=4.0, min_df=1).fit(list(texts), list(labels))


def test_risk_model_round_trips_through_json_exactly():
    model = _tiny_model()
    restored = RiskModel.from_dict(json.loads(json.dumps(model.to_dict())))
    for text in ["i want to end it all", "how much is it", "i tookk all my pilss"]:
        np.testing.assert_allclose(restored.proba(text), model.proba(text), atol=1e-6)
    batch = model.predict_proba(["i want to end it all", "how much is it"])
    np.testing.assert_allclose(batch[0], model.proba("i want to end it all"), atol=1e-5)


def test_spelling_correction_gives_a_second_reading():
    model = _tiny_model()
    assert model.corrected(flatten("i wnat to kill myslef")) == "i want to kill myself"
    typed = "i wnat to kill myslef"
    assert model.proba(typed)[2] >= model._proba_one(flatten(typed))[2]


def test_text_the_model_knows_nothing_of_reads_as_no_risk():
    model = _tiny_model()
    np.testing.assert_array_equal(model.proba("ЖЖЖ"), [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(model.predict_proba(["ЖЖЖ"])[0], [1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize(("change", "reason"), [
    ({"format": 99}, "unsupported risk model format"),
    ({"coef": {"shape": [2, 4], "float32": "AAAA"}}, "wrong number of bytes"),
    ({"thresholds": {"alarm": 2, "concern": 0.5, "signal": 0.1}}, "between 0 and 1"),
    ({"thresholds": {"alarm": "x", "concern": 0.5, "signal": 0.1}}, "between 0 and 1"),
    ({"char_vocabulary": ["a", "a"]}, "differ in length or repeat"),
    ({"params": None}, "not a risk model"),
])
def test_a_damaged_risk_model_is_refused_with_a_reason(change, reason):
    data = _tiny_model().to_dict()
    data.update(change)
    with pytest.raises(ValueError, match=reason):
        RiskModel.from_dict(data)


def test_non_finite_weights_are_refused():
    model = _tiny_model()
    model.coef_[0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        RiskModel.from_dict(model.to_dict())


@pytest.mark.parametrize("content", ["", "null", "[1,", '"x"', "{}", "[" * 3000])
def test_risk_model_files_that_are_not_models_give_one_line(tmp_path, content):
    path = tmp_path / "risk_model.json"
    path.write_text(content)
    with pytest.raises(SafetyFileError) as caught:
        load_risk_model(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_grading_uses_each_threshold():
    th = RiskThresholds(alarm=0.6, concern=0.5, signal=0.2)
    assert grade(np.array([0.1, 0.1, 0.5, 0.3]), th).level == "crisis"
    assert grade(np.array([0.1, 0.1, 0.3, 0.5]), th).level == "emergency"
    risk = grade(np.array([0.3, 0.4, 0.2, 0.1]), th)
    assert (risk.level, risk.signal) == ("concern", True)
    assert grade(np.array([0.9, 0.05, 0.03, 0.02]), th).level == "none"


def test_thresholds_come_from_out_of_fold_rates():
    rng = np.random.default_rng(0)
    labels = ["none"] * 500 + ["concern"] * 200 + ["crisis"] * 300
    risk = np.r_[rng.uniform(0, 0.5, 500), rng.uniform(0, 0.6, 200), rng.uniform(0.4, 1, 300)]
    proba = np.c_[1 - risk, np.zeros(1000), risk, np.zeros(1000)]
    th = choose_thresholds(proba, labels)
    safe = np.r_[risk[:700]]
    assert (safe >= th.alarm).mean() <= 0.05 + 1e-9
    assert 0 < th.signal <= th.alarm


def test_easy_messages_added_to_the_corpus_do_not_lower_the_alarm():
    rng = np.random.default_rng(1)
    labels = ["none"] * 350 + ["concern"] * 50 + ["crisis"] * 200
    risk = np.r_[rng.uniform(0, 0.8, 400), rng.uniform(0.5, 1, 200)]
    lookalike = np.ones(600, dtype=bool)
    before = choose_thresholds(np.c_[1 - risk, np.zeros(600), risk, np.zeros(600)], labels,
                               lookalike)
    easy = rng.uniform(0, 0.05, 4000)  # "what's the weather": no risk word, no risk
    risk2 = np.r_[risk, easy]
    after = choose_thresholds(np.c_[1 - risk2, np.zeros(4600), risk2, np.zeros(4600)],
                              labels + ["none"] * 4000, np.r_[lookalike, np.zeros(4000, bool)])
    pooled = choose_thresholds(np.c_[1 - risk2, np.zeros(4600), risk2, np.zeros(4600)],
                               labels + ["none"] * 4000)
    assert after.alarm == before.alarm
    assert pooled.alarm < before.alarm  # what the pooled percentile did


def test_folds_never_train_on_the_group_they_score():
    examples = [SafetyExample(f"{w} {c} {i}", label, c, "en", w)
                for w in ("a", "b") for c, label in (("x", "crisis"), ("y", "none"),
                                                     ("z", "concern"), ("q", "emergency"))
                for i in range(3)]
    seen: list[set[str]] = []

    class Recorder:
        def fit(self, texts, labels):
            seen.append({t.rsplit(" ", 1)[0] for t in texts})
            return self

        def predict_proba(self, texts):
            for group in seen[-1]:
                assert not any(t.startswith(group) for t in texts)
            return np.full((len(texts), len(LABELS)), 0.25)

    out_of_fold_proba(examples, Recorder, folds=4)
    assert len(seen) == 4


def test_the_shipped_corpus_is_broad_enough():
    examples = read_corpus()
    labels = Counter(e.label for e in examples)
    risk = [e for e in examples if e.label in ("crisis", "emergency")]
    assert labels["crisis"] + labels["emergency"] >= 3000
    assert labels["none"] + labels["concern"] >= 5000
    assert len({e.category for e in risk}) >= 15
    assert len({e.lang for e in risk if e.lang != "mixed"}) >= 12
    assert len({e.writer for e in examples}) >= 8
    assert set(read_lexicon()) >= {"intent", "means", "symptoms", "farewell", "first_person",
                                   "past_tense", "negation", "informational", "time_now"}


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "x.jsonl:1: not JSON"),
    ('{"text": "hi", "label": "maybe", "category": "c", "lang": "en"}', "x.jsonl:1: label:"),
    ('{"text": "", "label": "none", "category": "c", "lang": "en"}', "x.jsonl:1: text:"),
    ('["a"]', "x.jsonl:1: expected a JSON object"),
])
def test_bad_corpus_lines_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "x.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(SafetyFileError, match=message):
        read_corpus_file(path)
