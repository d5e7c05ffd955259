"""Catalogue editing on the real catalogue and the real plan texts, in a temporary data dir."""

import copy
import hashlib
import shutil

import pytest

from knowledge.catalogue.editing import CatalogueStore, validate_entry
from knowledge.catalogue.entitlements import check_service
from knowledge.catalogue.loader import CATALOGUE_DIR
from knowledge.catalogue.profile import ResidentProfile
from knowledge.errors import CatalogueRejected, NotFound
from knowledge.settings import Settings

GX = "000_c3d117fd37f079a7.txt"
PRECONCEPTION_CASE = "广西户籍、计划怀孕 → 孕前优生健康服务"


@pytest.fixture
def local_settings(tmp_path):
    return Settings(data_dir=tmp_path)


@pytest.fixture
def store(local_settings, sources):
    return CatalogueStore(local_settings, sources)


def _tree_digest(path) -> str:
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path)).encode() + f.read_bytes())
    return digest.hexdigest()


def test_seeded_from_the_shipped_catalogue(store):
    assert store.current_revision() == "r00001"
    assert len(store.catalogue().entries) == 136
    seed = store.root / "revisions" / "r00001" / "data"
    assert {p.name for p in seed.glob("*.yaml")} == {p.name for p in CATALOGUE_DIR.glob("*.yaml")}
    assert store.revisions()[0].action == "seed"


def test_unchanged_entry_passes_every_case(store):
    report = store.check("gx-preconception-check", store.entry("gx-preconception-check"))
    assert report.ok and report.problems == [] and report.already_failing == []
    assert len(report.cases) >= 40 and all(c.passed for c in report.cases)


def test_valid_edit_publishes_and_is_visible_to_every_replica(store, local_settings, sources):
    other_replica = CatalogueStore(local_settings, sources, refresh_seconds=0)
    assert (
        other_replica.catalogue().get("gx-shantytown").service.eligibility[0].when == "urban_rural == 'urban'"
    )
    entry = store.entry("gx-shantytown")
    entry["eligibility"].append(
        {"when": "housing_status == 'housing_difficulty'", "because": "住房困难", "cite": 0}
    )
    revision = store.publish("gx-shantytown", entry, "ad1", note="只给住房困难的居民")
    assert (revision.id, revision.parent, revision.author, revision.action) == (
        "r00002",
        "r00001",
        "ad1",
        "edit",
    )
    assert "eligibility" in revision.summary and revision.service_id == "gx-shantytown"
    profile = ResidentProfile(hukou_region="guangxi", urban_rural="urban", housing_status="own")
    for replica in (store, other_replica, CatalogueStore(local_settings, sources)):
        assert replica.current_revision() == "r00002"
        result = check_service(replica.catalogue().get("gx-shantytown"), profile)
        assert result.status == "not_eligible"
        assert replica.entry("gx-shantytown") == entry


def test_rule_with_unknown_profile_field_is_rejected(store, source_text):
    entry = store.entry("gx-shantytown")
    entry["eligibility"] = [{"when": "monthly_salary < 3000", "because": "收入低", "cite": 0}]
    assert any(
        "unknown profile field 'monthly_salary'" in p
        for p in validate_entry("gx-shantytown", entry, store.docs)
    )
    with pytest.raises(CatalogueRejected) as err:
        store.publish("gx-shantytown", entry, "ad1")
    assert any("monthly_salary" in p for p in err.value.problems)
    assert store.current_revision() == "r00001" and len(store.revisions()) == 1


def test_quote_not_verbatim_in_the_source_is_rejected(store, source_text):
    entry = store.entry("gx-shantytown")
    quote = entry["citations"][0]["quote"]
    assert quote in source_text[GX]
    entry["citations"][0]["quote"] = quote.replace("实物安置", "实物补助")  # one word the plan does not say
    with pytest.raises(CatalogueRejected) as err:
        store.publish("gx-shantytown", entry, "ad1")
    assert any("not verbatim" in p and GX in p for p in err.value.problems)
    assert store.current_revision() == "r00001"


def test_schema_and_id_problems_are_listed_together(store):
    entry = store.entry("gx-shantytown") | {"category": "吃有所食", "id": "gx-other"}
    problems = store.check("gx-shantytown", entry).problems
    assert any(p.startswith("id:") for p in problems) and any(p.startswith("category:") for p in problems)


