"""The admin console (/admin) in real headless Chromium against the real stack.

The knowledge-base lifecycle end to end: an admin uploads a new plan document → previews how it was parsed →
publishes → watches the re-index job reach 100% → a resident's question in the widget is answered from it,
with a citation → the admin rolls back → the same question no longer cites it. Plus: operator accounts are
refused, bad uploads show the API's error and change nothing, a catalogue edit that breaks a rule test case
is shown and not published, the audit log lists what the admin did, and axe-core finds no serious issues.

The tests share one stack and run in file order; the audit test reads the entries the earlier tests made.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from tests.e2e.test_browser_widget import (
    ANSWER_TIMEOUT,
    PHONE,
    ask,
    no_horizontal_scroll,
    open_widget,
    run_axe,
    screenshot,
)

REPO = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
JOB_TIMEOUT = 240_000  # the re-index embeds only the new chunks, but the machine is small and shared

DOC_ID = f"e2e-plan-{uuid.uuid4().hex[:6]}"
DOC_TITLE = "《测试验证专项服务规划》"
DOC_SENTENCE = "为辖区内常住居民免费提供测试验证专项服务"
DOC_TEXT = f"""测试验证专项服务规划

第一章 总则

第一节 测试验证专项服务

{DOC_SENTENCE}，每年一次。测试验证专项服务由县级测试验证中心组织实施，居民凭身份证就近办理，不收取任何费用。

第二节 保障措施

各地要加强测试验证专项服务的组织保障，确保服务覆盖全体常住居民，所需经费纳入同级财政预算。

第二章 实施步骤

第一节 工作安排

2023年底前完成测试验证专项服务网点布局，2025年底前实现城乡全覆盖。
"""
RESIDENT_QUESTION = "测试验证专项服务免费吗"


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def base_url(stack, stack_settings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


def _add_user(stack_settings, prefix: str, role: str) -> tuple[str, str]:
    """An account created the way the README says: `minsheng users add NAME --role ROLE --password PW`."""
    name, password = f"{prefix}-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(12)
    cli = Path(sys.executable).with_name("minsheng")
    env = {
        **os.environ,
        "MINSHENG_REDIS_URL": stack_settings.redis_url,
        "MINSHENG_REDIS_PREFIX": stack_settings.redis_prefix,
        "MINSHENG_DATA_DIR": str(stack_settings.data_dir),
    }
    done = subprocess.run(
        [str(cli), "users", "add", name, "--role", role, "--password", password],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return name, password


@pytest.fixture(scope="module")
def admin_account(stack_settings) -> tuple[str, str]:
    return _add_user(stack_settings, "admin", "admin")


@pytest.fixture(scope="module")
def operator_account(stack_settings) -> tuple[str, str]:
    return _add_user(stack_settings, "op", "operator")


@pytest.fixture(scope="module")
def admin_api(base_url, admin_account) -> Iterator[httpx.Client]:
    """The admin's API session as a script would use it (Bearer token), to check what the UI claims."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        r = client.post(
            "/v1/auth/login",
            json={"username": admin_account[0], "password": admin_account[1], "want_token": True},
        )
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield client


