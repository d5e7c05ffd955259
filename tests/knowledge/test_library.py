"""The document library on a real (temporary) Chroma registry; versions are registered directly, no model needed."""

from __future__ import annotations

import re

import pytest

from knowledge.errors import (
    DuplicateDocument,
    EmptyDocument,
    InvalidMetadata,
    LibraryConflict,
    NotFound,
    SourceError,
    UnknownDocument,
)
from knowledge.library import DocumentLibrary, parse_fields
from knowledge.settings import Settings
from knowledge.sources import SourceDocument
from knowledge.store import SourceEntry, VersionInfo, VersionStore, make_client, sources_summary
from tests.plans import plan_meta, plan_text

SHIPPED = {"000_c3d117fd37f079a7.txt", "002_d35ca64918ecb1b1.txt"}


@pytest.fixture
def library(tmp_path) -> DocumentLibrary:
    settings = Settings(data_dir=tmp_path / "data")
    return DocumentLibrary(settings, VersionStore(make_client(settings)))


def publish(library: DocumentLibrary, docs: list[SourceDocument], version: str) -> None:
    """What ingest records for a version, minus the vectors (the library only reads the registry)."""
    for doc in docs:
        library.put_text(doc.file_name, doc.text)
    library.store.register(
        VersionInfo(
            version=version,
            created_at="2025-01-01T00:00:00+00:00",
            chunk_count=0,
            model="none",
            fingerprint=version,
            sources=sources_summary(docs),
        )
    )
    library.store.activate(version)


def upload(
    library: DocumentLibrary, doc_id="test-eye", title="《眼健康规划》", service="眼健康筛查服务", **kw
):
    text = plan_text(title.strip("《》"), service)
    return library.create_draft(parse_fields(plan_meta(doc_id, title)), "eye.txt", text.encode(), **kw)


def test_seeding_and_the_read_only_texts(library):
    assert {d.file_name for d in library.published()} == SHIPPED  # nothing indexed yet: the shipped set
    library.ensure_seeded()
    library.ensure_seeded()  # idempotent
    assert set(library.texts) == SHIPPED and len(library.texts) == 2
    assert library.texts["000_c3d117fd37f079a7.txt"] == library.shipped()[0].text
    assert library.texts.get("../000_c3d117fd37f079a7.txt") is None  # never a path
    assert library.texts.get("missing.txt") is None
    assert not hasattr(library.texts, "__setitem__")


def test_texts_are_immutable(library):
    library.put_text("x-1.txt", "第一章\n")
    library.put_text("x-1.txt", "第一章\n")
    with pytest.raises(SourceError, match="immutable"):
        library.put_text("x-1.txt", "changed\n")
    with pytest.raises(SourceError):
        library.put_text("../escape.txt", "x")
    assert library.texts["x-1.txt"] == "第一章\n"


def test_published_set_follows_the_current_version(library):
    shipped = library.shipped()
    publish(library, shipped, "v1")
    draft = upload(library)
    _, with_new = library.plan_publish(draft.id)
    publish(library, with_new, "v2")
    assert [d.meta.doc_id for d in library.published()] == [*(d.meta.doc_id for d in shipped), "test-eye"]
    assert library.find("test-eye").meta.title == "《眼健康规划》"
    library.store.activate("v1")  # rollback
    assert [d.file_name for d in library.published()] == [d.file_name for d in shipped]
    with pytest.raises(UnknownDocument):
        library.find("test-eye")
    assert draft.source_name in library.texts  # its citations still resolve


def test_versions_written_before_metadata_was_recorded_still_read(library):
    library.ensure_seeded()
    legacy = [
        SourceEntry(file=d.file_name, doc_id=d.meta.doc_id, sha256=d.content_hash) for d in library.shipped()
    ]
    library.store.register(
        VersionInfo(version="v0", created_at="x", chunk_count=0, model="m", fingerprint="f", sources=legacy)
    )
    library.store.activate("v0")
    assert [d.meta.region for d in library.published()] == ["guangxi", "ningxia"]
    old = VersionInfo.model_validate_json(
        '{"version":"v0","created_at":"x","chunk_count":1,"model":"m","fingerprint":"f",'
        '"sources":[{"file":"a.txt","doc_id":"a","sha256":"s"}],"note":""}'
    )
    assert old.author == "system" and old.changes == [] and old.sources[0].meta is None


