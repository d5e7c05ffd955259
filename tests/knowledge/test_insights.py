"""Grouping declined questions and 👎 answers: with a toy embedding (logic) and the real model (meaning)."""

from __future__ import annotations

import numpy as np

from knowledge.insights import Item, group_items


def _toy_embed(texts: list[str]) -> np.ndarray:
    # one axis per topic word: texts sharing the word are identical vectors
    topics = ["天气", "公积金", "诗"]
    return np.array([[1.0 if t in text else 0.0 for t in topics] + [0.01] for text in texts])


def test_groups_by_similarity_biggest_first():
    items = [
        Item(text="明天天气怎么样", kind="refused", reason="out_of_scope", ts=1),
        Item(text="杭州公积金能贷多少", kind="refused", reason="other_region", ts=2),
        Item(text="今天天气好吗", kind="refused", reason="out_of_scope", ts=3),
        Item(text="明天天气怎么样", kind="refused", reason="out_of_scope", ts=4),
        Item(text="公积金提取", kind="downvoted", ts=5, comment="没说清楚"),
    ]
    groups = group_items(items, _toy_embed)
    assert [g.count for g in groups] == [3, 2]
    weather, fund = groups
    assert weather.label == "明天天气怎么样" and weather.reasons == {"out_of_scope": 3}
    assert weather.examples == ["明天天气怎么样", "今天天气好吗"]  # distinct, newest first
    assert fund.kinds == {"refused": 1, "downvoted": 1} and fund.comments == ["没说清楚"]
    assert fund.last_seen == 5


def test_empty_input():
    assert group_items([], _toy_embed) == []


def test_real_model_puts_paraphrases_together(retriever):
    texts = ["深圳的社保怎么交", "深圳社保缴费怎么弄", "帮我写首诗", "写一首关于秋天的诗"]
    items = [Item(text=t, kind="refused", ts=i) for i, t in enumerate(texts)]
    groups = group_items(items, retriever.embedder.embed_queries)
    together = {frozenset(g.examples) for g in groups}
    assert frozenset({"深圳的社保怎么交", "深圳社保缴费怎么弄"}) in together
    assert frozenset({"帮我写首诗", "写一首关于秋天的诗"}) in together
