"""The fine-tuning data and batches (knowledge/model_tuning.py): pure, no torch."""

from knowledge.catalogue.colloquial import load_wording
from knowledge.evaluation import normalise
from knowledge.model_tuning import Pair, batches, negative_mask, sentence_around, tuning_pairs


def test_sentence_around_takes_the_whole_sentence_holding_the_span():
    text = "前言。为孕产妇免费建立母子健康手册，提供产前检查；另一句。"
    start = text.index("母子健康手册")
    assert sentence_around(text, start, start + 6) == "为孕产妇免费建立母子健康手册，提供产前检查；"


def test_every_pair_is_a_resident_wording_paired_with_a_sentence_of_its_services_plan(catalogue, source_text):
    wording = load_wording()
    pairs = tuning_pairs(catalogue, wording, source_text)
    by_service = {sid: {*w.questions, *w.names} for sid, w in wording.items()}
    assert len(pairs) >= 3 * len(catalogue.entries)
    for p in pairs:
        assert p.query in by_service[p.service_id]
        entry = catalogue.entries[p.service_id]
        plan = normalise("".join(source_text[c.source] for c in entry.citations))
        assert normalise(p.passage) in plan
        # the sentence holds one of the service's own citations
        assert any(
            normalise(source_text[c.source][c.start : c.end])[:20] in normalise(p.passage)
            for c in entry.citations
        )


def test_batches_use_each_pair_once_and_are_reproducible():
    pairs = [Pair(f"s{i % 7}", f"q{i}", f"p{i % 7}") for i in range(50)]
    first = batches(pairs, 8, seed=3)
    assert sorted(p.query for b in first for p in b) == sorted(p.query for p in pairs)
    assert all(2 <= len(b) <= 8 for b in first)
    assert first == batches(pairs, 8, seed=3)
    assert first != batches(pairs, 8, seed=4)


def test_a_passage_that_also_answers_the_question_is_not_used_as_its_negative():
    batch = [
        Pair("a", "q1", "甲句"),
        Pair("a", "q2", "乙句"),
        Pair("b", "q3", "甲句"),
        Pair("c", "q4", "丙句"),
    ]
    mask = negative_mask(batch)
    assert mask[0] == [True, False, False, True]  # same service, same sentence: masked; c is a real negative
    assert mask[3] == [True, True, True, True]
    assert all(mask[i][i] for i in range(len(batch)))
