/// <reference lib="dom" />
/**
 * The dashboard's browser script (bundled into `assets/dashboard.js` by
 * `scripts/build_dashboard.ts`): asks for the token when reads need one, polls `snapshot`, and
 * renders the key numbers, the two charts and the tables (agents, global budget, connections).
 * No framework, no CDN.
 *
 * @module
 */

import type { PoolSnapshot } from "../snapshot.ts";
import { connectionsChart, waitChart } from "./charts.ts";
import { byId, el, mountSvg } from "./dom.ts";
import { formatCount, formatDuration } from "../../core/format.ts";
import { renderAgents, renderBudget, renderConnections } from "./tables.ts";

const script = document.currentScript as HTMLScriptElement;
const BASE = script.src.replace(/assets\/dashboard\.js(\?.*)?$/, "");
const TOKEN_KEY = `agentpool.token:${BASE}`;

let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let refreshMs = 1000;
let previous: PoolSnapshot | null = null;
let rate: number | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
let toastTimer: ReturnType<typeof setTimeout> | undefined;

const headers = (): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

function toast(text: string): void {
  const t = byId("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 3000);
}

// ---- auth ----------------------------------------------------------------------------------
function askToken(message: string): void {
  byId("auth").hidden = false;
  byId("main").hidden = true;
  byId("auth-error").textContent = message;
  byId("auth-token").focus();
}

// With public reads the page never asks; this lets an operator add the token for revoke/readmit.
function updateSignIn(): void {
  byId("sign-in").textContent = token ? "forget admin token" : "enter admin token";
}

byId("sign-in").addEventListener("click", () => {
  if (!token) return askToken("");
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  updateSignIn();
  poll();
});
updateSignIn();
byId("auth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = byId<HTMLInputElement>("auth-token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  updateSignIn();
  byId("auth").hidden = true;
  byId("main").hidden = false;
  poll();
});

// ---- polling -------------------------------------------------------------------------------
function setLive(on: boolean, text: string): void {
  byId("live-dot").className = `dot ${on ? "on" : "off"}`;
  byId("updated").textContent = text;
}

async function fetchSnapshot(): Promise<PoolSnapshot | null> {
  const response = await fetch(`${BASE}snapshot`, { headers: headers(), cache: "no-store" });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken(token ? "That token was not accepted." : "");
    token = "";
    updateSignIn();
    setLive(false, "locked");
    return null;
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as PoolSnapshot;
}

function poll(): void {
  clearTimeout(timer);
  fetchSnapshot().then((snap) => {
    if (snap === null) return;
    render(snap);
    setLive(true, `updated ${new Date(snap.time).toLocaleTimeString()}`);
    timer = setTimeout(poll, refreshMs);
  }).catch((error: unknown) => {
    setLive(false, `offline: ${error instanceof Error ? error.message : String(error)} – retrying`);
    timer = setTimeout(poll, Math.max(refreshMs, 2000));
  });
}

function act(agentId: string, action: "revoke" | "readmit"): void {
  if (action === "revoke" && !confirm(`Revoke agent ${agentId}? Its waits fail and its connections are taken back.`)) return;
  fetch(`${BASE}agents/${encodeURIComponent(agentId)}/${action}`, { method: "POST", headers: headers() })
    .then(async (r) => ({ ok: r.ok, body: (await r.json()) as { message?: string } }))
    .then((res) => {
      toast(res.ok ? `${agentId} ${action === "revoke" ? "revoked" : "readmitted"}` : (res.body.message ?? "failed"));
      poll();
    })
    .catch((e: unknown) => toast(String(e)));
}

// ---- rendering -----------------------------------------------------------------------------
function computeRate(snap: PoolSnapshot): void {
  const h = snap.history;
  if (h.length >= 2) {
    const a = h[Math.max(0, h.length - 6)];
    const b = h[h.length - 1];
    if (b.t > a.t) rate = (b.acquired - a.acquired) / ((b.t - a.t) / 1000);
  } else if (previous && snap.time > previous.time) {
    rate = (snap.stats.acquired - previous.stats.acquired) / ((snap.time - previous.time) / 1000);
  }
}

