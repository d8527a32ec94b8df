/**
 * The one place the pg facade learns which agent the current call tree runs as: the core's
 * agent context (src/context/), so `withAgent()` from "agentpool" and from "agentpool/pg" are
 * the same function.
 *
 * @module
 */

export { currentAgentId, withAgent } from "../context/mod.ts";
