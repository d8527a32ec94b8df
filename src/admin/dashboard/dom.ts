/// <reference lib="dom" />
/**
 * The few DOM helpers the dashboard uses. Pool-provided strings only ever reach the page through
 * `textContent` or as escaped SVG parsed as XML, never through HTML parsing.
 *
 * @module
 */

/**
 * The element with `id` (the page shell defines every id the script uses).
 *
 * @example
 * ```ts
 * import { byId } from "./dom.ts";
 * byId("toast").textContent = "saved";
 * ```
 */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The dashboard page has no #${id}`);
  return found as T;
}

/**
 * A new element with an optional class and text.
 *
 * @example
 * ```ts
 * import { el } from "./dom.ts";
 * document.body.appendChild(el("span", "tag", "idle"));
 * ```
 */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Removes every child of `node`.
 *
 * @example
 * ```ts
 * import { clear } from "./dom.ts";
 * clear(document.body);
 * ```
 */
export function clear(node: Node): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

const parser = new DOMParser();

/**
 * Replaces the content of the page's `<svg>` element with a chart drawn as an SVG string (parsed
 * as XML, so markup in it is never interpreted as HTML), keeping the element and its id/class.
 *
 * @example
 * ```ts
 * import { mountSvg } from "./dom.ts";
 * mountSvg(document.querySelector("svg")!, '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>');
 * ```
 */
export function mountSvg(target: SVGSVGElement, markup: string): void {
  const root = parser.parseFromString(markup, "image/svg+xml").documentElement;
  target.setAttribute("viewBox", root.getAttribute("viewBox") ?? "");
  target.replaceChildren(...Array.from(root.childNodes, (child) => document.importNode(child, true)));
}
