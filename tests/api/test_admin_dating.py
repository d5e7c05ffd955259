"""Document dating through the admin API (issue 13): real app, real model, real Chroma, real Redis.

Kind and supersedes on upload (validated, nothing stored on a refusal); each document's status as of today
or ``?as_of=``; ``PATCH …/dating`` changes a status without re-indexing and is audited; and a clearly
fictional successor plan (十五五, 2026–2030, one changed item) uploaded and published through the API:
search and answers prefer it today, the shipped plan answers for 2024, and a rollback restores the old
behaviour. Own data dir, Redis db and key prefix.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.main import create_app
from knowledge.ingest import ingest
from knowledge.settings import Settings
from tests.api.test_admin_documents import current_version, publish, upload

CJK = re.compile(r"[\u4e00-\u9fff]")
GX, NX = "gx-2021-public-services", "nx-2021-public-services"
GX_SOURCE = "000_c3d117fd37f079a7.txt"

SUCCESSOR_ID = "gx-2026-test-successor"
SUCCESSOR_TITLE = "测试用 广西公共服务“十五五”规划（虚构）"
SUCCESSOR_META = {
    "doc_id": SUCCESSOR_ID,
    "title": SUCCESSOR_TITLE,
    "short_title": "广西十五五测试规划（虚构）",
    "region": "guangxi",
    "issuer": "自动化测试（虚构，非真实文件）",
    "kind": "规划",
    "supersedes": GX,
    "period": {"start": 2026, "end": 2030},
    "valid_from": "2026-01-01",
    "valid_to": "2030-12-31",
}
# One item changed in a recognisable way: 2 free pre-pregnancy check-ups per child instead of 1.
SUCCESSOR_TEXT = """测试用 广西公共服务“十五五”规划（虚构）

本文件是自动化测试使用的虚构样例，不是真实的政策文件，其中的服务内容均为虚构。

第一章 总体要求

第一节 规划期限

本规划（虚构）期限为2026年至2030年，接续广西公共服务“十四五”规划。

第二章 扎实推进基本公共服务均等化

第一节 强化生育照护服务，全力保障幼有所育

免费提供孕前优生健康检查和婚前医学检查（虚构），为孕产妇规范提供孕期健康检查、产后访视和健康指导等服务。

专栏 1 “幼有所育” 项目（虚构）

- 1. 免费孕前优生健康服务。**为符合生育政策并计划怀孕的夫妇（每孩次）免费提供 2 次优生健康教育、健康检查、风险评估和咨询指导等孕前优生服务（虚构测试内容）。
- 2. 孕产妇健康服务。**为辖区内常住的孕产妇免费建立母子健康手册，规范提供孕期保健、产前检查、产后访视及健康指导等孕产妇健康管理服务（虚构）。

第三章 保障措施

第一节 组织实施