def test_draft_preview_and_storage(library):
    publish(library, library.shipped(), "v1")
    draft = upload(library, author="ad1")
    text = library.texts[draft.source_name]
    assert re.fullmatch(r"test-eye-[0-9a-f]{12}\.txt", draft.source_name)
    assert draft.author == "ad1" and draft.status == "pending" and draft.meta.original_file == "eye.txt"
    assert draft.preview.chunk_count >= 3 and not any("headings" in w for w in draft.preview.warnings)
    assert any(s.path == "第二章 重点任务 › 第一节 眼健康筛查服务" for s in draft.preview.sections)
    assert all(c.quote in text for c in draft.preview.chunks)
    assert (library.drafts_dir / draft.id / "original.txt").read_bytes() == text.encode()
    assert [d.id for d in library.list_drafts()] == [draft.id] and library.get_draft(draft.id) == draft

    discarded = library.discard_draft(draft.id)
    assert discarded.status == "discarded" and library.list_drafts() == []
    assert [d.id for d in library.list_drafts(None)] == [draft.id]
    with pytest.raises(LibraryConflict):
        library.discard_draft(draft.id)
    with pytest.raises(LibraryConflict):
        library.plan_publish(draft.id)
    for bad in ("000000000000", "../../etc", ""):
        with pytest.raises(NotFound):
            library.get_draft(bad)


def test_duplicates_are_refused_and_nothing_is_stored(library):
    publish(library, library.shipped(), "v1")
    before = set(library.texts)
    with pytest.raises(DuplicateDocument, match="duplicate title"):
        upload(library, title="广西公共服务“十四五”规划")  # same title without the book marks
    with pytest.raises(DuplicateDocument, match="replace"):
        upload(library, doc_id="gx-2021-public-services", title="《另一个标题》")
    assert set(library.texts) == before and library.list_drafts(None) == []


def test_replacement_keeps_identity_and_position(library):
    publish(library, library.shipped(), "v1")
    fields = library.replacement_fields("gx-2021-public-services", {"valid_to": "2026-12-31"})
    assert fields.title == "《广西公共服务“十四五”规划》" and str(fields.valid_to) == "2026-12-31"
    text = plan_text("广西公共服务“十四五”规划", "眼健康筛查服务")
    draft = library.create_draft(fields, "gx.md", text.encode(), replaces="gx-2021-public-services")
    _, docs = library.plan_publish(draft.id)
    assert [d.file_name for d in docs] == [draft.source_name, "002_d35ca64918ecb1b1.txt"]
    with pytest.raises(InvalidMetadata, match="doc_id"):
        library.create_draft(
            parse_fields(plan_meta("other-id", "《新规划》")),
            "a.txt",
            text.encode(),
            replaces="gx-2021-public-services",
        )
    with pytest.raises(UnknownDocument):
        library.replacement_fields("nope-nope", {})
    with pytest.raises(UnknownDocument):
        library.create_draft(fields, "a.txt", text.encode(), replaces="nope-nope")


def test_delete_plans_and_the_last_document(library):
    shipped = library.shipped()
    publish(library, shipped, "v1")
    assert [d.meta.doc_id for d in library.plan_delete("nx-2021-public-services")] == [
        "gx-2021-public-services"
    ]
    with pytest.raises(UnknownDocument):
        library.plan_delete("nope-nope")
    publish(library, shipped[:1], "v2")
    with pytest.raises(LibraryConflict, match="last document"):
        library.plan_delete("gx-2021-public-services")


def test_preview_warnings_and_empty_content(library):
    publish(library, library.shipped(), "v1")
    flat = "眼健康规划\n\n为辖区内常住居民免费提供眼健康筛查服务。\n"
    draft = library.create_draft(
        parse_fields(plan_meta("test-flat", "《平铺规划》")), "flat.txt", flat.encode()
    )
    assert any("no 章/节 headings" in w for w in draft.preview.warnings)
    assert any("very short" in w for w in draft.preview.warnings)
    with pytest.raises(EmptyDocument):
        library.create_draft(
            parse_fields(plan_meta("test-head", "《只有标题》")), "h.txt", "第一章 总则\n".encode()
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"doc_id": "x"}', "invalid meta"),
        (plan_meta("test-a", "《甲规划》", region="beijing"), "region"),
        (plan_meta("test-a", "《甲规划》", unknown_field=1), "unknown_field"),
        (
            plan_meta("test-a", "《甲规划》", valid_from="2026-01-01", valid_to="2025-01-01"),
            "must not precede",
        ),
        (plan_meta("Bad ID!", "《甲规划》"), "doc_id"),
    ],
)
def test_invalid_metadata(raw, message):
    with pytest.raises(InvalidMetadata, match=message):
        parse_fields(raw)
