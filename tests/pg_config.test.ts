/**
 * The facade's constructor: pg's PoolConfig keys mean what they mean in pg, agentpool's own keys
 * pass through, and bad or contradictory input throws naming the key and value (never a password).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Pool } from "../src/pg/mod.ts";

/** A URL that carries a password (built, so that no such string sits in the source). */
const URL_WITH_SECRET = Object.assign(new URL("postgres://127.0.0.1:1/app"), { username: "app", password: "hunter2-secret" }).href;

test("pg keys map onto the pool: max, min, idleTimeoutMillis, connectionTimeoutMillis, maxLifetimeSeconds", async () => {
  const pool = new Pool({ connectionString: URL_WITH_SECRET, max: 7, min: 0, idleTimeoutMillis: 0, connectionTimeoutMillis: 250, maxLifetimeSeconds: 60 });
  try {
    const core = pool.agentpool.options;
    assert.equal(core.maxConnections, 7);
    assert.equal(core.overflow, 0, "pg's max is a hard cap");
    assert.equal(core.minConnections, 0);
    assert.equal(core.idleTimeoutMs, 0);
    assert.equal(core.acquireTimeoutMs, 250);
    assert.equal(core.maxLifetimeMs, 60_000);
    assert.equal(pool.options.max, 7);
    assert.equal(pool.options.maxUses, Infinity);
    assert.equal(pool.options.allowExitOnIdle, false);
  } finally {
    await pool.end();
  }
  const forever = new Pool({ connectionString: URL_WITH_SECRET, connectionTimeoutMillis: 0 });
  assert.equal(forever.agentpool.options.acquireTimeoutMs, Infinity, "0 waits forever, as in pg");
  assert.equal(forever.options.max, 10, "pg's default max");
  assert.equal(forever.options.idleTimeoutMillis, 10_000, "pg's default idle timeout");
  await forever.end();
});

test("agentpool's own options pass through", async () => {
  const pool = new Pool({ connectionString: URL_WITH_SECRET, max: 4, maxPerAgent: 2, name: "checkpoints", acquireTimeoutMs: 1234 });
  try {
    assert.equal(pool.agentpool.options.maxPerAgent, 2);
    assert.equal(pool.agentpool.options.acquireTimeoutMs, 1234);
    assert.equal(pool.options.name, "checkpoints");
  } finally {
    await pool.end();
  }
});

test("the password is in pool.options (Kysely's cancel reads it) but not enumerable, so logging options does not show it", async () => {
  const pool = new Pool({ host: "127.0.0.1", port: 1, password: "hunter2-secret" });
  try {
    assert.equal(pool.options.password, "hunter2-secret");
    assert.doesNotMatch(JSON.stringify(pool.options), /hunter2/);
    assert.deepEqual(Object.keys(pool.options).includes("password"), false);
  } finally {
    await pool.end();
  }
});

test("unknown keys, bad values and contradictions throw naming the key and value, never a password", () => {
  const cases: Array<[Record<string, unknown>, RegExp, typeof TypeError | typeof RangeError]> = [
    [{ maxConnectionz: 3 }, /'maxConnectionz' is not a pg PoolConfig key/, TypeError],
    [{ pasword: "hunter2-secret" }, /'pasword' is not a pg PoolConfig key/, TypeError],
    [{ min: 5, max: 2 }, /'min' must be at most 'max' \(2\): current value is 5/, RangeError],
    [{ max: 0 }, /'max' must be a positive integer: current value is 0/, RangeError],
    [{ max: "10" }, /'max' must be a positive integer: current value is "10"/, TypeError],
    [{ max: 5, maxConnections: 6 }, /'max' and 'maxConnections' both set the same thing: current values are 5 and 6/, TypeError],
    [{ idleTimeoutMillis: -1 }, /'idleTimeoutMillis' must be a non-negative number/, RangeError],
    [{ connectionTimeoutMillis: 10, acquireTimeoutMs: 20 }, /'connectionTimeoutMillis' and 'acquireTimeoutMs'/, TypeError],
    [{ maxUses: 0 }, /'maxUses' must be a positive integer or Infinity: current value is 0/, RangeError],
    [{ allowExitOnIdle: "yes" }, /'allowExitOnIdle' must be a boolean/, TypeError],
    [{ defaultAgent: "" }, /'defaultAgent' must be a non-empty string/, TypeError],
    [{ maxPerAgent: 0 }, /'maxPerAgent'/, RangeError],
  ];
  for (const [config, message, kind] of cases) {
    assert.throws(() => new Pool({ connectionString: URL_WITH_SECRET, password: "hunter2-secret", ...config }), (error: Error) => {
      assert.ok(error instanceof kind, `${JSON.stringify(config)}: ${error}`);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  }
});
