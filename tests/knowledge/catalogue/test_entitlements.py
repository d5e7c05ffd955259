from knowledge.catalogue.entitlements import check_entitlements, check_service, most_needed_fields
from knowledge.catalogue.life_events import journey, life_event_defs
from knowledge.catalogue.profile import ResidentProfile


def test_guangxi_plan_does_not_bind_a_ningxia_resident(catalogue):
    result = check_service(
        catalogue.get("gx-preconception-check"),
        ResidentProfile(hukou_region="ningxia", residence_region="ningxia", planning_pregnancy=True),
    )
    assert result.status == "not_eligible" and result.missing_fields == []
    assert any("广西" in r and r.startswith("不符合") for r in result.reasons)


def test_needs_info_names_fields_and_questions(catalogue):
    result = check_service(catalogue.get("gx-preconception-check"), ResidentProfile())
    assert result.status == "needs_info"
    assert "planning_pregnancy" in result.missing_fields
    assert result.next_question and result.next_question.endswith("？")
    assert {q.field for q in result.questions} == set(result.missing_fields)


def test_most_needed_fields_ranks_by_services_affected(catalogue):
    report = check_entitlements(
        catalogue, ResidentProfile(hukou_region="ningxia", residence_region="ningxia"), region="ningxia"
    )
    fields = most_needed_fields(report)
    assert fields and len(fields) <= 3
    assert all(any(f in r.missing_fields for r in report.needs_info) for f in fields)


def test_marriage_journey_is_ordered(catalogue):
    j = journey(catalogue, "结婚", region="guangxi")
    assert [s.event for s in j.stages] == ["结婚", "备孕", "怀孕", "生育", "育儿"]
    assert any(s.id == "gx-premarital-check" for s in j.stages[0].services)
    assert all(s.region == "guangxi" for stage in j.stages for s in stage.services)
    assert set(life_event_defs()) >= {"结婚", "怀孕", "养老", "退役"}
