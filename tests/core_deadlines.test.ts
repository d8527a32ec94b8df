/**
 * The shared deadline timer against a brute-force model: in-order deadlines (the FIFO), earlier
 * ones (the heap), removals anywhere, and expiry exactly in deadline order.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DeadlineTimer } from "../src/core/deadlines.ts";
import { ManualClock } from "./support/manual_clock.ts";

interface Entry {
  id: number;
  deadlineAt: number;
  heapIndex: number;
}

type Command = { kind: "add"; delay: number } | { kind: "remove"; pick: number } | { kind: "advance"; ms: number };

const commands = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("add" as const), delay: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 200 })) }),
    fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 60 }) }),
  ),
  { maxLength: 200 },
);

describe("DeadlineTimer", () => {
  test("expires exactly the due entries, in deadline order, whatever the mix of adds and removes", async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (script: Command[]) => {
        const clock = new ManualClock(0);
        const expired: Entry[] = [];
        const timer = new DeadlineTimer<Entry>(clock, (entry) => expired.push(entry));
        const live = new Map<number, Entry>();
        let nextId = 0;
        for (const command of script) {
          if (command.kind === "add") {
            const entry = { id: nextId++, deadlineAt: clock.now() + command.delay, heapIndex: -1 };
            live.set(entry.id, entry);
            timer.add(entry);
          } else if (command.kind === "remove" && live.size > 0) {
            const entry = [...live.values()][command.pick % live.size];
            live.delete(entry.id);
            timer.remove(entry);
            assert.equal(entry.heapIndex, -1);
          } else if (command.kind === "advance") {
            const before = expired.length;
            await clock.advance(command.ms);
            const fired = expired.slice(before);
            const due = [...live.values()].filter((e) => e.deadlineAt <= clock.now());
            assert.deepEqual(new Set(fired.map((e) => e.id)), new Set(due.map((e) => e.id)), "fires exactly the due ones");
            for (let i = 1; i < fired.length; i++) assert.ok(fired[i - 1].deadlineAt <= fired[i].deadlineAt, "in order");
            for (const e of fired) live.delete(e.id);
          }
          assert.equal(timer.size, live.size);
          assert.ok(timer.retained <= 2 * timer.size + 32, `keeps ${timer.retained} entries for ${timer.size} scheduled`);
        }
        assert.equal(timer.clear().length, live.size);
        assert.equal(timer.size, 0);
        assert.equal(clock.pendingTimers, 0, "no timer left armed");
      }),
      { numRuns: 200 },
    );
  });

  test("one timeout for all arms the timer once, however many entries", () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer<Entry>(clock, () => {});
    for (let i = 0; i < 1000; i++) timer.add({ id: i, deadlineAt: 5000 + i, heapIndex: -1 });
    assert.equal(clock.scheduled.length, 1);
    timer.clear();
  });

  // Measured: a pool's FIFO kept ~900 settled waiters (each with its promise and granted handle)
  // alive through every scavenge; behind one long wait it kept every settled one, without bound.
  test("lets removed entries go, even while an older entry waits at the head", () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer<Entry>(clock, () => {});
    const head = { id: -1, deadlineAt: 30_000, heapIndex: -1 };
    timer.add(head);
    let peak = 0;
    for (let i = 0; i < 5000; i++) {
      const entry = { id: i, deadlineAt: 30_000 + i, heapIndex: -1 };
      timer.add(entry);
      timer.remove(entry);
      peak = Math.max(peak, timer.retained);
    }
    assert.equal(timer.size, 1);
    assert.ok(peak <= 2 + 32, `kept up to ${peak} entries for 1 scheduled`);
    timer.remove(head);
    assert.equal(timer.retained, 0);
  });

  test("lets removed entries go as the head passes them, in order", () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer<Entry>(clock, () => {});
    const entries = Array.from({ length: 3000 }, (_, i) => ({ id: i, deadlineAt: 30_000 + i, heapIndex: -1 }));
    for (const entry of entries.slice(0, 20)) timer.add(entry);
    for (let i = 20; i < entries.length; i++) {
      timer.add(entries[i]);
      timer.remove(entries[i - 20]); // served oldest first, 20 waiting at any time
      assert.ok(timer.retained <= 21, `kept ${timer.retained} entries for ${timer.size} scheduled`);
    }
    timer.clear();
  });
});
