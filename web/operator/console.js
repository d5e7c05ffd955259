/*
 * 民生服务助手 — hotline operator console (vanilla JS, no build step).
 *
 * Sign-in: POST /v1/auth/login → HttpOnly session cookie + CSRF token (echoed as X-CSRF-Token on writes).
 * Queue:   GET /v1/operator/tickets?status=open, live via SSE GET /v1/operator/events.
 * Ticket:  GET /v1/operator/tickets/{id}, POST …/reply {"text"}, POST …/close.
 *          Residents' personal data arrives masked (entry.masked: [{ref, kind, masked}]); “显示” beside a mask
 *          calls POST …/reveal {"ref"} (audited) and shows that one value in place.
 * Tools:   POST /v1/search, POST /v1/entitlements/check, GET /v1/profile/fields.
 * Shared helpers (el, request with the CSRF header, …) come from /static/shared/staff.js.
 */
(function () {
  "use strict";

  var staff = window.MinshengStaff; // web/shared/staff.js
  var $ = staff.$;
  var el = staff.el;
  var cookie = staff.cookie;
  var announce = staff.announce;
  var truncate = staff.truncate;

  var REGION = { guangxi: "广西", ningxia: "宁夏", other: "其他省份" };
  var REGION_SHORT = { guangxi: "广西规划", ningxia: "宁夏规划" };
  // A search hit's document on today's date (knowledge/dating.py), and how a bot reply was produced.
  var DOC_STATUS = { in_force: "现行有效", ended: "规划期已结束", superseded: "已被新文件替代", not_yet: "尚未施行" };
  var LEAD_KINDS = { template_lead: true, llm_lead: true };
  var PRODUCED = {
    template_lead: "服务要点+原文",
    llm_lead: "模型导语（已核对）+原文",
    extractive: "原文摘录",
    listing: "清单（按结构计数）",
    indicator_row: "指标表",
    indicator_text: "原文数字",
    clarify_region: "追问地区",
    declined: "拒答",
  };
  var OPTIONS = {
    hukou_region: REGION,
    spouse_hukou_region: REGION,
    residence_region: REGION,
    urban_rural: { urban: "城镇", rural: "农村" },
    sex: { male: "男", female: "女" },
    marital_status: { single: "未婚", married: "已婚", divorced: "离异", widowed: "丧偶" },
    school_stage: {
      none: "没有在读",
      preschool: "幼儿园",
      primary: "小学",
      junior: "初中",
      senior: "普通高中",
      vocational: "中职",
      university: "大学",
    },
    income_status: { none: "都不是", low_income: "低收入家庭", dibao: "低保户", tekun: "特困供养人员" },
    disability_level: { 1: "一级", 2: "二级", 3: "三级", 4: "四级" },
    employment_status: {
      employed: "在职",
      unemployed: "失业",
      self_employed: "个体/灵活就业",
      retired: "退休",
      student: "学生",
      farmer: "务农",
    },
    medical_insurance: { employee: "职工医保", resident: "城乡居民医保", none: "没有参保" },
    housing_status: { own: "有自有住房", renting: "租房", housing_difficulty: "住房困难" },
  };
  // shown first in the entitlement form; the rest sit under “更多情况”
  var COMMON_FIELDS = [
    "hukou_region",
    "residence_region",
    "age",
    "sex",
    "marital_status",
    "planning_pregnancy",
    "pregnant",
    "children_ages",
    "school_stage",
    "income_status",
    "disability",
    "employment_status",
    "medical_insurance",
    "housing_status",
  ];
  var ROLE_LABEL = { user: "居民", bot: "智能助手", operator: "人工客服", system: "系统" };
  var PAYLOAD_LABEL = { "/check_eligibility": "我能享受哪些服务", "/human_handoff": "转人工" };

  var state = {
    user: null,
    csrf: null,
    fields: [],
    labels: {},
    types: {},
    tickets: {},
    current: null, // {ticket, transcript}
    seen: {},
    unread: {},
    fresh: {},
    events: null,
    reconnecting: false,
  };

  // ---------------------------------------------------------------- helpers
  function time(ts) {
    var d = new Date((ts || Date.now() / 1000) * 1000);
    var hm = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    return d.toDateString() === new Date().toDateString() ? hm : d.getMonth() + 1 + "月" + d.getDate() + "日 " + hm;
  }

  function waited(ts) {
    var minutes = Math.max(0, Math.floor((Date.now() / 1000 - ts) / 60));
    if (minutes < 1) return "刚刚";
    if (minutes < 60) return "已等待 " + minutes + " 分钟";
    return "已等待 " + Math.floor(minutes / 60) + " 小时 " + (minutes % 60) + " 分钟";
  }

  function shortSection(section) {
    var parts = String(section || "").split("›").map(function (s) {
      return s.trim();
    });
    var structural = parts.filter(function (p) {
      return /^第[一二三四五六七八九十百零〇\d]+[章节篇部分]$/.test(p) || /^专栏\s*\d+/.test(p);
    });
    return (structural.length ? structural : parts.slice(0, 2)).join(" ");
  }

  function citeLabel(c) {
    return (REGION_SHORT[c.region] || (c.title || "").replace(/[《》]/g, "")) + " " + shortSection(c.section);
  }

  function formatValue(field, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "boolean") return value ? "是" : "否";
    if (Array.isArray(value)) {
      if (!value.length) return field === "children_ages" ? "没有孩子" : "无";
      return value.join("、") + (field === "children_ages" ? " 岁" : "");
    }
    var options = OPTIONS[field];
    if (options && options[value] !== undefined) return options[value];
    if (field === "age") return value + " 岁";
    return String(value);
  }

  // ---------------------------------------------------------------- HTTP
  var api = staff.client({ onUnauthorized: sessionExpired });
  function request(method, path, body) {
    api.csrf = state.csrf;
    return api.request(method, path, body);
  }

  // ---------------------------------------------------------------- sign in / out
  function showLogin(message) {
    closeEvents();
    state.user = null;
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("conn").hidden = true;
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
    document.title = "坐席登录 · 民生服务助手";
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
    $("who-name").textContent = user.username + (user.role === "admin" ? "（管理员）" : "（坐席）");
    loadFields().then(buildEntitlementForm);
    loadQueue();
    openEvents();
    $("queue-title").focus();
  }

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
        state.csrf = data.csrf_token;
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
        state.csrf = null;
        state.current = null;
        showLogin("已退出登录。");
      });
  });

  // ---------------------------------------------------------------- live events
  function setConn(text, bad) {
    var node = $("conn");
    node.hidden = !text;
    node.textContent = text || "";
    node.classList.toggle("conn-bad", !!bad);
  }

  function openEvents() {
    if (state.events || !window.EventSource) return;
    var source = new EventSource("/v1/operator/events", { withCredentials: true });
    state.events = source;
    source.addEventListener("ready", function () {
      setConn("实时连接正常");
      if (state.reconnecting) {
        state.reconnecting = false;
        loadQueue();
        if (state.current) openTicket(state.current.ticket.id, true);
      }
    });
    source.onerror = function () {
      if (!state.user) return;
      state.reconnecting = true;
      setConn("实时连接中断，正在重连…", true);
      request("GET", "/v1/auth/me").catch(function () {}); // a 401 here shows the sign-in form
    };
    ["ticket_opened", "ticket_closed", "resident_message", "operator_message"].forEach(function (name) {
      source.addEventListener(name, function (event) {
        var payload;
        try {
          payload = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        handleEvent(name, payload.data || payload);
      });
    });
  }

  function closeEvents() {
    if (state.events) state.events.close();
    state.events = null;
  }

  function handleEvent(name, data) {
    var current = state.current && state.current.ticket;
    if (name === "ticket_opened") {
      if (!state.tickets[data.id]) {
        state.fresh[data.id] = true;
        announce("新的转人工请求：" + (data.reason ? truncate(data.reason, 40) : "居民 " + data.session_id));
      }
      state.tickets[data.id] = data;
      renderQueue();
    } else if (name === "ticket_closed") {
      delete state.tickets[data.id];
      renderQueue();
      if (current && current.id === data.id && current.status !== "closed") {
        current.status = "closed";
        renderTicketStatus();
        announce("该会话已结束。");
      }
    } else if (name === "resident_message") {
      if (current && current.session_id === data.session_id) {
        addTranscriptEntry(data.entry || { role: "user", text: data.text, ts: Date.now() / 1000 }, true);
        announce("居民：" + data.text);
      } else {
        var ticket = ticketForSession(data.session_id);
        if (ticket) {
          state.unread[ticket.id] = (state.unread[ticket.id] || 0) + 1;
          renderQueue();
        }
      }
    } else if (name === "operator_message") {
      if (current && current.id === data.ticket_id && data.entry) addTranscriptEntry(data.entry, true);
    }
  }

  function ticketForSession(sessionId) {
    return Object.keys(state.tickets)
      .map(function (id) {
        return state.tickets[id];
      })
      .filter(function (t) {
        return t.session_id === sessionId;
      })[0];
  }

  // ---------------------------------------------------------------- queue
  function loadQueue() {
    return request("GET", "/v1/operator/tickets?status=open")
      .then(function (tickets) {
        state.tickets = {};
        tickets.forEach(function (t) {
          state.tickets[t.id] = t;
        });
        renderQueue();
      })
      .catch(function (error) {
        if (error.status !== 401) setConn("队列载入失败：" + error.message, true);
      });
  }

  function renderQueue() {
    var queue = $("queue");
    var tickets = Object.keys(state.tickets)
      .map(function (id) {
        return state.tickets[id];
      })
      .sort(function (a, b) {
        return a.created_at - b.created_at;
      });
    queue.textContent = "";
    tickets.forEach(function (t) {
      var current = state.current && state.current.ticket.id === t.id;
      var region = t.profile && (t.profile.residence_region || t.profile.hukou_region || t.profile.region);
      var button = el(
        "button",
        {
          type: "button",
          class: "queue-item" + (current ? " is-current" : "") + (state.fresh[t.id] ? " is-new" : ""),
          "aria-current": current ? "true" : null,
          "data-ticket": t.id,
          "data-session": t.session_id,
          onclick: function () {
            openTicket(t.id);
          },
        },
        [
          el("span", { class: "queue-line" }, [
            el("span", { class: "queue-id", text: "会话 " + t.id.slice(0, 6) }),
            isWeChat(t.session_id) ? el("span", { class: "tag tag-channel", text: "微信" }) : null,
            state.fresh[t.id] ? el("span", { class: "tag tag-new", text: "新" }) : null,
            state.unread[t.id] ? el("span", { class: "tag tag-unread", text: state.unread[t.id] + " 条新消息" }) : null,
            el("span", { class: "queue-wait", "data-ts": String(t.created_at), text: waited(t.created_at) }),
          ]),
          el("span", { class: "queue-reason", text: t.reason ? truncate(t.reason, 60) : "居民请求人工服务" }),
          region ? el("span", { class: "queue-meta", text: "地区：" + formatValue("hukou_region", region) }) : null,
        ]
      );
      queue.appendChild(el("li", null, [button]));
    });
    $("queue-count").textContent = String(tickets.length);
    $("queue-count").setAttribute("aria-label", tickets.length + " 位居民等待");
    $("queue-empty").hidden = tickets.length > 0;
    document.title = (tickets.length ? "(" + tickets.length + ") " : "") + "人工坐席台 · 民生服务助手";
  }

  // WeChat 公众号 residents (api/wechat/): their session ids are wx-<account>-<hash>; replies go out as 客服消息
  function isWeChat(sessionId) {
    return String(sessionId || "").indexOf("wx-") === 0;
  }

  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".queue-wait"), function (node) {
      node.textContent = waited(parseFloat(node.getAttribute("data-ts")));
    });
  }, 30000);

  $("queue-refresh").addEventListener("click", loadQueue);

  // ---------------------------------------------------------------- one ticket
  function openTicket(id, quiet) {
    return request("GET", "/v1/operator/tickets/" + encodeURIComponent(id))
      .then(function (view) {
        state.current = view;
        state.seen = {};
        delete state.fresh[id];
        delete state.unread[id];
        renderTicket(view);
        renderQueue();
        if (!quiet) $("ticket-title").focus();
      })
      .catch(function (error) {
        if (error.status === 404) {
          delete state.tickets[id];
          renderQueue();
          announce("该会话已不存在。");
        } else if (error.status !== 401) {
          announce("会话载入失败：" + error.message);
        }
      });
  }

  function renderTicket(view) {
    var t = view.ticket;
    $("ticket-placeholder").hidden = true;
    $("ticket-view").hidden = false;
    $("ticket-title").textContent = "会话 " + t.id.slice(0, 6);
    $("ticket-sub").textContent =
      (isWeChat(t.session_id) ? "微信公众号 · " : "") +
      "居民会话 " + t.session_id + " · " + time(t.created_at) + " 转人工" + (t.reason ? " · 原因：" + truncate(t.reason, 80) : "");
    $("transcript").textContent = "";
    view.transcript.forEach(function (entry, i) {
      // "not delivered" only matters when nothing answered it afterwards
      var answered = view.transcript.slice(i + 1).some(function (e) {
        return e.role !== "user";
      });
      addTranscriptEntry(answered ? Object.assign({}, entry, { delivered: true }) : entry, false);
    });
    renderProfile(t.profile || {});
    renderTicketStatus();
    $("reply-error").textContent = "";
  }

  function renderTicketStatus() {
    var t = state.current.ticket;
    var open = t.status === "open";
    var pill = $("ticket-status");
    pill.textContent = open ? "人工服务中" : "已结束 · 智能助手已恢复";
    pill.className = "status-pill " + (open ? "status-open" : "status-closed");
    $("reply-text").disabled = !open;
    $("reply-send").disabled = !open;
    $("close-ticket").disabled = !open;
  }

  function addTranscriptEntry(entry, scroll) {
    var message = entry.message || {};
    if (message.id) {
      if (state.seen[message.id]) return;
      state.seen[message.id] = true;
    }
    var list = $("transcript");
    if (entry.role === "system") {
      list.appendChild(
        el("li", { class: "t-system" }, [
          el("span", { text: (message.kind === "handoff" ? "已转人工" : entry.text) + " · " + time(entry.ts) }),
        ])
      );
    } else {
      var text = entry.role === "user" && PAYLOAD_LABEL[entry.text] ? "【点选】" + PAYLOAD_LABEL[entry.text] : entry.text;
      var cut = text.indexOf("\n");
      var leads = entry.role === "bot" && LEAD_KINDS[message.produced_by] && cut > 0 && !(entry.masked && entry.masked.length);
      var body = el(
        "div",
        { class: "t-bubble" },
        leads
          ? // a service answer: the lead line the resident read first, then the plan's words it rests on
            [el("p", { class: "t-lead", text: text.slice(0, cut) }), el("p", { class: "t-text", text: text.slice(cut + 1) })]
          : [entry.masked && entry.masked.length ? maskedText(entry.text, entry.masked) : el("p", { class: "t-text", text: text })]
      );
      var citations = message.citations || [];
      if (citations.length) {
        var cites = el("ul", { class: "t-cites", "aria-label": "回答依据" });
        citations.forEach(function (c) {
          cites.appendChild(
            el("li", null, [
              el("span", { class: "t-cite-label", text: "依据：" + citeLabel(c) }),
              el("q", { class: "t-cite-quote", text: truncate(c.quote, 160) }),
            ])
          );
        });
        body.appendChild(cites);
      }
      if (entry.delivered === false) body.appendChild(el("p", { class: "t-note", text: "（未送达智能助手）" }));
      list.appendChild(
        el("li", { class: "t-entry t-" + entry.role }, [
          el("p", { class: "t-who" }, [
            el("span", { class: "t-role", text: ROLE_LABEL[entry.role] || entry.role }),
            message.kind && entry.role === "bot" ? el("span", { class: "t-kind", text: kindLabel(message.kind) }) : null,
            message.produced_by && entry.role === "bot"
              ? el("span", {
                  class: "t-produced muted small",
                  title: (message.services || []).join("、"),
                  text: "生成方式：" + (PRODUCED[message.produced_by] || message.produced_by),
                })
              : null,
            el("time", { text: time(entry.ts) }),
          ]),
          body,
        ])
      );
    }
    if (scroll !== false) list.scrollTop = list.scrollHeight;
    else
      window.requestAnimationFrame(function () {
        list.scrollTop = list.scrollHeight;
      });
  }

  // ---------------------------------------------------------------- masked personal data
  var MASK_LABEL = { id_card: "身份证号", mobile: "手机号", landline: "固定电话", bank_card: "银行卡号", email: "电子邮箱" };

  /** The resident's text with each masked value followed by a “显示” button (one audited reveal each). */
  function maskedText(text, masked) {
    var p = el("p", { class: "t-text" });
    var cursor = 0;
    masked.forEach(function (m) {
      var at = text.indexOf(m.masked, cursor); // by content: offsets differ between Python and JS strings
      if (at < 0) return;
      p.appendChild(document.createTextNode(text.slice(cursor, at)));
      p.appendChild(maskedValue(m));
      cursor = at + m.masked.length;
    });
    p.appendChild(document.createTextNode(text.slice(cursor)));
    return p;
  }

  function maskedValue(m) {
    var label = MASK_LABEL[m.kind] || "个人信息";
    var value = el("span", { class: "t-masked", title: label + "（已隐藏）", text: m.masked });
    var button = el("button", {
      type: "button",
      class: "t-reveal",
      text: "显示",
      "aria-label": "显示" + label + "（将记入审计日志）",
      onclick: function () {
        var ticket = state.current && state.current.ticket;
        if (!ticket) return;
        button.disabled = true;
        request("POST", "/v1/operator/tickets/" + encodeURIComponent(ticket.id) + "/reveal", { ref: m.ref })
          .then(function (data) {
            value.textContent = data.value;
            value.className = "t-masked t-revealed";
            value.title = label + "（已显示，已记录）";
            button.remove();
            announce(label + "已显示：" + data.value);
          })
          .catch(function (error) {
            button.disabled = false;
            if (error.status === 404) {
              button.remove();
              value.title = label + "（原始信息已过期）";
              announce("该信息已过期，无法显示。");
            } else if (error.status !== 401) {
              announce("无法显示：" + error.message);
            }
          });
      },
    });
    return el("span", { class: "t-masked-wrap" }, [value, button]);
  }

  function kindLabel(kind) {
    return (
      { answer: "回答", clarify: "追问", refuse: "无法回答", handoff: "转人工", form: "收集资料", smalltalk: "", operator: "" }[kind] ||
      ""
    );
  }

  function renderProfile(profile) {
    var dl = $("profile");
    dl.textContent = "";
    var keys = Object.keys(profile).filter(function (k) {
      return profile[k] !== null && profile[k] !== undefined;
    });
    if (!keys.length) {
      dl.appendChild(el("div", { class: "empty" }, [el("dt", { text: "资料" }), el("dd", { text: "智能助手尚未收集到资料。" })]));
      $("profile-check").hidden = true;
      return;
    }
    $("profile-check").hidden = false;
    keys.forEach(function (k) {
      dl.appendChild(
        el("div", { class: "profile-row" }, [el("dt", { text: state.labels[k] || k }), el("dd", { text: formatValue(k, profile[k]) })])
      );
    });
  }

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    sendReply();
  });
  $("reply-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendReply();
    }
  });

  function sendReply() {
    if (!state.current) return;
    var text = $("reply-text").value.trim();
    if (!text) {
      $("reply-error").textContent = "请先输入回复内容。";
      $("reply-text").focus();
      return;
    }
    $("reply-send").disabled = true;
    $("reply-error").textContent = "";
    var id = state.current.ticket.id;
    request("POST", "/v1/operator/tickets/" + encodeURIComponent(id) + "/reply", { text: text })
      .then(function (entry) {
        $("reply-text").value = "";
        if (state.current && state.current.ticket.id === id) addTranscriptEntry(entry, true);
        announce("回复已发送。");
      })
      .catch(function (error) {
        $("reply-error").textContent = "回复没有发出：" + error.message + "（内容已保留，可再次发送）";
      })
      .then(function () {
        if (state.current) renderTicketStatus();
        $("reply-text").focus();
      });
  }

  $("close-ticket").addEventListener("click", function () {
    if (!state.current) return;
    var id = state.current.ticket.id;
    $("close-ticket").disabled = true;
    request("POST", "/v1/operator/tickets/" + encodeURIComponent(id) + "/close")
      .then(function (ticket) {
        if (state.current && state.current.ticket.id === id) {
          state.current.ticket = ticket;
          renderTicketStatus();
          addTranscriptEntry({ role: "system", text: "人工服务已结束，智能助手继续为居民服务", ts: Date.now() / 1000 }, true);
        }
        delete state.tickets[id];
        renderQueue();
        announce("已结束人工服务，智能助手已恢复。");
        $("queue-title").focus();
      })
      .catch(function (error) {
        $("reply-error").textContent = "结束失败：" + error.message;
        renderTicketStatus();
      });
  });

  $("profile-check").addEventListener("click", function () {
    if (!state.current) return;
    fillEntitlementForm(state.current.ticket.profile || {});
    submitEntitlements();
    $("ent-title").scrollIntoView({ block: "start" });
  });

  // ---------------------------------------------------------------- reply helper
  function putIntoReply(text) {
    var box = $("reply-text");
    if (state.current && state.current.ticket.status === "open") {
      box.value = box.value.trim() ? box.value.replace(/\s+$/, "") + "\n" + text : text;
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
      announce("已复制到回复框。");
      return;
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(
        function () {
          announce("当前没有打开的会话，已复制到剪贴板。");
        },
        function () {
          announce("当前没有打开的会话，请先从队列中选择一位居民。");
        }
      );
    } else {
      announce("当前没有打开的会话，请先从队列中选择一位居民。");
    }
  }

  // ---------------------------------------------------------------- knowledge search
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = $("search-query").value.trim();
    var list = $("search-results");
    if (!query) {
      $("search-status").textContent = "请输入要检索的问题。";
      $("search-query").focus();
      return;
    }
    $("search-status").textContent = "正在检索…";
    list.textContent = "";
    request("POST", "/v1/search", { query: query, top_k: 5, region: $("search-region").value || null })
      .then(function (data) {
        var hits = data.hits || [];
        $("search-status").textContent = hits.length ? "找到 " + hits.length + " 条相关原文。" : "没有找到相关原文。";
        hits.forEach(function (hit) {
          list.appendChild(renderHit(hit));
        });
      })
      .catch(function (error) {
        $("search-status").textContent = "检索失败：" + error.message;
      });
  });

  function renderHit(hit) {
    var label = citeLabel(hit);
    var answer = "根据" + hit.title + "（" + hit.section.replace(/\s*›\s*/g, " ") + "）：“" + truncate(hit.quote, 220) + "”";
    return el("li", { class: "result" }, [
      el("p", { class: "result-head" }, [
        el("span", { class: "tag tag-region", text: REGION[hit.region] || hit.region }),
        el("span", { class: "result-section", text: label }),
        hit.status ? el("span", { class: "tag tag-status tag-" + hit.status, text: DOC_STATUS[hit.status] || hit.status }) : null,
      ]),
      el("p", { class: "result-path muted small", text: hit.section }),
      el("blockquote", { class: "result-quote", text: truncate(hit.quote, 400) }),
      el("button", {
        type: "button",
        class: "btn btn-small",
        "aria-label": "复制答复：" + label,
        text: "复制答复",
        onclick: function () {
          putIntoReply(answer);
        },
      }),
    ]);
  }

  // ---------------------------------------------------------------- entitlement check
  function loadFields() {
    var fields = request("GET", "/v1/profile/fields").then(function (fields) {
      state.fields = fields;
      fields.forEach(function (f) {
        state.labels[f.field] = f.label;
      });
    });
    var schema = fetch("/openapi.json", { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (doc) {
        var props = doc && doc.components && doc.components.schemas && doc.components.schemas.ResidentProfile;
        props = (props && props.properties) || {};
        Object.keys(props).forEach(function (name) {
          state.types[name] = fieldType(props[name]);
        });
      })
      .catch(function () {});
    return Promise.all([fields, schema]).catch(function (error) {
      $("ent-error").textContent = "资料字段载入失败：" + error.message;
    });
  }

  function fieldType(prop) {
    var variants = prop.anyOf || prop.oneOf || [prop];
    var main = variants.filter(function (v) {
      return v.type !== "null";
    })[0] || {};
    if (main.enum) return { kind: "enum", values: main.enum, numeric: main.type === "integer" };
    if (main.const !== undefined) return { kind: "enum", values: [main.const], numeric: typeof main.const === "number" };
    if (main.type === "boolean") return { kind: "boolean" };
    if (main.type === "integer") return { kind: "integer", min: main.minimum, max: main.maximum };
    if (main.type === "array") return { kind: "intlist" };
    return { kind: "text" };
  }

  function typeOf(field) {
    if (state.types[field]) return state.types[field];
    if (OPTIONS[field]) return { kind: "enum", values: Object.keys(OPTIONS[field]), numeric: field === "disability_level" };
    if (field === "age") return { kind: "integer", min: 0, max: 120 };
    if (field === "children_ages") return { kind: "intlist" };
    return { kind: "boolean" };
  }

  function buildEntitlementForm() {
    var common = $("ent-fields");
    var more = $("ent-fields-more");
    common.textContent = "";
    more.textContent = "";
    state.fields.forEach(function (f) {
      var type = typeOf(f.field);
      var id = "ent-" + f.field;
      var control;
      if (type.kind === "boolean" || type.kind === "enum") {
        control = el("select", { id: id, name: f.field }, [el("option", { value: "", text: "不清楚" })]);
        var values = type.kind === "boolean" ? ["true", "false"] : type.values;
        values.forEach(function (v) {
          var text = type.kind === "boolean" ? (v === "true" ? "是" : "否") : (OPTIONS[f.field] && OPTIONS[f.field][v]) || String(v);
          control.appendChild(el("option", { value: String(v), text: text }));
        });
      } else if (type.kind === "integer") {
        control = el("input", { id: id, name: f.field, type: "number", inputmode: "numeric", min: type.min, max: type.max, step: "1" });
      } else if (type.kind === "intlist") {
        control = el("input", { id: id, name: f.field, inputmode: "numeric", placeholder: "例如 3, 7；没有孩子写“无”" });
      } else {
        control = el("input", { id: id, name: f.field });
      }
      control.title = f.question;
      var field = el("div", { class: "field" }, [el("label", { for: id, text: f.label }), control]);
      (COMMON_FIELDS.indexOf(f.field) >= 0 ? common : more).appendChild(field);
    });
  }

  function fillEntitlementForm(profile) {
    $("ent-form").reset();
    Object.keys(profile).forEach(function (k) {
      var control = $("ent-" + k);
      var v = profile[k];
      if (!control || v === null || v === undefined) return;
      if (Array.isArray(v)) control.value = v.length ? v.join(", ") : "无";
      else if (typeof v === "boolean") control.value = String(v);
      else control.value = optionValue(k, v);
      if (state.fields.length && COMMON_FIELDS.indexOf(k) < 0) $("ent-more").open = true;
    });
    var region = profile.residence_region || profile.hukou_region;
    if (region === "guangxi" || region === "ningxia") $("ent-region").value = region;
  }

  /** A profile value as the form's option value; a value saved as its Chinese label ("广西") maps back to its code. */
  function optionValue(field, value) {
    var options = OPTIONS[field] || {};
    if (options[value] !== undefined) return String(value);
    var code = Object.keys(options).filter(function (k) {
      return options[k] === value;
    })[0];
    return code !== undefined ? code : String(value);
  }

  function readProfile() {
    var profile = {};
    var problems = [];
    state.fields.forEach(function (f) {
      var control = $("ent-" + f.field);
      if (!control) return;
      var raw = control.value.trim();
      if (!raw) return;
      var type = typeOf(f.field);
      if (type.kind === "boolean") profile[f.field] = raw === "true";
      else if (type.kind === "enum") profile[f.field] = type.numeric ? Number(raw) : raw;
      else if (type.kind === "integer") {
        var n = Number(raw);
        if (!/^\d+$/.test(raw) || (type.min !== undefined && n < type.min) || (type.max !== undefined && n > type.max))
          problems.push(f.label + "要填 " + (type.min || 0) + "—" + (type.max || 120) + " 之间的整数");
        else profile[f.field] = n;
      } else if (type.kind === "intlist") {
        if (/^(无|没有|0个|没有孩子)$/.test(raw)) profile[f.field] = [];
        else {
          var parts = raw.split(/[,，、\s]+/).filter(Boolean);
          if (parts.some(function (p) { return !/^\d+$/.test(p); })) problems.push(f.label + "请填写数字，用逗号分开");
          else profile[f.field] = parts.map(Number);
        }
      } else profile[f.field] = raw;
    });
    return { profile: profile, problems: problems };
  }

  $("ent-form").addEventListener("submit", function (event) {
    event.preventDefault();
    submitEntitlements();
  });
  $("ent-form").addEventListener("reset", function () {
    $("ent-result").textContent = "";
    $("ent-error").textContent = "";
  });

  function submitEntitlements() {
    var read = readProfile();
    var out = $("ent-result");
    $("ent-error").textContent = read.problems.join("；");
    if (read.problems.length) return;
    out.textContent = "";
    out.appendChild(el("p", { class: "muted small", role: "status", text: "正在核对…" }));
    request("POST", "/v1/entitlements/check", { profile: read.profile, region: $("ent-region").value || null })
      .then(function (report) {
        renderEntitlements(report);
      })
      .catch(function (error) {
        out.textContent = "";
        $("ent-error").textContent = "核对失败：" + error.message;
      });
  }

  function renderEntitlements(report) {
    var out = $("ent-result");
    out.textContent = "";
    var groups = [
      ["eligible", "可以享受", "ok"],
      ["needs_info", "还需了解", "ask"],
      ["not_eligible", "不符合", "no"],
    ];
    var summary = el("p", { class: "ent-summary", role: "status" }, [
      el("span", { class: "tag tag-ok", text: "可以享受 " + report.eligible.length }),
      el("span", { class: "tag tag-ask", text: "还需了解 " + report.needs_info.length }),
      el("span", { class: "tag tag-no", text: "不符合 " + report.not_eligible.length }),
    ]);
    out.appendChild(summary);
    if (report.ask_next && report.ask_next.length) {
      out.appendChild(
        el("div", { class: "ask-next" }, [
          el("p", { class: "small strong", text: "建议接着问：" }),
          el(
            "ul",
            null,
            report.ask_next.map(function (q) {
              return el("li", { text: q.question });
            })
          ),
        ])
      );
    }
    out.appendChild(
      el("button", {
        type: "button",
        class: "btn btn-small",
        text: "复制答复",
        "aria-label": "复制答复：资格核对结果",
        onclick: function () {
          putIntoReply(entitlementAnswer(report));
        },
      })
    );
    groups.forEach(function (g) {
      var items = report[g[0]] || [];
      if (!items.length) return;
      var details = el("details", { class: "ent-group ent-" + g[2], open: g[0] === "eligible" ? true : null }, [
        el("summary", { text: g[1] + "（" + items.length + " 项）" }),
      ]);
      var list = el("ul", { class: "ent-list" });
      items.forEach(function (r) {
        var reasons = el(
          "ul",
          { class: "ent-reasons" },
          (r.reasons || []).map(function (x) {
            return el("li", { text: x });
          })
        );
        var cite = (r.citations || [])[0];
        list.appendChild(
          el("li", null, [
            el("p", { class: "ent-name" }, [
              el("span", { class: "strong", text: r.name }),
              el("span", { class: "tag tag-region", text: REGION[r.region] || r.region }),
            ]),
            r.reasons && r.reasons.length ? reasons : null,
            g[0] === "needs_info" && r.questions && r.questions.length
              ? el("p", { class: "small", text: "还需了解：" + r.questions.map(function (q) { return q.label; }).join("、") })
              : null,
            cite ? el("p", { class: "small muted", text: "依据：" + citeLabel(cite) }) : null,
          ])
        );
      });
      details.appendChild(list);
      out.appendChild(details);
    });
  }

  function entitlementAnswer(report) {
    var names = function (items, n) {
      return items
        .slice(0, n)
        .map(function (r) {
          return r.name;
        })
        .join("、") + (items.length > n ? " 等 " + items.length + " 项" : "");
    };
    var lines = ["根据您提供的情况，按规划原文核对："];
    if (report.eligible.length) lines.push("可以享受：" + names(report.eligible, 5) + "。");
    if (report.needs_info.length) {
      var asks = report.ask_next && report.ask_next.length ? "（还需要了解：" + report.ask_next.map(function (q) { return q.label; }).join("、") + "）" : "";
      lines.push("还需确认：" + names(report.needs_info, 3) + asks + "。");
    }
    if (!report.eligible.length && !report.needs_info.length) lines.push("暂未找到符合条件的服务。");
    lines.push("具体标准和办理方式以当地部门为准。");
    return lines.join("");
  }

  // ---------------------------------------------------------------- start
  request("GET", "/v1/auth/me")
    .then(function (me) {
      state.csrf = cookie("minsheng_csrf");
      showApp(me);
    })
    .catch(function () {
      showLogin();
    });
})();
