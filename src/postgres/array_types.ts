/**
 * Array types fetched once per factory, not once per connection. postgres.js runs its own type
 * query (`fetch_types`) when a session starts and drops that query's promise: a session
 * terminated or closed while it runs (a server restart, `pg_terminate_backend`, a black-holed
 * network) rejects it with nobody listening, an unhandled rejection that ends a Node process by
 * default. Every pooled connection is its own `postgres({ max: 1 })` instance, so without this each
 * connect and reconnect would open that window again. The first connection of a factory fetches
 * the types; later ones copy its array parsers and serializers and skip the query (and its round
 * trip).
 *
 * @module
 */

import type { Sql } from "./connection_state.ts";

type Codec = (value: unknown) => unknown;

/** The parts of postgres.js's parsed options the array codecs live in. */
interface CodecTables {
  parsers: Record<number, Codec & { array?: boolean }>;
  serializers: Record<number, Codec>;
  shared?: { typeArrayMap?: Record<number, number> };
}

interface Template {
  readonly parsers: ReadonlyArray<readonly [number, Codec]>;
  readonly serializers: ReadonlyArray<readonly [number, Codec]>;
  readonly typeArrayMap: Readonly<Record<number, number>>;
}

/**
 * The array codecs of one factory's connections.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { ArrayTypes } from "./array_types.ts";
 * import type { Sql } from "./connection_state.ts";
 * const types = new ArrayTypes(undefined);
 * const fetch = types.shouldFetch();
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1, fetch_types: fetch }) as unknown as Sql;
 * if (!fetch) types.applyTo(sql);
 * await sql`select 1`;
 * if (fetch) types.learnFrom(sql);
 * ```
 */
export class ArrayTypes {
  #template: Template | undefined = undefined;
  #enabled: boolean;

  /** `fetchTypes`: the user's `fetch_types` option; `false` turns array types off, as in postgres.js. */
  constructor(fetchTypes: boolean | undefined) {
    this.#enabled = fetchTypes !== false;
  }

  /** Whether the next connection must run postgres.js's type query itself. */
  shouldFetch(): boolean {
    return this.#enabled && this.#template === undefined;
  }

  /** Copies the learnt array codecs into a connection that did not fetch them. */
  applyTo(sql: Sql): void {
    const template = this.#template;
    if (template === undefined) return;
    const tables = sql.options as unknown as CodecTables;
    for (const [oid, parser] of template.parsers) tables.parsers[oid] ??= parser;
    for (const [oid, serializer] of template.serializers) tables.serializers[oid] ??= serializer;
    if (tables.shared !== undefined) {
      tables.shared.typeArrayMap = { ...template.typeArrayMap, ...tables.shared.typeArrayMap };
    }
  }

  /** Keeps the array codecs of a connection whose start-up fetched them. */
  learnFrom(sql: Sql): void {
    if (this.#template !== undefined || !this.#enabled) return;
    const tables = sql.options as unknown as CodecTables;
    const arrays = Object.entries(tables.parsers).filter(([, parser]) => parser?.array === true);
    if (arrays.length === 0) return; // the type query did not run (yet): let the next one fetch
    this.#template = Object.freeze({
      parsers: arrays.map(([oid, parser]) => [Number(oid), parser] as const),
      serializers: arrays
        .filter(([oid]) => typeof tables.serializers[Number(oid)] === "function")
        .map(([oid]) => [Number(oid), tables.serializers[Number(oid)]] as const),
      typeArrayMap: Object.freeze({ ...tables.shared?.typeArrayMap }),
    });
  }
}
