/**
 * Secret scrubbing for everything the admin router sends: passwords in connection URLs and
 * `password=` style settings never leave the process, even when they hide in an error message, an
 * agent id or a pool name.
 *
 * @module
 */

// scheme://user:password@host — greedy up to the last "@" before whitespace: over-redacting is fine.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'<>]*:)[^\s"'<>]*@/gi;
// password=..., PGPASSWORD=..., pwd: ... (libpq conninfo, env dumps, driver messages)
const KEY_PASSWORD = /((?:password|passwd|pwd)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+)/gi;
// secret=..., token=..., api_key=... in query strings and settings
const KEY_SECRET = /\b((?:secret|token|api[_-]?key|access[_-]?key)=)([^\s,;&"'}]+)/gi;

/**
 * Replaces passwords and secrets in `text` with `***`.
 *
 * @example
 * ```ts
 * import { redactSecrets } from "agentpool/hono";
 * const url = ["postgres://app", "s3cret@db:5432/main"].join(":"); // a URL with a password
 * redactSecrets(`connect ${url} failed`);
 * // the same text with the password replaced by ***
 * ```
 */
export function redactSecrets(text: string): string {
  return text.replace(URL_PASSWORD, "$1***@").replace(KEY_PASSWORD, "$1***").replace(KEY_SECRET, "$1***");
}

/**
 * `JSON.stringify` with every string value passed through {@linkcode redactSecrets}.
 *
 * @example
 * ```ts
 * import { redactedJson } from "./redact.ts";
 * redactedJson({ error: "password=hunter2" }); // '{"error":"password=***"}'
 * ```
 */
export function redactedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "string" ? redactSecrets(v) : v));
}