各地要加强组织领导，确保各项服务（虚构）落到实处，所需经费纳入同级财政预算。
"""
PRECONCEPTION = "孕前优生健康检查"


@pytest.fixture(scope="module")
def dating_settings(settings, ingested, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("admin-dating-data")
    with (
        sqlite3.connect(settings.data_dir / "embeddings.sqlite") as src,
        sqlite3.connect(data_dir / "embeddings.sqlite") as dst,
    ):
        src.backup(dst)  # the shipped plans embed nothing
    dating = Settings(
        **{
            **settings.model_dump(),
            "data_dir": data_dir,
            "redis_url": "redis://127.0.0.1:6379/9",
            "redis_prefix": f"admin-dating-{uuid.uuid4().hex[:8]}",
            "keep_versions": 5,
        }
    )
    ingest(dating)
    return dating


@pytest.fixture(scope="module")
def client(dating_settings):
    auth = AuthStore(dating_settings)
    auth.add_user("datingadmin", "admin-pass-123", "admin")
    with TestClient(create_app(dating_settings)) as c:
        r = c.post(
            "/v1/auth/login",
            json={"username": "datingadmin", "password": "admin-pass-123", "want_token": True},
        )
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield c
    for key in auth.redis.scan_iter(f"{dating_settings.redis_prefix}:*"):
        auth.redis.delete(key)


def rows(client, **params) -> dict[str, dict]:
    r = client.get("/v1/admin/documents", params=params)
    assert r.status_code == 200, r.text
    return {d["doc_id"]: d for d in r.json()}


def patch(client, doc_id: str, **body):
    return client.patch(f"/v1/admin/documents/{doc_id}/dating", json=body)


def hits(client, query: str, **kw) -> list[dict]:
    r = client.post("/v1/search", json={"query": query, "top_k": 5, **kw})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def state(client, settings: Settings) -> tuple:
    library = settings.data_dir / "library"
    texts = sorted(p.name for p in (library / "texts").iterdir() if not p.name.startswith("."))
    dating = library / "dating.json"
    return (
        client.get("/v1/admin/documents").json(),
        client.get("/v1/admin/versions").json(),
        client.get("/v1/admin/drafts", params={"status": "all"}).json(),
        texts,
        dating.read_text(encoding="utf-8") if dating.exists() else None,
    )


def readable(r, status: int) -> str:
    assert r.status_code == status, (status, r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and CJK.search(detail) and "(" in detail, detail  # Chinese, then English
    return detail


def test_the_list_shows_each_documents_dating_and_status(client):
    today = rows(client)
    assert set(today) == {GX, NX}
    for doc_id, row in today.items():
        assert row["kind"] == "规划" and row["supersedes"] is None and row["superseded_by"] is None, row
        assert row["period"] == {"start": 2021, "end": 2025}
        assert (row["valid_from"], row["valid_to"]) == ("2021-01-01", "2025-12-31")
        assert row["status"] == "ended" and row["status_label"] == "规划期已结束", doc_id
        assert row["as_of"] == date.today().isoformat() and row["dating_changed"] == []
    then = rows(client, as_of="2024-06-01")
    assert {d: (r["status"], r["status_label"]) for d, r in then.items()} == {
        GX: ("in_force", "现行有效"),
        NX: ("in_force", "现行有效"),
    }
    assert rows(client, as_of="2020-06-01")[GX]["status_label"] == "尚未施行"

    one = client.get(f"/v1/admin/documents/{GX}", params={"as_of": "2024-06-01"})
    assert one.status_code == 200 and one.json() == then[GX]
    readable(client.get("/v1/admin/documents/nope-doc"), 404)
    for bad in ("not-a-date", "2024-13-01", "2024/06/01"):
        detail = readable(client.get("/v1/admin/documents", params={"as_of": bad}), 422)
        assert "as_of" in detail and "YYYY-MM-DD" in detail


def test_supersedes_is_validated_and_a_refusal_changes_nothing(client, dating_settings):
    text = SUCCESSOR_TEXT.encode()
    meta = {**SUCCESSOR_META, "doc_id": "gx-2026-bad-successor", "title": "《不该出现的后继规划》"}
    before = state(client, dating_settings)
    for supersedes, says in [(NX, "same region"), ("nope-doc", "no published document")]:
        r = upload(client, "s.txt", text, json.dumps({**meta, "supersedes": supersedes}, ensure_ascii=False))
        assert says in readable(r, 422)
    r = upload(client, "s.txt", text, json.dumps({**meta, "supersedes": meta["doc_id"]}, ensure_ascii=False))
    assert "itself" in readable(r, 422)
    r = upload(client, "s.txt", text, json.dumps({**meta, "kind": "通知"}, ensure_ascii=False))
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    # a replacement is held to the same rule
    r = upload(client, "gx.txt", text, json.dumps({"supersedes": NX}), doc_id=GX)
    assert "same region" in readable(r, 422)
    r = upload(client, "gx.txt", text, json.dumps({"supersedes": GX}), doc_id=GX)
    assert "itself" in readable(r, 422)

    # the same checks on a dating change, and the PATCH body's own
    for body, status, says in [
        ({"supersedes": NX}, 422, "same region"),
        ({"supersedes": GX}, 422, "itself"),
        ({"supersedes": "nope-doc"}, 422, "no published document"),
        ({"valid_from": "2026-01-01"}, 422, "valid_to must not precede"),
        ({"period": {"start": 2025, "end": 2021}}, 422, "period end"),
    ]:
        assert says in readable(patch(client, GX, **body), status)
    readable(patch(client, "nope-doc", kind="其他"), 404)
    for body in ({}, {"kind": None}, {"colour": "red"}, {"valid_to": "not-a-date"}, {"kind": "通知"}):
        r = patch(client, GX, **body)
        assert r.status_code == 422 and r.json()["detail"], r.text
    assert state(client, dating_settings) == before


def test_a_dating_change_needs_no_new_version_and_is_audited(client):
    version = current_version(client)
    versions = len(client.get("/v1/admin/versions").json())
    assert all(h["status"] == "ended" for h in hits(client, PRECONCEPTION, region="guangxi"))

    r = patch(client, GX, valid_to="2026-12-31", kind="实施方案")
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["status"] == "in_force" and row["status_label"] == "现行有效" and row["kind"] == "实施方案"
    assert row["valid_to"] == "2026-12-31" and row["dating_changed"] == ["kind", "valid_to"]
    assert rows(client)[GX] == row
    assert rows(client)[NX]["status"] == "ended"
    # no re-index: the same version serves, no job ran, and search sees the change at once
    assert current_version(client) == version and len(client.get("/v1/admin/versions").json()) == versions
    assert client.get("/v1/admin/jobs").json() == []
    found = hits(client, PRECONCEPTION, region="guangxi")
    assert found and all(h["status"] == "in_force" for h in found if h["source"] == GX_SOURCE)

    (entry, *_) = client.app.state.audit.query(action="document.dating", target=f"doc:{GX}")
    assert entry.actor == "datingadmin" and entry.role == "admin"
    assert entry.before == {"kind": "规划", "valid_to": "2025-12-31"}
    assert entry.after == {"kind": "实施方案", "valid_to": "2026-12-31"}
    assert "2025-12-31 → 2026-12-31" in entry.detail

    unchanged = patch(client, GX, valid_to="2026-12-31")  # nothing changes: nothing is audited
    assert unchanged.status_code == 200
    assert len(client.app.state.audit.query(action="document.dating")) == 1

    r = patch(client, GX, valid_to="2025-12-31", kind="规划")  # back to the plan's own dating
    assert r.status_code == 200 and r.json()["status"] == "ended"
    assert all(h["status"] == "ended" for h in hits(client, PRECONCEPTION, region="guangxi"))
    assert current_version(client) == version


def test_a_successor_plan_is_preferred_and_a_rollback_restores_the_old_plan(client):
    before = current_version(client)
    r = upload(client, "gx-2026.txt", SUCCESSOR_TEXT.encode(), json.dumps(SUCCESSOR_META, ensure_ascii=False))
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["meta"]["supersedes"] == GX and draft["meta"]["kind"] == "规划"
    job = publish(client, draft["id"])
    assert job["version"] != before

    today = rows(client)
    assert today[SUCCESSOR_ID]["status"] == "in_force" and today[SUCCESSOR_ID]["supersedes"] == GX
    assert today[GX]["status"] == "superseded" and today[GX]["status_label"] == "已被新文件替代"
    assert today[GX]["superseded_by"] == SUCCESSOR_ID and today[NX]["status"] == "ended"
    then = rows(client, as_of="2024-06-01")
    assert then[GX]["status"] == "in_force" and then[SUCCESSOR_ID]["status"] == "not_yet"
    assert then[GX]["superseded_by"] == SUCCESSOR_ID  # named, though not yet in force then

    # today: the successor answers; the superseded plan does not
    now = hits(client, PRECONCEPTION, region="guangxi")
    assert now[0]["source"] == draft["source_name"] and now[0]["status"] == "in_force", now[0]
    assert all(h["source"] != GX_SOURCE for h in now), [h["source"] for h in now]
    # on 2024-06-01 the shipped plan was in force
    old = hits(client, PRECONCEPTION, region="guangxi", as_of="2024-06-01")
    assert old[0]["source"] == GX_SOURCE and old[0]["status"] == "in_force", old[0]

    r = client.post("/v1/answer", json={"question": "广西孕前优生健康检查免费几次"})
    assert r.status_code == 200, r.text
    reply = r.json()
    cited = {c["source"] for c in reply["citations"]}
    assert reply["kind"] != "refuse" and cited == {draft["source_name"]}, reply
    assert "2 次" in reply["text"] or "2次" in reply["text"], reply["text"]
    assert "1 次" not in reply["text"], reply["text"]

    # clearing supersedes (PATCH null) leaves the old plan merely ended; setting it again supersedes it
    r = patch(client, SUCCESSOR_ID, supersedes=None)
    assert r.status_code == 200 and r.json()["supersedes"] is None
    assert rows(client)[GX]["status"] == "ended" and rows(client)[GX]["superseded_by"] is None
    assert hits(client, PRECONCEPTION, region="guangxi")[0]["source"] == draft["source_name"]
    r = patch(client, SUCCESSOR_ID, supersedes=GX)
    assert r.status_code == 200 and rows(client)[GX]["status"] == "superseded"
    assert current_version(client) == job["version"]  # neither change re-indexed anything

    # rollback: the version before the successor serves again, and with it the old behaviour
    r = client.post(f"/v1/admin/versions/{before}/activate")
    assert r.status_code == 200, r.text
    assert set(rows(client)) == {GX, NX} and rows(client)[GX]["status"] == "ended"
    back = hits(client, PRECONCEPTION, region="guangxi")
    assert back[0]["source"] == GX_SOURCE and all(h["source"] != draft["source_name"] for h in back)
    r = client.post("/v1/answer", json={"question": "广西孕前优生健康检查免费几次"})
    assert r.status_code == 200, r.text
    cited = {c["source"] for c in r.json()["citations"]}
    assert GX_SOURCE in cited and draft["source_name"] not in cited, r.json()
    # the successor's dating change is kept by doc_id: publishing that version again brings it back as it was
    r = client.post(f"/v1/admin/versions/{job['version']}/activate")
    assert r.status_code == 200 and rows(client)[GX]["status"] == "superseded"
    assert client.post(f"/v1/admin/versions/{before}/activate").status_code == 200
