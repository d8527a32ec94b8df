/**
 * The dashboard's HTML shell. It carries no pool data (the script fetches `snapshot`), so it can be
 * served without a token and the page can ask for one.
 *
 * @module
 */

import { escapeMarkup } from "./markup.ts";

/**
 * The prefix that makes `assets/…` resolve under the router from the page at `path`, whether the
 * router was reached as `/pool` or `/pool/` (and behind proxies that strip a prefix).
 *
 * @example
 * ```ts
 * import { assetPrefix } from "./dashboard_page.ts";
 * assetPrefix("/admin/pool"); // "./pool/"
 * assetPrefix("/admin/pool/"); // "./"
 * ```
 */
export function assetPrefix(path: string): string {
  if (path.endsWith("/")) return "./";
  const last = path.slice(path.lastIndexOf("/") + 1);
  return `./${last}/`;
}

const KPIS: [id: string, label: string, kind: string][] = [
  ["connections", "Connections", ""],
  ["used", "In use", "used"],
  ["idle", "Idle", "idle"],
  ["pending", "Waiting", "pending"],
  ["agents", "Active agents", ""],
  ["rate", "Acquires / s", ""],
  ["wait", "Wait p99", ""],
  ["hold", "Hold p99", ""],
  ["timeouts", "Timeouts", ""],
];

/**
 * The dashboard page for a request to `path`.
 *
 * @example
 * ```ts
 * import { dashboardHtml } from "./dashboard_page.ts";
 * const html = dashboardHtml("/pool", "agentpool");
 * ```
 */
export function dashboardHtml(path: string, title: string): string {
  const prefix = escapeMarkup(assetPrefix(path));
  const t = escapeMarkup(title);
  const kpis = KPIS.map(([id, label, kind]) =>
    `<div class="kpi ${kind}" id="kpi-${id}"><div class="label">${label}</div><div class="value">–</div><div class="sub">&nbsp;</div></div>`
  ).join("\n      ");
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>${t} · agentpool</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${prefix}assets/dashboard.css">
</head>
<body>
  <header class="top">
    <div class="brand"><span class="logo">◆</span><span>agentpool</span><span class="pool-name" id="pool-name">${t}</span></div>
    <div class="status">
      <span id="health" class="pill unknown">…</span>
      <span class="live"><span class="dot" id="live-dot"></span><span id="updated">connecting…</span></span>
    </div>
  </header>
  <section class="auth" id="auth" hidden>
    <h2>Admin token required</h2>
    <p>This pool's admin routes need a bearer token. It stays in this browser tab only.</p>
    <form id="auth-form"><input id="auth-token" type="password" autocomplete="off" placeholder="token" aria-label="token"><button type="submit">Open</button></form>
    <div class="error" id="auth-error"></div>
  </section>
  <main id="main">
    <div class="banner" id="banner" hidden></div>
    <section class="kpis">
      ${kpis}
    </section>
    <section class="charts">
      <div class="panel">
        <h2>Connections <small id="history-span">last minutes</small><span class="spacer"></span>
          <span class="legend"><span class="used"><i></i>used</span><span class="idle"><i></i>idle</span><span class="pending"><i></i>waiting</span><span class="cap"><i></i>cap</span></span></h2>
        <svg class="chart" id="chart-connections" role="img" aria-label="Used, idle and waiting over time"></svg>
      </div>
      <div class="panel">
        <h2>Wait time <small>since start · log scale</small></h2>
        <svg class="chart" id="chart-wait" role="img" aria-label="Wait time distribution"></svg>
      </div>
    </section>
    <section class="panel">
      <h2>Agents <small id="agents-note"></small></h2>
      <div class="table-wrap">
        <table id="agents">
          <thead><tr>
            <th>Agent</th><th>State</th><th class="n">Held</th><th class="n">Waiting</th><th class="n">Acquired</th>
            <th class="n">Timeouts</th><th class="n">Rejected</th><th class="n">Avg wait</th><th class="n">Max wait</th>
            <th class="n">Avg hold</th><th class="n">Holding for</th><th class="n">Leaks</th><th class="actions" hidden></th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div class="more" id="agents-more" hidden></div>
    </section>
    <section class="panel" id="budget-panel" hidden>
      <h2>Global budget <small id="budget-note"></small></h2>
      <div class="table-wrap">
        <table id="budget">
          <thead><tr>
            <th>Agent</th><th class="n">Limit</th><th class="n">Granted</th><th class="n">Quota here</th>
            <th class="n">Held here</th><th class="n">Wants here</th><th>Granted / held by process</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section class="panel">
      <h2>Connections <small id="connections-note"></small></h2>
      <div class="conn-map" id="conn-map" aria-label="Connection slots"></div>
      <div class="table-wrap">
        <table id="connections">
          <thead><tr>
            <th class="n">#</th><th>State</th><th>Agent</th><th class="n">Held for</th><th class="n">Idle for</th>
            <th class="n">Uses</th><th class="n">Age</th><th>Kind</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
  </main>
  <footer>
    <span id="refresh-note">auto-refresh</span>
    <a href="${prefix}stats">stats</a><a href="${prefix}agents">agents</a><a href="${prefix}connections">connections</a>
    <a href="${prefix}metrics">metrics</a><a href="${prefix}health">health</a>
    <span class="spacer"></span><button type="button" class="link" id="sign-in">enter admin token</button>
  </footer>
  <div class="toast" id="toast" role="status"></div>
  <script src="${prefix}assets/dashboard.js" defer></script>
</body>
</html>
`;
}
