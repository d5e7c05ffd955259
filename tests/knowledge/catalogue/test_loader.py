import copy

import pytest

from knowledge.catalogue.loader import CATALOGUE_DIR, CatalogueError, build_catalogue, read_service_files
from knowledge.catalogue.models import CATEGORIES


def test_catalogue_covers_both_plans(catalogue):
    counts = catalogue.counts()
    assert sum(counts["ningxia"].values()) >= 80
    assert set(counts["ningxia"]) == set(CATEGORIES)
    # Ningxia 专栏2 per-category totals as printed（共计N项）
    assert dict(counts["ningxia"]) == {
        "幼有所育": 9, "学有所教": 9, "劳有所得": 12, "病有所医": 16, "老有所养": 4,
        "住有所居": 3, "弱有所扶": 14, "优军服务保障": 4, "文体服务保障": 9,
    }  # fmt: skip
    names = {s.name for s in catalogue.services() if s.region == "guangxi"}
    for expected in (
        "免费婚前医学检查服务",
        "免费孕前优生健康服务",
        "孕产妇健康服务",
        "最低生活保障",
        "公租房保障",
    ):
        assert expected in names


def test_every_citation_is_verbatim_with_offsets(catalogue, source_text):
    for entry in catalogue.entries.values():
        for c in entry.citations:
            assert source_text[c.source][c.start : c.end] == c.quote
            assert c.section and c.region == entry.service.region


def test_preconception_service_cites_box4(catalogue):
    entry = catalogue.get("gx-preconception-check")
    assert entry.citations[0].section == "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务"


@pytest.fixture(scope="module")
def raw():
    return read_service_files(CATALOGUE_DIR)


def _broken(raw, mutate):
    entries = copy.deepcopy(raw)
    mutate(entries)
    return entries


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e[0][1]["citations"][0].update(quote="这句话规划里没有写过"), "not verbatim"),
        (lambda e: e.append(e[0]), "duplicate id"),
        (
            lambda e: e[0][1].update(eligibility=[{"when": "salary > 3000", "because": "收入"}]),
            "unknown profile field",
        ),
        (lambda e: e[0][1].update(eligibility=[{"when": "age >= ", "because": "年龄"}]), "age >="),
        (lambda e: e[0][1].update(category="吃有所食"), "category"),
        (lambda e: e[0][1]["citations"][0].update(quote="公共服务"), "more than once"),
        (
            lambda e: e[0][1].update(eligibility=[{"when": "age > 1", "because": "年龄", "cite": 9}]),
            "cites #9",
        ),
    ],
)
def test_invalid_catalogue_data_is_rejected_with_every_problem(raw, sources, mutate, problem):
    with pytest.raises(CatalogueError) as err:
        build_catalogue(_broken(raw, mutate), sources)
    assert any(problem in p for p in err.value.problems), err.value.problems
