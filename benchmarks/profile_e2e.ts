/**
 * Where the CPU goes per transaction on the end-to-end workload, by layer: the driver
 * (postgres.js or pg), agentpool's tracked `Sql` wrapper, the adapter, the pool core, Node's
 * sockets and buffers, GC. Node only (it profiles itself through `node:inspector` during the
 * measured window, so start-up and module loading are not counted).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
 *   node --import tsx benchmarks/profile_e2e.ts --peer adapter,pg-pool [--seconds 5] [--json out.json]
 * ```
 *
 * @module
 */

import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import process from "node:process";
import { integer, listOption, oneOf, parseCommandLine, text, UsageError, valueOption } from "../src/cli/args.ts";
import { openTxPeer, TX_PEERS, type TxPeerName } from "./peers/pg_peers.ts";

const AGENTS = 50;
const CONNECTIONS = 20;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The layer a profile node belongs to. */
function layer(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (functionName === "(idle)") return "idle (waiting for the database)";
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(program)") return "V8 / runtime (program)";
  if (url.includes("node_modules/postgres/")) return "driver: postgres.js";
  if (/node_modules\/(pg|pg-pool|pg-protocol|pg-types|pgpass|pg-connection-string)\//.test(url)) return "driver: pg";
  if (/\/src\/postgres\/(tracked_sql|connection_state|tracker|factory)\.ts/.test(url)) return "agentpool: tracked Sql + factory";
  if (url.includes("/src/postgres/")) return "agentpool: adapter (" + url.replace(/^.*\/src\/postgres\//, "") + ")";
  if (url.includes("/src/core/")) return "agentpool: pool core";
  if (url.includes("/src/context/")) return "agentpool: context";
  if (url.includes("/benchmarks/")) return "benchmark loop";
  if (url.startsWith("node:") || url === "" && /^(writeBuffer|writev|writeUtf8String|utf8Write|utf8Slice|readStart|onStreamRead)$/.test(functionName)) {
    return "Node: sockets, streams, buffers";
  }
  if (url === "") return "native: " + (functionName || "(anonymous)");
  return "other: " + url.replace(/^.*node_modules\//, "").split("/")[0];
}

/** Self time per layer and per function (µs) over the profile. */
function attribute(profile: Profile): { layers: Map<string, number>; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const layers = new Map<string, number>();
  const functions = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])!;
    // A sample's time is the delta to the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const l = layer(node);
    layers.set(l, (layers.get(l) ?? 0) + us);
    const fn = `${l} · ${node.callFrame.functionName || "(anonymous)"}:${node.callFrame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  return { layers, functions };
}

async function profilePeer(name: TxPeerName, url: string, seconds: number): Promise<Record<string, unknown>> {
  const peer = await openTxPeer(name, url, CONNECTIONS);
  if ("skipped" in peer) return { peer: name, skipped: peer.skipped };
  const agents = Array.from({ length: AGENTS }, (_, i) => peer.agent(`agent-${i}`));
  let count = 0;
  let until = 0;
  const loop = (): Promise<void[]> => Promise.all(agents.map(async (agent) => {
    while (performance.now() < until) {
      await peer.tx(agent, () => {});
      count++;
    }
  }));
  until = performance.now() + 1000;
  await loop(); // warm-up: JIT, connections
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  until = t0 + seconds * 1000;
  await loop();
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await session.post("Profiler.stop") as { profile: Profile };
  session.disconnect();
  await peer.close();
  const { layers, functions } = attribute(profile);
  const perTx = (us: number): number => (us * 1000) / count; // ns per transaction
  const sorted = (m: Map<string, number>, n: number): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  const busyUs = [...layers].filter(([l]) => !l.startsWith("idle")).reduce((sum, [, us]) => sum + us, 0);
  console.error(`\n${name}: ${count} transactions in ${(elapsedMs / 1000).toFixed(1)} s = ${((count * 1000) / elapsedMs).toFixed(0)} tx/s; process CPU ${(((cpu.user + cpu.system) * 1000) / count / 1000).toFixed(1)} µs per transaction; profiled busy ${(perTx(busyUs) / 1000).toFixed(1)} µs per transaction`);
  for (const [l, us] of sorted(layers, 20)) console.error(`  ${(perTx(us) / 1000).toFixed(2).padStart(8)} µs/tx  ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${l}`);
  console.error("  top functions:");
  for (const [f, us] of sorted(functions, Number(process.env.TOPN ?? 25))) console.error(`  ${(perTx(us) / 1000).toFixed(2).padStart(8)} µs/tx  ${f}`);
  return {
    peer: name,
    config: peer.config,
    transactions: count,
    txPerSec: (count * 1000) / elapsedMs,
    cpuUsPerTx: ((cpu.user + cpu.system) * 1000) / count / 1000,
    layersNsPerTx: Object.fromEntries(sorted(layers, 50).map(([l, us]) => [l, perTx(us)])),
    topFunctionsNsPerTx: Object.fromEntries(sorted(functions, 40).map(([f, us]) => [f, perTx(us)])),
  };
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandLine("profile_e2e.ts", process.argv.slice(2), {
      peer: listOption(oneOf(TX_PEERS)),
      seconds: valueOption(integer(1)),
      json: valueOption(text),
    }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`profile_e2e.ts: ${error.message}`);
    return 2;
  }
  const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const results = [];
  for (const name of values.peer ?? ["adapter", "pg-pool"]) results.push(await profilePeer(name, url, values.seconds ?? 5));
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ runtime: `node ${process.versions.node}`, at: new Date().toISOString(), results }, null, 2) + "\n");
  return 0;
}

process.exitCode = await main();
