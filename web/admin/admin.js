/*
 * 民生服务助手 — admin console (/admin): documents, index versions, catalogue, audit log, insights.
 * Vanilla JS, no build step; shared helpers (el, request with the CSRF header, …) from /static/shared/staff.js.
 *
 * Contract: docs/admin-contract.md.
 *   Documents: GET /v1/admin/documents[?as_of=YYYY-MM-DD]; POST /v1/admin/documents (multipart file + meta JSON)
 *              → 201 draft; POST /v1/admin/documents/{doc_id}/replace → 201 draft; DELETE /v1/admin/documents/{doc_id}
 *              → 202 job; PATCH /v1/admin/documents/{doc_id}/dating (kind, supersedes, period, valid_from/to;
 *              no re-index) → the document row. Dating rules: docs/dating.md.
 *              GET/DELETE /v1/admin/drafts[/{id}]; POST /v1/admin/drafts/{id}/publish → 202 job.
 *   Jobs:      GET /v1/admin/jobs, GET /v1/admin/jobs/{id} (polled every 500 ms while a job runs).
 *   Versions:  GET /v1/admin/versions, POST /v1/admin/versions/{v}/activate.
 *   Catalogue: GET /v1/admin/catalogue/services[/{id}], POST …/{id}/validate, PUT …/{id}, GET …/revisions.
 *   Audit:     GET /v1/admin/audit?actor=&action=&target=&since=&until=&limit=.
 *   Insights:  GET /v1/admin/insights.
 */
