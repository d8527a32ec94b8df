/// <reference lib="dom" />
/**
 * The dashboard's agents, connections and global budget tables and the connection slot map, updated in place:
 * rows are keyed, so a row keeps its identity while its cells change; count and state cells flash
 * when they change (durations tick constantly and would only flicker, so they do not).
 *
 * @module
 */

import type { AgentInfo } from "../../core/mod.ts";
import type { PoolSnapshot } from "../snapshot.ts";
import { byId, clear, el } from "./dom.ts";
import { formatCount, formatDuration } from "../../core/format.ts";

function setCell(td: HTMLTableCellElement, text: string, className?: string, flash = false): void {
  if (td.textContent !== text) {
    const had = td.textContent !== "";
    td.textContent = text;
    if (had && flash) {
      td.classList.remove("changed");
      void td.offsetWidth; // restart the CSS animation
      td.classList.add("changed");
    }
  }
  if (className !== undefined) td.className = className + (td.classList.contains("changed") ? " changed" : "");
}

function tagCell(td: HTMLTableCellElement, text: string, className: string): void {
  const tag = td.firstChild;
  if (!tag || tag.textContent !== text) {
    clear(td);
    td.appendChild(el("span", `tag ${className}`, text));
  }
}

function syncRows<T>(
  tbody: HTMLTableSectionElement,
  items: readonly T[],
  key: (item: T) => string | number,
  columns: number,
  build: (row: HTMLTableRowElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of Array.from(tbody.rows)) existing.set(row.dataset.key ?? "", row);
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const k = String(key(item));
    seen.add(k);
    let row = existing.get(k);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.key = k;
      for (let c = 0; c < columns; c++) row.appendChild(document.createElement("td"));
    }
    build(row, item);
    if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] ?? null);
  });
  for (let r = tbody.rows.length - 1; r >= 0; r--) if (!seen.has(tbody.rows[r].dataset.key ?? "")) tbody.deleteRow(r);
}

function agentState(a: AgentInfo): string {
  if (a.revoked) return "revoked";
  if (a.pending > 0) return "waiting";
  if (a.held > 0) return "holding";
  return "quiet";
}

/** The agent row's revoke/readmit button calls this. */
export type AgentAction = (agentId: string, action: "revoke" | "readmit") => void;

/**
 * Renders the agents table; the action column shows only when `canWrite` (a token is entered).
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { renderAgents } from "./tables.ts";
 * declare const snap: PoolSnapshot;
 * renderAgents(snap, true, (agentId, action) => console.log(agentId, action));
 * ```
 */
export function renderAgents(snap: PoolSnapshot, canWrite: boolean, act: AgentAction): void {
  const actions = document.querySelector<HTMLElement>("#agents th.actions");
  if (actions) actions.hidden = !canWrite;
  const tbody = document.querySelector<HTMLTableSectionElement>("#agents tbody");
  if (!tbody) return;
  syncRows(tbody, snap.agents, (a) => a.agentId, 13, (row, a) => {
    const td = row.cells;
    const state = agentState(a);
    setCell(td[0], a.agentId, "agent");
    td[0].title = a.agentId;
    tagCell(td[1], state, state);
    setCell(td[2], String(a.held), "n", true);
    let bar = td[2].querySelector<HTMLElement>(".held-bar");
    if (!bar) {
      bar = el("span", "held-bar");
      td[2].appendChild(bar);
    }
    const held = Math.min(a.held, 12);
    const pending = Math.min(a.pending, 12);
    if (bar.childNodes.length !== held + pending || bar.dataset.v !== `${a.held}/${a.pending}`) {
      clear(bar);
      for (let i = 0; i < held; i++) bar.appendChild(el("i"));
      for (let j = 0; j < pending; j++) bar.appendChild(el("i", "wait"));
      bar.dataset.v = `${a.held}/${a.pending}`;
    }
    setCell(td[3], String(a.pending), a.pending ? "n" : "n dim", true);
    setCell(td[4], formatCount(a.acquired), "n", true);
    setCell(td[5], formatCount(a.timeouts), a.timeouts ? "n" : "n dim", true);
    setCell(td[6], formatCount(a.rejected), a.rejected ? "n" : "n dim", true);
    setCell(td[7], a.acquired ? formatDuration(a.totalWaitMs / a.acquired) : "–", "n");
    setCell(td[8], formatDuration(a.maxWaitMs), "n");
    const returned = a.acquired - a.held;
    setCell(td[9], returned > 0 ? formatDuration(a.totalHoldMs / returned) : "–", "n");
    setCell(td[10], a.held ? formatDuration(a.longestHeldMs) : "–", a.held ? "n" : "n dim");
    setCell(td[11], formatCount(a.leaks || 0), a.leaks ? "n" : "n dim", true);
    td[12].hidden = !canWrite;
    if (canWrite && td[12].dataset.v !== String(a.revoked)) {
      clear(td[12]);
      const action = a.revoked ? "readmit" : "revoke";
      const button = el("button", a.revoked ? "" : "danger", action);
      button.addEventListener("click", () => act(a.agentId, action));
      td[12].appendChild(button);
      td[12].dataset.v = String(a.revoked);
    }
  });
  byId("agents-note").textContent = `${snap.stats.activeAgents} active · ${snap.agentCount} seen`;
  const more = byId("agents-more");
  more.hidden = snap.agentCount <= snap.agents.length;
  more.textContent = `showing the ${snap.agents.length} busiest of ${snap.agentCount} agents`;
}

