/**
 * WHERE and ORDER BY building for repositories. Column names are looked up in the table's own
 * definition (an unknown name is a RangeError naming it, never SQL); every value becomes a `$n`
 * parameter.
 *
 * @module
 */

/**
 * A condition on one column. Several operators on one column are ANDed.
 *
 * @example
 * ```ts
 * const recent: Condition<number> = { gte: 10, lt: 20 };
 * const some: Condition<string> = { in: ["a", "b"] };
 * ```
 */
export interface Condition<V> {
  /** Equal (`null`: IS NULL). */
  eq?: V | null;
  /** Not equal (`null`: IS NOT NULL). */
  ne?: V | null;
  /** One of. An empty list matches nothing. */
  in?: readonly V[];
  /** None of. An empty list matches everything. */
  notIn?: readonly V[];
  /** Greater than. */
  gt?: V;
  /** Greater than or equal. */
  gte?: V;
  /** Less than. */
  lt?: V;
  /** Less than or equal. */
  lte?: V;
  /** SQL LIKE pattern (the pattern is a parameter; `%` and `_` are wildcards). */
  like?: string;
}

/**
 * Filters by column: a value means equality (`null`: IS NULL), an object of operators a
 * {@linkcode Condition}. `undefined` entries are ignored. To compare a JSON column with an object
 * that has operator-named keys, wrap it: `{ eq: value }`.
 *
 * @example
 * ```ts
 * const where: Filter<{ status: string; priority: number }> = { status: { in: ["pending", "running"] }, priority: { gt: 5 } };
 * ```
 */
export type Filter<Row> = { [K in keyof Row]?: Row[K] | null | Condition<Row[K]> };

/**
 * An ordering column, ascending unless said otherwise.
 *
 * @example
 * ```ts
 * const order: OrderBy<{ priority: number; id: string }>[] = [{ column: "priority", direction: "desc" }, "id"];
 * ```
 */
export type OrderBy<Row> = (keyof Row & string) | { column: keyof Row & string; direction?: "asc" | "desc" };

const COMPARISONS: Readonly<Record<string, string>> = Object.freeze({ gt: ">", gte: ">=", lt: "<", lte: "<=", like: "like" });
const OPERATORS = new Set(["eq", "ne", "in", "notIn", "gt", "gte", "lt", "lte", "like"]);

/**
 * Collects parameters while SQL text is built.
 *
 * @example
 * ```ts
 * const params = new Parameters();
 * const text = `select * from t where a = ${params.add(1)}`; // "... a = $1", params.values = [1]
 * ```
 */
export class Parameters {
  /** The values, in `$n` order. */
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * Column name → quoted identifier, for one table; unknown names throw.
 *
 * @example
 * ```ts
 * const columns = new Columns('"t"', new Map([["id", '"id"']]));
 * columns.get("id"); // '"id"'
 * columns.get("nope"); // RangeError naming "nope"
 * ```
 */
export class Columns {
  readonly #quoted: ReadonlyMap<string, string>;
  readonly #table: string;

  /** `quoted` maps each defined column to its quoted identifier. */
  constructor(table: string, quoted: ReadonlyMap<string, string>) {
    this.#table = table;
    this.#quoted = quoted;
  }

  /** The quoted identifier of `name`; a RangeError naming it when the table has no such column. */
  get(name: string): string {
    const quoted = this.#quoted.get(name);
    if (quoted === undefined) {
      throw new RangeError(
        `Unknown column ${JSON.stringify(name)} for table ${this.#table}: known columns are ${[...this.#quoted.keys()].join(", ")}`,
      );
    }
    return quoted;
  }

  /** All quoted columns, comma-separated (for SELECT / RETURNING lists). */
  list(): string {
    return [...this.#quoted.values()].join(", ");
  }
}

function isCondition(value: unknown): value is Condition<unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) return false;
  if (value instanceof Uint8Array) return false;
  const keys = Object.keys(value);
  const known = keys.filter((k) => OPERATORS.has(k));
  if (known.length === 0) return false; // a JSON value compared for equality
  const unknown = keys.find((k) => !OPERATORS.has(k));
  if (unknown !== undefined) {
    throw new RangeError(`Unknown filter operator ${JSON.stringify(unknown)}: use one of ${[...OPERATORS].join(", ")}`);
  }
  return true;
}

