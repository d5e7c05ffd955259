/*
 * 民生服务助手 — resident chat widget (vanilla JS, no build step, no third-party code).
 *
 * Embed with one tag:
 *   <script src="https://HOST/static/widget/widget.js" data-region="guangxi" defer></script>
 * Options (data-* attributes on the script tag):
 *   data-region  guangxi | ningxia   preselect a region (told to the assistant before the first question)
 *   data-mode    float (default) | page   floating launcher + panel, or a full-page chat
 *   data-target  CSS selector of the element to mount into (page mode; default: document.body)
 *   data-api     API base URL (default: the origin the script was loaded from)
 *
 * API: POST /v1/chat, GET /v1/chat/{sid}/history, GET /v1/chat/{sid}/events (SSE),
 *      GET /v1/sources/{source}/context, POST /v1/feedback.
 */
(function () {
  "use strict";

  var script =
    document.currentScript ||
    document.querySelector('script[src*="widget/widget.js"]');
  if (!script) return;
  if (window.__minshengWidget) return; // embedded twice: keep the first
  window.__minshengWidget = true;

  var SRC = script.src || window.location.href;
  var API = (script.getAttribute("data-api") || new URL(SRC, window.location.href).origin).replace(/\/$/, "");
  var MODE = script.getAttribute("data-mode") === "page" ? "page" : "float";
  var PRESET_REGION = normRegion(script.getAttribute("data-region"));
  var KEYS = {
    session: "minsheng.session",
    region: "minsheng.region",
    elder: "minsheng.elder",
    feedback: "minsheng.feedback",
    open: "minsheng.open",
  };
  var REGIONS = { guangxi: "广西", ningxia: "宁夏" };
  // Short names of the two shipped plans (by title): an uploaded document is named by its own title.
  var SHORT_TITLES = {
    "《广西公共服务“十四五”规划》": "广西规划",
    "《宁夏回族自治区公共服务发展“十四五”规划》": "宁夏规划",
  };
  var SEND_TIMEOUT_MS = 60000;
  var uid = 0;

  // ---------------------------------------------------------------- small helpers
  function normRegion(value) {
    if (!value) return null;
    value = String(value).trim().toLowerCase();
    if (value === "guangxi" || value === "广西") return "guangxi";
    if (value === "ningxia" || value === "宁夏") return "ningxia";
    return null;
  }

  var store = {
    get: function (key) {
      try {
        return window.localStorage.getItem(key);
      } catch (e) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        if (value === null) window.localStorage.removeItem(key);
        else window.localStorage.setItem(key, value);
      } catch (e) {
        /* private mode: state lives for this page only */
      }
    },
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "class") node.className = value;
        else if (name === "text") node.textContent = value;
        else if (name === "html") node.innerHTML = value; // only ever used with our own constant SVG markup
        else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function nextId(prefix) {
    uid += 1;
    return "ms-" + prefix + "-" + uid;
  }

  function newSessionId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return (
      "w-" +
      Array.prototype.map
        .call(bytes, function (b) {
          return ("0" + b.toString(16)).slice(-2);
        })
        .join("")
    );
  }

  function clock(ts) {
    var d = ts ? new Date(ts * 1000) : new Date();
    var now = new Date();
    var hm = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    if (d.toDateString() === now.toDateString()) return hm;
    return d.getMonth() + 1 + "月" + d.getDate() + "日 " + hm;
  }

  function isoTime(ts) {
    return new Date(ts ? ts * 1000 : Date.now()).toISOString();
  }

  function year(value) {
    var m = /^(\d{4})/.exec(value || "");
    return m ? m[1] : null;
  }

  function planPeriod(from, to) {
    var a = year(from),
      b = year(to);
    if (a && b) return a + "—" + b + " 规划";
    if (a) return a + " 年起施行的规划";
    return "";
  }

  /** "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务" → "第三章 第二节 专栏4" */
  function shortSection(section) {
    var parts = String(section || "")
      .split("›")
      .map(function (s) {
        return s.trim();
      })
      .filter(Boolean);
    var structural = parts.filter(function (p) {
      return /^第[一二三四五六七八九十百零〇\d]+[章节篇部分]$/.test(p) || /^专栏\s*\d+/.test(p);
    });
    var label = (structural.length ? structural : parts.slice(0, 2)).join(" ");
    var item = null;
    parts.forEach(function (p) {
      var m = /^(\d+)[.．、]/.exec(p);
      if (m) item = m[1];
    });
    return { label: label, item: item };
  }

  function citationLabels(citations) {
    var labels = citations.map(function (c) {
      var s = shortSection(c.section);
      var doc = SHORT_TITLES[c.title] || (c.title || "").replace(/[《》]/g, "");
      return { base: doc + " " + s.label, item: s.item };
    });
    var counts = {};
    labels.forEach(function (l) {
      counts[l.base] = (counts[l.base] || 0) + 1;
    });
    var seen = {};
    return labels.map(function (l) {
      if (counts[l.base] < 2) return l.base;
      if (l.item) return l.base + " 第" + l.item + "项";
      seen[l.base] = (seen[l.base] || 0) + 1;
      return l.base + "（" + seen[l.base] + "）";
    });
  }

  var ICONS = {
    chat:
      '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.6 3.4 6.1L4.6 21l4.2-2.2c1 .3 2.1.4 3.2.4 5.5 0 10-3.6 10-8.1S17.5 3 12 3Zm-4 9.3a1.3 1.3 0 1 1 0-2.6 1.3 1.3 0 0 1 0 2.6Zm4 0a1.3 1.3 0 1 1 0-2.6 1.3 1.3 0 0 1 0 2.6Zm4 0a1.3 1.3 0 1 1 0-2.6 1.3 1.3 0 0 1 0 2.6Z"/></svg>',
    close:
      '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6 6 18"/></svg>',
    minimize:
      '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 9l6 6 6-6"/></svg>',
    headset:
      '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 3a8 8 0 0 0-8 8v5a3 3 0 0 0 3 3h1a1 1 0 0 0 1-1v-5a1 1 0 0 0-1-1H6v-1a6 6 0 0 1 12 0v1h-2a1 1 0 0 0-1 1v5a1 1 0 0 0 1 1h2v.5a1.5 1.5 0 0 1-1.5 1.5H13a1 1 0 1 0 0 2h3.5a3.5 3.5 0 0 0 3.5-3.5V11a8 8 0 0 0-8-8Z"/></svg>',
    up:
      '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"/></svg>',
    down:
      '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d="M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z"/></svg>',
    doc:
      '<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false"><path fill="currentColor" d="M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2Zm7 1.5V8h4.5L13 3.5ZM7 12h10v1.6H7V12Zm0 4h10v1.6H7V16Z"/></svg>',
  };

  // ---------------------------------------------------------------- state
  var state = {
    sid: store.get(KEYS.session),
    region: normRegion(store.get(KEYS.region)) || PRESET_REGION,
    regionTold: false,
    elder: store.get(KEYS.elder) === "1",
    handoff: false,
    events: null,
    chain: Promise.resolve(),
    seen: {}, // message ids already rendered
    payloadTitles: {}, // quick-reply payload → title, so restored history shows what the resident tapped
    feedback: {},
    lastDay: null,
    pending: 0,
  };
  if (!state.sid || !/^[A-Za-z0-9_-]{1,64}$/.test(state.sid)) {
    state.sid = newSessionId();
    store.set(KEYS.session, state.sid);
  }
  try {
    state.feedback = JSON.parse(store.get(KEYS.feedback) || "{}") || {};
  } catch (e) {
    state.feedback = {};
  }

  // ---------------------------------------------------------------- DOM
  var ids = {
    panel: nextId("panel"),
    title: nextId("title"),
    input: nextId("input"),
    hint: nextId("hint"),
    dialogTitle: nextId("dlg-title"),
  };

  var css = el("link", { rel: "stylesheet", href: new URL("widget.css", SRC).href });
  document.head.appendChild(css);

  var root = el("div", {
    class: "ms-root ms-mode-" + MODE,
    "data-elder": state.elder ? "true" : "false",
    "data-open": MODE === "page" ? "true" : "false",
    lang: "zh-CN",
  });

  var launcher =
    MODE === "float"
      ? el("button", {
          type: "button",
          class: "ms-launcher",
          "aria-label": "打开民生服务助手",
          "aria-expanded": "false",
          "aria-controls": ids.panel,
          html: ICONS.chat,
          onclick: function () {
            setOpen(root.getAttribute("data-open") !== "true");
          },
        })
      : null;

  // header
  var titleTag = MODE === "page" ? "h1" : "h2";
  var statusLine = el("p", { class: "ms-status", text: "智能助手 · 依据广西、宁夏“十四五”公共服务规划作答" });
  var regionButtons = {};
  var regionGroup = el("div", { class: "ms-seg", role: "group", "aria-label": "选择地区" });
  Object.keys(REGIONS).forEach(function (code) {
    var button = el("button", {
      type: "button",
      class: "ms-seg-btn",
      "aria-pressed": "false",
      "data-region": code,
      text: REGIONS[code],
      onclick: function () {
        chooseRegion(code);
      },
    });
    regionButtons[code] = button;
    regionGroup.appendChild(button);
  });
  var handoffButton = el("button", {
    type: "button",
    class: "ms-tool ms-handoff",
    "aria-label": "转人工客服",
    onclick: function () {
      send("转人工");
    },
  }, [el("span", { class: "ms-tool-icon", html: ICONS.headset }), "转人工"]);
  var elderButton = el("button", {
    type: "button",
    class: "ms-tool ms-elder",
    "aria-pressed": state.elder ? "true" : "false",
    title: "大字号、高对比度显示",
    text: "长辈模式",
    onclick: function () {
      setElder(!state.elder);
    },
  });
  var closeButton =
    MODE === "float"
      ? el("button", {
          type: "button",
          class: "ms-icon-btn ms-close",
          "aria-label": "收起对话窗口",
          html: ICONS.minimize,
          onclick: function () {
            setOpen(false);
          },
        })
      : null;

  var header = el("div", { class: "ms-header" }, [
    el("div", { class: "ms-header-top" }, [
      el("span", { class: "ms-logo", "aria-hidden": "true", text: "民" }),
      el("div", { class: "ms-heading" }, [
        el(titleTag, { class: "ms-title", id: ids.title, text: "民生服务助手" }),
        statusLine,
      ]),
      closeButton,
    ]),
    el("div", { class: "ms-toolbar" }, [regionGroup, handoffButton, elderButton]),
  ]);

  // conversation
  var list = el("ol", { class: "ms-messages", "aria-label": "对话记录" });
  var typing = el("div", { class: "ms-typing", "aria-hidden": "true" }, [
    el("span", { class: "ms-avatar ms-avatar-bot", text: "民" }),
    el("span", { class: "ms-typing-bubble" }, [
      el("span", { class: "ms-dot" }),
      el("span", { class: "ms-dot" }),
      el("span", { class: "ms-dot" }),
      el("span", { class: "ms-typing-text", text: "正在输入" }),
    ]),
  ]);
  var log = el("div", { class: "ms-log", tabindex: "0", role: "region", "aria-label": "消息" }, [list, typing]);
  var live = el("div", { class: "ms-sr-only", "aria-live": "polite", "aria-atomic": "false" });
  var alertRegion = el("div", { class: "ms-sr-only", role: "alert" });

  // composer
  var input = el("textarea", {
    id: ids.input,
    class: "ms-input",
    rows: "1",
    maxlength: "500",
    placeholder: "请输入您的问题",
    "aria-describedby": ids.hint,
    enterkeyhint: "send",
  });
  var sendButton = el("button", { type: "submit", class: "ms-send", text: "发送" });
  var composer = el("form", { class: "ms-composer", novalidate: true }, [
    el("label", { class: "ms-sr-only", for: ids.input, text: "输入您的问题" }),
    input,
    sendButton,
    el("p", { class: "ms-sr-only", id: ids.hint, text: "按回车发送，Shift+回车换行" }),
  ]);

  var panel = el(
    "section",
    { class: "ms-panel", id: ids.panel, "aria-labelledby": ids.title },
    [header, log, composer, live, alertRegion]
  );

  // citation dialog
  var dialogBody = el("div", { class: "ms-dialog-body" });
  var dialogClose = el("button", {
    type: "button",
    class: "ms-icon-btn ms-dialog-close",
    "aria-label": "关闭原文",
    html: ICONS.close,
    onclick: function () {
      closeCitation();
    },
  });
  var dialog = el("dialog", { class: "ms-dialog", "aria-labelledby": ids.dialogTitle }, [
    el("div", { class: "ms-dialog-head" }, [
      el("h3", { class: "ms-dialog-title", id: ids.dialogTitle, text: "规划原文" }),
      dialogClose,
    ]),
    dialogBody,
  ]);
  panel.appendChild(dialog);

  if (launcher) root.appendChild(launcher);
  root.appendChild(panel);

  function mount() {
    var targetSel = script.getAttribute("data-target");
    var target = (targetSel && document.querySelector(targetSel)) || document.body;
    target.appendChild(root);
    if (MODE === "float" && store.get(KEYS.open) === "1") setOpen(true, true);
    refreshRegion();
    restore();
  }

  // ---------------------------------------------------------------- open / elder / region
  function setOpen(open, quiet) {
    if (MODE !== "float") return;
    root.setAttribute("data-open", open ? "true" : "false");
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? "收起民生服务助手" : "打开民生服务助手");
    store.set(KEYS.open, open ? "1" : null);
    if (open) {
      scrollToEnd();
      if (!quiet) input.focus();
    } else if (!quiet) {
      launcher.focus();
    }
  }

  function setElder(on) {
    state.elder = on;
    root.setAttribute("data-elder", on ? "true" : "false");
    elderButton.setAttribute("aria-pressed", on ? "true" : "false");
    store.set(KEYS.elder, on ? "1" : null);
    announce(on ? "已开启长辈模式：大字号、高对比度" : "已关闭长辈模式");
    scrollToEnd();
  }

  function refreshRegion() {
    Object.keys(regionButtons).forEach(function (code) {
      regionButtons[code].setAttribute("aria-pressed", state.region === code ? "true" : "false");
    });
  }

  function chooseRegion(code) {
    state.region = code;
    state.regionTold = true;
    store.set(KEYS.region, code);
    refreshRegion();
    send(REGIONS[code]);
  }

  // ---------------------------------------------------------------- rendering
  function scrollToEnd() {
    window.requestAnimationFrame(function () {
      log.scrollTop = log.scrollHeight;
    });
  }

  function announce(text) {
    var p = el("p", { text: text });
    live.appendChild(p);
    while (live.childNodes.length > 4) live.removeChild(live.firstChild);
  }

  function setTyping(on) {
    state.pending += on ? 1 : -1;
    if (state.pending < 0) state.pending = 0;
    typing.classList.toggle("ms-typing-on", state.pending > 0 && !state.handoff);
    if (state.pending > 0) scrollToEnd();
  }

  function dayDivider(ts) {
    var day = new Date(ts ? ts * 1000 : Date.now()).toDateString();
    if (state.lastDay === day) return;
    state.lastDay = day;
    var d = new Date(ts ? ts * 1000 : Date.now());
    var label =
      day === new Date().toDateString() ? "今天" : d.getFullYear() + "年" + (d.getMonth() + 1) + "月" + d.getDate() + "日";
    list.appendChild(el("li", { class: "ms-divider" }, [el("span", { text: label })]));
  }

  function meta(name, ts) {
    return el("div", { class: "ms-meta" }, [
      el("span", { class: "ms-name", text: name }),
      ts === false ? null : el("time", { datetime: isoTime(ts), text: clock(ts) }),
    ]);
  }

  function avatar(role) {
    if (role === "operator") return el("span", { class: "ms-avatar ms-avatar-operator", "aria-hidden": "true", html: ICONS.headset });
    if (role === "user") return el("span", { class: "ms-avatar ms-avatar-user", "aria-hidden": "true", text: "我" });
    return el("span", { class: "ms-avatar ms-avatar-bot", "aria-hidden": "true", text: "民" });
  }

  function addUserBubble(text, ts) {
    dayDivider(ts);
    var bubble = el("div", { class: "ms-bubble ms-bubble-user" }, [el("p", { class: "ms-text", text: text })]);
    var status = el("div", { class: "ms-send-status" });
    var item = el("li", { class: "ms-msg ms-msg-user" }, [
      avatar("user"),
      el("div", { class: "ms-body" }, [meta("我", ts), bubble, status]),
    ]);
    list.appendChild(item);
    scrollToEnd();
    return { item: item, bubble: bubble, status: status };
  }

  function addNotice(text, ts) {
    dayDivider(ts);
    list.appendChild(
      el("li", { class: "ms-notice" }, [el("span", { text: text })])
    );
    scrollToEnd();
  }

  var LEAD_KINDS = { template_lead: true, llm_lead: true };

  /** A lead-line answer split into its first line and the cited evidence after it; null for any other reply. */
  function leadAndEvidence(message) {
    var text = message.text || "";
    var cut = text.indexOf("\n");
    if (!LEAD_KINDS[message.produced_by] || cut <= 0) return null;
    return { lead: text.slice(0, cut), rest: text.slice(cut + 1) };
  }

  /** 长辈模式: a 朗读 button that speaks the lead line first, then the rest (the browser's own speech). */
  function readAloudButton(message) {
    return el("button", {
      type: "button",
      class: "ms-read",
      text: "朗读",
      "aria-label": "朗读这条回答",
      onclick: function () {
        var parts = leadAndEvidence(message);
        var lines = parts ? [parts.lead, parts.rest] : [message.text];
        window.speechSynthesis.cancel();
        lines.forEach(function (line) {
          var utterance = new window.SpeechSynthesisUtterance(line.replace(/[•›]/g, ""));
          utterance.lang = "zh-CN";
          utterance.rate = 0.9; // a little slower for older listeners
          window.speechSynthesis.speak(utterance);
        });
      },
    });
  }

  /** One bot or operator message. options.live: announce it; options.local: not stored on the server. */
  function addMessage(role, message, ts, options) {
    options = options || {};
    if (message.id) {
      if (state.seen[message.id]) return null;
      state.seen[message.id] = true;
    }
    dayDivider(ts);
    var isOperator = role === "operator" || message.kind === "operator";
    var name = isOperator ? "人工客服" : "智能助手";
    var body = el("div", { class: "ms-body" }, [meta(name, options.local ? false : ts)]);
    var bubble = el("div", {
      class: "ms-bubble " + (isOperator ? "ms-bubble-operator" : "ms-bubble-bot") + " ms-kind-" + (message.kind || "answer"),
    });
    var parts = leadAndEvidence(message);
    if (parts) {
      // A service answer: the plain-words lead line first and large, the plan's own words below it as evidence.
      bubble.appendChild(el("p", { class: "ms-lead", text: parts.lead }));
      bubble.appendChild(el("p", { class: "ms-text ms-evidence", text: parts.rest }));
    } else {
      bubble.appendChild(el("p", { class: "ms-text", text: message.text || "" }));
    }
    if (state.elder && "speechSynthesis" in window && message.text && !isOperator) {
      bubble.appendChild(readAloudButton(message));
    }

    var citations = message.citations || [];
    if (citations.length) {
      var labels = citationLabels(citations);
      var chips = el("div", { class: "ms-cites" });
      citations.forEach(function (c, i) {
        chips.appendChild(
          el("button", {
            type: "button",
            class: "ms-chip",
            "aria-haspopup": "dialog",
            onclick: function (event) {
              openCitation(c, event.currentTarget);
            },
          }, [
            el("span", { class: "ms-chip-icon", html: ICONS.doc }),
            // the plan period on the chip itself: a resident sees at once that a quote rests on 2021—2025
            "依据：" + labels[i] + (year(c.valid_from) && year(c.valid_to) ? " · " + year(c.valid_from) + "—" + year(c.valid_to) : ""),
            el("span", { class: "ms-sr-only", text: "（查看原文）" }),
          ])
        );
      });
      bubble.appendChild(chips);
    }
    body.appendChild(bubble);
    if (message.kind === "answer" && message.id && !options.local) body.appendChild(feedbackBar(message.id));

    var buttons = message.buttons || [];
    if (buttons.length) {
      var quick = el("div", { class: "ms-quick", role: "group", "aria-label": "快捷回复" });
      buttons.forEach(function (b) {
        if (b.payload.charAt(0) === "/") state.payloadTitles[b.payload] = b.title; // intents like /check_eligibility
        quick.appendChild(
          el("button", {
            type: "button",
            class: "ms-quick-btn",
            text: b.title,
            onclick: function () {
              if (normRegion(b.payload)) {
                state.region = normRegion(b.payload);
                state.regionTold = true;
                store.set(KEYS.region, state.region);
                refreshRegion();
              }
              send(b.payload, b.title);
            },
          })
        );
      });
      body.appendChild(quick);
    }

    var item = el("li", { class: "ms-msg " + (isOperator ? "ms-msg-operator" : "ms-msg-bot") }, [avatar(isOperator ? "operator" : "bot"), body]);
    list.appendChild(item);
    // Screen readers hear the lead line first; the quotes follow when the resident reads on.
    if (options.live) announce(name + "：" + (parts ? parts.lead : message.text || ""));
    scrollToEnd();
    return item;
  }

  /** Bring new messages into view: to the end, or to the top of the first one when they are taller than the log. */
  function reveal(item) {
    if (!item) return;
    window.requestAnimationFrame(function () {
      var anchor = item;
      var prev = item.previousElementSibling; // keep the resident's question in view above a long answer
      if (prev && prev.classList.contains("ms-msg-user") && item.offsetTop - prev.offsetTop < log.clientHeight / 3) anchor = prev;
      var top = anchor.offsetTop - 8;
      log.scrollTop = Math.min(top, log.scrollHeight - log.clientHeight);
    });
  }

  function feedbackBar(messageId) {
    var done = state.feedback[messageId];
    var status = el("span", { class: "ms-fb-status", role: "status" });
    var up, down;
    function mark(rating) {
      up.setAttribute("aria-pressed", rating === "up" ? "true" : "false");
      down.setAttribute("aria-pressed", rating === "down" ? "true" : "false");
    }
    function rate(rating) {
      status.textContent = "正在提交…";
      postJSON("/v1/feedback", { session_id: state.sid, message_id: messageId, rating: rating })
        .then(function (r) {
          if (r.status === 429) {
            return readDetail(r).then(function (detail) {
              status.textContent = tooManyText(r, detail);
            });
          }
          if (!r.ok) throw new Error("HTTP " + r.status);
          state.feedback[messageId] = rating;
          store.set(KEYS.feedback, JSON.stringify(state.feedback));
          mark(rating);
          status.textContent = rating === "up" ? "已记录：有帮助，谢谢！" : "已记录：没帮助，我们会改进。";
        })
        .catch(function () {
          status.textContent = "反馈没有提交成功，请再点一次";
        });
    }
    up = el("button", { type: "button", class: "ms-fb-btn ms-fb-up", "aria-pressed": "false", onclick: function () { rate("up"); } }, [
      el("span", { class: "ms-fb-icon", html: ICONS.up }),
      "有帮助",
    ]);
    down = el("button", { type: "button", class: "ms-fb-btn ms-fb-down", "aria-pressed": "false", onclick: function () { rate("down"); } }, [
      el("span", { class: "ms-fb-icon", html: ICONS.down }),
      "没帮助",
    ]);
    if (done) {
      mark(done);
      status.textContent = "已记录反馈";
    }
    return el("div", { class: "ms-feedback", role: "group", "aria-label": "这条回答有帮助吗" }, [up, down, status]);
  }

  function welcome() {
    addMessage(
      "bot",
      {
        kind: "smalltalk",
        text:
          "您好！我是民生服务助手。我只根据《广西公共服务“十四五”规划》和《宁夏回族自治区公共服务发展“十四五”规划》回答，每个回答都附上规划原文出处。\n请先在上方选择地区，或直接提问，例如：",
        buttons: [
          { title: "准备要孩子了，孕前检查免费吗", payload: "准备要孩子了，孕前检查免费吗" },
          { title: "公租房谁能申请", payload: "公租房谁能申请" },
          { title: "我能享受哪些服务", payload: "/check_eligibility" },
        ],
      },
      null,
      { local: true }
    );
  }

  // ---------------------------------------------------------------- history
  function renderEntry(entry, live) {
    var message = entry.message;
    if (entry.role === "user") {
      var shown = state.payloadTitles[entry.text] || entry.text;
      var bubble = addUserBubble(shown, entry.ts);
      if (REGIONS.guangxi === entry.text || REGIONS.ningxia === entry.text) state.regionTold = true;
      return bubble;
    }
    if (entry.role === "system") {
      if (message && message.id) {
        if (state.seen[message.id]) return null;
        state.seen[message.id] = true;
      }
      var text = message && message.kind === "handoff" ? "已转接人工客服" : entry.text;
      addNotice(text, entry.ts);
      if (live) announce(text);
      return null;
    }
    addMessage(entry.role, message || { kind: entry.role === "operator" ? "operator" : "smalltalk", text: entry.text }, entry.ts, { live: live });
    return null;
  }

  function restore() {
    welcome();
    getJSON("/v1/chat/" + encodeURIComponent(state.sid) + "/history")
      .then(function (data) {
        var entries = data.entries || [];
        var lastUser = null;
        entries.forEach(function (entry, index) {
          var b = renderEntry(entry, false);
          if (b) lastUser = { bubble: b, entry: entry, index: index };
        });
        // a question the dialogue server never received (it was down) can be sent again
        if (lastUser && lastUser.entry.delivered === false && lastUser.index === entries.length - 1) {
          failed(lastUser.bubble, lastUser.entry.text, "上次没有送达。");
        }
        setHandoff(!!data.handoff_active);
        scrollToEnd();
      })
      .catch(function () {
        addNotice("暂时无法载入之前的对话，新的提问不受影响。");
      });
  }

  // ---------------------------------------------------------------- sending
  function api(path) {
    return API + path;
  }

  function postJSON(path, body, signal) {
    return fetch(api(path), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal: signal,
    });
  }

  function getJSON(path) {
    return fetch(api(path), { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function readDetail(response) {
    return response
      .json()
      .then(function (body) {
        var d = body && body.detail;
        if (typeof d === "string") return d;
        if (Array.isArray(d)) return d.map(function (x) { return x.msg || String(x); }).join("；");
        return "";
      })
      .catch(function () {
        return "";
      });
  }

  /** Show a message as the resident's bubble and deliver it (in order, one at a time). */
  function send(text, shownAs) {
    text = String(text || "").trim();
    if (!text) return;
    if (text.length > 500) {
      alertRegion.textContent = "消息太长了，请控制在 500 字以内。";
      return;
    }
    // a region chosen before the first question (data-region or a previous visit) is told first
    if (state.region && !state.regionTold && !normRegion(text) && text.charAt(0) !== "/" && text !== "转人工") {
      state.regionTold = true;
      deliverNew(REGIONS[state.region]);
    }
    if (normRegion(text)) state.regionTold = true;
    deliverNew(text, shownAs);
  }

  function deliverNew(text, shownAs) {
    var bubble = addUserBubble(shownAs || text);
    queue(bubble, text);
  }

  function queue(bubble, text) {
    bubble.item.classList.add("ms-sending");
    bubble.status.textContent = "";
    bubble.status.appendChild(el("span", { class: "ms-sending-text", text: "发送中…" }));
    state.chain = state.chain.then(function () {
      return deliver(bubble, text);
    });
  }

  function deliver(bubble, text) {
    setTyping(true);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () {
      if (controller) controller.abort();
    }, SEND_TIMEOUT_MS);
    return postJSON("/v1/chat", { session_id: state.sid, message: text }, controller && controller.signal)
      .then(function (response) {
        clearTimeout(timer);
        if (response.ok) {
          return response.json().then(function (data) {
            sent(bubble);
            var messages = (data && data.messages) || [];
            var first = null;
            messages.forEach(function (m) {
              var item = addMessage("bot", m, null, { live: true });
              first = first || item;
              if (m.kind === "handoff") setHandoff(true);
            });
            reveal(first);
            if (!messages.length && !state.handoff) setHandoff(true); // a human has the conversation
          });
        }
        return readDetail(response).then(function (detail) {
          if (response.status === 422) rejected(bubble, text, detail || "这条消息无法发送，请修改后再试。");
          else if (response.status === 429) throttled(bubble, text, tooManyText(response, detail));
          else failed(bubble, text, detail);
        });
      })
      .catch(function () {
        clearTimeout(timer);
        failed(bubble, text, "网络连接失败。");
      })
      .then(function () {
        setTyping(false);
      });
  }

  function sent(bubble) {
    bubble.item.classList.remove("ms-sending", "ms-failed");
    bubble.status.textContent = "";
  }

  function failed(bubble, text, detail) {
    bubble.item.classList.remove("ms-sending");
    bubble.item.classList.add("ms-failed");
    bubble.status.textContent = "";
    var retry = el("button", {
      type: "button",
      class: "ms-retry",
      text: "发送失败，点此重试",
      onclick: function () {
        queue(bubble, text);
      },
    });
    if (detail) bubble.status.appendChild(el("span", { class: "ms-error-detail", text: detail }));
    bubble.status.appendChild(retry);
    alertRegion.textContent = "消息发送失败，可以点“发送失败，点此重试”再发一次。";
  }

  /** The API's 429 sentence ("请求太频繁，请 N 秒后再试。"), without its English note; from Retry-After if absent. */
  function tooManyText(response, detail) {
    var chinese = String(detail || "").replace(/\s*\([^()]*\)\s*$/, "");
    if (chinese) return chinese;
    var seconds = parseInt(response.headers.get("Retry-After"), 10);
    return seconds > 0 ? "请求太频繁，请 " + seconds + " 秒后再试。" : "请求太频繁，请稍后再试。";
  }

  /** Too many messages in a short time (429): not an outage. Say how long to wait; the message can be resent. */
  function throttled(bubble, text, message) {
    bubble.item.classList.remove("ms-sending");
    bubble.item.classList.add("ms-failed");
    bubble.status.textContent = "";
    bubble.status.appendChild(el("span", { class: "ms-error-detail", text: message }));
    bubble.status.appendChild(
      el("button", {
        type: "button",
        class: "ms-retry",
        text: "稍后点此重发",
        onclick: function () {
          queue(bubble, text);
        },
      })
    );
    alertRegion.textContent = message;
  }

  function rejected(bubble, text, detail) {
    bubble.item.classList.remove("ms-sending");
    bubble.item.classList.add("ms-failed");
    bubble.status.textContent = "";
    bubble.status.appendChild(el("span", { class: "ms-error-detail", text: detail }));
    bubble.status.appendChild(
      el("button", {
        type: "button",
        class: "ms-retry",
        text: "修改后重发",
        onclick: function () {
          input.value = text;
          autosize();
          list.removeChild(bubble.item);
          input.focus();
        },
      })
    );
    alertRegion.textContent = detail;
  }

  // ---------------------------------------------------------------- hand-off (live operator replies)
  function setHandoff(on) {
    state.handoff = on;
    root.classList.toggle("ms-handoff-on", on);
    statusLine.textContent = on
      ? "人工客服服务中 · 您的消息会直接发给客服"
      : "智能助手 · 依据广西、宁夏“十四五”公共服务规划作答";
    if (on) openEvents();
    else closeEvents();
  }

  function openEvents() {
    if (state.events || !window.EventSource) return;
    var source = new EventSource(api("/v1/chat/" + encodeURIComponent(state.sid) + "/events"));
    state.events = source;
    source.addEventListener("ready", function () {
      catchUp(); // anything said before (or while) the stream (re)connected
    });
    source.addEventListener("message", function (event) {
      var entry;
      try {
        entry = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      liveEntry(entry);
    });
  }

  function closeEvents() {
    if (state.events) state.events.close();
    state.events = null;
  }

  function liveEntry(entry) {
    if (!entry || !entry.role) return;
    if (entry.role === "operator") {
      addMessage("operator", entry.message || { kind: "operator", text: entry.text }, entry.ts, { live: true });
    } else if (entry.role === "system") {
      renderEntry(entry, true);
      if (!entry.message || entry.message.kind !== "handoff") setHandoff(false);
    }
  }

  function catchUp() {
    getJSON("/v1/chat/" + encodeURIComponent(state.sid) + "/history")
      .then(function (data) {
        var entries = data.entries || [];
        entries.forEach(function (entry) {
          if (entry.role === "operator" || (entry.role === "system" && entry.message && entry.message.kind !== "handoff")) {
            if (entry.message && entry.message.id && state.seen[entry.message.id]) return;
            if (entry.message && entry.message.id) {
              // only what arrived after the hand-off started is new here
              liveEntry(entry);
            }
          }
        });
        if (!data.handoff_active && state.handoff) setHandoff(false);
      })
      .catch(function () {});
  }

  // ---------------------------------------------------------------- citation panel
  var contextCache = {};
  var lastTrigger = null;

  function openCitation(citation, trigger) {
    lastTrigger = trigger;
    renderCitation(citation, null, "loading");
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    dialogClose.focus();
    var key = citation.source + ":" + citation.start + ":" + citation.end;
    var cached = contextCache[key];
    var load = cached
      ? Promise.resolve(cached)
      : getJSON(
          "/v1/sources/" + encodeURIComponent(citation.source) + "/context?start=" + citation.start + "&end=" + citation.end
        );
    load
      .then(function (ctx) {
        contextCache[key] = ctx;
        renderCitation(citation, ctx, "ok");
      })
      .catch(function () {
        renderCitation(citation, null, "error", trigger);
      });
  }

  function renderCitation(citation, ctx, status, trigger) {
    dialogBody.textContent = "";
    var data = ctx || citation;
    var period = planPeriod(data.valid_from || citation.valid_from, data.valid_to || citation.valid_to);
    dialogBody.appendChild(el("p", { class: "ms-doc-title", text: data.title || citation.title }));
    dialogBody.appendChild(
      el("p", { class: "ms-doc-meta" }, [
        el("span", { class: "ms-section", text: (data.section || citation.section || "").replace(/\s*›\s*/g, " › ") }),
        period ? el("span", { class: "ms-period", text: period }) : null,
      ])
    );
    if (status === "loading") {
      dialogBody.appendChild(el("p", { class: "ms-loading", role: "status", text: "正在载入规划原文…" }));
      dialogBody.appendChild(el("blockquote", { class: "ms-context" }, [el("mark", { text: citation.quote })]));
      return;
    }
    if (status === "error") {
      dialogBody.appendChild(el("p", { class: "ms-error-detail", role: "alert", text: "原文段落暂时载入失败，以下是引用的原话：" }));
      dialogBody.appendChild(el("blockquote", { class: "ms-context" }, [el("mark", { text: citation.quote })]));
      dialogBody.appendChild(
        el("button", {
          type: "button",
          class: "ms-retry",
          text: "重新载入原文",
          onclick: function () {
            openCitation(citation, trigger || lastTrigger);
          },
        })
      );
      return;
    }
    var mark = el("mark", { text: ctx.quote });
    dialogBody.appendChild(
      el("blockquote", { class: "ms-context", "aria-label": "原文段落，高亮部分为引用" }, [ctx.before || "", mark, ctx.after || ""])
    );
    dialogBody.appendChild(el("p", { class: "ms-note", text: "高亮部分是回答引用的规划原文，前后文为同一段落。" }));
    window.requestAnimationFrame(function () {
      // keep title, section and period in view unless the quote starts below the fold
      var top = mark.getBoundingClientRect().top - dialog.getBoundingClientRect().top;
      if (top > dialog.clientHeight * 0.6) dialog.scrollTop += top - dialog.clientHeight * 0.35;
    });
  }

  function closeCitation() {
    if (dialog.open && typeof dialog.close === "function") dialog.close();
    else dialog.removeAttribute("open");
  }

  dialog.addEventListener("close", function () {
    if (lastTrigger && document.contains(lastTrigger)) lastTrigger.focus();
  });
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) closeCitation(); // backdrop
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closeCitation();
      return;
    }
    if (event.key !== "Tab") return;
    var focusable = Array.prototype.filter.call(
      dialog.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])'),
      function (node) {
        return !node.disabled && node.offsetParent !== null;
      }
    );
    if (!focusable.length) return;
    var first = focusable[0],
      last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // ---------------------------------------------------------------- composer
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 132) + "px";
  }

  input.addEventListener("input", autosize);
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  function submit() {
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    autosize();
    send(text);
    input.focus();
  }

  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && MODE === "float" && root.getAttribute("data-open") === "true" && !dialog.open) {
      setOpen(false);
    }
  });

  window.MinshengWidget = {
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    send: send,
    sessionId: function () {
      return state.sid;
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