/**
 * Renders the connection slot map (one cell per slot up to the cap) and the connections table.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { renderConnections } from "./tables.ts";
 * declare const snap: PoolSnapshot;
 * renderConnections(snap);
 * ```
 */
export function renderConnections(snap: PoolSnapshot): void {
  const s = snap.stats;
  const map = byId("conn-map");
  const cells = snap.connections.map((c) => ({
    className: c.state + (c.overflow ? " overflow" : ""),
    title: `#${c.id} ${c.state}${c.agentId ? ` · ${c.agentId}` : ""}`,
  }));
  for (let i = 0; i < s.creating; i++) cells.push({ className: "creating", title: "opening" });
  while (cells.length < s.cap) cells.push({ className: "", title: "free slot" });
  while (map.childNodes.length > cells.length) map.lastChild?.remove();
  cells.forEach((c, index) => {
    const cell = (map.children[index] as HTMLElement | undefined) ?? map.appendChild(el("div"));
    cell.className = `cell ${c.className}`;
    cell.title = c.title;
  });
  byId("connections-note").textContent = `${s.total} open · ${s.used} used · ${s.idle} idle${s.creating ? ` · ${s.creating} opening` : ""}`;
  const tbody = document.querySelector<HTMLTableSectionElement>("#connections tbody");
  if (!tbody) return;
  syncRows(tbody, snap.connections, (c) => c.id, 8, (row, c) => {
    const td = row.cells;
    setCell(td[0], String(c.id), "n mono");
    tagCell(td[1], c.state, c.state);
    setCell(td[2], c.agentId || "–", c.agentId ? "agent" : "dim", true);
    setCell(td[3], c.agentId ? formatDuration(c.heldMs) : "–", c.agentId ? "n" : "n dim");
    setCell(td[4], c.state === "idle" ? formatDuration(c.idleMs) : "–", c.state === "idle" ? "n" : "n dim");
    setCell(td[5], formatCount(c.uses), "n");
    setCell(td[6], formatDuration(c.ageMs), "n");
    if (c.overflow) tagCell(td[7], "overflow", "overflow");
    else setCell(td[7], "steady", "dim");
  });
}

/**
 * Renders the global budget's panel: the lease's state, and per budgeted agent the limit across
 * processes, the sum of the grants, this process's quota, use and demand, and every process's
 * grant and holding (`*` marks this process). Hidden when the snapshot has no budget.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { renderBudget } from "./tables.ts";
 * declare const snap: PoolSnapshot;
 * renderBudget(snap);
 * ```
 */
export function renderBudget(snap: PoolSnapshot): void {
  const budget = snap.budget;
  const panel = byId("budget-panel");
  panel.hidden = budget === null || budget === undefined;
  if (budget === null || budget === undefined) return;
  const left = budget.state === "granted" ? ` (${formatDuration(budget.leaseRemainingMs)} left)` : "";
  byId("budget-note").textContent = `${JSON.stringify(budget.name)} as ${budget.holder} · lease ${budget.state}${left} · ` +
    `${formatCount(budget.renewals)} renewals · ${formatCount(budget.renewFailures)} failed · ${formatCount(budget.expiries)} expiries` +
    (budget.lastError === undefined ? "" : ` · last error: ${budget.lastError}`);
  const tbody = document.querySelector<HTMLTableSectionElement>("#budget tbody");
  if (!tbody) return;
  syncRows(tbody, budget.agents, (a) => a.agentId, 7, (row, a) => {
    const td = row.cells;
    setCell(td[0], a.agentId, "agent");
    td[0].title = a.agentId;
    setCell(td[1], String(a.limit), "n");
    setCell(td[2], String(a.granted), a.granted >= a.limit ? "n full" : "n", true);
    setCell(td[3], String(a.quota), a.quota ? "n" : "n dim", true);
    setCell(td[4], String(a.held), a.held ? "n" : "n dim", true);
    setCell(td[5], String(a.wants), a.wants ? "n" : "n dim", true);
    const holders = a.holders.map((h) => `${h.holder}${h.self ? "*" : ""} ${h.granted}/${h.held}`).join(" · ");
    setCell(td[6], holders || "none", holders ? "mono" : "dim", true);
  });
}
