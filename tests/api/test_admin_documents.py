"""Document lifecycle through the admin API: real app, real model, real Chroma, real Redis.

Own data dir (seeded from the session's embedding cache, so only new text is embedded), own Redis db and
key prefix. Upload → preview → publish job → searchable → rollback → gone; replace; delete; a failing job;
every bad input refused with nothing changed; 20 concurrent searches during a re-index.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock

from api.auth import AuthStore
from api.main import create_app
from knowledge.converters import MAX_UPLOAD_BYTES
from knowledge.ingest import ingest
from knowledge.settings import Settings
from knowledge.store import VersionStore, make_client
from tests.plans import meta_json, plan_text

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def admin_settings(settings, ingested, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("admin-docs-data")
    # A consistent copy of the session's embedding cache (WAL included): the shipped plans embed nothing.
    with (
        sqlite3.connect(settings.data_dir / "embeddings.sqlite") as src,
        sqlite3.connect(data_dir / "embeddings.sqlite") as dst,
    ):
        src.backup(dst)
    admin = Settings(
        **{
            **settings.model_dump(),
            "data_dir": data_dir,
            "redis_url": "redis://127.0.0.1:6379/9",
            "redis_prefix": f"admin-docs-{uuid.uuid4().hex[:8]}",
            "keep_versions": 5,
        }
    )
    ingest(admin)  # the seeded first version, as `minsheng up` builds it
    return admin


@pytest.fixture(scope="module")
def client(admin_settings):
    auth = AuthStore(admin_settings)
    auth.add_user("docadmin", "admin-pass-123", "admin")
    with TestClient(create_app(admin_settings)) as c:
        r = c.post(
            "/v1/auth/login", json={"username": "docadmin", "password": "admin-pass-123", "want_token": True}
        )
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield c
    for key in auth.redis.scan_iter(f"{admin_settings.redis_prefix}:*"):
        auth.redis.delete(key)


def upload(client, name: str, data: bytes, meta: str | None, doc_id: str | None = None):
    url = f"/v1/admin/documents/{doc_id}/replace" if doc_id else "/v1/admin/documents"
    form = {} if meta is None else {"meta": meta}
    return client.post(url, files={"file": (name, data, "application/octet-stream")}, data=form)


def plan_upload(client, doc_id: str, title: str, service: str, region: str = "guangxi") -> dict:
    text = plan_text(title.strip("《》"), service)
    r = upload(client, f"{doc_id}.txt", text.encode("utf-8"), meta_json(doc_id, title, region))
    assert r.status_code == 201, r.text
    return r.json()


def wait_job(client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/admin/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def publish(client, draft_id: str) -> dict:
    r = client.post(f"/v1/admin/drafts/{draft_id}/publish")
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def search(client, query: str, **kw) -> dict:
    r = client.post("/v1/search", json={"query": query, "top_k": 5, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def current_version(client) -> str:
    return next(v["version"] for v in client.get("/v1/admin/versions").json() if v["current"])


def doc_ids(client) -> list[str]:
    return [d["doc_id"] for d in client.get("/v1/admin/documents").json()]


def state(client, settings: Settings) -> tuple:
    texts = sorted(
        p.name for p in (settings.data_dir / "library" / "texts").iterdir() if not p.name.startswith(".")
    )
    return (
        client.get("/v1/admin/documents").json(),
        client.get("/v1/admin/versions").json(),
        client.get("/v1/admin/drafts", params={"status": "all"}).json(),
        texts,
    )


def test_upload_preview_publish_search_and_rollback(client, admin_settings):
    before = current_version(client)
    draft = plan_upload(client, "test-eye-plan", "《广西眼健康服务规划》", "近视防控视力筛查服务")
    assert draft["status"] == "pending" and draft["author"] == "docadmin" and draft["replaces"] is None
    preview = draft["preview"]
    assert preview["chunk_count"] >= 3 and preview["chunks"][0]["quote"]
    assert any(s["path"].startswith("第二章 重点任务") for s in preview["sections"])
    assert client.get(f"/v1/admin/drafts/{draft['id']}").json() == draft
    assert draft["id"] in [d["id"] for d in client.get("/v1/admin/drafts").json()]
    assert "test-eye-plan" not in doc_ids(client)  # a draft is not published

    job = publish(client, draft["id"])
    assert job["version"] != before and job["previous_version"] == before and job["percent"] == 100.0
    assert job["created_by"] == "docadmin" and any(
        s.startswith("新增《广西眼健康服务规划》") for s in job["summary"]
    )

    found = search(client, "近视防控视力筛查服务", region="guangxi")
    assert found["version"] == job["version"]
    top = found["hits"][0]
    assert top["source"] == draft["source_name"] and "近视防控视力筛查服务" in top["quote"]
    ctx = client.get(
        f"/v1/sources/{top['source']}/context", params={"start": top["start"], "end": top["end"]}
    )
    assert ctx.status_code == 200 and ctx.json()["quote"] == top["quote"]  # citations resolve via the library

    row = next(d for d in client.get("/v1/admin/documents").json() if d["doc_id"] == "test-eye-plan")
    assert row["source_name"] == draft["source_name"] and row["chunks"] == preview["chunk_count"]
    assert row["version"] == job["version"] and row["region"] == "guangxi" and row["indexed_at"]
    newest = client.get("/v1/admin/versions").json()[0]
    assert newest["version"] == job["version"] and newest["current"] and newest["author"] == "docadmin"
    assert newest["changes"] == job["summary"] and "test-eye-plan" in [
        d["doc_id"] for d in newest["documents"]
    ]
    assert client.get(f"/v1/admin/drafts/{draft['id']}").json()["status"] == "published"

    # Rollback: the previous version serves again and the published set follows it.
    r = client.post(f"/v1/admin/versions/{before}/activate")
    assert r.status_code == 200 and r.json()["current"] and r.json()["version"] == before
    gone = search(client, "近视防控视力筛查服务", region="guangxi")
    assert gone["version"] == before and all(h["source"] != draft["source_name"] for h in gone["hits"])
    assert "test-eye-plan" not in doc_ids(client)
    ctx = client.get(
        f"/v1/sources/{top['source']}/context", params={"start": top["start"], "end": top["end"]}
    )
    assert ctx.status_code == 200  # an old answer's citation still opens

    audit = client.app.state.audit
    assert audit.query(action="document.upload", target=f"draft:{draft['id']}")
    assert audit.query(action="document.publish", target="doc:test-eye-plan")
    (activated, *_) = audit.query(action="version.activate")
    assert activated.before == {"version": job["version"]} and activated.after == {"version": before}
    assert audit.query(action="job.succeeded", target=f"job:{job['id']}")


def test_replace_then_delete(client, admin_settings):
    first = plan_upload(
        client, "test-dental", "《宁夏口腔健康服务规划》", "儿童窝沟封闭口腔检查服务", "ningxia"
    )
    publish(client, first["id"])
    text = plan_text("宁夏口腔健康服务规划", "老年人义齿修复补贴服务")
    r = upload(client, "dental-2025.md", text.encode(), meta=None, doc_id="test-dental")
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["replaces"] == "test-dental" and second["meta"]["title"] == "《宁夏口腔健康服务规划》"
    assert second["meta"]["region"] == "ningxia" and second["source_name"] != first["source_name"]

    job = publish(client, second["id"])
    assert job["summary"] == ["替换《宁夏口腔健康服务规划》：新增 3 段，删除 3 段，未变 0 段"]
    replaced = search(client, "老年人义齿修复补贴服务", region="ningxia")
    assert replaced["version"] == job["version"]
    assert second["source_name"] in [h["source"] for h in replaced["hits"]], replaced["hits"]
    old = search(client, "儿童窝沟封闭口腔检查服务", region="ningxia")
    assert all(h["source"] != first["source_name"] for h in old["hits"])
    rows = {d["doc_id"]: d for d in client.get("/v1/admin/documents").json()}
    assert rows["test-dental"]["source_name"] == second["source_name"]
    assert client.app.state.library.texts[first["source_name"]]  # the replaced text is kept

    r = client.delete("/v1/admin/documents/test-dental")
    assert r.status_code == 202 and r.json()["kind"] == "delete"
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded" and job["summary"] == ["删除《宁夏口腔健康服务规划》"]
    assert "test-dental" not in doc_ids(client)
    assert all(h["source"] != second["source_name"] for h in search(client, "老年人义齿修复补贴服务")["hits"])
    texts = client.app.state.library.texts
    assert first["source_name"] in texts and second["source_name"] in texts
    assert client.app.state.audit.query(action="document.delete", target="doc:test-dental")


def test_a_failing_job_keeps_the_previous_version_serving(client, admin_settings):
    a = plan_upload(client, "test-dup-a", "《重复标题测试规划》", "社区康复辅具租赁服务")
    b = plan_upload(
        client, "test-dup-b", "《重复标题测试规划》", "社区康复辅具回收服务"
    )  # both pass as drafts
    before = current_version(client)
    # Hold the ingest lock so both publishes are accepted before either switches a version.
    with FileLock(str(admin_settings.data_dir / "ingest.lock")):
        job_a = client.post(f"/v1/admin/drafts/{a['id']}/publish").json()
        job_b = client.post(f"/v1/admin/drafts/{b['id']}/publish").json()
        time.sleep(0.5)
        running = client.get(f"/v1/admin/jobs/{job_a['id']}").json()
        assert running["status"] == "running" and running["stage"] == "parse"
        assert client.get(f"/v1/admin/jobs/{job_b['id']}").json()["status"] == "queued"
        busy = client.post(f"/v1/admin/versions/{before}/activate")  # no rollback while a job switches
        assert busy.status_code == 409 and "re-index job is running" in busy.json()["detail"]
    done_a, done_b = wait_job(client, job_a["id"]), wait_job(client, job_b["id"])
    assert done_a["status"] == "succeeded"
    assert (
        done_b["status"] == "failed" and "duplicate title" in done_b["error"] and CJK.search(done_b["error"])
    )
    assert current_version(client) == done_a["version"]  # the failure switched nothing
    assert "test-dup-a" in doc_ids(client) and "test-dup-b" not in doc_ids(client)
    assert client.get(f"/v1/admin/drafts/{b['id']}").json()["status"] == "pending"
    assert search(client, "社区康复辅具租赁服务")["version"] == done_a["version"]
    assert client.app.state.audit.query(action="job.failed", target=f"job:{job_b['id']}")
    jobs = client.get("/v1/admin/jobs").json()
    assert [j["id"] for j in jobs[:2]] == [job_b["id"], job_a["id"]]


def test_bad_inputs_are_refused_and_change_nothing(client, admin_settings):
    good_text = plan_text("测试规划", "测试验证专项服务").encode()
    good_meta = meta_json("test-bad-input", "《坏输入测试规划》")
    cases = [
        (413, lambda: upload(client, "big.txt", b"a" * (MAX_UPLOAD_BYTES + 1), good_meta)),
        (415, lambda: upload(client, "plan.exe", b"MZ\x90\x00", good_meta)),
        (415, lambda: upload(client, "plan", good_text, good_meta)),
        (422, lambda: upload(client, "empty.txt", b"", good_meta)),
        (422, lambda: upload(client, "blank.md", b"\n \n", good_meta)),
        (422, lambda: upload(client, "bad.docx", b"PK\x03\x04 not a docx", good_meta)),
        (422, lambda: upload(client, "bad.pdf", b"%PDF-1.4\n garbage", good_meta)),
        (422, lambda: upload(client, "headings.txt", "第一章 总则\n".encode(), good_meta)),
        (422, lambda: upload(client, "ok.txt", good_text, "{not json")),
        (
            422,
            lambda: upload(
                client, "ok.txt", good_text, meta_json("test-bad-input", "《坏输入》", region="beijing")
            ),
        ),
        (
            422,
            lambda: upload(
                client, "ok.txt", good_text, meta_json("test-bad-input", "《坏输入测试规划》", extra=1)
            ),
        ),
        (422, lambda: upload(client, "ok.txt", good_text, None)),
        (
            409,
            lambda: upload(
                client, "ok.txt", good_text, meta_json("test-bad-input", "《广西公共服务“十四五”规划》")
            ),
        ),
        (
            409,
            lambda: upload(
                client, "ok.txt", good_text, meta_json("nx-2021-public-services", "《新标题规划》")
            ),
        ),
        (404, lambda: upload(client, "ok.txt", good_text, None, doc_id="nope-doc")),
        (422, lambda: upload(client, "ok.txt", good_text, "{bad", doc_id="gx-2021-public-services")),
        (
            422,
            lambda: upload(
                client, "ok.txt", good_text, '{"doc_id": "other-id"}', doc_id="gx-2021-public-services"
            ),
        ),
        (415, lambda: upload(client, "ok.rtf", good_text, None, doc_id="gx-2021-public-services")),
        (404, lambda: client.delete("/v1/admin/documents/nope-doc")),
        (404, lambda: client.get("/v1/admin/drafts/000000000000")),
        (404, lambda: client.post("/v1/admin/drafts/000000000000/publish")),
        (404, lambda: client.delete("/v1/admin/drafts/000000000000")),
        (404, lambda: client.post("/v1/admin/versions/v19990101T000000000000Z/activate")),
        (404, lambda: client.get("/v1/admin/jobs/000000000000")),
    ]
    before = state(client, admin_settings)
    for expected, call in cases:
        r = call()
        assert r.status_code == expected, (expected, r.status_code, r.text)
        detail = r.json()["detail"]
        assert CJK.search(detail) and "(" in detail, detail  # Chinese first, English in parentheses
    assert state(client, admin_settings) == before


def test_twenty_concurrent_searches_during_a_reindex(client, admin_settings):
    draft = plan_upload(client, "test-concurrent", "《社区助浴服务规划》", "老年人社区助浴上门服务")
    before = current_version(client)
    queries = ["老年人社区助浴上门服务", "免费孕前优生健康检查", "养老服务补贴", "义务教育", "残疾人康复服务"]
    results: list[tuple[str, list[str]]] = []
    errors: list[str] = []
    stop = threading.Event()

    def searcher(i: int) -> None:
        n = 0
        while not stop.is_set() or n < 3:
            try:
                r = client.post("/v1/search", json={"query": queries[(i + n) % len(queries)], "top_k": 5})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                else:
                    body = r.json()
                    results.append((body["version"], [h["chunk_id"] for h in body["hits"]]))
            except Exception as exc:  # noqa: BLE001 - any failure is what this test counts
                errors.append(repr(exc))
            n += 1

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    try:
        r = client.post(f"/v1/admin/drafts/{draft['id']}/publish")
        assert r.status_code == 202
        job = wait_job(client, r.json()["id"])
        time.sleep(1.5)  # let every searcher see the switched version too
    finally:
        stop.set()
        for t in threads:
            t.join(120)

    assert job["status"] == "succeeded"
    assert not errors, errors[:5]
    versions = {v for v, _ in results}
    assert versions == {before, job["version"]}, versions
    store = VersionStore(make_client(admin_settings))
    ids = {v: {c.id for c in store.load_chunks(v)[0]} for v in versions}
    for version, hit_ids in results:
        assert hit_ids and set(hit_ids) <= ids[version]  # every hit of one answer from that answer's version
    assert sum(v == before for v, _ in results) >= 20  # searches really ran while the job did
    new = [h for v, hits in results if v == job["version"] for h in hits if h.startswith("test-concurrent:")]
    assert new  # and the published text was found once switched
