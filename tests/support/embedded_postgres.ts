/**
 * Tests use the same embedded PostgreSQL as the demo and the stress tool (src/cli/).
 *
 * @module
 */
export * from "../../src/cli/embedded_postgres.ts";
