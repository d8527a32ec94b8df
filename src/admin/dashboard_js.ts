/**
 * The dashboard's browser script, served at `assets/dashboard.js`. Plain ES2020, no framework, no
 * CDN: polls `snapshot`, updates the tables in place (keyed rows, changed cells flash) and draws
 * the charts as inline SVG. Every pool-provided string goes through `textContent`, never HTML.
 *
 * @module
 */

/**
 * The dashboard script.
 *
 * @example
 * ```ts
 * import { DASHBOARD_JS } from "./dashboard_js.ts";
 * new Response(DASHBOARD_JS, { headers: { "content-type": "text/javascript; charset=utf-8" } });
 * ```
 */
export const DASHBOARD_JS: string = String.raw`"use strict";
(function () {
  var script = document.currentScript;
  var BASE = script.src.replace(/assets\/dashboard\.js(\?.*)?$/, "");
  var TOKEN_KEY = "agentpool.token:" + BASE;
  var SVG = "http://www.w3.org/2000/svg";
  var token = sessionStorage.getItem(TOKEN_KEY) || "";
  var refreshMs = 1000;
  var previous = null;
  var rate = null;
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function ms(v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    if (v === 0) return "0 ms";
    if (v < 1) return v.toFixed(2) + " ms";
    if (v < 10) return v.toFixed(1) + " ms";
    if (v < 1000) return Math.round(v) + " ms";
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
    if (v < 3600000) return Math.floor(v / 60000) + "m " + Math.round((v % 60000) / 1000) + "s";
    return Math.floor(v / 3600000) + "h " + Math.round((v % 3600000) / 60000) + "m";
  }
  function count(v) { return v === undefined || v === null ? "–" : Number(v).toLocaleString("en-US"); }
  function headers() { return token ? { Authorization: "Bearer " + token } : {}; }

  function toast(text) {
    var t = $("toast");
    t.textContent = text;
    t.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.classList.remove("show"); }, 3000);
  }

  // ---- auth ------------------------------------------------------------------------------
  function askToken(message) {
    $("auth").hidden = false;
    $("main").hidden = true;
    $("auth-error").textContent = message || "";
    $("auth-token").focus();
  }
  // With public reads the page never asks; this lets an operator add the token for revoke/readmit.
  function updateSignIn() { $("sign-in").textContent = token ? "forget admin token" : "enter admin token"; }
  $("sign-in").addEventListener("click", function () {
    if (token) { token = ""; sessionStorage.removeItem(TOKEN_KEY); updateSignIn(); poll(); } else askToken("");
  });
  updateSignIn();
  $("auth-form").addEventListener("submit", function (event) {
    event.preventDefault();
    token = $("auth-token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    updateSignIn();
    $("auth").hidden = true;
    $("main").hidden = false;
    poll();
  });

  // ---- polling ---------------------------------------------------------------------------
  function poll() {
    clearTimeout(timer);
    fetch(BASE + "snapshot", { headers: headers(), cache: "no-store" }).then(function (response) {
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        askToken(token ? "That token was not accepted." : "");
        token = "";
        updateSignIn();
        setLive(false, "locked");
        return null;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (snap) {
      if (snap === null) return;
      render(snap);
      setLive(true, "updated " + new Date(snap.time).toLocaleTimeString());
      timer = setTimeout(poll, refreshMs);
    }).catch(function (error) {
      setLive(false, "offline: " + error.message + " – retrying");
      timer = setTimeout(poll, Math.max(refreshMs, 2000));
    });
  }
  function setLive(on, text) {
    $("live-dot").className = "dot " + (on ? "on" : "off");
    $("updated").textContent = text;
  }

  // ---- rendering -------------------------------------------------------------------------
  function render(snap) {
    refreshMs = snap.refreshMs || refreshMs;
    $("refresh-note").textContent = "auto-refresh every " + (refreshMs >= 1000 ? refreshMs / 1000 + " s" : refreshMs + " ms");
    $("pool-name").textContent = snap.name;
    document.title = snap.name + " · agentpool";
    var health = $("health");
    health.textContent = snap.health.status;
    health.className = "pill " + snap.health.status;
    var banner = $("banner");
    banner.hidden = !snap.health.lastError;
    banner.textContent = snap.health.lastError ? "Cannot open connections (" + snap.health.failures + " failures): " + snap.health.lastError : "";
    computeRate(snap);
    renderKpis(snap);
    renderConnectionsChart(snap);
    renderWaitChart(snap);
    renderAgents(snap);
    renderConnections(snap);
    previous = snap;
  }

  function computeRate(snap) {
    var h = snap.history;
    if (h.length >= 2) {
      var a = h[Math.max(0, h.length - 6)], b = h[h.length - 1];
      if (b.t > a.t) rate = (b.acquired - a.acquired) / ((b.t - a.t) / 1000);
    } else if (previous && snap.time > previous.time) {
      rate = (snap.stats.acquired - previous.stats.acquired) / ((snap.time - previous.time) / 1000);
    }
  }

  function kpi(id, value, sub, bad) {
    var box = $("kpi-" + id);
    box.querySelector(".value").textContent = value;
    box.querySelector(".sub").textContent = sub || "\u00a0";
    if (bad !== undefined) box.classList.toggle("bad", bad);
    return box;
  }

  function renderKpis(snap) {
    var s = snap.stats, lat = s.latency;
    var box = kpi("connections", s.total + " / " + s.cap, "max " + s.maxConnections + " + " + (s.cap - s.maxConnections) + " overflow");
    var meter = box.querySelector(".meter");
    if (!meter) {
      meter = el("div", "meter");
      meter.appendChild(el("span", "used"));
      meter.appendChild(el("span", "idle"));
      box.appendChild(meter);
    }
    meter.children[0].style.width = (100 * s.used / Math.max(1, s.cap)) + "%";
    meter.children[1].style.width = (100 * s.idle / Math.max(1, s.cap)) + "%";
    kpi("used", String(s.used), s.overflow > 0 ? s.overflow + " overflow open" : "of " + s.total + " open");
    kpi("idle", String(s.idle), "min " + s.minConnections + (s.creating ? " · " + s.creating + " opening" : ""));
    kpi("pending", String(s.pending), s.pending > 0 ? "acquires waiting" : "nobody waits");
    kpi("agents", String(s.activeAgents), count(snap.agentCount) + " seen");
    kpi("rate", rate === null ? "–" : rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en-US"), count(s.acquired) + " total");
    kpi("wait", lat ? ms(lat.wait.p99) : "–", lat ? "p50 " + ms(lat.wait.p50) + " · max " + ms(lat.wait.max) : "metrics off");
    kpi("hold", lat ? ms(lat.use.p99) : "–", lat ? "p50 " + ms(lat.use.p50) + " · max " + ms(lat.use.max) : "metrics off");
    kpi("timeouts", count(s.timeouts), count(s.rejected) + " rejected · " + count(s.leaks || 0) + " leaks", s.timeouts > 0);
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function niceMax(v) {
    if (v <= 5) return 5;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function renderConnectionsChart(snap) {
    var node = $("chart-connections");
    var W = node.clientWidth || 800, H = node.clientHeight || 230;
    var L = 34, R = 10, T = 10, B = 24;
    node.setAttribute("viewBox", "0 0 " + W + " " + H);
    clear(node);
    var h = snap.history;
    // The window grows with the history: 30 s, 1, 2, 5, 10 min; ticks keep to about six.
    var have = h.length ? snap.time - h[0].t : 0;
    var spans = [30000, 60000, 120000, 300000, 600000];
    var spanMs = spans[spans.length - 1];
    for (var si = 0; si < spans.length; si++) if (spans[si] >= have) { spanMs = spans[si]; break; }
    var ticks = [5000, 10000, 15000, 30000, 60000, 120000];
    var tickMs = ticks[ticks.length - 1];
    for (var ti = 0; ti < ticks.length; ti++) if (spanMs / ticks[ti] <= 6) { tickMs = ticks[ti]; break; }
    $("history-span").textContent = "last " + (spanMs < 60000 ? spanMs / 1000 + " s" : spanMs / 60000 + " min");
    var t0 = snap.time - spanMs;
    var top = niceMax(Math.max(snap.stats.cap * 1.15, 1));
    function x(t) { return L + (W - L - R) * Math.max(0, (t - t0)) / spanMs; }
    function y(v) { return T + (H - T - B) * (1 - v / top); }
    for (var i = 0; i <= 4; i++) {
      var v = top * i / 4, yy = y(v);
      node.appendChild(svg("line", { "class": "gridline", x1: L, x2: W - R, y1: yy, y2: yy }));
      node.appendChild(svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, String(Math.round(v))));
    }
    for (var ago = spanMs; ago >= 0; ago -= tickMs) {
      var label = ago === 0 ? "now" : ago < 60000 ? "-" + ago / 1000 + "s" : "-" + ago / 60000 + "m";
      node.appendChild(svg("text", { x: x(snap.time - ago), y: H - 6, "text-anchor": ago === spanMs ? "start" : ago === 0 ? "end" : "middle" }, label));
    }
    var capY = y(snap.stats.cap);
    node.appendChild(svg("line", { "class": "cap", x1: L, x2: W - R, y1: capY, y2: capY }));
    var pts = h.filter(function (p) { return p.t >= t0; });
    if (pts.length < 2) {
      node.appendChild(svg("text", { "class": "empty", x: (L + W) / 2, y: H / 2, "text-anchor": "middle" }, "collecting samples…"));
      return;
    }
    function area(lower, upper) {
      var d = "M" + x(pts[0].t) + "," + y(lower(pts[0]));
      for (var j = 0; j < pts.length; j++) d += "L" + x(pts[j].t) + "," + y(upper(pts[j]));
      for (var k = pts.length - 1; k >= 0; k--) d += "L" + x(pts[k].t) + "," + y(lower(pts[k]));
      return d + "Z";
    }
    node.appendChild(svg("path", { "class": "area-idle", d: area(function (p) { return p.used; }, function (p) { return p.used + p.idle; }) }));
    node.appendChild(svg("path", { "class": "area-used", d: area(function () { return 0; }, function (p) { return p.used; }) }));
    var line = "";
    for (var n = 0; n < pts.length; n++) line += (n ? "L" : "M") + x(pts[n].t) + "," + y(Math.min(pts[n].pending, top));
    node.appendChild(svg("path", { "class": "line-pending", d: line }));
  }

  function boundLabel(b) { return b >= 1000 ? (b / 1000) + "s" : b < 1 ? String(b).replace(/^0/, "") : String(b); }

  function renderWaitChart(snap) {
    var node = $("chart-wait");
    var W = node.clientWidth || 400, H = node.clientHeight || 230;
    var L = 8, R = 8, T = 18, B = 38;
    node.setAttribute("viewBox", "0 0 " + W + " " + H);
    clear(node);
    var w = snap.wait;
    if (!w) {
      node.appendChild(svg("text", { "class": "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "metrics off: pass createMetrics() to the pool"));
      return;
    }
    var labels = ["0"].concat(w.boundsMs.map(function (b) { return "≤" + boundLabel(b); })).concat([">" + boundLabel(w.boundsMs[w.boundsMs.length - 1])]);
    var last = 9;
    for (var i = 0; i < w.counts.length; i++) if (w.counts[i] > 0) last = Math.max(last, i);
    var counts = w.counts.slice(0, last + 1);
    var total = w.counts.reduce(function (a, b) { return a + b; }, 0);
    if (total === 0) {
      node.appendChild(svg("text", { "class": "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "no acquires yet"));
      return;
    }
    var max = Math.max.apply(null, counts);
    var slot = (W - L - R) / counts.length, bw = Math.max(4, slot * 0.7);
    for (var j = 0; j < counts.length; j++) {
      var c = counts[j];
      var hgt = c === 0 ? 0 : Math.max(2, (H - T - B) * Math.log1p(c) / Math.log1p(max));
      var bx = L + j * slot + (slot - bw) / 2;
      var bound = j === 0 ? 0 : j <= w.boundsMs.length ? w.boundsMs[j - 1] : Infinity;
      var cls = j === 0 ? "bar zero" : bound > 1000 ? "bar very-slow" : bound > 100 ? "bar slow" : "bar";
      var rect = svg("rect", { "class": cls, x: bx, y: H - B - hgt, width: bw, height: hgt, rx: 2 });
      rect.appendChild(svg("title", {}, labels[j] + " ms: " + count(c) + " (" + (100 * c / total).toFixed(1) + "%)"));
      node.appendChild(rect);
      if (c > 0 && hgt > 0) {
        var pct = 100 * c / total;
        node.appendChild(svg("text", { x: bx + bw / 2, y: H - B - hgt - 4, "text-anchor": "middle" }, pct >= 10 ? Math.round(pct) + "%" : pct >= 1 ? pct.toFixed(0) + "%" : ""));
      }
      if (slot >= 18 || j % 2 === 0) {
        node.appendChild(svg("text", { x: bx + bw / 2, y: H - B + 14, "text-anchor": "middle" }, labels[j].replace("≤", "")));
      }
    }
    node.appendChild(svg("text", { x: W / 2, y: H - 6, "text-anchor": "middle" }, "bucket upper bound, ms · " + count(total) + " acquires"));
  }

  // Keyed rows updated in place. Count and state cells flash when they change, so movement is easy
  // to follow; durations tick constantly and would only flicker, so they do not.
  function setCell(td, text, cls, flash) {
    if (td.textContent !== text) {
      var had = td.textContent !== "";
      td.textContent = text;
      if (had && flash) { td.classList.remove("changed"); void td.offsetWidth; td.classList.add("changed"); }
    }
    if (cls !== undefined) td.className = cls + (td.classList.contains("changed") ? " changed" : "");
  }
  function syncRows(tbody, items, key, columns, build) {
    var existing = {};
    for (var i = 0; i < tbody.rows.length; i++) existing[tbody.rows[i].dataset.key] = tbody.rows[i];
    var seen = {};
    items.forEach(function (item, index) {
      var k = String(key(item));
      seen[k] = true;
      var row = existing[k];
      if (!row) {
        row = document.createElement("tr");
        row.dataset.key = k;
        for (var c = 0; c < columns; c++) row.appendChild(document.createElement("td"));
      }
      build(row, item);
      if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null);
    });
    for (var r = tbody.rows.length - 1; r >= 0; r--) if (!seen[tbody.rows[r].dataset.key]) tbody.deleteRow(r);
  }
  function tagCell(td, text, cls) {
    var tag = td.firstChild;
    if (!tag || tag.textContent !== text) {
      clear(td);
      td.appendChild(el("span", "tag " + cls, text));
    }
  }

  function agentState(a) {
    if (a.revoked) return "revoked";
    if (a.pending > 0) return "waiting";
    if (a.held > 0) return "holding";
    return "quiet";
  }

  function renderAgents(snap) {
    var canWrite = !!token;
    document.querySelector("#agents th.actions").hidden = !canWrite;
    var tbody = document.querySelector("#agents tbody");
    syncRows(tbody, snap.agents, function (a) { return a.agentId; }, 13, function (row, a) {
      var td = row.cells;
      setCell(td[0], a.agentId, "agent");
      td[0].title = a.agentId;
      tagCell(td[1], agentState(a), agentState(a));
      setCell(td[2], String(a.held), "n", true);
      var bar = td[2].querySelector(".held-bar");
      if (!bar) { bar = el("span", "held-bar"); td[2].appendChild(bar); }
      var want = Math.min(a.held, 12) + Math.min(a.pending, 12);
      if (bar.childNodes.length !== want || bar.dataset.v !== a.held + "/" + a.pending) {
        clear(bar);
        for (var i = 0; i < Math.min(a.held, 12); i++) bar.appendChild(el("i"));
        for (var j = 0; j < Math.min(a.pending, 12); j++) bar.appendChild(el("i", "wait"));
        bar.dataset.v = a.held + "/" + a.pending;
      }
      setCell(td[3], String(a.pending), a.pending ? "n" : "n dim", true);
      setCell(td[4], count(a.acquired), "n", true);
      setCell(td[5], count(a.timeouts), a.timeouts ? "n" : "n dim", true);
      setCell(td[6], count(a.rejected), a.rejected ? "n" : "n dim", true);
      setCell(td[7], a.acquired ? ms(a.totalWaitMs / a.acquired) : "–", "n");
      setCell(td[8], ms(a.maxWaitMs), "n");
      var returned = a.acquired - a.held;
      setCell(td[9], returned > 0 ? ms(a.totalHoldMs / returned) : "–", "n");
      setCell(td[10], a.held ? ms(a.longestHeldMs) : "–", a.held ? "n" : "n dim");
      setCell(td[11], count(a.leaks || 0), a.leaks ? "n" : "n dim", true);
      td[12].hidden = !canWrite;
      if (canWrite && td[12].dataset.v !== String(a.revoked)) {
        clear(td[12]);
        var button = el("button", a.revoked ? "" : "danger", a.revoked ? "readmit" : "revoke");
        button.addEventListener("click", function () { act(a.agentId, a.revoked ? "readmit" : "revoke"); });
        td[12].appendChild(button);
        td[12].dataset.v = String(a.revoked);
      }
    });
    $("agents-note").textContent = snap.stats.activeAgents + " active · " + snap.agentCount + " seen";
    var more = $("agents-more");
    more.hidden = snap.agentCount <= snap.agents.length;
    more.textContent = "showing the " + snap.agents.length + " busiest of " + snap.agentCount + " agents";
  }

  function act(agentId, action) {
    if (action === "revoke" && !confirm("Revoke agent " + agentId + "? Its waits fail and its connections are taken back.")) return;
    fetch(BASE + "agents/" + encodeURIComponent(agentId) + "/" + action, { method: "POST", headers: headers() })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) { toast(res.ok ? agentId + (action === "revoke" ? " revoked" : " readmitted") : (res.body.message || "failed")); poll(); })
      .catch(function (e) { toast(String(e)); });
  }

  function renderConnections(snap) {
    var s = snap.stats;
    var map = $("conn-map");
    var cells = [];
    snap.connections.forEach(function (c) { cells.push({ cls: c.state + (c.overflow ? " overflow" : ""), title: "#" + c.id + " " + c.state + (c.agentId ? " · " + c.agentId : "") }); });
    for (var i = 0; i < s.creating; i++) cells.push({ cls: "creating", title: "opening" });
    while (cells.length < s.cap) cells.push({ cls: "", title: "free slot" });
    while (map.childNodes.length > cells.length) map.removeChild(map.lastChild);
    cells.forEach(function (c, index) {
      var cell = map.childNodes[index] || map.appendChild(el("div"));
      cell.className = "cell " + c.cls;
      cell.title = c.title;
    });
    $("connections-note").textContent = s.total + " open · " + s.used + " used · " + s.idle + " idle" + (s.creating ? " · " + s.creating + " opening" : "");
    var tbody = document.querySelector("#connections tbody");
    syncRows(tbody, snap.connections, function (c) { return c.id; }, 8, function (row, c) {
      var td = row.cells;
      setCell(td[0], String(c.id), "n mono");
      tagCell(td[1], c.state, c.state);
      setCell(td[2], c.agentId || "–", c.agentId ? "agent" : "dim", true);
      setCell(td[3], c.agentId ? ms(c.heldMs) : "–", c.agentId ? "n" : "n dim");
      setCell(td[4], c.state === "idle" ? ms(c.idleMs) : "–", c.state === "idle" ? "n" : "n dim");
      setCell(td[5], count(c.uses), "n");
      setCell(td[6], ms(c.ageMs), "n");
      if (c.overflow) tagCell(td[7], "overflow", "overflow"); else setCell(td[7], "steady", "dim");
    });
  }

  window.addEventListener("resize", function () { if (previous) { renderConnectionsChart(previous); renderWaitChart(previous); } });
  poll();
})();
`;