function kpi(id: string, value: string, sub: string, bad?: boolean): HTMLElement {
  const box = byId(`kpi-${id}`);
  const valueNode = box.querySelector(".value");
  const subNode = box.querySelector(".sub");
  if (valueNode) valueNode.textContent = value;
  if (subNode) subNode.textContent = sub || "\u00a0";
  if (bad !== undefined) box.classList.toggle("bad", bad);
  return box;
}

function renderKpis(snap: PoolSnapshot): void {
  const s = snap.stats;
  const lat = s.latency;
  const box = kpi("connections", `${s.total} / ${s.cap}`, `max ${s.maxConnections} + ${s.cap - s.maxConnections} overflow`);
  let meter = box.querySelector<HTMLElement>(".meter");
  if (!meter) {
    meter = el("div", "meter");
    meter.append(el("span", "used"), el("span", "idle"));
    box.appendChild(meter);
  }
  (meter.children[0] as HTMLElement).style.width = `${(100 * s.used) / Math.max(1, s.cap)}%`;
  (meter.children[1] as HTMLElement).style.width = `${(100 * s.idle) / Math.max(1, s.cap)}%`;
  kpi("used", String(s.used), s.overflow > 0 ? `${s.overflow} overflow open` : `of ${s.total} open`);
  kpi("idle", String(s.idle), `min ${s.minConnections}${s.creating ? ` · ${s.creating} opening` : ""}`);
  kpi("pending", String(s.pending), s.pending > 0 ? "acquires waiting" : "nobody waits");
  kpi("agents", String(s.activeAgents), `${formatCount(snap.agentCount)} seen`);
  kpi("rate", rate === null ? "–" : rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en-US"), `${formatCount(s.acquired)} total`);
  kpi("wait", lat ? formatDuration(lat.wait.p99) : "–", lat ? `p50 ${formatDuration(lat.wait.p50)} · max ${formatDuration(lat.wait.max)}` : "metrics off");
  kpi("hold", lat ? formatDuration(lat.use.p99) : "–", lat ? `p50 ${formatDuration(lat.use.p50)} · max ${formatDuration(lat.use.max)}` : "metrics off");
  kpi("timeouts", formatCount(s.timeouts), `${formatCount(s.rejected)} rejected · ${formatCount(s.leaks || 0)} leaks`, s.timeouts > 0);
}

function renderCharts(snap: PoolSnapshot): void {
  const connections = byId("chart-connections") as unknown as SVGSVGElement;
  const chart = connectionsChart(snap, connections.clientWidth || 800, connections.clientHeight || 230);
  mountSvg(connections, chart.svg);
  byId("history-span").textContent = chart.spanLabel;
  const wait = byId("chart-wait") as unknown as SVGSVGElement;
  mountSvg(wait, waitChart(snap, wait.clientWidth || 400, wait.clientHeight || 230));
}

function render(snap: PoolSnapshot): void {
  refreshMs = snap.refreshMs || refreshMs;
  byId("refresh-note").textContent = `auto-refresh every ${refreshMs >= 1000 ? `${refreshMs / 1000} s` : `${refreshMs} ms`}`;
  byId("pool-name").textContent = snap.name;
  document.title = `${snap.name} · agentpool`;
  const health = byId("health");
  health.textContent = snap.health.status;
  health.className = `pill ${snap.health.status}`;
  const banner = byId("banner");
  banner.hidden = !snap.health.lastError;
  banner.textContent = snap.health.lastError
    ? `Cannot open connections (${snap.health.failures} failures): ${snap.health.lastError}`
    : "";
  computeRate(snap);
  renderKpis(snap);
  renderCharts(snap);
  renderAgents(snap, token !== "", act);
  renderBudget(snap);
  renderConnections(snap);
  previous = snap;
}

globalThis.addEventListener("resize", () => {
  if (previous) renderCharts(previous);
});
poll();
