/**
 * Prometheus text exposition: parsed back with a strict parser of the 0.0.4 text format, then
 * checked for the OTel metric names, label escaping, histogram consistency and known values.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnectionPool, createMetrics, PROMETHEUS_CONTENT_TYPE, prometheusText } from "../mod.ts";
import { escapeLabelValue } from "../src/core/prometheus.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A strict parser: throws on anything the text format does not allow. */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  const familyOf = (sampleName: string): Family => {
    for (const suffix of ["", "_bucket", "_sum", "_count"]) {
      if (suffix !== "" && !sampleName.endsWith(suffix)) continue;
      const base = sampleName.slice(0, sampleName.length - suffix.length);
      const family = families.get(base);
      if (family === undefined) continue;
      if (suffix === "" && (family.type === "gauge" || family.type === "counter")) return family;
      if (suffix === "_bucket" && family.type === "histogram") return family;
      if ((suffix === "_sum" || suffix === "_count") && (family.type === "histogram" || family.type === "summary")) return family;
    }
    throw new Error(`sample ${sampleName} has no TYPE line before it`);
  };
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta;
      assert.match(name, METRIC_NAME);
      const family = families.get(name) ?? { type: "", help: "", samples: [] };
      if (kind === "TYPE") {
        assert.equal(family.type, "", `one TYPE line for ${name}`);
        assert.equal(family.samples.length, 0, `TYPE before samples of ${name}`);
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(rest), `type ${rest}`);
        family.type = rest;
      } else {
        assert.equal(family.help, "", `one HELP line for ${name}`);
        assert.doesNotMatch(rest.replace(/\\\\|\\n/g, ""), /\\/, "HELP escapes only \\\\ and \\n");
        family.help = rest;
      }
      families.set(name, family);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `sample line: ${line}`);
    const [, name, rawLabels = "", rawValue] = m;
    const labels: Record<string, string> = {};
    if (rawLabels !== "") {
      let rest = rawLabels.slice(1, -1);
      while (rest.length > 0) {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
        assert.ok(lm !== null, `labels of ${line}`);
        assert.match(lm[1], LABEL_NAME);
        assert.ok(!(lm[1] in labels), `label ${lm[1]} once`);
        labels[lm[1]] = lm[2].replace(/\\(["\\n])/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
        rest = rest.slice(lm[0].length);
      }
    }
    const value = rawValue === "+Inf" ? Infinity : rawValue === "-Inf" ? -Infinity : Number(rawValue);
    assert.ok(rawValue === "NaN" || !Number.isNaN(value), `value ${rawValue}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seriesSeen.has(key), `duplicate series ${key}`);
    seriesSeen.add(key);
    familyOf(name).samples.push({ name, labels, value });
  }
  for (const [name, family] of families) {
    assert.ok(family.type !== "" && family.help !== "", `${name} has HELP and TYPE`);
    if (family.type === "histogram") checkHistogram(name, family);
  }
  return families;
}

/** Buckets per label set: le ascending, counts non-decreasing, +Inf last and equal to _count. */
function checkHistogram(name: string, family: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of family.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const count = samples.find((s) => s.name === `${name}_count`);
    assert.ok(samples.some((s) => s.name === `${name}_sum`), `${name}_sum`);
    assert.ok(count !== undefined && buckets.length > 1, `${name} buckets and count`);
    const les = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(les[i] > les[i - 1], `${name} le ascending`);
      assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} cumulative`);
    }
    assert.equal(les.at(-1), Infinity);
    assert.equal(buckets.at(-1)!.value, count.value);
  }
}

function value(families: Map<string, Family>, family: string, sample: string, labels: Record<string, string>): number {
  const found = families.get(family)?.samples.find((s) =>
    s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(found !== undefined, `${sample} ${JSON.stringify(labels)}`);
  return found.value;
}

test("prometheus: escapeLabelValue escapes backslash, quote and newline only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain-agent_1 ü"), "plain-agent_1 ü");
  assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