(function () {
  "use strict";

  var staff = window.MinshengStaff;
  var $ = staff.$;
  var el = staff.el;
  var announce = staff.announce;
  var truncate = staff.truncate;
  var when = staff.time;

  var REGION = { guangxi: "广西", ningxia: "宁夏" };
  var STAGE = { parse: "解析文档", embed: "计算向量", write: "写入索引", switch: "切换版本" };
  var JOB_KIND = { publish: "发布", delete: "删除", reindex: "重建索引" };
  var JOB_STATUS = { queued: "排队中", running: "进行中", succeeded: "已完成", failed: "失败" };
  var ACTION_LABEL = {
    "document.upload": "上传文档",
    "document.publish": "发布文档",
    "document.replace": "替换文档",
    "document.delete": "删除文档",
    "document.dating": "修改有效期",
    "draft.discard": "放弃草稿",
    "version.activate": "切换版本",
    "catalogue.publish": "发布服务目录",
    "user.login": "登录",
    "user.logout": "退出登录",
    "ticket.reply": "回复居民",
    "ticket.close": "结束人工服务",
    "job.succeeded": "重建索引完成",
    "job.failed": "重建索引失败",
    "job.takeover": "任务由其他副本接管",
    "user.add": "新增账号",
  };
  var UPLOAD_STATUS = {
    413: "文件太大（上限 20 MB）",
    415: "不支持的文件类型",
    422: "文件或文档信息有误",
    409: "与已发布的文档冲突",
    404: "要替换的文档不存在",
  };
  // a document's standing on the date shown (knowledge/dating.py STATUS_LABELS; the API sends status_label too)
  var DOC_STATUS = {
    in_force: { label: "现行有效", tag: "tag-ok" },
    ended: { label: "规划期已结束", tag: "tag-ask" },
    superseded: { label: "已被新文件替代", tag: "tag-no" },
    not_yet: { label: "尚未施行", tag: "tag-region" },
  };
  var VIEWS = ["documents", "versions", "catalogue", "audit", "insights"];
  var POLL_MS = 500;

  var state = {
    user: null,
    view: null,
    documents: [],
    drafts: [],
    draft: null, // the draft being previewed
    replacing: null, // the document being replaced (upload form in replace mode)
    dating: null, // the document whose dating is being edited
    job: null,
    jobTimer: null,
    jobAnnounced: {},
    versions: [],
    services: [],
    cat: { id: null, original: "", validated: null, revision: null },
  };

  var api = staff.client({ onUnauthorized: sessionExpired });
  function request(method, path, body) {
    return api.request(method, path, body);
  }

  function asList(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

  function regionName(region) {
    return REGION[region] || region || "—";
  }

  function periodText(period) {
    if (!period) return "—";
    if (typeof period === "string") return period;
    if (period.start || period.end) return (period.start || "?") + "—" + (period.end || "?");
    return "—";
  }

  function shortVersion(version) {
    var m = /^v(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})/.exec(String(version || ""));
    return m ? m[1] + "-" + m[2] + "-" + m[3] + " " + m[4] + ":" + m[5] + ":" + m[6] : String(version || "—");
  }

  function forbidden(error) {
    return error && error.status === 403 && !/csrf/i.test(error.message || "");
  }

  /** A failed admin call: 403 (not an admin) → back to sign-in; anything else → the given error line. */
  function fail(target, prefix) {
    return function (error) {
      if (error.status === 401) return; // sessionExpired already showed the sign-in form
      if (forbidden(error)) {
        showLogin("该账号没有管理员权限（403）。请使用管理员账号登录。");
        return;
      }
      if (target) $(target).textContent = (prefix || "") + error.message;
      else announce((prefix || "") + error.message);
    };
  }

  // ---------------------------------------------------------------- confirmation dialog
  function confirmAction(title, message, okLabel) {
    var dialog = $("confirm");
    $("confirm-title").textContent = title;
    var box = $("confirm-message");
    box.textContent = "";
    (Array.isArray(message) ? message : [message]).forEach(function (line) {
      box.appendChild(typeof line === "string" ? el("p", { text: line }) : line);
    });
    $("confirm-ok").textContent = okLabel || "确定";
    var opener = document.activeElement;
    return new Promise(function (resolve) {
      if (typeof dialog.showModal !== "function") {
        resolve(window.confirm(title + "\n" + box.textContent));
        return;
      }
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        function () {
          if (opener && opener.focus && document.body.contains(opener)) opener.focus();
          resolve(dialog.returnValue === "ok");
        },
        { once: true }
      );
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  // ---------------------------------------------------------------- sign in / out
  function showLogin(message) {
    stopPolling();
    state.user = null;
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
    document.title = "管理员登录 · 民生服务助手";
    $("login-pass").value = "";
    $("login-user").focus();
  }

  function sessionExpired() {
    if (state.user) showLogin("登录已过期，请重新登录。");
  }

  function showApp(user) {
    state.user = user;
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = user.username + "（管理员）";
    resumeJob();
    route(true);
  }

  var NOT_ADMIN = "该账号是坐席账号，没有管理员权限（403）。请使用管理员账号登录；热线坐席请使用人工坐席台。";

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("login-user").value.trim();
    var password = $("login-pass").value;
    if (!username || !password) {
      $("login-error").textContent = "请输入用户名和密码。";
      (username ? $("login-pass") : $("login-user")).focus();
      return;
    }
    $("login-submit").disabled = true;
    $("login-error").textContent = "";
    request("POST", "/v1/auth/login", { username: username, password: password })
      .then(function (data) {
        api.csrf = data.csrf_token;
        if (data.role !== "admin") {
          // an operator account: end the session just opened here and say why
          return request("POST", "/v1/auth/logout")
            .catch(function () {})
            .then(function () {
              api.csrf = null;
              showLogin(NOT_ADMIN);
            });
        }
        showApp({ username: data.username, role: data.role });
      })
      .catch(function (error) {
        $("login-error").textContent =
          error.status === 401
            ? "用户名或密码错误。"
            : error.status === 429
              ? "登录尝试过于频繁，请稍后再试。"
              : error.message || "登录失败，请检查网络后重试。";
        $("login-pass").focus();
      })
      .then(function () {
        $("login-submit").disabled = false;
      });
  });

  $("logout").addEventListener("click", function () {
    request("POST", "/v1/auth/logout")
      .catch(function () {})
      .then(function () {
        api.csrf = null;
        showLogin("已退出登录。");
      });
  });

  // ---------------------------------------------------------------- views
  function route(initial) {
    if (!state.user) return;
    var name = (location.hash || "").replace(/^#/, "");
    if (VIEWS.indexOf(name) < 0) name = "documents";
    showView(name, !initial);
  }

  window.addEventListener("hashchange", function () {
    route(false);
  });

  function showView(name, focus) {
    state.view = name;
    VIEWS.forEach(function (v) {
      $("view-" + v).hidden = v !== name;
    });
    Array.prototype.forEach.call(document.querySelectorAll(".admin-nav a"), function (a) {
      if (a.getAttribute("data-view") === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    var title = $(name + "-title");
    document.title = title.textContent + " · 知识库管理台 · 民生服务助手";
    if (focus) title.focus();
    if (name === "documents") loadDocuments();
    else if (name === "versions") loadVersions();
    else if (name === "catalogue") loadCatalogue();
    else if (name === "audit") loadAudit();
    else if (name === "insights") loadInsights();
  }

  // ---------------------------------------------------------------- documents
  function loadDocuments() {
    $("docs-error").textContent = "";
    loadDrafts();
    var asOf = $("docs-as-of").value;
    return request("GET", "/v1/admin/documents" + (asOf ? "?as_of=" + encodeURIComponent(asOf) : ""))
      .then(function (data) {
        state.documents = asList(data, "documents");
        renderDocuments();
      })
      .catch(fail("docs-error", "文档列表载入失败："));
  }

  function renderDocuments() {
    var body = $("docs-body");
    body.textContent = "";
    state.documents.forEach(function (d) {
      body.appendChild(
        el("tr", { "data-doc": d.doc_id }, [
          el("th", { scope: "row" }, [
            el("span", { class: "doc-title", text: d.title || d.short_title || d.doc_id }),
            el("span", { class: "doc-id muted small", text: d.doc_id }),
          ]),
          el("td", null, [el("span", { class: "tag tag-region", text: regionName(d.region) })]),
          el("td", null, [
            el("span", { class: "block", text: periodText(d.period) + (d.kind ? " · " + d.kind : "") }),
            d.valid_from || d.valid_to
              ? el("span", { class: "muted small block nowrap", text: (d.valid_from || "?") + " 至 " + (d.valid_to || "?") })
              : null,
          ]),
          el("td", { class: "doc-status" }, statusCell(d)),
          el("td", { class: "num", text: d.chunks === undefined || d.chunks === null ? "—" : String(d.chunks) }),
          el("td", { class: "mono small", title: d.version || "", text: d.version ? shortVersion(d.version) : "—" }),
          el("td", { text: d.indexed_at ? when(d.indexed_at) : "—" }),
          el("td", { class: "actions" }, [
            el("button", {
              type: "button",
              class: "btn btn-small",
              text: "替换",
              "aria-label": "替换《" + plain(d.title) + "》",
              onclick: function () {
                openUpload(d);
              },
            }),
            el("button", {
              type: "button",
              class: "btn btn-small",
              text: "编辑有效期",
              "data-action": "dating",
              "aria-label": "编辑有效期：《" + plain(d.title) + "》",
              onclick: function () {
                openDating(d);
              },
            }),
            el("button", {
              type: "button",
              class: "btn btn-small btn-danger",
              text: "删除",
              "aria-label": "删除《" + plain(d.title) + "》",
              onclick: function () {
                deleteDocument(d);
              },
            }),
          ]),
        ])
      );
    });
    $("docs-empty").hidden = state.documents.length > 0;
  }

  function plain(title) {
    return String(title || "").replace(/[《》]/g, "");
  }

  function docTitle(docId) {
    var doc = state.documents.filter(function (x) {
      return x.doc_id === docId;
    })[0];
    return doc ? "《" + plain(doc.title) + "》" : docId;
  }

  /** The status badge, and which document replaces (or is replaced by) this one. */
  function statusCell(d) {
    var known = DOC_STATUS[d.status] || { label: d.status_label || d.status || "—", tag: "tag-no" };
    var cell = [el("span", { class: "tag " + known.tag, text: d.status_label || known.label })];
    if (d.superseded_by) cell.push(el("span", { class: "muted small block", text: "新文件：" + docTitle(d.superseded_by) }));
    if (d.supersedes) cell.push(el("span", { class: "muted small block", text: "替代：" + docTitle(d.supersedes) }));
    if (d.dating_changed && d.dating_changed.length)
      cell.push(el("span", { class: "muted small block", text: "有效期已在发布后修改" }));
    return cell;
  }

  /** Fill a 替代的文件 select: published documents of the region, never the document itself. */
  function fillSupersedes(select, region, selfId, chosen) {
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: "（不替代其他文件）" }));
    state.documents.forEach(function (d) {
      if (d.region !== region || d.doc_id === selfId) return;
      select.appendChild(
        el("option", { value: d.doc_id, text: plain(d.title) + "（" + d.doc_id + "，" + periodText(d.period) + "）" })
      );
    });
    if (chosen && !select.querySelector("option[value='" + CSS.escape(chosen) + "']"))
      select.appendChild(el("option", { value: chosen, text: chosen + "（未发布）" })); // keep what the document says
    select.value = chosen || "";
  }

  function loadDrafts() {
    return request("GET", "/v1/admin/drafts")
      .then(function (data) {
        state.drafts = asList(data, "drafts");
        renderDrafts();
      })
      .catch(function (error) {
        if (forbidden(error)) fail()(error);
      });
  }

  function renderDrafts() {
    var list = $("drafts");
    list.textContent = "";
    var shown = state.drafts.filter(function (d) {
      return !state.draft || d.id !== state.draft.id;
    });
    shown.forEach(function (d) {
      var meta = d.meta || {};
      list.appendChild(
        el("li", { class: "draft" }, [
          el("span", { class: "strong", text: meta.title || d.id }),
          el("span", {
            class: "muted small",
            text: (d.replaces ? "替换 " + d.replaces + " · " : "新文档 · ") + (d.author || "") + " · " + when(d.created_at),
          }),
          el("button", {
            type: "button",
            class: "btn btn-small",
            text: "预览",
            "aria-label": "预览 草稿《" + plain(meta.title) + "》",
            onclick: function () {
              request("GET", "/v1/admin/drafts/" + encodeURIComponent(d.id))
                .then(showPreview)
                .catch(fail("docs-error", "草稿载入失败："));
            },
          }),
        ])
      );
    });
    $("drafts-section").hidden = shown.length === 0;
  }

  // upload / replace
  function openUpload(doc) {
    state.replacing = doc || null;
    var form = $("upload-form");
    form.reset();
    $("upload-error").textContent = "";
    $("preview-section").hidden = true;
    $("upload-section").hidden = false;
    $("up-doc-id").readOnly = !!doc;
    $("dating-section").hidden = true;
    if (doc) {
      $("upload-title").textContent = "替换《" + plain(doc.title) + "》";
      $("upload-submit").textContent = "上传新版本并预览";
      fillMeta(doc.meta || doc);
    } else {
      $("upload-title").textContent = "上传新文档";
      $("upload-submit").textContent = "上传并预览";
      fillSupersedes($("up-supersedes"), $("up-region").value, null, null);
    }
    $("upload-title").focus();
    $("upload-section").scrollIntoView({ block: "start" });
  }

  function fillMeta(meta) {
    var set = function (id, v) {
      if (v !== undefined && v !== null) $(id).value = v;
    };
    set("up-doc-id", meta.doc_id);
    set("up-title", meta.title);
    set("up-short-title", meta.short_title);
    set("up-region", meta.region);
    set("up-issuer", meta.issuer);
    set("up-doc-number", meta.doc_number);
    set("up-issued-on", meta.issued_on);
    if (meta.period && typeof meta.period === "object") {
      set("up-period-start", meta.period.start);
      set("up-period-end", meta.period.end);
    }
    set("up-valid-from", meta.valid_from);
    set("up-valid-to", meta.valid_to);
    set("up-kind", meta.kind || "规划");
    fillSupersedes($("up-supersedes"), meta.region, meta.doc_id, meta.supersedes);
  }

  function readMeta() {
    var v = function (id) {
      return $(id).value.trim();
    };
    var problems = [];
    var meta = {
      doc_id: v("up-doc-id"),
      title: v("up-title"),
      short_title: v("up-short-title"),
      region: v("up-region"),
      period: { start: Number(v("up-period-start")), end: Number(v("up-period-end")) },
      valid_from: v("up-valid-from"),
      valid_to: v("up-valid-to"),
      kind: v("up-kind") || "规划",
      supersedes: v("up-supersedes") || null,
    };
    ["issuer", "doc_number", "issued_on"].forEach(function (k) {
      var value = v("up-" + k.replace(/_/g, "-"));
      if (value) meta[k] = value;
    });
    if (!/^[a-z0-9][a-z0-9-]{2,63}$/.test(meta.doc_id)) problems.push(["up-doc-id", "文档编号只能用小写字母、数字和连字符（3—64 个字符）"]);
    if (meta.title.length < 2) problems.push(["up-title", "请填写标题"]);
    if (meta.short_title.length < 2) problems.push(["up-short-title", "请填写简称（2—40 个字）"]);
    if (!meta.period.start || !meta.period.end || meta.period.end < meta.period.start)
      problems.push(["up-period-start", "规划期的起止年份不正确"]);
    if (!meta.valid_from || !meta.valid_to) problems.push(["up-valid-from", "请填写生效和失效日期"]);
    else if (meta.valid_to < meta.valid_from) problems.push(["up-valid-to", "失效日期不能早于生效日期"]);
    return { meta: meta, problems: problems };
  }

  $("upload-new").addEventListener("click", function () {
    openUpload(null);
  });
  $("up-region").addEventListener("change", function () {
    var self = state.replacing ? state.replacing.doc_id : $("up-doc-id").value.trim();
    fillSupersedes($("up-supersedes"), this.value, self, $("up-supersedes").value);
  });
  $("docs-as-of").addEventListener("change", loadDocuments);

  // dating: PATCH /v1/admin/documents/{doc_id}/dating with the fields that changed
  function openDating(doc) {
    state.dating = doc;
    $("upload-section").hidden = true;
    $("preview-section").hidden = true;
    $("dating-section").hidden = false;
    $("dating-error").textContent = "";
    Array.prototype.forEach.call($("dating-form").querySelectorAll("[aria-invalid]"), function (n) {
      n.removeAttribute("aria-invalid");
    });
    $("dating-title").textContent = "编辑有效期：《" + plain(doc.title) + "》";
    $("dt-kind").value = doc.kind || "规划";
    fillSupersedes($("dt-supersedes"), doc.region, doc.doc_id, doc.supersedes);
    $("dt-period-start").value = doc.period ? doc.period.start : "";
    $("dt-period-end").value = doc.period ? doc.period.end : "";
    $("dt-valid-from").value = doc.valid_from || "";
    $("dt-valid-to").value = doc.valid_to || "";
    $("dating-title").focus();
    $("dating-section").scrollIntoView({ block: "start" });
  }

  function closeDating() {
    var doc = state.dating;
    state.dating = null;
    $("dating-section").hidden = true;
    var row = doc && document.querySelector("#docs-body tr[data-doc='" + CSS.escape(doc.doc_id) + "']");
    var button = row && row.querySelector("button[data-action='dating']");
    (button || $("upload-new")).focus();
  }

  $("dating-cancel").addEventListener("click", closeDating);

  $("dating-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var doc = state.dating;
    if (!doc) return;
    var error = $("dating-error");
    error.textContent = "";
    var v = function (id) {
      return $(id).value.trim();
    };
    var problems = [];
    var period = { start: Number(v("dt-period-start")), end: Number(v("dt-period-end")) };
    if (!period.start || !period.end || period.end < period.start) problems.push(["dt-period-start", "规划期的起止年份不正确"]);
    if (!v("dt-valid-from") || !v("dt-valid-to")) problems.push(["dt-valid-from", "请填写有效期的起止日期"]);
    else if (v("dt-valid-to") < v("dt-valid-from")) problems.push(["dt-valid-to", "有效期止不能早于有效期起"]);
    Array.prototype.forEach.call(this.querySelectorAll("[aria-invalid]"), function (n) {
      n.removeAttribute("aria-invalid");
    });
    if (problems.length) {
      problems.forEach(function (p) {
        $(p[0]).setAttribute("aria-invalid", "true");
      });
      error.textContent = problems
        .map(function (p) {
          return p[1];
        })
        .join("；");
      $(problems[0][0]).focus();
      return;
    }
    var change = {};
    if (v("dt-kind") !== (doc.kind || "规划")) change.kind = v("dt-kind");
    if ((v("dt-supersedes") || null) !== (doc.supersedes || null)) change.supersedes = v("dt-supersedes") || null;
    if (!doc.period || period.start !== doc.period.start || period.end !== doc.period.end) change.period = period;
    if (v("dt-valid-from") !== doc.valid_from) change.valid_from = v("dt-valid-from");
    if (v("dt-valid-to") !== doc.valid_to) change.valid_to = v("dt-valid-to");
    if (!Object.keys(change).length) {
      error.textContent = "没有修改任何字段。";
      return;
    }
    var submit = $("dating-submit");
    submit.disabled = true;
    request("PATCH", "/v1/admin/documents/" + encodeURIComponent(doc.doc_id) + "/dating", change)
      .then(function (row) {
        announce("已保存《" + plain(doc.title) + "》的有效期：" + ((row && row.status_label) || "") + "。");
        return loadDocuments().then(closeDating);
      })
      .catch(function (e) {
        if (e.status === 401 || forbidden(e)) return fail()(e);
        error.textContent = "保存失败：" + e.message;
        $("dating-submit").focus();
      })
      .then(function () {
        submit.disabled = false;
      });
  });
  $("upload-cancel").addEventListener("click", function () {
    $("upload-section").hidden = true;
    state.replacing = null;
    $("upload-new").focus();
  });
  $("docs-refresh").addEventListener("click", loadDocuments);

  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var error = $("upload-error");
    error.textContent = "";
    Array.prototype.forEach.call(this.querySelectorAll("[aria-invalid]"), function (n) {
      n.removeAttribute("aria-invalid");
    });
    var file = $("up-file").files[0];
    var read = readMeta();
    if (!file) read.problems.unshift(["up-file", "请选择要上传的文件"]);
    if (read.problems.length) {
      read.problems.forEach(function (p) {
        $(p[0]).setAttribute("aria-invalid", "true");
      });
      error.textContent = read.problems
        .map(function (p) {
          return p[1];
        })
        .join("；");
      $(read.problems[0][0]).focus();
      return;
    }
    var form = new FormData();
    form.append("file", file, file.name);
    form.append("meta", JSON.stringify(read.meta));
    var path = state.replacing
      ? "/v1/admin/documents/" + encodeURIComponent(state.replacing.doc_id) + "/replace"
      : "/v1/admin/documents";
    var submit = $("upload-submit");
    submit.disabled = true;
    var label = submit.textContent;
    submit.textContent = "正在上传…";
    request("POST", path, form)
      .then(function (draft) {
        $("upload-section").hidden = true;
        showPreview(draft);
        announce("上传成功，请检查解析预览后发布。");
      })
      .catch(function (e) {
        if (e.status === 401 || forbidden(e)) return fail()(e);
        var reason = UPLOAD_STATUS[e.status];
        error.textContent = "上传失败" + (reason ? "（" + reason + "）" : "") + "：" + e.message;
        $("up-file").focus();
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = label;
      });
  });

  // draft preview
  function showPreview(draft) {
    state.draft = draft;
    var meta = draft.meta || {};
    var preview = draft.preview || {};
    $("preview-section").hidden = false;
    $("preview-error").textContent = "";
    $("preview-title").textContent = "解析预览：" + (meta.title || draft.id);
    $("preview-sub").textContent =
      (draft.replaces ? "替换文档 " + draft.replaces : "新文档 " + (meta.doc_id || "")) +
      " · " +
      regionName(meta.region) +
      " · 规划期 " +
      periodText(meta.period) +
      (meta.kind ? " · " + meta.kind : "") +
      (meta.supersedes ? " · 替代 " + meta.supersedes : "") +
      (draft.source_name ? " · 存储名 " + draft.source_name : "") +
      " · 尚未发布";

    var warnings = $("preview-warnings");
    warnings.textContent = "";
    (preview.warnings || []).forEach(function (w) {
      warnings.appendChild(el("li", { text: typeof w === "string" ? w : w.message || JSON.stringify(w) }));
    });
    warnings.hidden = !(preview.warnings || []).length;

    var sections = preview.sections || [];
    var list = $("preview-sections");
    list.textContent = "";
    var listed = {};
    sections.forEach(function (s) {
      var path = String(typeof s === "string" ? s : s.path || s.section || "");
      var parts = path.split("›").map(function (p) {
        return p.trim();
      });
      var depth = parts.length - 1;
      var parent = parts.slice(0, -1).join(" › ");
      // a sub-section whose chapter has no text of its own is shown with its chapter
      var label = depth && !listed[parent] ? parts.join(" › ") : parts[parts.length - 1];
      listed[parts.join(" › ")] = true;
      list.appendChild(
        el("li", { class: "depth-" + (label === parts[parts.length - 1] ? Math.min(depth, 3) : 0) }, [
          el("span", { text: label || "（标题前的正文）" }),
          s.chars !== undefined ? el("span", { class: "muted small", text: s.chars + " 字" }) : null,
        ])
      );
    });
    $("preview-section-count").textContent = String(sections.length);
    $("preview-section-count").setAttribute("aria-label", sections.length + " 个章节");

    var chunks = preview.first_chunks || preview.chunks || preview.samples || [];
    $("preview-chunk-count").textContent = String(
      preview.chunk_count !== undefined ? preview.chunk_count : chunks.length
    );
    var chunkList = $("preview-chunks");
    chunkList.textContent = "";
    chunks.forEach(function (c) {
      chunkList.appendChild(
        el("li", null, [
          el("p", { class: "chunk-section small strong", text: c.section || "" }),
          el("blockquote", { class: "result-quote", text: truncate(c.quote || c.text || "", 300) }),
        ])
      );
    });
    $("preview-publish").disabled = false;
    $("preview-discard").disabled = false;
    renderDrafts();
    $("preview-title").focus();
    $("preview-section").scrollIntoView({ block: "start" });
  }

  $("preview-publish").addEventListener("click", function () {
    var draft = state.draft;
    if (!draft) return;
    $("preview-publish").disabled = true;
    $("preview-discard").disabled = true;
    request("POST", "/v1/admin/drafts/" + encodeURIComponent(draft.id) + "/publish")
      .then(function (job) {
        $("preview-section").hidden = true;
        state.draft = null;
        trackJob(job, "发布《" + plain((draft.meta || {}).title) + "》");
      })
      .catch(function (e) {
        $("preview-publish").disabled = false;
        $("preview-discard").disabled = false;
        fail("preview-error", "发布失败：")(e);
      });
  });

  $("preview-discard").addEventListener("click", function () {
    var draft = state.draft;
    if (!draft) return;
    confirmAction("放弃草稿", "放弃《" + plain((draft.meta || {}).title) + "》的草稿？已发布的内容不受影响。", "放弃草稿").then(
      function (ok) {
        if (!ok) return;
        request("DELETE", "/v1/admin/drafts/" + encodeURIComponent(draft.id))
          .then(function () {
            state.draft = null;
            $("preview-section").hidden = true;
            announce("草稿已放弃。");
            loadDrafts();
            $("upload-new").focus();
          })
          .catch(fail("preview-error", "放弃草稿失败："));
      }
    );
  });

  function deleteDocument(doc) {
    var lines = [
      "删除《" + plain(doc.title) + "》（" + doc.doc_id + "，" + regionName(doc.region) + "，" + (doc.chunks || 0) + " 段）？",
      "删除会生成一个不含该文档的新版本，智能助手不再引用它；原文不会被抹去，可以在“版本”中回滚恢复。",
    ];
    confirmAction("删除文档", lines, "删除").then(function (ok) {
      if (!ok) return;
      $("docs-error").textContent = "";
      request("DELETE", "/v1/admin/documents/" + encodeURIComponent(doc.doc_id))
        .then(function (job) {
          trackJob(job, "删除《" + plain(doc.title) + "》");
        })
        .catch(fail("docs-error", "删除失败："));
    });
  }

  // ---------------------------------------------------------------- jobs
  function isJob(data) {
    return data && typeof data === "object" && data.id && data.status && JOB_STATUS[data.status] !== undefined;
  }

  function resumeJob() {
    request("GET", "/v1/admin/jobs")
      .then(function (data) {
        var running = asList(data, "jobs").filter(function (j) {
          return j.status === "queued" || j.status === "running";
        })[0];
        if (running && !state.job) trackJob(running, (JOB_KIND[running.kind] || "任务") + "（进行中）");
      })
      .catch(function () {});
  }

  function stopPolling() {
    if (state.jobTimer) clearTimeout(state.jobTimer);
    state.jobTimer = null;
  }

  function trackJob(job, label) {
    stopPolling();
    state.job = { id: job.id, label: label || JOB_KIND[job.kind] || "任务" };
    state.jobAnnounced = {};
    state.jobChunks = null;
    $("job").hidden = false;
    $("job").classList.remove("is-failed", "is-done");
    $("job-title").textContent = state.job.label;
    $("job-error").textContent = "";
    $("job-summary").textContent = "";
    $("job-dismiss").hidden = true;
    $("job-status").textContent = "已提交，后台正在重建索引；完成前居民端继续使用当前版本。";
    renderJob(job);
    if (job.status === "succeeded" || job.status === "failed") finishJob(job);
    else schedulePoll();
  }

  function schedulePoll() {
    state.jobTimer = setTimeout(pollJob, POLL_MS);
  }

  function pollJob() {
    if (!state.job || !state.user) return;
    var id = state.job.id;
    request("GET", "/v1/admin/jobs/" + encodeURIComponent(id))
      .then(function (job) {
        if (!state.job || state.job.id !== id) return;
        renderJob(job);
        if (job.status === "succeeded" || job.status === "failed") finishJob(job);
        else schedulePoll();
      })
      .catch(function (error) {
        if (error.status === 401 || forbidden(error)) return fail()(error);
        if (error.status === 404) {
          $("job-error").textContent = "任务已不存在：" + error.message;
          $("job-dismiss").hidden = false;
          return;
        }
        schedulePoll(); // a network blip: keep polling
      });
  }

  function percentOf(job) {
    if (typeof job.percent === "number") return Math.max(0, Math.min(100, Math.round(job.percent)));
    if (job.total) return Math.round((100 * (job.done || 0)) / job.total);
    return job.status === "succeeded" ? 100 : 0;
  }

  function etaText(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return "预计还需 " + seconds + " 秒";
    return "预计还需 " + Math.floor(seconds / 60) + " 分 " + (seconds % 60) + " 秒";
  }

  function renderJob(job) {
    var pct = percentOf(job);
    $("job-fill").style.width = pct + "%";
    var bar = $("job-bar");
    bar.setAttribute("aria-valuenow", String(pct));
    // embed/write count chunks; parse counts documents; switch is one step — keep the last chunk numbers then
    if ((job.stage === "embed" || job.stage === "write") && job.total) state.jobChunks = { done: job.done || 0, total: job.total };
    var c = state.jobChunks;
    var chunks = "";
    if (job.stage === "parse" && job.status === "running" && job.total) chunks = "已解析 " + (job.done || 0) + " / " + job.total + " 个文档";
    else if (c && job.status === "succeeded") chunks = "已处理 " + c.total + " / " + c.total + " 段";
    else if (c) chunks = (job.stage === "write" ? "已写入 " : "已处理 ") + c.done + " / " + c.total + " 段";
    bar.setAttribute("aria-valuetext", pct + "%" + (chunks ? "，" + chunks : ""));
    $("job-percent").textContent = pct + "%";
    $("job-chunks").textContent = chunks;
    $("job-eta").textContent = job.status === "running" || job.status === "queued" ? etaText(job.eta_seconds) : "";
    $("job-stage").textContent = job.stage && job.status === "running" ? "阶段：" + (STAGE[job.stage] || job.stage) : "";
    renderTakeover(job);
    var pill = $("job-state");
    pill.textContent = JOB_STATUS[job.status] || job.status;
    pill.className = "status-pill job-" + job.status;
    // screen readers hear stage changes and every quarter, not every poll
    var key = job.status === "running" ? (job.stage || "") + ":" + Math.floor(pct / 25) : job.status;
    if (!state.jobAnnounced[key] && job.status !== "succeeded" && job.status !== "failed") {
      state.jobAnnounced[key] = true;
      $("job-status").textContent =
        (JOB_STATUS[job.status] || job.status) +
        (job.stage ? "：" + (STAGE[job.stage] || job.stage) : "") +
        "，" +
        pct +
        "%" +
        (chunks ? "，" + chunks : "");
    }
  }

  // Scale-out (issue 16): when the API replica running a job stops, another one takes the job over and
  // finishes it; say so, with which replica and when, and while it waits for one.
  function renderTakeover(job) {
    var box = $("job-takeover");
    var takeovers = Array.isArray(job.takeovers) ? job.takeovers : [];
    var lines = takeovers.map(function (t) {
      var when = new Date(t.at * 1000).toLocaleTimeString("zh-CN", { hour12: false });
      return (
        "接管：" + when + " 由服务副本 " + t.by_runner + " 接管（原副本 " + t.from_runner + " 已停止" +
        (t.stage ? "，停在" + (STAGE[t.stage] || t.stage) + " " + Math.round(t.percent || 0) + "%" : "") +
        "），已从头重新执行。"
      );
    });
    if (job.awaiting_takeover && job.status === "running") {
      lines.push("执行该任务的服务副本已停止，正在等待其他副本接管……");
    }
    box.textContent = lines.join(" ");
    box.hidden = lines.length === 0;
  }

  function finishJob(job) {
    stopPolling();
    $("job-dismiss").hidden = false;
    var summary = $("job-summary");
    summary.textContent = "";
    if (job.status === "succeeded") {
      $("job").classList.add("is-done");
      $("job-status").textContent =
        "已完成：新版本" + (job.version ? " " + shortVersion(job.version) : "") + " 已生效，智能助手现在按它回答。";
      (Array.isArray(job.summary) ? job.summary : job.summary ? [job.summary] : []).forEach(function (line) {
        summary.appendChild(el("li", { text: String(line) }));
      });
    } else {
      $("job").classList.add("is-failed");
      $("job-status").textContent = "失败：当前版本保持不变，居民端不受影响。";
      $("job-error").textContent = "错误：" + (job.error || "未知错误");
    }
    state.job = null;
    loadDrafts();
    if (state.view === "documents") loadDocuments();
    if (state.view === "versions") loadVersions();
  }

  $("job-dismiss").addEventListener("click", function () {
    $("job").hidden = true;
    var heading = $(state.view + "-title");
    if (heading) heading.focus();
  });

  // ---------------------------------------------------------------- versions
  function loadVersions() {
    $("versions-error").textContent = "";
    return request("GET", "/v1/admin/versions")
      .then(function (data) {
        state.versions = asList(data, "versions");
        renderVersions();
      })
      .catch(fail("versions-error", "版本列表载入失败："));
  }

  function renderVersions() {
    var body = $("versions-body");
    body.textContent = "";
    state.versions.forEach(function (v) {
      var changes = Array.isArray(v.changes) ? v.changes : v.changes ? [v.changes] : [];
      if (!changes.length && v.note) changes = [v.note];
      body.appendChild(
        el("tr", { "data-version": v.version, class: v.current ? "is-current" : null }, [
          el("th", { scope: "row" }, [
            el("span", { class: "mono small", text: v.version }),
            v.current ? el("span", { class: "tag tag-ok current-tag", text: "当前版本" }) : null,
          ]),
          el("td", { text: when(v.created_at || v.version) }),
          el("td", { text: v.author || "—" }),
          el(
            "td",
            null,
            changes.length
              ? [
                  el(
                    "ul",
                    { class: "changes" },
                    changes.map(function (c) {
                      return el("li", { text: String(c) });
                    })
                  ),
                ]
              : [el("span", { class: "muted", text: "—" })]
          ),
          el("td", { class: "num", text: v.chunk_count === undefined ? "—" : String(v.chunk_count) }),
          el("td", { class: "actions" }, [
            v.current
              ? el("span", { class: "muted small", text: "正在使用" })
              : el("button", {
                  type: "button",
                  class: "btn btn-small",
                  text: "回滚",
                  "aria-label": "回滚 到 " + shortVersion(v.version) + " 的版本",
                  onclick: function () {
                    activateVersion(v);
                  },
                }),
          ]),
        ])
      );
    });
  }

  function activateVersion(v) {
    var docs = (v.documents || [])
      .map(function (d) {
        return typeof d === "string" ? d : d.title || d.doc_id || d.source_name;
      })
      .filter(Boolean);
    var lines = ["切换到 " + shortVersion(v.version) + " 的版本（" + (v.author || "system") + "）？智能助手会立即按该版本回答。"];
    if (docs.length) lines.push("该版本包含：" + docs.join("、"));
    lines.push("之后仍可以再切换回当前版本。");
    confirmAction("回滚版本", lines, "回滚").then(function (ok) {
      if (!ok) return;
      $("versions-error").textContent = "";
      request("POST", "/v1/admin/versions/" + encodeURIComponent(v.version) + "/activate")
        .then(function (result) {
          if (isJob(result)) {
            trackJob(result, "回滚到 " + shortVersion(v.version));
            return;
          }
          announce("已回滚到版本 " + shortVersion(v.version) + "。");
          $("versions-error").textContent = "";
          return loadVersions();
        })
        .catch(fail("versions-error", "回滚失败："));
    });
  }

  $("versions-refresh").addEventListener("click", loadVersions);

  // ---------------------------------------------------------------- catalogue
  function loadCatalogue() {
    loadRevisions();
    if (state.services.length) return;
    request("GET", "/v1/admin/catalogue/services")
      .then(function (data) {
        state.services = asList(data, "services");
        var select = $("cat-service");
        select.textContent = "";
        select.appendChild(el("option", { value: "", text: "请选择…" }));
        var groups = {};
        state.services.forEach(function (s) {
          var key = regionName(s.region) + (s.category ? " · " + s.category : "");
          if (!groups[key]) {
            groups[key] = el("optgroup", { label: key });
            select.appendChild(groups[key]);
          }
          groups[key].appendChild(el("option", { value: s.id, text: (s.name || s.id) + "（" + s.id + "）" }));
        });
      })
      .catch(fail("cat-error", "服务目录载入失败："));
  }

  function entryOf(data) {
    if (data && data.entry && typeof data.entry === "object") return data.entry;
    return data;
  }

  function loadService(id) {
    $("cat-error").textContent = "";
    $("cat-result").hidden = true;
    if (!id) {
      state.cat = { id: null, original: "", validated: null };
      $("cat-editor").value = "";
      $("cat-publish").disabled = true;
      return;
    }
    request("GET", "/v1/admin/catalogue/services/" + encodeURIComponent(id))
      .then(function (data) {
        var text = JSON.stringify(entryOf(data), null, 2);
        state.cat = { id: id, original: text, validated: null, revision: (data && data.revision) || null };
        $("cat-editor").value = text;
        $("cat-publish").disabled = true;
      })
      .catch(fail("cat-error", "条目载入失败："));
  }

  $("cat-service").addEventListener("change", function () {
    loadService(this.value);
  });

  $("cat-editor").addEventListener("input", function () {
    if (state.cat.validated !== null) {
      state.cat.validated = null;
      $("cat-verdict").textContent = "内容已修改，请重新校验。";
      $("cat-verdict").className = "verdict";
    }
    $("cat-publish").disabled = true;
  });

  $("cat-reset").addEventListener("click", function () {
    $("cat-editor").value = state.cat.original;
    state.cat.validated = null;
    $("cat-publish").disabled = true;
    $("cat-result").hidden = true;
    $("cat-error").textContent = "";
  });

  function readEntry() {
    var text = $("cat-editor").value;
    try {
      return { entry: JSON.parse(text), text: text };
    } catch (e) {
      var m = /position (\d+)/.exec(e.message);
      var where = m ? "（第 " + (text.slice(0, Number(m[1])).split("\n").length) + " 行附近）" : "";
      $("cat-error").textContent = "JSON 格式错误" + where + "：" + e.message;
      $("cat-editor").focus();
      return null;
    }
  }

  $("cat-validate").addEventListener("click", function () {
    if (!state.cat.id) {
      $("cat-error").textContent = "请先选择一项服务。";
      $("cat-service").focus();
      return;
    }
    $("cat-error").textContent = "";
    var read = readEntry();
    if (!read) return;
    var button = this;
    button.disabled = true;
    request("POST", "/v1/admin/catalogue/services/" + encodeURIComponent(state.cat.id) + "/validate", read.entry)
      .then(function (result) {
        var ok = renderValidation(result);
        state.cat.validated = ok ? read.text : null;
        $("cat-publish").disabled = !ok;
      })
      .catch(function (e) {
        if (e.status === 422 && e.data && (e.data.problems || e.data.errors)) {
          renderValidation({ valid: false, problems: e.data.problems || e.data.errors });
        } else fail("cat-error", "校验失败：")(e);
      })
      .then(function () {
        button.disabled = false;
      });
  });

  $("cat-publish").addEventListener("click", function () {
    var read = readEntry();
    if (!read) return;
    if (state.cat.validated !== read.text) {
      $("cat-error").textContent = "内容已修改，请重新校验后再发布。";
      this.disabled = true;
      return;
    }
    var button = this;
    button.disabled = true;
    var query = [];
    var note = $("cat-note").value.trim();
    if (note) query.push("note=" + encodeURIComponent(note));
    if (state.cat.revision) query.push("base_revision=" + encodeURIComponent(state.cat.revision));
    var path = "/v1/admin/catalogue/services/" + encodeURIComponent(state.cat.id) + (query.length ? "?" + query.join("&") : "");
    request("PUT", path, read.entry)
      .then(function (result) {
        var revision = result && result.revision && (result.revision.id || result.revision);
        var text = JSON.stringify((result && result.entry) || read.entry, null, 2);
        state.cat.original = text;
        state.cat.revision = typeof revision === "string" ? revision : state.cat.revision;
        state.cat.validated = null;
        $("cat-editor").value = text;
        $("cat-note").value = "";
        $("cat-verdict").textContent =
          "已发布" + (typeof revision === "string" ? "（修订 " + revision + "）" : "") + "，智能助手和资格核对已使用新内容。";
        $("cat-verdict").className = "verdict verdict-ok";
        announce("服务目录已发布。");
        loadRevisions();
      })
      .catch(function (e) {
        if (e.status === 409 && e.data && (e.data.problems || e.data.broken_cases)) {
          renderValidation({ problems: e.data.problems || [], broken_cases: e.data.broken_cases || [] });
          $("cat-error").textContent = "未发布：有校验问题或测试用例不通过。";
        } else fail("cat-error", "发布失败：")(e);
      });
  });

  function problemText(p) {
    if (typeof p === "string") return p;
    var where = p.loc ? (Array.isArray(p.loc) ? p.loc.join(".") : p.loc) : p.field || p.path || "";
    return (where ? where + "：" : "") + (p.message || p.msg || p.detail || JSON.stringify(p));
  }

  var STATUS_LABEL = { eligible: "符合", not_eligible: "不符合", needs_info: "需补充信息" };

  function statusText(status) {
    return status === null || status === undefined ? "（服务不存在）" : STATUS_LABEL[status] || String(status);
  }

  function caseExplain(c) {
    var parts = (c.checks || [])
      .filter(function (k) {
        return !k.passed;
      })
      .map(function (k) {
        var text = k.service_id + "：期望" + statusText(k.expected) + "，实际" + statusText(k.actual);
        if (k.expected_missing && (k.expected_missing.join(",") !== (k.actual_missing || []).join(",")))
          text += "（期望追问 " + k.expected_missing.join("、") + "，实际 " + ((k.actual_missing || []).join("、") || "无") + "）";
        return text;
      });
    return parts.join("；");
  }

  /** Show problems and case results (a CheckReport, or a 409's problems + broken_cases); true when publishable. */
  function renderValidation(report) {
    report = report || {};
    var problems = report.problems || [];
    var cases = report.cases || [];
    var broken = report.broken_cases || [];
    var brokenNames = {};
    broken.forEach(function (c) {
      brokenNames[c.name] = true;
    });
    var already = {};
    (report.already_failing || []).forEach(function (name) {
      already[name] = true;
    });
    if (!cases.length) cases = broken;
    var ok = !problems.length && !broken.length;
    $("cat-result").hidden = false;
    var verdict = $("cat-verdict");
    verdict.className = "verdict " + (ok ? "verdict-ok" : "verdict-bad");
    var passed = cases.filter(function (c) {
      return c.passed;
    }).length;
    verdict.textContent = ok
      ? "校验通过" + (cases.length ? "：" + passed + " / " + cases.length + " 个测试用例通过" : "") + "，可以发布。"
      : "校验未通过：" +
        [problems.length ? problems.length + " 个问题" : "", broken.length ? "这次修改导致 " + broken.length + " 个测试用例不通过" : ""]
          .filter(Boolean)
          .join("，") +
        "。不能发布。";
    var list = $("cat-problems");
    list.textContent = "";
    problems.forEach(function (p) {
      list.appendChild(el("li", { text: typeof p === "string" ? p : JSON.stringify(p) }));
    });
    list.hidden = !problems.length;
    var rank = function (c) {
      return brokenNames[c.name] ? 0 : !c.passed ? 1 : 2;
    };
    var body = $("cat-cases");
    body.textContent = "";
    cases
      .slice()
      .sort(function (a, b) {
        return rank(a) - rank(b);
      })
      .forEach(function (c) {
        var isBroken = !!brokenNames[c.name];
        var tag = c.passed
          ? el("span", { class: "tag tag-ok", text: "通过" })
          : isBroken
            ? el("span", { class: "tag tag-fail", text: "被本次修改破坏" })
            : el("span", { class: "tag tag-ask", text: already[c.name] ? "原本就不通过" : "不通过" });
        body.appendChild(
          el("tr", { class: c.passed ? "case-pass" : isBroken ? "case-fail" : "case-old" }, [
            el("td", null, [tag]),
            el("td", null, [el("span", { text: c.name }), c.file ? el("span", { class: "muted small block", text: c.file }) : null]),
            el("td", { text: c.passed ? "" : caseExplain(c) }),
          ])
        );
      });
    $("cat-cases-wrap").hidden = !cases.length;
    $("cat-result-title").focus();
    return ok;
  }

  function loadRevisions() {
    request("GET", "/v1/admin/catalogue/revisions")
      .then(function (data) {
        var revisions = asList(data, "revisions");
        var list = $("revisions");
        list.textContent = "";
        revisions.forEach(function (r) {
          list.appendChild(
            el("li", null, [
              el("p", null, [
                el("span", { class: "strong mono", text: r.id }),
                r.current ? el("span", { class: "tag tag-ok current-tag", text: "当前" }) : null,
              ]),
              el("p", { class: "muted small", text: (r.author || "—") + " · " + when(r.created_at) }),
              r.summary ? el("p", { class: "small", text: r.summary }) : null,
              r.note ? el("p", { class: "small muted", text: "说明：" + r.note }) : null,
            ])
          );
        });
        $("revisions-empty").hidden = revisions.length > 0;
      })
      .catch(function (error) {
        if (forbidden(error)) fail()(error);
      });
  }

  // ---------------------------------------------------------------- audit log
  function loadAudit() {
    var params = [];
    ["actor", "action", "target"].forEach(function (k) {
      var v = $("audit-" + k).value.trim();
      if (v) params.push(k + "=" + encodeURIComponent(v));
    });
    var since = $("audit-since").value;
    var until = $("audit-until").value;
    if (since) params.push("since=" + encodeURIComponent(since + "T00:00:00"));
    if (until) params.push("until=" + encodeURIComponent(until + "T23:59:59"));
    params.push("limit=200");
    $("audit-error").textContent = "";
    $("audit-status").textContent = "正在载入…";
    return request("GET", "/v1/admin/audit?" + params.join("&"))
      .then(function (data) {
        var entries = asList(data, "entries");
        renderAudit(entries);
        $("audit-status").textContent = entries.length ? "共 " + entries.length + " 条记录（最新在前）" : "没有符合条件的记录。";
      })
      .catch(function (e) {
        $("audit-status").textContent = "";
        fail("audit-error", "审计日志载入失败：")(e);
      });
  }

  function changeBlock(label, value) {
    if (value === null || value === undefined || value === "") return null;
    var text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return el("div", { class: "change" }, [el("p", { class: "small strong", text: label }), el("pre", { text: text })]);
  }

  function renderAudit(entries) {
    var body = $("audit-body");
    body.textContent = "";
    entries.forEach(function (e) {
      var hasChange = (e.before !== null && e.before !== undefined) || (e.after !== null && e.after !== undefined);
      body.appendChild(
        el("tr", { "data-action": e.action }, [
          el("td", { class: "nowrap", text: when(e.ts || e.at || e.created_at || e.time) }),
          el("td", null, [
            el("span", { class: "strong", text: e.actor || "—" }),
            e.role ? el("span", { class: "muted small", text: " " + e.role }) : null,
          ]),
          el("td", null, [
            el("span", { text: ACTION_LABEL[e.action] || e.action }),
            el("span", { class: "mono muted small block", text: e.action }),
          ]),
          el("td", { class: "wrap", text: e.target || "—" }),
          el("td", { class: "wrap" }, [
            e.detail ? el("p", { class: "audit-detail", text: e.detail }) : null,
            hasChange
              ? el("details", { class: "audit-change" }, [
                  el("summary", { text: "改动前后" }),
                  changeBlock("改动前", e.before),
                  changeBlock("改动后", e.after),
                ])
              : null,
          ]),
        ])
      );
    });
  }

  $("audit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if ($("audit-since").value && $("audit-until").value && $("audit-until").value < $("audit-since").value) {
      $("audit-error").textContent = "结束日期不能早于开始日期。";
      $("audit-until").focus();
      return;
    }
    loadAudit();
  });
  $("audit-form").addEventListener("reset", function () {
    setTimeout(loadAudit, 0);
  });

  // ---------------------------------------------------------------- insights
  var REASON_LABEL = {
    low_confidence: "规划里找不到依据",
    amount_not_stated: "规划未写明金额",
    other_region: "不属于广西、宁夏",
    injection: "指令注入",
    fabrication: "要求编造政策",
    personal_data: "涉及个人信息",
    transaction: "要求代办",
    realtime: "实时信息",
    personal_record: "查个人办件/账户",
    personal_advice: "个人法律/医疗建议",
    political: "政治话题",
    fraud: "骗保/造假",
    unstated_amount: "未写明的金额",
    indicator_not_in_text: "原文缺少该指标",
  };

  function loadInsights() {
    $("insights-error").textContent = "";
    return request("GET", "/v1/admin/insights")
      .then(renderInsights)
      .catch(fail("insights-error", "洞察载入失败："));
  }

  function renderInsights(data) {
    data = data || {};
    var box = $("insights");
    box.textContent = "";
    var groups = (data.groups || []).slice().sort(function (a, b) {
      return (b.count || 0) - (a.count || 0);
    });
    box.appendChild(
      el("p", { class: "insight-totals" }, [
        el("span", { class: "tag tag-fail", text: "拒答 / 答不上来 " + (data.refused_total || 0) + " 次" }),
        el("span", { class: "tag tag-ask", text: "👎 " + (data.downvoted_total || 0) + " 次" }),
        el("span", { class: "muted small", text: "共 " + groups.length + " 组相似问题，次数多的在前" }),
      ])
    );
    if (!groups.length) {
      box.appendChild(el("p", { class: "empty", text: "暂无拒答的问题或 👎 反馈。" }));
      return;
    }
    var list = el("ol", { class: "insight-groups", "aria-label": "问题分组" });
    groups.forEach(function (g) {
      var kinds = g.kinds || {};
      var reasons = Object.keys(g.reasons || {}).map(function (r) {
        return (REASON_LABEL[r] || r) + " " + g.reasons[r];
      });
      var examples = (g.examples || []).filter(function (x) {
        return x !== g.label;
      });
      list.appendChild(
        el("li", { class: "card insight-group" }, [
          el("p", { class: "insight-head" }, [
            el("span", { class: "strong insight-label", text: g.label }),
            el("span", { class: "tag tag-count", text: g.count + " 次" }),
          ]),
          el("p", { class: "insight-kinds" }, [
            kinds.refused ? el("span", { class: "tag tag-fail", text: "拒答 " + kinds.refused }) : null,
            kinds.downvoted ? el("span", { class: "tag tag-ask", text: "👎 " + kinds.downvoted }) : null,
            reasons.length ? el("span", { class: "muted small", text: "原因：" + reasons.join("、") }) : null,
            g.last_seen ? el("span", { class: "muted small", text: "最近 " + when(g.last_seen) }) : null,
          ]),
          examples.length
            ? el("div", null, [
                el("p", { class: "small strong examples-title", text: "其他问法" }),
                el(
                  "ul",
                  { class: "examples" },
                  examples.slice(0, 5).map(function (x) {
                    return el("li", { text: truncate(x, 120) });
                  })
                ),
              ])
            : null,
          g.comments && g.comments.length
            ? el("div", null, [
                el("p", { class: "small strong examples-title", text: "居民留言" }),
                el(
                  "ul",
                  { class: "examples" },
                  g.comments.slice(0, 3).map(function (x) {
                    return el("li", { text: truncate(x, 160) });
                  })
                ),
              ])
            : null,
        ])
      );
    });
    box.appendChild(list);
  }

  $("insights-refresh").addEventListener("click", loadInsights);

  // ---------------------------------------------------------------- start
  request("GET", "/v1/auth/me")
    .then(function (me) {
      api.csrf = staff.cookie(staff.CSRF_COOKIE);
      if (me.role === "admin") showApp(me);
      else showLogin("当前登录的 " + me.username + " 是坐席账号，没有管理员权限（403）。请使用管理员账号登录。");
    })
    .catch(function () {
      showLogin();
    });
})();
