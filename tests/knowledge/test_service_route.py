"""The question → service route: everyday wording data, matching, and its place in retrieval."""

from knowledge.catalogue.colloquial import MIN_QUESTIONS, load_wording, wording_problems
from knowledge.retrieval import ROUTE_MIN_SIMILARITY
from knowledge.service_route import route_entries


def test_every_service_has_everyday_wording_and_every_term_is_the_plans_own(catalogue, source_text):
    wording = load_wording()
    assert wording_problems(wording, catalogue, source_text) == []
    assert set(wording) == set(catalogue.entries)
    assert all(len(w.questions) >= MIN_QUESTIONS for w in wording.values())


def test_route_entries_keep_which_service_each_name_belongs_to(catalogue):
    entries = route_entries(catalogue, load_wording())
    by_kind = {e.kind for e in entries}
    assert by_kind == {"official", "alias", "name", "question"}
    premarital = [e for e in entries if e.service_id == "gx-premarital-check"]
    assert premarital[0].kind == "official" and premarital[0].text == "免费婚前医学检查服务"
    assert all(e.region == "guangxi" for e in premarital)


def test_an_old_programme_name_routes_to_the_service(route, retriever):
    vector = retriever.embedder.embed_query("新农合现在还能报销吗")
    matches = route.match("新农合现在还能报销吗", vector, region="ningxia")
    assert matches[0].service_id == "nx-bysy-resident-medical-insurance"
    assert matches[0].region == "ningxia"


def test_route_adds_the_matched_services_cited_passage_to_retrieval(route, retriever):
    question = "快结婚了，结婚前那个体检要不要自己掏钱"
    result = retriever.search(question, top_k=5, region="guangxi", route=route)
    assert result.services and result.services[0].service_id == "gx-premarital-check"
    assert result.services[0].similarity >= ROUTE_MIN_SIMILARITY
    cited = route.citations["gx-premarital-check"][0]
    assert any(h.source == cited[0] and h.start <= cited[1] < h.end for h in result.hits[:3])


def test_without_the_route_retrieval_is_unchanged_in_shape(retriever):
    result = retriever.search("孕前检查", top_k=3, rankers=("dense", "words", "chars"))
    assert len(result.hits) == 3 and result.services == []
