/**
 * The dashboard's stylesheet, served by the router at `assets/dashboard.css` (no CDN, no inline
 * styles, so the page runs under a strict Content-Security-Policy).
 *
 * @module
 */

/**
 * The dashboard CSS.
 *
 * @example
 * ```ts
 * import { DASHBOARD_CSS } from "./dashboard_css.ts";
 * new Response(DASHBOARD_CSS, { headers: { "content-type": "text/css; charset=utf-8" } });
 * ```
 */
export const DASHBOARD_CSS: string = `
:root {
  --bg: #0b1020; --panel: #121a2e; --panel-2: #0f1628; --border: #1f2a44; --grid: #1a2440;
  --text: #e6ebf5; --muted: #8b97b3; --faint: #5d6987;
  --used: #5b8cff; --idle: #2dd4bf; --pending: #f5a524; --danger: #f25f5c; --ok: #3ddc84; --violet: #a78bfa;
  --radius: 12px;
  color-scheme: dark;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.num, td.n, .kpi .value, .mono { font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
header.top { display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 14px 28px; border-bottom: 1px solid var(--border);
  background: linear-gradient(180deg, #101830 0%, var(--bg) 100%); position: sticky; top: 0; z-index: 5; }
.brand { display: flex; align-items: baseline; gap: 12px; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
.logo { color: var(--used); font-size: 16px; }
.pool-name { color: var(--muted); font-weight: 500; font-size: 15px; }
.status { display: flex; align-items: center; gap: 14px; color: var(--muted); font-size: 13px; }
.live { display: inline-flex; align-items: center; gap: 8px; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.dot.on { background: var(--ok); box-shadow: 0 0 0 0 rgba(61,220,132,.6); animation: pulse 2s infinite; }
.dot.off { background: var(--danger); }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 rgba(61,220,132,.5); } 70% { box-shadow: 0 0 0 8px rgba(61,220,132,0); } 100% { box-shadow: 0 0 0 0 rgba(61,220,132,0); } }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
  letter-spacing: .3px; text-transform: uppercase; border: 1px solid transparent; white-space: nowrap; }
.pill.healthy { color: var(--ok); background: rgba(61,220,132,.12); border-color: rgba(61,220,132,.35); }
.pill.degraded { color: var(--pending); background: rgba(245,165,36,.12); border-color: rgba(245,165,36,.35); }
.pill.down { color: var(--danger); background: rgba(242,95,92,.12); border-color: rgba(242,95,92,.4); }
.pill.closed, .pill.unknown { color: var(--muted); background: rgba(139,151,179,.1); border-color: var(--border); }
main { max-width: 1440px; margin: 0 auto; padding: 22px 28px 12px; display: grid; gap: 18px; }
.banner { padding: 10px 14px; border-radius: var(--radius); border: 1px solid rgba(242,95,92,.4);
  background: rgba(242,95,92,.08); color: #ffb4b2; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 12px; }
.kpi { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 14px 16px 12px; min-height: 96px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
.kpi .value { font-size: 26px; font-weight: 650; margin-top: 4px; line-height: 1.15; }
.kpi .value small { font-size: 15px; color: var(--muted); font-weight: 500; }
.kpi .sub { color: var(--muted); font-size: 12px; margin-top: 4px; }
.kpi.used .value { color: var(--used); } .kpi.pending .value { color: var(--pending); }
.kpi.idle .value { color: var(--idle); } .kpi.bad .value { color: var(--danger); }
.meter { display: flex; height: 6px; border-radius: 3px; overflow: hidden; background: var(--grid); margin-top: 8px; }
.meter span { display: block; height: 100%; width: 0; transition: width .4s ease; }
.meter .used { background: var(--used); } .meter .idle { background: var(--idle); }
.charts { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 18px; }
@media (max-width: 960px) { .charts { grid-template-columns: 1fr; } }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 14px 18px 16px; min-width: 0; }
.panel h2 { margin: 0 0 10px; font-size: 14px; font-weight: 600; display: flex; align-items: baseline; gap: 10px; }
.panel h2 small { color: var(--muted); font-weight: 400; font-size: 12px; }
.panel h2 .spacer { flex: 1; }
.legend { display: inline-flex; gap: 14px; font-size: 12px; color: var(--muted); font-weight: 400; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.legend .used i { background: var(--used); } .legend .idle i { background: var(--idle); }
.legend .pending i { background: var(--pending); } .legend .cap i { background: transparent; border-top: 2px dashed var(--faint); height: 0; }
svg.chart { display: block; width: 100%; height: 230px; }
svg.chart text { fill: var(--muted); font-size: 11px; font-family: inherit; }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
svg.chart .axisline { stroke: var(--border); stroke-width: 1; }
svg.chart .ref.cap { stroke: var(--faint); stroke-dasharray: 4 4; stroke-width: 1; fill: none; }
svg.chart .area.area-used { fill: rgba(91,140,255,.55); stroke: none; }
svg.chart .line.area-used { stroke: var(--used); stroke-width: 1.5; }
svg.chart .area.area-idle { fill: rgba(45,212,191,.28); stroke: none; }
svg.chart .line.area-idle { stroke: var(--idle); stroke-width: 1.2; }
svg.chart .line.line-pending { stroke: var(--pending); stroke-width: 2; }
svg.chart .bar { fill: var(--violet); } svg.chart .bar.zero { fill: var(--idle); }
svg.chart .bar.slow { fill: var(--pending); } svg.chart .bar.very-slow { fill: var(--danger); }
svg.chart .empty { fill: var(--faint); font-size: 13px; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 11.5px; text-transform: uppercase; letter-spacing: .5px;
  padding: 8px 10px; border-bottom: 1px solid var(--border); white-space: nowrap; background: var(--panel); }
th.n, td.n { text-align: right; }
td { padding: 7px 10px; border-bottom: 1px solid var(--grid); white-space: nowrap; }
tbody tr:hover td { background: var(--panel-2); }
td.agent { font-weight: 600; max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
td.dim, .dim { color: var(--faint); }
td.n.full { color: #ffe2a8; }
td.changed { animation: flash .8s ease-out; }
@keyframes flash { 0% { background: rgba(91,140,255,.16); color: #fff; } 100% { background: transparent; } }
.tag { display: inline-block; padding: 1px 8px; border-radius: 6px; font-size: 11.5px; font-weight: 600; }
.tag.used, .tag.holding { color: #cddbff; background: rgba(91,140,255,.22); }
.tag.idle { color: #b5f5ea; background: rgba(45,212,191,.16); }
.tag.waiting { color: #ffe2a8; background: rgba(245,165,36,.2); }
.tag.revoked { color: #ffc9c8; background: rgba(242,95,92,.22); }
.tag.resetting, .tag.validating { color: #e3d9ff; background: rgba(167,139,250,.2); }
.tag.quiet { color: var(--muted); background: rgba(139,151,179,.1); }
.tag.overflow { color: var(--pending); background: transparent; border: 1px solid rgba(245,165,36,.4); }
.held-bar { display: inline-flex; gap: 3px; margin-left: 8px; vertical-align: middle; }
.held-bar i { width: 7px; height: 11px; border-radius: 2px; background: var(--used); display: inline-block; }
.held-bar i.wait { background: transparent; border: 1px solid var(--pending); }
.conn-map { display: flex; flex-wrap: wrap; gap: 6px; margin: 2px 0 14px; }
.conn-map .cell { width: 22px; height: 22px; border-radius: 5px; border: 1px solid var(--border); background: var(--panel-2); }
.conn-map .cell.used { background: var(--used); border-color: var(--used); }
.conn-map .cell.idle { background: rgba(45,212,191,.35); border-color: var(--idle); }
.conn-map .cell.resetting, .conn-map .cell.validating { background: rgba(167,139,250,.35); border-color: var(--violet); }
.conn-map .cell.creating { border: 1px dashed var(--muted); }
.conn-map .cell.overflow { box-shadow: inset 0 0 0 2px rgba(245,165,36,.8); }
button { font: inherit; color: var(--text); background: var(--panel-2); border: 1px solid var(--border); border-radius: 8px; padding: 3px 10px; cursor: pointer; }
button:hover { border-color: var(--muted); }
button.danger { color: #ffc9c8; border-color: rgba(242,95,92,.45); }
.auth { max-width: 440px; margin: 60px auto; background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 22px; }
.auth h2 { margin: 0 0 6px; font-size: 16px; }
.auth p { color: var(--muted); margin: 0 0 14px; }
.auth form { display: flex; gap: 8px; }
.auth input { flex: 1; font: inherit; color: var(--text); background: var(--panel-2); border: 1px solid var(--border); border-radius: 8px; padding: 7px 10px; }
.auth .error { color: var(--danger); margin-top: 10px; min-height: 1em; }
.more { color: var(--muted); font-size: 12px; margin-top: 8px; }
.toast { position: fixed; right: 20px; bottom: 20px; background: var(--panel); border: 1px solid var(--border); border-radius: 10px;
  padding: 10px 14px; box-shadow: 0 8px 30px rgba(0,0,0,.4); opacity: 0; transition: opacity .25s; pointer-events: none; }
.toast.show { opacity: 1; }
footer { max-width: 1440px; margin: 0 auto; padding: 6px 28px 28px; color: var(--faint); font-size: 12px; display: flex; gap: 14px; flex-wrap: wrap; }
footer a { color: var(--muted); text-decoration: none; border-bottom: 1px dotted var(--faint); }
footer .spacer { flex: 1; }
button.link { background: none; border: none; padding: 0; color: var(--muted); border-bottom: 1px dotted var(--faint); border-radius: 0; font-size: 12px; }
[hidden] { display: none !important; }
`;
