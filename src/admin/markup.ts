/**
 * Markup escaping shared by the dashboard page, the charts and the stress report.
 *
 * @module
 */

/**
 * Escapes text for HTML and SVG content and for quoted attributes (`& < > " '` become numeric
 * character references, valid in HTML and XML alike).
 *
 * @example
 * ```ts
 * import { escapeMarkup } from "./markup.ts";
 * escapeMarkup('<b title="x">'); // "&#60;b title=&#34;x&#34;&#62;"
 * ```
 */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
