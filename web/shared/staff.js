/*
 * 民生服务助手 — helpers shared by the staff consoles (operator /operator, admin /admin). Vanilla JS, no build.
 *
 * window.MinshengStaff = {
 *   $(id), el(tag, attrs, children), cookie(name), announce(text), truncate(text, n), time(ts),
 *   client({ onUnauthorized }) → { request(method, path, body), csrf }
 * }
 * Sessions: POST /v1/auth/login sets an HttpOnly session cookie and returns a CSRF token (also in the readable
 * `minsheng_csrf` cookie); every non-GET request echoes it as the X-CSRF-Token header (double submit).
 */
(function () {
  "use strict";

  var CSRF_COOKIE = "minsheng_csrf";

  function $(id) {
    return document.getElementById(id);
  }

  /** el("p", {class, text, onclick, "aria-x": …}, [children]) — null/false attributes and children are skipped. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "class") node.className = value;
        else if (name === "text") node.textContent = value;
        else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    });
    return node;
  }

  function cookie(name) {
    var match = document.cookie.split("; ").filter(function (c) {
      return c.indexOf(name + "=") === 0;
    })[0];
    return match ? decodeURIComponent(match.slice(name.length + 1)) : null;
  }

  /** Say something to screen-reader users through the page's #live region (kept short). */
  function announce(text) {
    var live = $("live");
    if (!live) return;
    live.appendChild(el("p", { text: text }));
    while (live.childNodes.length > 5) live.removeChild(live.firstChild);
  }

  function truncate(text, n) {
    text = String(text || "").replace(/\s+/g, " ").trim();
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function pad(n) {
    return ("0" + n).slice(-2);
  }

  /** A timestamp (epoch seconds, or an ISO string) as "14:05" today, "3月5日 14:05" otherwise. */
  function time(ts) {
    var d;
    if (ts === null || ts === undefined || ts === "") d = new Date();
    else if (typeof ts === "number") d = new Date(ts * 1000);
    else if (/^\d+(\.\d+)?$/.test(String(ts))) d = new Date(parseFloat(ts) * 1000);
    else d = new Date(String(ts).replace(/^v?(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\d*Z$/, "$1-$2-$3T$4:$5:$6Z"));
    if (isNaN(d.getTime())) return String(ts);
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() === new Date().toDateString()) return hm;
    var md = d.getMonth() + 1 + "月" + d.getDate() + "日 " + hm;
    return d.getFullYear() === new Date().getFullYear() ? md : d.getFullYear() + "年" + md;
  }

  /** The API's `detail` as one readable sentence (a string, a list of pydantic errors, or an object). */
  function describeDetail(data, status) {
    var detail = data && data.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail
        .map(function (d) {
          return typeof d === "string" ? d : (d && (d.msg || d.message)) || JSON.stringify(d);
        })
        .join("；");
    }
    if (detail && typeof detail === "object") {
      if (typeof detail.message === "string") return detail.message;
      if (typeof detail.detail === "string") return detail.detail;
      if (typeof detail.error === "string") return detail.error;
    }
    return "请求失败（HTTP " + status + "）";
  }

  /**
   * A JSON client for the staff API. `body` may be a plain object (sent as JSON) or FormData (multipart).
   * Errors carry .status, .detail (the raw `detail`) and .data (the whole error body).
   */
  function client(options) {
    options = options || {};
    var api = { csrf: null };
    api.request = function (method, path, body) {
      var headers = { Accept: "application/json" };
      var isForm = typeof FormData !== "undefined" && body instanceof FormData;
      if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
      if (method !== "GET") {
        var token = api.csrf || cookie(CSRF_COOKIE);
        if (token) headers["X-CSRF-Token"] = token;
      }
      return fetch(path, {
        method: method,
        headers: headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
      }).then(function (response) {
        if (response.status === 204) return null;
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            if (response.ok) return data;
            var error = new Error(describeDetail(data, response.status));
            error.status = response.status;
            error.detail = data && data.detail;
            error.data = data;
            if (response.status === 401 && path.indexOf("/v1/auth/login") !== 0 && options.onUnauthorized)
              options.onUnauthorized(error);
            throw error;
          });
      });
    };
    return api;
  }

  window.MinshengStaff = {
    $: $,
    el: el,
    cookie: cookie,
    announce: announce,
    truncate: truncate,
    time: time,
    describeDetail: describeDetail,
    client: client,
    CSRF_COOKIE: CSRF_COOKIE,
  };
})();
