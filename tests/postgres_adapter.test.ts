/**
 * PooledDatabaseAdapter against a real PostgreSQL: commit, rollback, the original error, savepoints,
 * isolation and read-only really set, retries of a provoked serialization failure and deadlock,
 * cancellation, fencing, slow-transaction reports; never a connection left held.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PoolError } from "../src/core/errors.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { ScopeClosedError, SessionLostError, TransactionRolledBackError } from "../src/postgres/errors.ts";
import { isRetryableError } from "../src/postgres/retry.ts";
import type { OpenTransaction } from "../src/postgres/tracker.ts";
import type { TransactionSql } from "../src/postgres/scope.ts";
import { eventually, sleep, withDb } from "./postgres_support.ts";

/** A promise with its resolver, to line up concurrent transactions without timers. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("adapter: commit and rollback", () => {
  test("commits, and a one-statement callback returning its query commits in the same round trip", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const rows = await db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ($1)`, ["first"]);
        return tx.unsafe(`insert into ${schema}.notes values ($1) returning body`, ["second"]);
      }, { agentId: "writer" });
      assert.equal(rows[0].body, "second");
      const [one] = await db.transaction((tx) => tx.unsafe(`insert into ${schema}.notes values ('third') returning body`), { agentId: "writer" });
      assert.equal(one.body, "third");
      const seen = await observer.unsafe(`select body from ${schema}.notes order by body`);
      assert.deepEqual(seen.map((r) => r.body), ["first", "second", "third"]);
    });
  });

  test("a throw rolls back and surfaces the very same error", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const original = new Error("agent changed its mind");
      const caught = await db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ('gone')`);
        throw original;
      }, { agentId: "writer" }).catch((e: unknown) => e);
      assert.equal(caught, original);
      assert.equal((await observer.unsafe(`select * from ${schema}.notes`)).length, 0);
    });
  });

  test("a failing statement surfaces the server's error and rolls back, also when returned un-awaited", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text not null)`), { agentId: "setup" });
      const awaited = await db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ('x')`);
        await tx.unsafe(`insert into ${schema}.notes values (null)`);
      }, { agentId: "w" }).catch((e: unknown) => e);
      assert.equal((awaited as { code?: string }).code, "23502");
      const returned = await db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ('y')`);
        return tx.unsafe(`insert into ${schema}.notes values (null)`);
      }, { agentId: "w" }).catch((e: unknown) => e);
      assert.equal((returned as { code?: string }).code, "23502");
      const sync = await db.transaction((tx) => tx`select 1/0 as boom`, { agentId: "w" }).catch((e: unknown) => e);
      assert.equal((sync as { code?: string }).code, "22012");
      assert.equal((await observer.unsafe(`select * from ${schema}.notes`)).length, 0);
    });
  });

  test("the first statement runs inside the transaction BEGIN opened (pipelined, not autocommit)", async () => {
    await withDb(async ({ db }) => {
      const [row] = await db.transaction(
        (tx) => tx`select current_setting('transaction_isolation') as iso`,
        { agentId: "a", isolation: "repeatable read" },
      );
      assert.equal(row.iso, "repeatable read");
      const [inside] = await db.transaction(async (tx) => {
        const [a] = await tx`select txid_current() as x`;
        const [b] = await tx`select txid_current() as x`;
        return [{ same: a.x === b.x }];
      }, { agentId: "a" });
      assert.equal(inside.same, true);
    });
  });

  test("an error swallowed inside the callback still fails the commit: TransactionRolledBackError", async () => {
    await withDb(async ({ db, pool }) => {
      const caught = await db.transaction(async (tx) => {
        await tx`select 1/0`.catch(() => {});
      }, { agentId: "sloppy" }).catch((e: unknown) => e);
      assert.ok(caught instanceof TransactionRolledBackError);
      assert.ok(caught instanceof PoolError);
      assert.equal(caught.code, "TRANSACTION_ROLLED_BACK");
      assert.equal(pool.stats().used, 0);
    });
  });

  test("a callback that issues nothing sends nothing and returns its value", async () => {
    await withDb(async ({ db }) => {
      assert.equal(await db.transaction(() => 42, { agentId: "idle" }), 42);
    });
  });
});

describe("adapter: savepoints", () => {
  test("a failing savepoint rolls back only itself; nested ones commit with the outer transaction", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      await db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ('outer')`);
        const inner = await tx.savepoint(async (sp) => {
          await sp.unsafe(`insert into ${schema}.notes values ('inner')`);
          await sp.transaction(async (deeper) => {
            await deeper.unsafe(`insert into ${schema}.notes values ('deeper')`);
          });
          return "kept";
        });
        assert.equal(inner, "kept");
        const boom = new Error("undo this part");
        const caught = await tx.savepoint(async (sp) => {
          await sp.unsafe(`insert into ${schema}.notes values ('undone')`);
          throw boom;
        }).catch((e: unknown) => e);
        assert.equal(caught, boom);
        const failed = await tx.savepoint((sp) => sp`select 1/0`).catch((e: unknown) => e);
        assert.equal((failed as { code?: string }).code, "22012");
        await tx.unsafe(`insert into ${schema}.notes values ('after')`); // the transaction is healthy again
      }, { agentId: "nester" });
      const rows = await observer.unsafe(`select body from ${schema}.notes order by body`);
      assert.deepEqual(rows.map((r) => r.body), ["after", "deeper", "inner", "outer"]);
    });
  });

  test("rolling back the outer transaction discards its released savepoints", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      await db.transaction(async (tx) => {
        await tx.savepoint((sp) => sp.unsafe(`insert into ${schema}.notes values ('inner')`));
        throw new Error("abandon all");
      }, { agentId: "nester" }).catch(() => {});
      assert.equal((await observer.unsafe(`select * from ${schema}.notes`)).length, 0);
    });
  });

  test("savepoints are refused outside a transaction", async () => {
    await withDb(async ({ db }) => {
      await assert.rejects(db.query((sql) => (sql as TransactionSql).savepoint(() => 1), { agentId: "a" }), TypeError);
    });
  });
});

describe("adapter: isolation and access mode", () => {
  for (const isolation of ["read uncommitted", "read committed", "repeatable read", "serializable"] as const) {
    test(`isolation '${isolation}' is really set`, async () => {
      await withDb(async ({ db }) => {
        const [row] = await db.transaction(async (tx) => {
          await tx`select 1`;
          return tx`select current_setting('transaction_isolation') as iso`;
        }, { agentId: "a", isolation });
        assert.equal(row.iso, isolation);
      });
    });
  }

  test("readOnly is really set: the setting says so and a write fails with 25006", async () => {
    await withDb(async ({ db, schema }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const [row] = await db.transaction((tx) => tx`select current_setting('transaction_read_only') as ro`, {
        agentId: "reader",
        readOnly: true,
      });
      assert.equal(row.ro, "on");
      const caught = await db.transaction((tx) => tx.unsafe(`insert into ${schema}.notes values ('no')`), {
        agentId: "reader",
        readOnly: true,
        isolation: "serializable",
        deferrable: true,
      }).catch((e: unknown) => e);
      assert.equal((caught as { code?: string }).code, "25006");
    });
  });

  test("bad options are rejected with errors naming them", async () => {
    await withDb(async ({ db, pool }) => {
      // deno-lint-ignore no-explicit-any
      await assert.rejects(db.transaction(() => 1, { isolation: "chaos" as any }), /'isolation'/);
      // deno-lint-ignore no-explicit-any
      await assert.rejects(db.transaction(() => 1, { readOnly: "yes" as any }), TypeError);
      await assert.rejects(db.transaction(() => 1, { maxRetries: -1 }), RangeError);
      assert.throws(() => new PooledDatabaseAdapter(pool, { maxRetries: 1.5 }), /'maxRetries'/);
      assert.throws(() => new PooledDatabaseAdapter(pool, { slowTransactionMs: 0 }), /'slowTransactionMs'/);
    });
  });
});

describe("adapter: retries", () => {
  test("a provoked serialization failure (write skew of two serializable transactions) is retried until both commit", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.doctors (name text primary key, on_call boolean)`), { agentId: "setup" });
      await observer.unsafe(`insert into ${schema}.doctors values ('alice', true), ('bob', true)`);
      const bothRead = [latch(), latch()];
      let runs = 0;
      const goOffCall = (me: 0 | 1, name: string) =>
        db.transaction(async (tx) => {
          const run = ++runs;
          const [{ n }] = await tx.unsafe(`select count(*)::int as n from ${schema}.doctors where on_call`);
          if (run <= 2) {
            bothRead[me].open();
            await bothRead[1 - me].promise; // both have read before either writes
          }
          if (n >= 2) await tx.unsafe(`update ${schema}.doctors set on_call = false where name = $1`, [name]);
          return n as number;
        }, { agentId: `doctor-${name}`, isolation: "serializable", maxRetries: 5 });
      const results = await Promise.all([goOffCall(0, "alice"), goOffCall(1, "bob")]);
      assert.ok(runs >= 3, `expected a retry, saw ${runs} runs`);
      assert.deepEqual(results.sort(), [1, 2]); // the retried one saw the other's commit
      const [{ n }] = await observer.unsafe(`select count(*)::int as n from ${schema}.doctors where on_call`);
      assert.equal(n, 1); // never both off call
    });
  });

  test("with maxRetries 0 the serialization failure surfaces as 40001", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.t (k int, v int)`), { agentId: "setup" });
      await observer.unsafe(`insert into ${schema}.t values (1, 1)`);
      const read = [latch(), latch()];
      const skew = (me: 0 | 1) =>
        db.transaction(async (tx) => {
          await tx.unsafe(`select sum(v) from ${schema}.t`);
          read[me].open();
          await read[1 - me].promise;
          await tx.unsafe(`insert into ${schema}.t values ($1, 1)`, [me + 2]);
        }, { agentId: `a${me}`, isolation: "serializable", maxRetries: 0 });
      const outcomes = await Promise.allSettled([skew(0), skew(1)]);
      const failures = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
      assert.equal(failures.length, 1);
      assert.equal(failures[0].reason.code, "40001");
      assert.ok(isRetryableError(failures[0].reason));
    });
  });

  test("a provoked deadlock (40P01) is retried; other errors are not", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.acct (id int primary key, n int)`), { agentId: "setup" });
      await observer.unsafe(`insert into ${schema}.acct values (1, 0), (2, 0)`);
      const locked = [latch(), latch()];
      let runs = 0;
      const cross = (me: 0 | 1) =>
        db.transaction(async (tx) => {
          const run = ++runs;
          const [first, second] = me === 0 ? [1, 2] : [2, 1];
          await tx.unsafe(`update ${schema}.acct set n = n + 1 where id = $1`, [first]);
          if (run <= 2) {
            locked[me].open();
            await locked[1 - me].promise;
          }
          await tx.unsafe(`update ${schema}.acct set n = n + 1 where id = $1`, [second]);
        }, { agentId: `mover-${me}` });
      await Promise.all([cross(0), cross(1)]);
      // Two first runs and at least one retry of the victim. Bun has shown a second retry about once
      // in six runs (cause not yet pinned down); what must hold is the retry and that each transfer
      // committed exactly once (the balances below).
      assert.ok(runs >= 3, `expected the deadlock victim to be retried: ${runs} runs`);
      const rows = await observer.unsafe(`select n from ${schema}.acct order by id`);
      assert.deepEqual(rows.map((r) => r.n), [2, 2]);

      let plain = 0;
      await assert.rejects(db.transaction(async (tx) => {
        plain++;
        await tx`select 1/0`;
      }, { agentId: "a" }), { code: "22012" });
      assert.equal(plain, 1);
    });
  });
});

describe("adapter: cancellation and fencing", () => {
  test("aborting cancels the running query, rolls back, rejects with signal.reason and frees the connection", async () => {
    await withDb(async ({ db, pool, schema, observer, applicationName }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const controller = new AbortController();
      const reason = new Error("user pressed stop");
      const running = db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${schema}.notes values ('never')`);
        await tx`select pg_sleep(60)`;
      }, { agentId: "sleeper", signal: controller.signal });
      // The transaction shows its agent in application_name (set_config(..., true) with BEGIN).
      const sleeping = async () =>
        (await observer`select 1 from pg_stat_activity where application_name = ${`${applicationName}:sleeper`} and query like '%pg_sleep%' and state = 'active'`)
          .length === 1;
      await eventually(sleeping, "the sleeping query runs");
      controller.abort(reason);
      assert.equal(await running.catch((e: unknown) => e), reason);
      assert.equal(pool.stats().used, 0);
      await eventually(async () => !(await sleeping()), "the sleeping query was cancelled on the server");
      assert.equal((await observer.unsafe(`select * from ${schema}.notes`)).length, 0);
      // the pool still serves
      assert.equal((await db.transaction((tx) => tx`select 1 as one`, { agentId: "next" }))[0].one, 1);
    });
  });

  test("an already aborted signal rejects with its reason without running anything", async () => {
    await withDb(async ({ db, pool }) => {
      const reason = new Error("too late");
      let ran = false;
      const caught = await db.transaction(() => (ran = true), { agentId: "a", signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
      assert.equal(caught, reason);
      assert.equal(ran, false);
      const q = await db.query(() => 1, { agentId: "a", signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
      assert.equal(q, reason);
      assert.equal(pool.stats().used, 0);
    });
  });

  test("adapter.query and adapter.sql cancel too", async () => {
    await withDb(async ({ db, pool, observer, applicationName }) => {
      const sleeping = async () =>
        (await observer`select 1 from pg_stat_activity where application_name = ${applicationName} and query like '%pg_sleep%' and state = 'active'`)
          .length >= 1;
      const c1 = new AbortController();
      const q = db.query((sql) => sql`select pg_sleep(60)`, { agentId: "q", signal: c1.signal });
      await eventually(sleeping, "query sleeps");
      c1.abort(new Error("stop q"));
      await assert.rejects(q, /stop q/);
      await eventually(async () => !(await sleeping()), "query cancelled");
      const c2 = new AbortController();
      const s = db.sql({ agentId: "s", signal: c2.signal })`select pg_sleep(60)`;
      await eventually(sleeping, "statement sleeps");
      c2.abort(new Error("stop s"));
      await assert.rejects(s, /stop s/);
      await eventually(async () => !(await sleeping()), "statement cancelled");
      assert.equal(pool.stats().used, 0);
    });
  });

  test("a tx used after its transaction ended throws ScopeClosedError and sends nothing", async () => {
    await withDb(async ({ db }) => {
      let saved: TransactionSql | undefined;
      await db.transaction(async (tx) => {
        saved = tx;
        await tx`select 1`;
      }, { agentId: "leaky" });
      assert.throws(() => saved!`select 1`, ScopeClosedError);
      assert.throws(() => saved!.unsafe("select 1"), (e: unknown) => e instanceof PoolError && e.code === "SCOPE_CLOSED");
      assert.equal(saved!.agentId, "leaky");
    });
  });

  test("a session killed mid-transaction fails it with SessionLostError (no silent reconnect) and is discarded", async () => {
    await withDb(async ({ db, pool, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const destroyedBefore = pool.stats().destroyed;
      let afterDeath: unknown;
      const caught = await db.transaction(async (tx) => {
        const [{ pid }] = await tx`select pg_backend_pid() as pid`;
        await tx.unsafe(`insert into ${schema}.notes values ('lost')`);
        await observer`select pg_terminate_backend(${pid})`;
        for (let i = 0; i < 500; i++) {
          try {
            await tx`select 1`;
          } catch {
            break; // the session is gone
          }
          await sleep(20);
        }
        try {
          await tx.unsafe(`insert into ${schema}.notes values ('would autocommit on a new session')`);
        } catch (error) {
          afterDeath = error;
          throw error;
        }
      }, { agentId: "victim" }).catch((e: unknown) => e);
      assert.ok(afterDeath instanceof SessionLostError, String(afterDeath));
      assert.equal(caught, afterDeath);
      assert.equal((await observer.unsafe(`select * from ${schema}.notes`)).length, 0);
      await eventually(() => pool.stats().destroyed > destroyedBefore, "the dead connection was discarded");
      assert.equal((await db.transaction((tx) => tx`select 1 as one`, { agentId: "next" }))[0].one, 1);
    }, { pool: { minConnections: 1, maxConnections: 1 } });
  });
});

describe("adapter: agents and slow transactions", () => {
  test("open transactions are listed per agent and a slow one is reported while still open", async () => {
    const reported: OpenTransaction[] = [];
    const reportedOnce = latch();
    await withDb(async ({ db }) => {
      const during = await db.transaction(async (tx) => {
        await tx`select 1`;
        await reportedOnce.promise;
        return db.openTransactions();
      }, { agentId: "slowpoke" });
      assert.equal(during.length, 1);
      assert.equal(during[0].agentId, "slowpoke");
      assert.ok(during[0].backendPid! > 0);
      assert.deepEqual(db.openTransactions(), []);
      assert.equal(reported.length, 1);
      assert.equal(reported[0].agentId, "slowpoke");
      assert.equal(reported[0].connectionId, during[0].connectionId);
      assert.ok(reported[0].durationMs >= 0);
    }, {
      adapter: {
        slowTransactionMs: 20,
        onSlowTransaction: (t) => {
          reported.push(t);
          reportedOnce.open();
        },
      },
    });
  });

  test("work is attributed to the agent in the pool while it runs", async () => {
    await withDb(async ({ db, pool }) => {
      const holders = await db.transaction(() => pool.agents().filter((a) => a.held > 0).map((a) => a.agentId), { agentId: "critic-7" });
      assert.deepEqual(holders, ["critic-7"]);
      const viaQuery = await db.query({ agentId: "scout-2" }, () => pool.agents().filter((a) => a.held > 0).map((a) => a.agentId));
      assert.deepEqual(viaQuery, ["scout-2"]);
    });
  });

  test("adapter.sql runs one parameterized statement per call; hostile strings stay data", async () => {
    await withDb(async ({ db, schema, observer }) => {
      await db.query((sql) => sql.unsafe(`create table ${schema}.notes (body text)`), { agentId: "setup" });
      const sql = db.sql({ agentId: "writer" });
      const hostile = `'; drop table ${schema}.notes; -- "quoted" \\ üñí 🚀`;
      const tableRows = await db.query((q) => q.unsafe(`insert into ${schema}.notes values ($1) returning body`, [hostile]), { agentId: "w" });
      assert.equal(tableRows[0].body, hostile);
      const [found] = await sql`select count(*)::int as n from pg_catalog.pg_tables where schemaname = ${schema} and tablename = ${"notes"}`;
      assert.equal(found.n, 1);
      const matched = await observer.unsafe(`select body from ${schema}.notes where body = $1`, [hostile]);
      assert.equal(matched.length, 1);
    });
  });
});