function conditionSql(column: string, cond: Condition<unknown>, params: Parameters, out: string[]): void {
  for (const [op, value] of Object.entries(cond)) {
    if (value === undefined) continue;
    if (op === "eq") out.push(value === null ? `${column} is null` : `${column} = ${params.add(value)}`);
    else if (op === "ne") out.push(value === null ? `${column} is not null` : `${column} is distinct from ${params.add(value)}`);
    else if (op === "in" || op === "notIn") {
      if (!Array.isArray(value)) throw new TypeError(`Filter operator '${op}' on ${column} needs an array: current value is ${String(value)}`);
      out.push(op === "in" ? `${column} = any(${params.add(value)})` : `not (${column} = any(${params.add(value)}))`);
      if (op === "notIn") out[out.length - 1] = `(${out[out.length - 1]} or ${column} is null)`;
    } else out.push(`${column} ${COMPARISONS[op]} ${params.add(value)}`);
  }
}

/**
 * The conditions of `filter`, to be ANDed (empty when it has no entries).
 *
 * @example
 * ```ts
 * declare const columns: Columns;
 * const params = new Parameters();
 * whereSql({ id: { in: [1, 2] } }, columns, params); // ['"id" = any($1)']
 * ```
 */
export function whereSql<Row>(filter: Filter<Row> | undefined, columns: Columns, params: Parameters): string[] {
  const out: string[] = [];
  if (filter === undefined) return out;
  if (typeof filter !== "object" || filter === null) {
    throw new TypeError(`Cannot filter as 'where' must be an object: current value is ${String(filter)}`);
  }
  for (const [name, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    const column = columns.get(name);
    if (value === null) out.push(`${column} is null`);
    else if (isCondition(value)) conditionSql(column, value, params, out);
    else out.push(`${column} = ${params.add(value)}`);
  }
  return out;
}

/**
 * Normalized ordering: the primary key is appended (if absent) so the order is total.
 *
 * @example
 * ```ts
 * declare const columns: Columns;
 * orderColumns({ column: "priority", direction: "desc" }, "id", columns); // priority desc, then id
 * ```
 */
export function orderColumns<Row>(
  orderBy: OrderBy<Row> | readonly OrderBy<Row>[] | undefined,
  primaryKey: string,
  columns: Columns,
): { name: string; quoted: string; desc: boolean }[] {
  const list = orderBy === undefined ? [] : Array.isArray(orderBy) ? orderBy : [orderBy as OrderBy<Row>];
  const out = list.map((o) => {
    const name = typeof o === "string" ? o : o?.column;
    const direction = typeof o === "string" ? "asc" : (o.direction ?? "asc");
    if (direction !== "asc" && direction !== "desc") {
      throw new RangeError(`Cannot order as 'direction' must be "asc" or "desc": current value is ${JSON.stringify(direction)}`);
    }
    return { name, quoted: columns.get(name), desc: direction === "desc" };
  });
  if (!out.some((o) => o.name === primaryKey)) out.push({ name: primaryKey, quoted: columns.get(primaryKey), desc: false });
  return out;
}

/**
 * Keyset condition "comes after `after` in this order": for (a, b, c) that is
 * a > x or (a = x and (b > y or (b = y and c > z))), with < for descending columns.
 *
 * @example
 * ```ts
 * declare const columns: Columns;
 * declare const lastRow: Record<string, unknown>;
 * const order = orderColumns(["priority"], "id", columns);
 * keysetSql(order, lastRow, new Parameters()); // rows after lastRow in that order
 * ```
 */
export function keysetSql(
  order: readonly { name: string; quoted: string; desc: boolean }[],
  after: Record<string, unknown>,
  params: Parameters,
): string {
  let sql = "";
  for (let i = order.length - 1; i >= 0; i--) {
    const { name, quoted, desc } = order[i];
    const value = after[name];
    if (value === undefined || value === null) {
      throw new RangeError(`Cannot page as 'after' needs a non-null value for ordering column ${JSON.stringify(name)}`);
    }
    const p = params.add(value);
    const step = `${quoted} ${desc ? "<" : ">"} ${p}`;
    sql = sql === "" ? step : `(${step} or (${quoted} = ${p} and ${sql}))`;
  }
  return sql;
}
