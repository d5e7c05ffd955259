"""Choosing what to quote: sentence spans, the sentence-level re-ranking, and the sentences a citation touches."""

import numpy as np

from knowledge.passages import (
    cited_sentences,
    lead_support,
    query_terms,
    rerank,
    scoring_spans,
    scoring_texts,
    sentence_similarity,
)
from tests.plans import make_hit

PARAGRAPH = (
    "提升优生服务水平。免费提供基本避孕药具和实施基本避孕手术。免费提供孕前优生健康检查和婚前医学检查，"
    "为孕产妇规范提供孕期健康检查、产后访视和健康指导等服务。建立覆盖城乡居民的出生缺陷防治体系，提高出生人口素质。"
)


def test_long_passages_are_scored_by_sentence_short_ones_and_rows_whole():
    assert len(scoring_spans(PARAGRAPH, "paragraph")) == 4
    assert scoring_texts(PARAGRAPH, "paragraph")[2].startswith("免费提供孕前优生健康检查")
    assert scoring_spans("免费提供孕前优生健康检查。", "paragraph") == [(0, 13)]
    assert scoring_spans(PARAGRAPH, "table_row") == [(0, len(PARAGRAPH))]


def test_cited_sentences_widen_a_citation_to_whole_sentences_only():
    start = PARAGRAPH.index("孕前优生健康检查")
    a, b = cited_sentences(PARAGRAPH, 0, len(PARAGRAPH), start, start + 8)
    assert (
        PARAGRAPH[a:b]
        == "免费提供孕前优生健康检查和婚前医学检查，为孕产妇规范提供孕期健康检查、产后访视和健康指导等服务。"
    )
    # A citation over two sentences keeps both, and nothing outside the passage.
    end = PARAGRAPH.index("提高")
    a, b = cited_sentences(PARAGRAPH, 0, len(PARAGRAPH), start, end)
    assert PARAGRAPH[a:b].endswith("提高出生人口素质。") and PARAGRAPH[a:b].startswith("免费提供孕前")


def test_the_passage_whose_best_sentence_is_closest_in_meaning_rises():
    near = make_hit("near", PARAGRAPH, score=0.040)
    far = make_hit(
        "far", "加强基层医疗卫生服务体系建设。完善乡镇卫生院设施条件。推进村卫生室标准化建设。", score=0.050
    )
    terms = query_terms("孕前检查免费吗")
    assert rerank([far, near], terms, {"near": 0.95, "far": 0.80})[0].chunk_id == "near"
    # Without sentence similarities the chunk similarity stands in (here equal), so the fused score decides.
    assert rerank([far, near], (set(), set()))[0].chunk_id == "far"


def test_sentence_similarity_uses_each_hits_best_sentence(retriever):
    embedder = retriever.embedder
    vector = embedder.embed_query("孕前优生健康检查免费吗")
    near = make_hit("near", PARAGRAPH, score=0.04)
    far = make_hit(
        "far",
        "推进公共体育场馆免费或低收费开放。加强全民健身场地设施建设。完善城市社区健身设施。",
        score=0.05,
    )
    sims = sentence_similarity([near, far], embedder, vector)
    assert set(sims) == {"near", "far"} and sims["near"] > sims["far"]
    best_sentence = embedder.embed_passages(scoring_texts(PARAGRAPH, "paragraph"))[0] @ vector
    assert np.isclose(sims["near"], float(best_sentence.max()), atol=1e-5)


def test_ingest_puts_every_passage_sentence_in_the_embedding_cache(settings, ingested, retriever):
    chunk = next(c for c in retriever.snapshot().chunks if len(scoring_spans(c.quote, c.kind)) > 2)
    _, computed = retriever.embedder.embed_passages(scoring_texts(chunk.quote, chunk.kind))
    assert computed == 0  # all came from the cache ingest filled


def test_lead_support_is_the_share_of_the_lead_the_quote_states():
    lead = "辖区内常住的孕产妇可享受：免费建立母子健康手册。"
    assert lead_support(lead, "为辖区内常住的孕产妇免费建立母子健康手册，规范提供孕期保健。") > 0.8
    assert lead_support(lead, "免费提供孕前优生健康检查和婚前医学检查。") < 0.3
    assert lead_support("", "任何文字") == 0.0