test("prometheus: OTel pool metrics, histograms and per-agent series parse back with known values", async () => {
  const metrics = createMetrics({ maxAgents: 2 });
  const poolName = 'main "pool"\\east\nwing';
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 1,
    maxConnections: 2,
    overflow: 1,
    maxPerAgent: 3, // grants "b" three connections at once
    metrics,
    name: poolName,
  });
  try {
    const evil = 'agent "x"\\\n';
    await pool.use(() => {}, { agentId: evil });
    await pool.use(() => {}, { agentId: "b" });
    await pool.use(() => {}, { agentId: "c" }); // beyond maxAgents: folds into __other__
    const h1 = await pool.acquire({ agentId: "b" });
    const h2 = await pool.acquire({ agentId: "b" });
    const h3 = await pool.acquire({ agentId: "b" });
    await assert.rejects(pool.acquire({ agentId: "c", timeoutMs: 5 }), { code: "ACQUIRE_TIMEOUT" });

    const families = parseExposition(prometheusText(pool));
    const p = { pool_name: poolName };
    assert.equal(value(families, "db_client_connection_count", "db_client_connection_count", { ...p, state: "used" }), 3);
    assert.equal(value(families, "db_client_connection_count", "db_client_connection_count", { ...p, state: "idle" }), 0);
    assert.equal(value(families, "db_client_connection_idle_max", "db_client_connection_idle_max", p), 2);
    assert.equal(value(families, "db_client_connection_idle_min", "db_client_connection_idle_min", p), 1);
    assert.equal(value(families, "db_client_connection_max", "db_client_connection_max", p), 3);
    assert.equal(value(families, "db_client_connection_pending_requests", "db_client_connection_pending_requests", p), 0);
    assert.equal(value(families, "db_client_connection_timeouts_total", "db_client_connection_timeouts_total", p), 1);
    assert.equal(families.get("db_client_connection_timeouts_total")?.type, "counter");
    for (const h of ["create_time", "wait_time", "use_time"]) {
      assert.equal(families.get(`db_client_connection_${h}_seconds`)?.type, "histogram", h);
    }
    assert.equal(value(families, "db_client_connection_wait_time_seconds", "db_client_connection_wait_time_seconds_count", p), 6);
    assert.equal(value(families, "db_client_connection_use_time_seconds", "db_client_connection_use_time_seconds_count", p), 3);
    assert.equal(value(families, "db_client_connection_create_time_seconds", "db_client_connection_create_time_seconds_count", p), 3);
    assert.equal(value(families, "agentpool_acquires_total", "agentpool_acquires_total", p), 6);
    assert.equal(value(families, "agentpool_up", "agentpool_up", p), 1);
    assert.equal(value(families, "agentpool_acquire_failures_total", "agentpool_acquire_failures_total", { ...p, reason: "timeout" }), 1);

    // Per agent: the label round-trips through escaping; the cap folds "c" into __other__.
    const agents = families.get("agentpool_agent_acquires_total")!.samples.map((s) => s.labels.agent);
    assert.deepEqual(agents, [evil, "b", "__other__"]);
    assert.equal(value(families, "agentpool_agent_acquires_total", "agentpool_agent_acquires_total", { agent: "b" }), 4);
    assert.equal(value(families, "agentpool_agent_connections_held", "agentpool_agent_connections_held", { agent: "b" }), 3);
    assert.equal(value(families, "agentpool_agent_timeouts_total", "agentpool_agent_timeouts_total", { agent: "__other__" }), 1);
    assert.equal(value(families, "agentpool_agent_wait_seconds", "agentpool_agent_wait_seconds_count", { agent: "b" }), 4);
    assert.equal(families.get("agentpool_agent_wait_seconds")?.type, "summary");

    await Promise.all([h1.release(), h2.release(), h3.release()]);
    const after = parseExposition(prometheusText(pool, metrics));
    assert.equal(value(after, "agentpool_agent_connections_held", "agentpool_agent_connections_held", { agent: "b" }), 0);
  } finally {
    await pool.close();
  }
  assert.equal(value(parseExposition(prometheusText(pool)), "agentpool_up", "agentpool_up", {}), 0);
});

test("prometheus: without a tracker, gauges and counters only", async () => {
  const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, minConnections: 0, name: "bare" });
  try {
    const families = parseExposition(prometheusText(pool));
    assert.ok(families.has("db_client_connection_count"));
    assert.ok(families.has("db_client_connection_timeouts_total"));
    assert.ok(!families.has("db_client_connection_wait_time_seconds"));
    assert.ok(![...families.keys()].some((name) => name.startsWith("agentpool_agent_")));
  } finally {
    await pool.close();
  }
});

test("prometheus: a flood of agent ids keeps the series count bounded", async () => {
  const metrics = createMetrics({ maxAgents: 10 });
  const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, minConnections: 1, metrics });
  try {
    for (let i = 0; i < 500; i++) await pool.use(() => {}, { agentId: `ephemeral-${i}` });
    const families = parseExposition(prometheusText(pool));
    const labels = new Set(families.get("agentpool_agent_acquires_total")!.samples.map((s) => s.labels.agent));
    assert.equal(labels.size, 11);
    assert.ok(labels.has("__other__"));
    assert.equal(value(families, "agentpool_agent_acquires_total", "agentpool_agent_acquires_total", { agent: "__other__" }), 490);
  } finally {
    await pool.close();
  }
});