def test_edit_that_breaks_a_case_is_rejected_naming_it(store):
    entry = store.entry("gx-preconception-check")
    entry["eligibility"][0]["when"] = "planning_pregnancy == false"
    report = store.check("gx-preconception-check", entry)
    assert report.problems == [] and not report.ok
    broken = {c.name: c for c in report.broken_cases}
    assert PRECONCEPTION_CASE in broken
    check = broken[PRECONCEPTION_CASE].checks[0]
    assert (check.service_id, check.expected, check.actual) == (
        "gx-preconception-check",
        "eligible",
        "not_eligible",
    )
    with pytest.raises(CatalogueRejected) as err:
        store.publish("gx-preconception-check", entry, "ad1")
    assert PRECONCEPTION_CASE in [c.name for c in err.value.broken_cases]
    assert store.entry("gx-preconception-check")["eligibility"][0]["when"] == "planning_pregnancy == true"
    assert len(store.revisions()) == 1


def test_revisions_history_keeps_every_revision(store):
    seed_dir = store.root / "revisions" / store.current_revision()
    seed_digest = _tree_digest(seed_dir)
    original = store.entry("gx-shantytown")
    first = copy.deepcopy(original) | {"notes": "第一次修改说明。"}
    second = copy.deepcopy(original) | {"notes": "第二次修改说明。"}
    store.publish("gx-shantytown", first, "ad1")
    store.publish("gx-shantytown", second, "ad2", note="改说明")
    history = store.revisions()
    assert [(r.id, r.author, r.service_id) for r in history] == [
        ("r00003", "ad2", "gx-shantytown"),
        ("r00002", "ad1", "gx-shantytown"),
        ("r00001", "system", None),
    ]
    assert history[0].note == "改说明" and history[0].summary.endswith("notes")
    assert store.entry("gx-shantytown", "r00001") == original
    assert store.entry("gx-shantytown", "r00002")["notes"] == "第一次修改说明。"
    assert _tree_digest(seed_dir) == seed_digest  # published revisions are never rewritten
    with pytest.raises(CatalogueRejected, match="no change"):
        store.publish("gx-shantytown", second, "ad1")


def test_new_service_can_be_added_with_the_same_checks(store, source_text):
    quote = "为棚户区居民提供实物安置或货币补偿"
    assert source_text[GX].count(quote) == 1
    entry = {
        "id": "gx-test-new-service",
        "name": "测试新增服务",
        "region": "guangxi",
        "category": "住有所居",
        "audience": "城镇棚户区居民",
        "what_you_get": "实物安置或货币补偿",
        "eligibility": [{"when": "urban_rural == 'urban'", "because": "居住在城镇"}],
        "citations": [{"source": GX, "quote": quote}],
    }
    with pytest.raises(NotFound):
        store.publish("gx-test-new-service", entry, "ad1", new=False)
    revision = store.publish("gx-test-new-service", entry, "ad1", new=True)
    assert revision.action == "add"
    assert store.catalogue().get("gx-test-new-service").citations[0].quote == quote
    with pytest.raises(CatalogueRejected, match="already exists"):
        store.publish("gx-test-new-service", entry, "ad1", new=True)


def test_stale_edit_is_refused(store):
    base = store.current_revision()
    entry = store.entry("gx-shantytown")
    store.publish("gx-shantytown", entry | {"notes": "另一位管理员先改了。"}, "ad2")
    with pytest.raises(CatalogueRejected, match="changed after revision"):
        store.publish("gx-shantytown", entry | {"notes": "我的修改。"}, "ad1", base_revision=base)
    # an edit of a different service from the same base is fine
    other = store.entry("gx-preconception-check") | {"notes": "补充说明。"}
    assert store.publish("gx-preconception-check", other, "ad1", base_revision=base).id == "r00003"


def test_a_changed_shipped_catalogue_is_imported_unless_admins_edited_since(
    local_settings, sources, tmp_path
):
    seed = tmp_path / "shipped"
    seed.mkdir()
    for path in CATALOGUE_DIR.glob("*.yaml"):
        shutil.copy(path, seed / path.name)
    assert CatalogueStore(local_settings, sources, seed_dir=seed).current_revision() == "r00001"
    note = "规划未写明哪些片区纳入改造、安置补偿标准和办理方式。"
    shipped = seed / "guangxi.yaml"
    shipped.write_text(shipped.read_text(encoding="utf-8").replace(note, "新版本说明。"), encoding="utf-8")
    store = CatalogueStore(local_settings, sources, seed_dir=seed)  # a restart after the deploy
    assert store.current_revision() == "r00002" and store.revisions()[0].action == "seed"
    assert store.entry("gx-shantytown")["notes"] == "新版本说明。"
    store.publish("gx-shantytown", store.entry("gx-shantytown") | {"notes": "管理员的说明。"}, "ad1")
    shipped.write_text(
        shipped.read_text(encoding="utf-8").replace("新版本说明。", "再一版。"), encoding="utf-8"
    )
    restarted = CatalogueStore(local_settings, sources, seed_dir=seed)
    assert restarted.current_revision() == "r00003"  # the admin's edit is never overwritten
    assert restarted.entry("gx-shantytown")["notes"] == "管理员的说明。"
