/**
 * Child process of tests/pg_pool.test.ts: a pool with `allowExitOnIdle: true` that runs a query
 * and never calls `end()`. With every client idle, the process must exit by itself.
 *
 * @module
 */
import process from "node:process";
import { Pool } from "../../src/pg/mod.ts";

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 2, min: 2, allowExitOnIdle: true });
const { rows } = await pool.query("select 1 as one");
process.stdout.write(`${JSON.stringify(rows)}\n`);
