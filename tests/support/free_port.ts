/**
 * Free TCP ports for tests: the helper lives with the embedded PostgreSQL in src/cli/.
 *
 * @module
 */
export { freePort, portAccepts } from "../../src/cli/free_port.ts";
