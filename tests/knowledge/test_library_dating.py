"""Dating changes in the library (issue 13): supersedes validated, changes kept by doc_id in dating.json,
re-read when the file changes (as another replica would write it), kept across rollbacks, and a published
draft's own dating winning over an earlier change. Real (temporary) Chroma registry, no model."""

from __future__ import annotations

import json
import os

import pytest
from pydantic import ValidationError

from knowledge.errors import InvalidMetadata, UnknownDocument
from knowledge.library import DatingChange, DocumentLibrary, parse_fields
from knowledge.settings import Settings
from knowledge.store import VersionStore, make_client
from tests.knowledge.test_library import publish
from tests.plans import plan_meta, plan_text

GX, NX = "gx-2021-public-services", "nx-2021-public-services"


@pytest.fixture
def library(tmp_path) -> DocumentLibrary:
    settings = Settings(data_dir=tmp_path / "data")
    lib = DocumentLibrary(settings, VersionStore(make_client(settings)))
    publish(lib, lib.shipped(), "v1")
    return lib


def successor(library: DocumentLibrary, doc_id="gx-successor", region="guangxi", **meta):
    fields = parse_fields(
        plan_meta(
            doc_id,
            "《测试用后继规划（虚构）》",
            region,
            period={"start": 2026, "end": 2030},
            valid_from="2026-01-01",
            valid_to="2030-12-31",
            **meta,
        )
    )
    return library.create_draft(fields, "s.txt", plan_text("测试用后继规划", "后继测试专项服务").encode())


def stored(library: DocumentLibrary) -> tuple:
    return (
        sorted(library.texts),
        [d.id for d in library.list_drafts(None)],
        library.dating_path.read_bytes() if library.dating_path.exists() else None,
    )


@pytest.mark.parametrize(
    ("supersedes", "message"),
    [(NX, "same region"), ("nope-nope", "no published document"), ("gx-successor", "itself")],
)
def test_supersedes_must_name_another_published_document_of_the_same_region(library, supersedes, message):
    before = stored(library)
    with pytest.raises(InvalidMetadata, match=message) as caught:
        successor(library, supersedes=supersedes)
    assert "（" in str(caught.value) or "不" in str(caught.value)  # Chinese first
    assert stored(library) == before  # nothing stored


def test_a_valid_successor_is_drafted_and_planned(library):
    draft = successor(library, supersedes=GX, kind="规划")
    assert draft.meta.supersedes == GX and draft.meta.kind == "规划"
    assert draft.dating_changes == ["kind", "supersedes", "period", "valid_from", "valid_to"]
    _, docs = library.plan_publish(draft.id)
    assert docs[-1].meta.supersedes == GX
    publish(library, docs, "v2")
    # the superseded document cannot in turn name its successor: no cycles
    with pytest.raises(InvalidMetadata, match="cycle"):
        library.change_dating(GX, DatingChange(supersedes="gx-successor"))


def test_change_dating_is_validated_stored_and_reread(library):
    assert library.dating_overrides() == {}
    before, after = library.change_dating(GX, DatingChange(valid_to="2026-06-30", kind="实施方案"))
    assert before == {"valid_to": "2025-12-31", "kind": "规划"}
    assert after == {"valid_to": "2026-06-30", "kind": "实施方案"}
    assert library.dating_overrides() == {GX: {"valid_to": "2026-06-30", "kind": "实施方案"}}
    assert library.change_dating(GX, DatingChange(valid_to="2026-06-30")) == ({}, {})  # no change

    snapshot = stored(library)
    for change in [
        DatingChange(valid_from="2027-01-01"),  # after valid_to
        DatingChange(period={"start": 2025, "end": 2021}),
        DatingChange(supersedes=NX),  # other region
        DatingChange(supersedes=GX),  # itself
        DatingChange(supersedes="nope-nope"),
    ]:
        with pytest.raises(InvalidMetadata):
            library.change_dating(GX, change)
    with pytest.raises(UnknownDocument):
        library.change_dating("nope-nope", DatingChange(kind="其他"))
    assert stored(library) == snapshot
    with pytest.raises(ValidationError, match="nothing to change"):
        DatingChange()
    with pytest.raises(ValidationError, match="cannot be null"):
        DatingChange(kind=None)
    with pytest.raises(ValidationError):
        DatingChange(colour="red")
    assert DatingChange(supersedes=None).changes() == {"supersedes": None}

    # another replica writes the file: this one sees it on the next call
    data = json.loads(library.dating_path.read_text(encoding="utf-8"))
    data[NX] = {"valid_to": "2026-12-31"}
    tmp = library.dating_path.with_name("other-replica.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, library.dating_path)
    assert library.dating_overrides()[NX] == {"valid_to": "2026-12-31"}
    revision = library.dating_revision()
    library.change_dating(NX, DatingChange(supersedes=None, kind="其他"))
    assert library.dating_revision() != revision
    assert library.dating_overrides()[NX] == {"valid_to": "2026-12-31", "kind": "其他"}  # None == None


def test_changes_survive_a_rollback_and_replacements_keep_them(library):
    library.change_dating(GX, DatingChange(valid_to="2026-06-30"))
    draft = successor(library)
    _, docs = library.plan_publish(draft.id)
    publish(library, docs, "v2")
    library.store.activate("v1")  # rollback: overrides are keyed by doc_id, not by version
    assert library.dating_overrides()[GX] == {"valid_to": "2026-06-30"}
    assert library.effective_meta(library.find(GX))["valid_to"] == "2026-06-30"

    # a replacement without dating fields keeps the change (and does not undo it when published)
    fields = library.replacement_fields(GX, {})
    assert str(fields.valid_to) == "2026-06-30"
    text = plan_text("广西公共服务“十四五”规划", "替换测试专项服务")
    kept = library.create_draft(fields, "gx.txt", text.encode(), replaces=GX)
    assert kept.dating_changes == []
    assert library.adopt_dating(kept) is None
    # one that states another validity wins over the earlier change once published
    fields = library.replacement_fields(GX, {"valid_to": "2026-03-31"})
    stated = library.create_draft(fields, "gx2.txt", (text + "\n补充。\n").encode(), replaces=GX)
    assert stated.dating_changes == ["valid_to"]
    library.change_dating(GX, DatingChange(kind="实施方案"))  # made after the draft: not undone by it
    assert library.adopt_dating(stated) == ({"valid_to": "2026-06-30"}, {"valid_to": "2026-03-31"})
    assert library.dating_overrides()[GX] == {"valid_to": "2026-03-31", "kind": "实施方案"}
