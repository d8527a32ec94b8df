/**
 * In-process A/B of agentpool cores: loads two or more esbuild bundles of src/core (+ src/context)
 * into ONE process and alternates between them every ~10,000 acquire+release cycles, so machine
 * load (other processes on the 2 cores) hits every side alike. Each side gets its own loop code
 * (`new Function`), so no call site is shared between the bundles. Prints per bundle the min, p25
 * and p50 of process CPU ns per cycle.
 *
 * ```sh
 * for w in /work/wt/base21 .; do node_modules/.bin/esbuild $w/src/core/mod.ts --bundle --format=esm \
 *   --platform=node --outfile=/tmp/$(basename $w).mjs; done
 * node benchmarks/ab_inprocess.mjs contended real /tmp/base21.mjs /tmp/perf10.mjs   # also bun, deno run -A
 * ```
 * suite: uncontended | contended | waiters | agents; clock: real | fake (a counter: no clock cost).
 * Env: OPS (cycles per sample, 20000), REPS (samples per side, 100), AGENTS (agents suite / waiters, 1000).
 *
 * @module
 */
import process from "node:process";
const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const [suite, clockMode, ...bundles] = args;
const OPS = +(process.env.OPS ?? 20000), REPS = +(process.env.REPS ?? 100);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const loopSrc = {
  uncontended: `return async function (ops) { for (let i = 0; i < ops; i++) { const h = await pool.acquire(opts); void h.release(); } }`,
  agents: `let k = 0; return async function (ops) { for (let i = 0; i < ops; i++) { const h = await pool.acquire(many[k]); if (++k === many.length) k = 0; void h.release(); } }`,
  contended: `async function worker(a, c) { for (let i = 0; i < c; i++) { const h = await pool.acquire(a); await undefined; void h.release(); } }
    return async function (ops) { const rounds = ops / 1000; for (let r = 0; r < rounds; r++) await Promise.all(cw.map((a) => worker(a, 20))); }`,
  waiters: `async function cycle(a) { const h = await pool.acquire(a); await undefined; void h.release(); }
    const pending = new Array(many.length);
    return async function (ops) { const rounds = Math.max(1, ops / many.length); for (let r = 0; r < rounds; r++) { for (let i = 0; i < many.length; i++) pending[i] = cycle(many[i]); await Promise.all(pending); } }`,
}[suite];
const runs = [];
for (const b of bundles) {
  const mod = await import(b);
  let t = 0;
  const fake = { now: () => (t += 0.001), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h), unref: mod.systemClock.unref };
  let id = 0;
  const n = suite === "contended" ? 20 : 10;
  const pool = new mod.AsyncConnectionPool({
    factory: { create: () => Promise.resolve({ id: id++ }), destroy: () => {} },
    minConnections: n, maxConnections: n, overflow: 0, acquireTimeoutMs: 30000, maxWaiting: 100000,
    ...(clockMode === "fake" ? { clock: fake } : {}),
  });
  while (pool.stats().idle < n) await new Promise((r) => setTimeout(r, 1));
  const opts = { agentId: "planner-1" };
  const many = Array.from({ length: +(process.env.AGENTS ?? 1000) }, (_, i) => ({ agentId: `agent-${i}` }));
  const cw = Array.from({ length: 50 }, (_, i) => ({ agentId: `w-${i}` }));
  const fn = new Function("pool", "opts", "many", "cw", loopSrc)(pool, opts, many, cw);
  await fn(OPS * 3);
  runs.push({ b, pool, fn, res: [] });
}
for (let r = 0; r < REPS; r++) for (const x of runs) { const s = cpu(); await x.fn(OPS); x.res.push(((cpu() - s) * 1e6) / OPS); }
const out = {};
for (const x of runs) { x.res.sort((a, b) => a - b); out[x.b.split("/").pop().replace(".mjs", "")] = [+x.res[0].toFixed(1), +x.res[x.res.length >> 2].toFixed(1), +x.res[x.res.length >> 1].toFixed(1)]; await x.pool.close(); }
console.log(suite, clockMode, JSON.stringify(out));
