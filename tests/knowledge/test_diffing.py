"""The human change summary recorded on every version. Pure: documents in, lines out."""

from __future__ import annotations

from knowledge.diffing import summarize_changes
from knowledge.sources import DocumentMeta, SourceDocument
from tests.plans import plan_meta, plan_text


def doc(doc_id: str, title: str, text: str, **meta) -> SourceDocument:
    fields = plan_meta(doc_id, title, **meta)
    return SourceDocument(
        meta=DocumentMeta(**fields, original_file="x.txt"), file_name=f"{doc_id}.txt", text=text
    )


A = doc("test-a", "《甲规划》", plan_text("甲规划", "眼健康筛查服务"))
B = doc("test-b", "《乙规划》", plan_text("乙规划", "口腔健康检查服务"), region="ningxia")


def test_nothing_changed():
    assert summarize_changes([A, B], [A, B]) == []


def test_added_document_counts_its_passages():
    (line,) = summarize_changes([A], [A, B])
    assert line.startswith("新增《乙规划》（") and line.endswith(" 段）")
    assert int(line.split("（")[1].split(" ")[0]) >= 3


def test_deleted_document():
    assert summarize_changes([A, B], [A]) == ["删除《乙规划》"]


def test_replaced_document_counts_added_removed_and_kept_passages():
    changed = doc("test-a", "《甲规划》", plan_text("甲规划", "眼健康筛查服务", extra="新增夜间门诊。"))
    (line,) = summarize_changes([A, B], [changed, B])
    assert line == "替换《甲规划》：新增 1 段，删除 1 段，未变 2 段"


def test_metadata_only_change_names_the_fields():
    later = doc("test-a", "《甲规划》", A.text, valid_to="2030-12-31", period={"start": 2021, "end": 2030})
    assert summarize_changes([A], [later]) == ["修改《甲规划》的信息：period、valid_to"]
