/**
 * A generic table repository on the adapter: insert, get, update with optimistic versioning,
 * delete, and list with filters, ordering and paging. Every call carries an agent id (or joins the
 * caller's transaction); values are always parameters; table and column names only come from the
 * repository's definition.
 *
 * @module
 */

import { checkInteger, invalidOption } from "../core/checks.ts";
import type { PooledDatabaseAdapter } from "./adapter.ts";
import { type DbContext, exec, runStatement, runTransaction } from "./context.ts";
import { StaleVersionError } from "./errors.ts";
import { Columns, type Filter, keysetSql, type OrderBy, orderColumns, Parameters, whereSql } from "./filters.ts";
import { quoteIdentifier } from "./identifiers.ts";
import type { QuerySql } from "./scope.ts";

/**
 * A row: column name to value.
 *
 * @example
 * ```ts
 * const row: AnyRow = { id: 1, body: "x" };
 * ```
 */
export type AnyRow = Record<string, unknown>;

/**
 * The table a {@linkcode Repository} works on. Names must be plain identifiers.
 *
 * @example
 * ```ts
 * type Note = { id: string; agent: string; body: string; version: number };
 * const definition: TableDefinition<Note> = {
 *   schema: "crew", table: "notes", primaryKey: "id", versionColumn: "version",
 *   columns: ["id", "agent", "body", "version"],
 * };
 * ```
 */
export interface TableDefinition<Row extends AnyRow> {
  /** Schema. Default `"public"`. */
  schema?: string;
  /** Table name. */
  table: string;
  /** Every column the repository may read or write. */
  columns: readonly (keyof Row & string)[];
  /** The primary key column (single column). */
  primaryKey: keyof Row & string;
  /** Integer column for optimistic versioning: set to 1 on insert, +1 on every update. */
  versionColumn?: keyof Row & string;
}

/**
 * Options of {@linkcode Repository.list}.
 *
 * @example
 * ```ts
 * import type { Repository } from "agentpool";
 * type Note = { id: string; agent: string; body: string; version: number };
 * declare const notes: Repository<Note>;
 * const page = await notes.list("a", { where: { agent: "planner-1" }, orderBy: { column: "id", direction: "desc" }, limit: 20 });
 * const next = await notes.list("a", { where: { agent: "planner-1" }, orderBy: { column: "id", direction: "desc" }, limit: 20, after: page.at(-1) });
 * ```
 */
export interface ListOptions<Row extends AnyRow> {
  /** Filters, ANDed. */
  where?: Filter<Row>;
  /** Ordering; the primary key is always appended so pages are stable. Default: primary key. */
  orderBy?: OrderBy<Row> | readonly OrderBy<Row>[];
  /** At most this many rows. Default: all. */
  limit?: number;
  /** Skip this many rows (offset paging). */
  offset?: number;
  /** Keyset paging: rows after this one (it needs the values of the ordering columns). */
  after?: Partial<Row>;
}

/**
 * Options of optimistic writes.
 *
 * @example
 * ```ts
 * import type { Repository } from "agentpool";
 * type Note = { id: string; agent: string; body: string; version: number };
 * declare const notes: Repository<Note>;
 * declare const id: string;
 * await notes.update("a", id, { body: "v2" }, { expectedVersion: 1 });
 * ```
 */
export interface VersionOptions {
  /** Only change the row if its version is this; otherwise throw {@linkcode StaleVersionError}. */
  expectedVersion?: number;
}

/**
 * Typed access to one table.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { Repository } from "agentpool";
 * type Note = { id: string; agent: string; body: string; version: number };
 * const notes = new Repository<Note>(adapter, {
 *   schema: "crew", table: "notes", primaryKey: "id", versionColumn: "version",
 *   columns: ["id", "agent", "body", "version"],
 * });
 * const note = await notes.insert("planner-1", { id: crypto.randomUUID(), agent: "planner-1", body: "hi" });
 * await notes.update("planner-1", note.id, { body: "hello" }, { expectedVersion: note.version });
 * const mine = await notes.list("planner-1", { where: { agent: "planner-1" }, limit: 10 });
 * ```
 */
export class Repository<Row extends AnyRow> {
  readonly #adapter: PooledDatabaseAdapter;
  readonly #table: string;
  readonly #columns: Columns;
  readonly #select: string;
  readonly #pk: string;
  readonly #pkName: string;
  readonly #version: string | undefined;
  readonly #versionName: string | undefined;

