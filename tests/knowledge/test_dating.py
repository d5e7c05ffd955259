"""Which document is in force, and how answers say so (pure)."""

from datetime import date

from knowledge.answering import Reply, date_reply
from knowledge.catalogue.models import ResolvedCitation
from knowledge.dating import DocDating, asks_about_period, ended_note, statuses, weight

OLD = DocDating(
    doc_id="gx-2021",
    region="guangxi",
    title="《旧规划》",
    period_start=2021,
    period_end=2025,
    valid_from=date(2021, 1, 1),
    valid_to=date(2025, 12, 31),
)
NEW = OLD.model_copy(
    update={
        "doc_id": "gx-2026",
        "title": "《新规划》",
        "period_start": 2026,
        "period_end": 2030,
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2030, 12, 31),
        "supersedes": "gx-2021",
    }
)


def test_status_on_a_date():
    assert statuses([OLD], date(2024, 6, 1)) == {"gx-2021": "in_force"}
    assert statuses([OLD], date(2026, 12, 1)) == {"gx-2021": "ended"}
    both = statuses([OLD, NEW], date(2026, 12, 1))
    assert both == {"gx-2021": "superseded", "gx-2026": "in_force"}
    # a successor not yet in force replaces nothing
    assert statuses([OLD, NEW], date(2024, 6, 1)) == {"gx-2021": "in_force", "gx-2026": "not_yet"}


def test_weights_prefer_what_is_in_force_unless_the_question_names_the_period():
    assert weight(NEW, "in_force", "孕前检查免费吗") == 1.0
    assert weight(OLD, "superseded", "孕前检查免费吗") == 0.0
    assert weight(OLD, "superseded", "十四五期间孕前检查免费吗") == 1.0
    assert weight(OLD, "superseded", "2023年的时候孕前检查免费吗") == 1.0
    assert 0 < weight(OLD, "ended", "孕前检查免费吗") < 1
    assert asks_about_period("到2025年要达到多少", OLD) and not asks_about_period("十五五期间呢", OLD)


def _citation(title: str) -> ResolvedCitation:
    return ResolvedCitation(
        source="x.txt",
        title=title,
        region="guangxi",
        section="s",
        quote="q",
        start=0,
        end=1,
        valid_from=date(2021, 1, 1),
        valid_to=date(2025, 12, 31),
    )


def test_an_answer_names_the_period_marks_targets_and_notes_an_ended_plan_once():
    reply = Reply(
        kind="answer",
        text="根据《旧规划》：\n• 到 2025 年覆盖率达到 60%。\n• 另一句。",
        citations=[_citation("《旧规划》"), _citation("《旧规划》")],
    )
    dated = date_reply(reply, {"《旧规划》": (OLD, "ended")})
    assert "《旧规划》（2021—2025年）" in dated.text
    assert "规划目标：到 2025 年" in dated.text
    assert dated.text.count(ended_note(OLD)) == 1
    in_force = date_reply(reply, {"《旧规划》": (OLD, "in_force")})
    assert ended_note(OLD) not in in_force.text and "（2021—2025年）" in in_force.text


def test_documents_not_named_in_the_text_are_listed_as_sources():
    reply = Reply(kind="answer", text="【广西】\n• 一句。", citations=[_citation("《新规划》")])
    dated = date_reply(reply, {"《新规划》": (NEW, "in_force")})
    assert "出处：《新规划》（2026—2030年）" in dated.text
