/**
 * Lets V8 optimize the construction of postgres.js's two per-statement classes.
 *
 * postgres.js 3.4's `Query` (a `Promise` subclass) and `Result` (an `Array` subclass) each declare
 * `static get [Symbol.species]()`. V8 builds a class whose literal has a computed static key with
 * its constructor's own properties in dictionary mode, and its optimizing compiler never keeps code
 * that constructs such a class: on Node 20 every attempt is thrown away ("Bailed out due to
 * dependency change", a `StableMapDependency`), so both constructors, and `ReadyForQuery`, which
 * inlines `new Result()`, run unoptimized for the life of the process.
 *
 * That costs more than the interpreter's speed. The unoptimized `Query` constructor creates its
 * `resolve` / `reject` closures in V8's old generation, and a dead old closure keeps its young
 * context alive through every scavenge until the next full collection. The context holds the
 * query, the query holds its result and rows, so nearly everything a statement allocates is
 * promoted: 330–660 bytes per `select 1` (0.5–1.6 MB per scavenge) against 1–2 bytes once the
 * classes are in fast mode, and the scavenges and full collections follow from that
 * (benchmarks/results/2026-12-02-morning-issue-16.md).
 *
 * {@linkcode fastenDriverClasses} asks V8 to turn those two constructors' own properties into fast
 * mode, once per process: each becomes the prototype of a throwaway object and a property lookup
 * misses through it until the lookup is cached, which is when V8 makes a prototype fast. No
 * property, value, attribute or prototype changes; JavaScript cannot observe it, and on engines
 * without dictionary mode (Bun's JavaScriptCore) it costs a few lookups and nothing else.
 *
 * @module
 */

/** Lookups that miss through the prototype before V8 caches the miss (and makes it fast). */
const LOOKUPS = 64;

const fastened = new WeakSet<object>();

/**
 * Asks V8 to store `target`'s own properties in fast mode, by using it as a prototype until a
 * lookup through it is cached. Changes nothing JavaScript can observe. Once per object.
 *
 * @example
 * ```ts
 * import { fastenProperties } from "./fast_classes.ts";
 * class Rows extends Array {
 *   static override get [Symbol.species](): ArrayConstructor { return Array; }
 * }
 * fastenProperties(Rows); // `new Rows()` can now be optimized
 * ```
 */
export function fastenProperties(target: object): void {
  if (fastened.has(target)) return;
  fastened.add(target);
  const probe = Object.create(target) as Record<string, unknown>;
  const lookUp = (): string => typeof probe.agentpoolFastPropertiesProbe;
  for (let i = 0; i < LOOKUPS; i++) lookUp();
}

/** The constructor of `instance`'s class, when it has one of its own. */
function classOf(instance: unknown): object | undefined {
  if (instance === null || (typeof instance !== "object" && typeof instance !== "function")) return undefined;
  const constructor = (instance as { constructor?: unknown }).constructor;
  return typeof constructor === "function" && constructor !== Promise && constructor !== Array ? constructor : undefined;
}

/**
 * Fastens the classes of a postgres.js query and of its result (see the module comment). Called by
 * the factory on the statement that opened each connection; after the first, it costs two lookups.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { fastenDriverClasses } from "./fast_classes.ts";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const query = sql`select 1`;
 * fastenDriverClasses(query, await query);
 * await sql.end();
 * ```
 */
export function fastenDriverClasses(query: unknown, result: unknown): void {
  for (const instance of [query, result]) {
    const constructor = classOf(instance);
    if (constructor !== undefined) fastenProperties(constructor);
  }
}