  /** Checks the definition (RangeError / TypeError naming the bad name). */
  constructor(adapter: PooledDatabaseAdapter, definition: TableDefinition<Row>) {
    if (typeof adapter?.transaction !== "function") {
      invalidOption("type", "create repository", "adapter", "a PooledDatabaseAdapter", adapter);
    }
    this.#adapter = adapter;
    const d = definition;
    this.#table = `${quoteIdentifier("schema", d.schema ?? "public")}.${quoteIdentifier("table", d.table)}`;
    if (!Array.isArray(d.columns) || d.columns.length === 0) {
      invalidOption("type", "create repository", "columns", "a non-empty array", d.columns);
    }
    const quoted = new Map<string, string>();
    for (const column of d.columns) quoted.set(column, quoteIdentifier("columns", column));
    this.#columns = new Columns(this.#table, quoted);
    this.#select = this.#columns.list();
    this.#pkName = d.primaryKey;
    this.#pk = this.#column("primaryKey", d.primaryKey);
    this.#versionName = d.versionColumn;
    this.#version = d.versionColumn === undefined ? undefined : this.#column("versionColumn", d.versionColumn);
  }

  #column(option: string, name: string): string {
    try {
      return this.#columns.get(name);
    } catch {
      invalidOption("range", "create repository", option, "one of 'columns'", name);
    }
  }

  /**
   * Inserts one row and returns it as stored (defaults filled in). `undefined` values are left to
   * the column default; the version column starts at 1.
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * declare const id: string;
   * const row = await notes.insert("planner-1", { id, agent: "planner-1", body: "it's \"quoted\"" });
   * ```
   */
  async insert(context: DbContext, values: Partial<Row>): Promise<Row> {
    const params = new Parameters();
    const names: string[] = [];
    const placeholders: string[] = [];
    for (const [name, value] of Object.entries(this.#record(values, "insert"))) {
      if (value === undefined || name === this.#versionName) continue;
      names.push(this.#columns.get(name));
      placeholders.push(params.add(value));
    }
    if (this.#version !== undefined) {
      names.push(this.#version);
      placeholders.push("1");
    }
    const text = names.length === 0
      ? `insert into ${this.#table} default values returning ${this.#select}`
      : `insert into ${this.#table} (${names.join(", ")}) values (${placeholders.join(", ")}) returning ${this.#select}`;
    const [row] = await runStatement<Row>(this.#adapter, context, text, params.values);
    return row;
  }

  /**
   * The row with primary key `id`, or `undefined`.
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * declare const id: string;
   * const note = await notes.get("planner-1", id);
   * ```
   */
  async get(context: DbContext, id: Row[keyof Row]): Promise<Row | undefined> {
    const rows = await runStatement<Row>(
      this.#adapter,
      context,
      `select ${this.#select} from ${this.#table} where ${this.#pk} = $1`,
      [id],
    );
    return rows[0];
  }

  /**
   * Updates the row `id` and returns it; bumps the version column. With `expectedVersion`, a
   * row at another version (or a missing row) throws {@linkcode StaleVersionError} and nothing
   * changes; without it a missing row returns `undefined`.
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * declare const id: string;
   * const updated = await notes.update("planner-1", id, { body: "v2" }, { expectedVersion: 1 });
   * ```
   */
  async update(context: DbContext, id: Row[keyof Row], changes: Partial<Row>, options?: VersionOptions): Promise<Row | undefined> {
    const expected = this.#expected(options);
    const params = new Parameters();
    const sets: string[] = [];
    for (const [name, value] of Object.entries(this.#record(changes, "update"))) {
      if (value === undefined) continue;
      if (name === this.#pkName || name === this.#versionName) {
        throw new RangeError(`Cannot update column ${JSON.stringify(name)} of ${this.#table}: it is the primary key or the version`);
      }
      sets.push(`${this.#columns.get(name)} = ${params.add(value)}`);
    }
    if (sets.length === 0) throw new RangeError(`Cannot update ${this.#table}: 'changes' has no column to set`);
    if (this.#version !== undefined) sets.push(`${this.#version} = ${this.#version} + 1`);
    let where = `${this.#pk} = ${params.add(id)}`;
    if (expected !== undefined) where += ` and ${this.#version} = ${params.add(expected)}`;
    const text = `update ${this.#table} set ${sets.join(", ")} where ${where} returning ${this.#select}`;
    if (expected === undefined) return (await runStatement<Row>(this.#adapter, context, text, params.values))[0];
    return await runTransaction(this.#adapter, context, async (tx) => {
      const [row] = await exec<Row>(tx, text, params.values);
      if (row === undefined) await this.#stale(tx, id, expected);
      return row;
    });
  }

  /**
   * Deletes the row `id`; true when a row was deleted. With `expectedVersion`, a row at another
   * version (or a missing row) throws {@linkcode StaleVersionError} and nothing is deleted.
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * declare const id: string;
   * const gone = await notes.delete("planner-1", id, { expectedVersion: 2 });
   * ```
   */
  async delete(context: DbContext, id: Row[keyof Row], options?: VersionOptions): Promise<boolean> {
    const expected = this.#expected(options);
    const params = new Parameters();
    let where = `${this.#pk} = ${params.add(id)}`;
    if (expected !== undefined) where += ` and ${this.#version} = ${params.add(expected)}`;
    const text = `delete from ${this.#table} where ${where} returning ${this.#pk}`;
    if (expected === undefined) return (await runStatement(this.#adapter, context, text, params.values)).length > 0;
    return await runTransaction(this.#adapter, context, async (tx) => {
      const rows = await exec(tx, text, params.values);
      if (rows.length === 0) await this.#stale(tx, id, expected);
      return true;
    });
  }

  /**
   * Rows matching `options.where`, ordered and paged (offset or keyset).
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * const urgent = await notes.list("planner-1", { where: { body: { like: "%urgent%" } }, orderBy: "id", limit: 50 });
   * ```
   */
  async list(context: DbContext, options: ListOptions<Row> = {}): Promise<Row[]> {
    const params = new Parameters();
    const conditions = whereSql(options.where, this.#columns, params);
    const order = orderColumns(options.orderBy, this.#pkName, this.#columns);
    if (options.after !== undefined) conditions.push(keysetSql(order, options.after as Record<string, unknown>, params));
    let text = `select ${this.#select} from ${this.#table}`;
    if (conditions.length > 0) text += ` where ${conditions.join(" and ")}`;
    text += ` order by ${order.map((o) => `${o.quoted} ${o.desc ? "desc" : "asc"}`).join(", ")}`;
    const limit = options.limit === undefined ? undefined : checkInteger("list", "limit", options.limit);
    const offset = options.offset === undefined ? undefined : checkInteger("list", "offset", options.offset);
    if (limit !== undefined) text += ` limit ${params.add(limit)}`;
    if (offset !== undefined) text += ` offset ${params.add(offset)}`;
    return await runStatement<Row>(this.#adapter, context, text, params.values);
  }

  /**
   * Number of rows matching `where`.
   *
   * @example
   * ```ts
   * import type { Repository } from "agentpool";
   * type Note = { id: string; agent: string; body: string; version: number };
   * declare const notes: Repository<Note>;
   * const n = await notes.count("planner-1", { agent: "planner-1" });
   * ```
   */
  async count(context: DbContext, where?: Filter<Row>): Promise<number> {
    const params = new Parameters();
    const conditions = whereSql(where, this.#columns, params);
    let text = `select count(*)::int as n from ${this.#table}`;
    if (conditions.length > 0) text += ` where ${conditions.join(" and ")}`;
    const [row] = await runStatement<{ n: number }>(this.#adapter, context, text, params.values);
    return row.n;
  }

  #record(values: unknown, what: string): AnyRow {
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      throw new TypeError(`Cannot ${what} ${this.#table} as the values must be an object: current value is ${String(values)}`);
    }
    for (const name of Object.keys(values)) this.#columns.get(name); // unknown column: RangeError naming it
    return values as AnyRow;
  }

  #expected(options: VersionOptions | undefined): number | undefined {
    const expected = options?.expectedVersion;
    if (expected === undefined) return undefined;
    if (this.#version === undefined) throw new TypeError(`Cannot use 'expectedVersion' as ${this.#table} has no versionColumn`);
    if (!Number.isInteger(expected)) {
      throw new RangeError(`Cannot use 'expectedVersion' as it must be an integer: current value is ${String(expected)}`);
    }
    return expected;
  }

  /** Throws the right StaleVersionError after a versioned write touched no row. */
  async #stale(tx: QuerySql, id: unknown, expected: number): Promise<never> {
    const [current] = await exec<{ v: number }>(tx, `select ${this.#version} as v from ${this.#table} where ${this.#pk} = $1`, [id]);
    throw new StaleVersionError(this.#table, id, expected, current?.v);
  }
}