@pytest.fixture
def admin_page(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def resident(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# ------------------------------------------------------------------------------------------ helpers
def sign_in(page: Page, account: tuple[str, str]) -> None:
    page.goto("/admin")
    expect(page.get_by_role("heading", name="管理员登录")).to_be_visible()
    page.get_by_label("用户名").fill(account[0])
    page.get_by_label("密码").fill(account[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="文档", exact=True)).to_be_visible()
    expect(page.locator("#who-name")).to_contain_text(account[0])
    expect(page.locator("#docs-body tr").first).to_be_visible()


def go(page: Page, view: str) -> None:
    page.get_by_role("navigation", name="管理功能").get_by_role("link", name=view, exact=True).click()
    expect(page.get_by_role("heading", name=view, exact=True)).to_be_focused()


def doc_ids(page: Page) -> list[str]:
    return page.locator("#docs-body tr").evaluate_all("rows => rows.map(r => r.dataset.doc)")


def fill_metadata(page: Page, doc_id: str, title: str, short_title: str) -> None:
    page.get_by_label("文档编号（doc_id）").fill(doc_id)
    page.get_by_label("标题", exact=True).fill(title)
    page.get_by_label("简称").fill(short_title)
    page.get_by_label("地区").select_option("guangxi")
    page.get_by_label("规划期起（年）").fill("2021")
    page.get_by_label("规划期止（年）").fill("2025")
    page.get_by_label("生效日期").fill("2021-01-01")
    page.get_by_label("失效日期").fill("2025-12-31")
    page.get_by_label("发布机关（可选）").fill("测试验证专项工作领导小组")


def cites_new_doc(messages: list[dict]) -> bool:
    return any(
        c.get("title") == DOC_TITLE or str(c.get("source", "")).startswith(DOC_ID)
        for m in messages
        for c in (m.get("citations") or [])
    )


def axe_clean(page: Page, label: str, found: list) -> None:
    found.extend({"view": label, **v} for v in run_axe(page, label))


# ------------------------------------------------------------------------------------------ tests
def test_operator_accounts_are_refused(admin_page, operator_account, base_url, api):
    assert api.get("/v1/admin/documents").status_code == 401  # anonymous
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post(
            "/v1/auth/login", json={"username": operator_account[0], "password": operator_account[1]}
        )
        assert r.status_code == 200 and r.json()["role"] == "operator"
        for path in ("/v1/admin/documents", "/v1/admin/versions", "/v1/admin/audit"):
            assert client.get(path).status_code == 403, path

    page = admin_page
    page.goto("/admin")
    expect(page.get_by_role("heading", name="管理员登录")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_focused()
    page.get_by_label("用户名").fill(operator_account[0])
    page.get_by_label("密码").fill(operator_account[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("没有管理员权限")
    expect(page.get_by_role("alert")).to_contain_text("403")
    expect(page.locator("#app-view")).to_be_hidden()
    page.reload()  # the session opened for the refused account was closed again
    expect(page.get_by_role("heading", name="管理员登录")).to_be_visible()
    expect(page.locator("#login-error")).to_be_empty()

    # the same account still works where it belongs (the operator console shares the sign-in helpers)
    page.goto("/operator")
    page.get_by_label("用户名").fill(operator_account[0])
    page.get_by_label("密码").fill(operator_account[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("转人工队列"))).to_be_visible()


def test_upload_publish_answer_then_rollback(admin_page, resident, admin_account, admin_api):
    page = admin_page
    sign_in(page, admin_account)
    shipped = doc_ids(page)
    assert len(shipped) >= 2 and DOC_ID not in shipped
    versions_before = admin_api.get("/v1/admin/versions").json()
    previous = next(v for v in versions_before if v["current"])
    screenshot(page, "admin-documents.png")

    # upload → draft preview
    page.get_by_role("button", name="上传新文档").click()
    expect(page.get_by_role("heading", name="上传新文档")).to_be_focused()
    page.get_by_label("文件", exact=True).set_input_files(
        {"name": "test-plan.txt", "mimeType": "text/plain", "buffer": DOC_TEXT.encode("utf-8")}
    )
    fill_metadata(page, DOC_ID, DOC_TITLE, "测试专项规划")
    with page.expect_response(
        lambda r: r.url.endswith("/v1/admin/documents") and r.request.method == "POST"
    ) as up:
        page.get_by_role("button", name="上传并预览").click()
    assert up.value.status == 201, up.value.text()
    draft = up.value.json()
    preview = page.locator("#preview-section")
    expect(preview).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^解析预览"))).to_be_focused()
    expect(preview).to_contain_text(DOC_TITLE)
    expect(page.locator("#preview-sections")).to_contain_text("第一章")
    expect(page.locator("#preview-sections")).to_contain_text("第一节")
    chunk_count = int(page.locator("#preview-chunk-count").inner_text())
    assert chunk_count >= 1 and chunk_count == draft["preview"]["chunk_count"]
    expect(page.locator("#preview-chunks")).to_contain_text(DOC_SENTENCE)
    assert admin_api.get("/v1/admin/documents").json() == admin_api.get("/v1/admin/documents").json()
    assert DOC_ID not in [d["doc_id"] for d in admin_api.get("/v1/admin/documents").json()]  # not yet
    screenshot(page, "admin-preview.png")

    # publish → live progress until 100%
    polled: list[dict] = []
    page.on(
        "response",
        lambda r: polled.append(r.json()) if "/v1/admin/jobs/" in r.url and r.ok else None,
    )
    with page.expect_response(lambda r: r.url.endswith("/publish")) as pub:
        page.get_by_role("button", name="发布", exact=True).click()
    assert pub.value.status == 202, pub.value.text()
    job = page.locator("#job")
    expect(job).to_be_visible()
    expect(job.get_by_role("progressbar")).to_be_visible()
    expect(page.locator("#job-status")).to_have_attribute("aria-live", "polite")
    with contextlib.suppress(PlaywrightTimeout):  # a picture mid-way, if the job is slow enough to catch
        page.wait_for_function(
            "() => { const v = +document.getElementById('job-bar').getAttribute('aria-valuenow');"
            " return v > 5 && v < 100; }",
            timeout=60_000,
            polling=100,
        )
    page.wait_for_timeout(400)  # let the bar's width transition catch up with the number
    screenshot(page, "admin-progress.png")
    expect(page.locator("#job-state")).to_have_text("已完成", timeout=JOB_TIMEOUT)
    expect(page.locator("#job-percent")).to_have_text("100%")
    expect(job.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#job-status")).to_contain_text("已生效")
    assert polled, "the console never polled GET /v1/admin/jobs/{id}"
    final = polled[-1]
    assert final["status"] == "succeeded" and final["percent"] == 100, final
    chunk_stages = [p for p in polled if p["stage"] in ("embed", "write") and p["total"]]
    if chunk_stages:  # a fast job can finish between two polls
        total = chunk_stages[-1]["total"]
        expect(page.locator("#job-chunks")).to_have_text(f"已处理 {total} / {total} 段")
    row = page.locator(f"#docs-body tr[data-doc='{DOC_ID}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text(DOC_TITLE)
    expect(row).to_contain_text("广西")
    expect(row).to_contain_text("2021—2025")
    screenshot(page, "admin-published.png")

    # the resident can ask about it now, without a restart, and it is cited
    open_widget(resident)
    messages = ask(resident, RESIDENT_QUESTION)
    assert cites_new_doc(messages), messages
    expect(resident.locator(".ms-msg-bot .ms-chip").last).to_be_visible(timeout=ANSWER_TIMEOUT)
    resident.locator(".ms-msg-bot").last.locator(".ms-chip").first.click()
    dialog = resident.get_by_role("dialog")
    expect(dialog).to_contain_text(DOC_TITLE)
    expect(dialog.locator("mark")).to_contain_text("测试验证专项服务")
    screenshot(resident, "admin-resident-answer.png")
    resident.keyboard.press("Escape")
    # a 👎 on it, for the insights page
    answer_bubble = resident.locator(".ms-msg-bot").last
    with resident.expect_response(lambda r: r.url.endswith("/v1/feedback")) as fb:
        answer_bubble.get_by_role("button", name="没帮助").click()
    assert fb.value.ok, fb.value.text()

    # roll back to the version before the upload
    go(page, "版本")
    current = page.locator("#versions-body tr.is-current")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("当前版本")
    expect(current).to_contain_text(admin_account[0])
    expect(current).to_contain_text("新增")
    expect(current).to_contain_text(DOC_TITLE)
    screenshot(page, "admin-versions.png")
    target = page.locator(f"#versions-body tr[data-version='{previous['version']}']")
    target.get_by_role("button", name=re.compile("^回滚")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("回滚版本")
    with page.expect_response(lambda r: "/activate" in r.url) as act:
        dialog.get_by_role("button", name="回滚").click()
    assert act.value.ok, act.value.text()
    expect(target).to_have_class(re.compile("is-current"), timeout=JOB_TIMEOUT)
    expect(target).to_contain_text("当前版本")
    assert (
        next(v for v in admin_api.get("/v1/admin/versions").json() if v["current"])["version"]
        == (previous["version"])
    )

    go(page, "文档")
    expect(page.locator(f"#docs-body tr[data-doc='{DOC_ID}']")).to_have_count(0)
    assert sorted(doc_ids(page)) == sorted(shipped)

    # …and the resident's same question no longer finds the rolled-back document
    messages = ask(resident, RESIDENT_QUESTION)
    assert not cites_new_doc(messages), messages


def test_bad_uploads_show_the_api_error_and_change_nothing(admin_page, admin_account, admin_api):
    page = admin_page
    sign_in(page, admin_account)
    before = admin_api.get("/v1/admin/documents").json()
    drafts_before = admin_api.get("/v1/admin/drafts").json()
    rows_before = doc_ids(page)

    page.get_by_role("button", name="上传新文档").click()
    fill_metadata(page, "e2e-bad-upload", "《不该出现的文档》", "不该出现")
    error = page.locator("#upload-error")
    for name, mime, data in [
        ("empty.txt", "text/plain", b""),
        ("spreadsheet.xlsx", "application/vnd.ms-excel", b"PK\x03\x04 not a plan"),
    ]:
        page.get_by_label("文件", exact=True).set_input_files(
            {"name": name, "mimeType": mime, "buffer": data}
        )
        with page.expect_response(lambda r: r.url.endswith("/v1/admin/documents")) as up:
            page.get_by_role("button", name="上传并预览").click()
        status = up.value.status
        assert status in (413, 415, 422), (name, status, up.value.text())
        detail = up.value.json()["detail"]
        assert isinstance(detail, str) and detail
        expect(error).to_be_visible()
        expect(error).to_contain_text("上传失败")
        expect(error).to_contain_text(detail)
        expect(page.locator("#preview-section")).to_be_hidden()
        if name == "spreadsheet.xlsx":
            assert status == 415
            expect(error).to_contain_text("不支持的文件类型")
            screenshot(page, "admin-bad-upload.png")

    # metadata the schema refuses never reaches the API
    page.get_by_label("文件", exact=True).set_input_files(
        {"name": "ok.txt", "mimeType": "text/plain", "buffer": DOC_TEXT.encode("utf-8")}
    )
    page.get_by_label("文档编号（doc_id）").fill("Bad ID!")
    page.get_by_role("button", name="上传并预览").click()
    expect(error).to_contain_text("文档编号")
    expect(page.get_by_label("文档编号（doc_id）")).to_have_attribute("aria-invalid", "true")

    page.get_by_role("button", name="取消").click()
    page.get_by_role("button", name="刷新").click()
    expect(page.locator("#docs-body tr")).to_have_count(len(rows_before))
    assert doc_ids(page) == rows_before
    assert admin_api.get("/v1/admin/documents").json() == before
    assert admin_api.get("/v1/admin/drafts").json() == drafts_before


def test_document_status_and_editing_its_dating(admin_page, admin_account, admin_api):
    """Status badges as of today or a chosen date, and 编辑有效期: the API's refusal shown as it says it,
    a saved change taking effect at once (no new version), audited."""
    page = admin_page
    sign_in(page, admin_account)
    gx = "gx-2021-public-services"
    row = page.locator(f"#docs-body tr[data-doc='{gx}']")
    expect(row.locator(".doc-status .tag")).to_have_text("规划期已结束")
    expect(row).to_contain_text("2021-01-01 至 2025-12-31")
    page.get_by_label("按日期查看状态").fill("2024-06-01")
    page.get_by_label("按日期查看状态").dispatch_event("change")
    expect(row.locator(".doc-status .tag")).to_have_text("现行有效")
    page.get_by_label("按日期查看状态").fill("")
    page.get_by_label("按日期查看状态").dispatch_event("change")
    expect(row.locator(".doc-status .tag")).to_have_text("规划期已结束")
    version = next(v for v in admin_api.get("/v1/admin/versions").json() if v["current"])["version"]

    # the upload form offers only same-region documents to supersede
    page.get_by_role("button", name="上传新文档").click()
    upload_form = page.locator("#upload-section")
    expect(upload_form.get_by_label("文件类型")).to_have_value("规划")
    options = upload_form.get_by_label("替代的文件（可选）").locator("option")
    assert gx in options.evaluate_all("os => os.map(o => o.value)")
    upload_form.get_by_label("地区").select_option("ningxia")
    values = options.evaluate_all("os => os.map(o => o.value)")
    assert gx not in values and "nx-2021-public-services" in values
    page.get_by_role("button", name="取消").click()

    row.get_by_role("button", name=re.compile("^编辑有效期")).click()
    form = page.locator("#dating-section")
    expect(page.get_by_role("heading", name=re.compile("^编辑有效期"))).to_be_focused()
    expect(form.get_by_label("有效期止")).to_have_value("2025-12-31")
    assert gx not in form.get_by_label("替代的文件（可选）").locator("option").evaluate_all(
        "os => os.map(o => o.value)"
    )  # never itself
    # a value the API refuses: its message is shown, nothing changes
    form.get_by_label("规划期起").fill("1800")
    with page.expect_response(lambda r: r.url.endswith(f"/{gx}/dating")) as refused:
        form.get_by_role("button", name="保存有效期").click()
    assert refused.value.status == 422
    expect(form.locator("#dating-error")).to_contain_text("保存失败")
    expect(form.locator("#dating-error")).to_contain_text(refused.value.json()["detail"])
    form.get_by_label("规划期起").fill("2021")
    form.get_by_label("有效期止").fill("2026-12-31")
    with page.expect_response(lambda r: r.url.endswith(f"/{gx}/dating")) as saved:
        form.get_by_role("button", name="保存有效期").click()
    assert saved.value.ok, saved.value.text()
    assert saved.value.request.post_data_json == {"valid_to": "2026-12-31"}  # only what changed
    expect(form).to_be_hidden()
    expect(row.locator(".doc-status .tag")).to_have_text("现行有效")
    expect(row).to_contain_text("有效期已在发布后修改")
    assert next(v for v in admin_api.get("/v1/admin/versions").json() if v["current"])["version"] == version
    # back to the plan's own validity, so the other tests see the shipped dating
    r = admin_api.patch(f"/v1/admin/documents/{gx}/dating", json={"valid_to": "2025-12-31"})
    assert r.status_code == 200 and r.json()["status"] == "ended", r.text


def test_catalogue_edit_that_breaks_a_case_is_not_published(admin_page, admin_account, admin_api):
    page = admin_page
    sign_in(page, admin_account)
    go(page, "服务目录")
    revisions_before = admin_api.get("/v1/admin/catalogue/revisions").json()
    page.get_by_label("选择服务").select_option("gx-premarital-check")
    editor = page.get_by_label("条目内容（JSON）")
    expect(editor).to_have_value(re.compile('"id": "gx-premarital-check"'))
    original = json.loads(editor.input_value())

    # breaking: 婚检 would now require *not* planning to marry
    broken = json.loads(json.dumps(original))
    first = broken["eligibility"][0]
    assert first["when"] == "planning_marriage == true", first
    first["when"] = "planning_marriage == false"
    editor.fill(json.dumps(broken, ensure_ascii=False, indent=2))
    publish = page.get_by_role("button", name="发布", exact=True)
    expect(publish).to_be_disabled()
    with page.expect_response(lambda r: r.url.endswith("/validate")) as checked:
        page.get_by_role("button", name="校验").click()
    report = checked.value.json()
    assert report["broken_cases"], report
    expect(page.locator("#cat-verdict")).to_contain_text("不能发布")
    failing = page.locator("#cat-cases tr.case-fail")
    expect(failing.first).to_be_visible()
    expect(failing).to_have_count(len(report["broken_cases"]))
    expect(failing.first).to_contain_text("被本次修改破坏")
    expect(failing.first).to_contain_text(report["broken_cases"][0]["name"])
    expect(failing.first).to_contain_text("gx-premarital-check")
    expect(publish).to_be_disabled()
    page.locator("#cat-result").scroll_into_view_if_needed()
    screenshot(page, "admin-catalogue.png")
    # the server refuses it too, whatever a client does
    assert admin_api.put("/v1/admin/catalogue/services/gx-premarital-check", json=broken).status_code == 409
    assert admin_api.get("/v1/admin/catalogue/revisions").json() == revisions_before

    # a harmless edit validates and publishes, and shows up in the revision history
    page.get_by_role("button", name="撤销修改").click()
    fine = json.loads(json.dumps(original))
    fine["notes"] = (original.get("notes") or "") + "（e2e 测试补充说明）"
    editor.fill(json.dumps(fine, ensure_ascii=False, indent=2))
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#cat-verdict")).to_contain_text("可以发布")
    expect(publish).to_be_enabled()
    page.get_by_label(re.compile("^修改说明")).fill("e2e：补充说明")
    with page.expect_response(
        lambda r: "/v1/admin/catalogue/services/" in r.url and r.request.method == "PUT"
    ) as put:
        publish.click()
    assert put.value.ok, put.value.text()
    expect(page.locator("#cat-verdict")).to_contain_text("已发布")
    expect(page.locator("#revisions li").first).to_contain_text(admin_account[0])
    expect(page.locator("#revisions li").first).to_contain_text("e2e：补充说明")
    assert len(admin_api.get("/v1/admin/catalogue/revisions").json()) == len(revisions_before) + 1


def test_audit_log_lists_the_admin_actions_and_pages_pass_axe(admin_page, admin_account):
    page = admin_page
    found: list[dict] = []
    page.goto("/admin")
    expect(page.get_by_role("heading", name="管理员登录")).to_be_visible()
    axe_clean(page, "admin login", found)
    sign_in(page, admin_account)
    axe_clean(page, "documents", found)

    go(page, "审计日志")
    page.get_by_label("操作人").fill(admin_account[0])
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("#audit-body tr")
    for action in (
        "document.upload",
        "document.publish",
        "document.dating",
        "version.activate",
        "catalogue.publish",
    ):
        row = page.locator(f"#audit-body tr[data-action='{action}']").first
        expect(row).to_be_visible()
        expect(row).to_contain_text(admin_account[0])
    expect(page.locator("#audit-body tr[data-action='document.publish']").first).to_contain_text(DOC_ID)
    screenshot(page, "admin-audit.png")
    axe_clean(page, "audit", found)

    page.get_by_label("操作", exact=True).fill("version.activate")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#audit-status")).to_contain_text("共")
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.action)")) == {"version.activate"}
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    page.get_by_label("结束日期").fill(yesterday)
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#audit-status")).to_have_text("没有符合条件的记录。")
    expect(rows).to_have_count(0)
    page.get_by_role("button", name="清空").click()
    expect(rows.first).to_be_visible()

    go(page, "版本")
    expect(page.locator("#versions-body tr").first).to_be_visible()
    axe_clean(page, "versions", found)
    go(page, "服务目录")
    page.get_by_label("选择服务").select_option("gx-preconception-check")
    expect(page.get_by_label("条目内容（JSON）")).to_have_value(re.compile("gx-preconception-check"))
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#cat-verdict")).to_contain_text("校验")
    axe_clean(page, "catalogue", found)
    go(page, "洞察")
    expect(page.locator(".insight-totals")).to_contain_text("👎 1 次")
    group = page.locator(".insight-group").filter(has_text=RESIDENT_QUESTION)
    expect(group).to_be_visible()
    expect(group).to_contain_text("👎 1")
    screenshot(page, "admin-insights.png")
    axe_clean(page, "insights", found)

    # 768 px: the layout stacks, nothing scrolls sideways except inside the tables
    page.set_viewport_size(TABLET)
    go(page, "文档")
    expect(page.locator("#docs-body tr").first).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "admin-768.png")
    axe_clean(page, "documents 768", found)

    # keyboard: the upload form is reachable and the delete confirmation opens and closes with Esc
    page.locator("#docs-body tr").first.get_by_role("button", name=re.compile("^删除")).focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="取消")).to_be_focused()
    axe_clean(page, "delete confirmation", found)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("() => document.activeElement.textContent") == "删除"

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="管理员登录")).to_be_visible()
    assert not found, found
