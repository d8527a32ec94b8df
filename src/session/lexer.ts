/**
 * A small SQL lexer, just enough to tell what each statement of a string does to the session:
 * it splits on `;` and yields each statement's words, skipping comments (`--`, nested `/* *\/`),
 * string literals (`'…'`, `E'…'`), dollar-quoted bodies (`$tag$…$tag$`) and parameters (`$1`).
 * Quoted identifiers (`"set_config"`) count as words, lower-cased, so quoting hides nothing.
 * Driver-neutral: no imports.
 *
 * @module
 */

/**
 * The words of one statement: the first few (to read its kind) and whether any word of
 * `interesting` occurs anywhere in it.
 *
 * @example
 * ```ts
 * import { lexStatements } from "./lexer.ts";
 * const [first] = lexStatements("/* step 3 *\/ BEGIN; select 1", new Set());
 * console.log(first.lead); // ["begin"]
 * ```
 */
export interface LexedStatement {
  /** The first (up to six) words, lower-cased. Empty for an empty statement. */
  readonly lead: readonly string[];
  /** The words of the `interesting` set that occur in the statement. */
  readonly found: ReadonlySet<string>;
}

const LEAD_WORDS = 6;
const EMPTY: ReadonlySet<string> = new Set();

function isWordStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isWordPart(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57) || c === 36;
}

/** Index just past a quoted run that started at `start` (the opening quote), `''` / `""` doubled. */
function skipQuoted(text: string, start: number, quote: number, backslashes: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (backslashes && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

/** Index just past a block comment starting at `start` (PostgreSQL nests them). */
function skipBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text.startsWith("/*", i)) {
      depth++;
      i += 2;
    } else if (text.startsWith("*/", i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return i;
}

/** `$tag$` at `start`: index past its closing tag; `-1` when `$` starts no dollar quote. */
function skipDollarQuote(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && isWordPart(text.charCodeAt(i)) && text.charCodeAt(i) !== 36) i++;
  if (text.charCodeAt(i) !== 36) return -1;
  const tag = text.slice(start, i + 1);
  if (tag.length > 2 && !isWordStart(tag.charCodeAt(1))) return -1;
  const end = text.indexOf(tag, i + 1);
  return end === -1 ? text.length : end + tag.length;
}

/**
 * Splits `text` into statements and lexes each (see the module notes).
 *
 * @example
 * ```ts
 * import { lexStatements } from "./lexer.ts";
 * const statements = lexStatements("set role app; select pg_catalog.set_config('a.b', 'c', false)", new Set(["set_config"]));
 * console.log(statements[0].lead, statements[1].found.has("set_config")); // ["set", "role", "app"] true
 * ```
 */
export function lexStatements(text: string, interesting: ReadonlySet<string>): LexedStatement[] {
  const statements: LexedStatement[] = [];
  let lead: string[] = [];
  let found: Set<string> | null = null;
  const word = (w: string): void => {
    if (lead.length < LEAD_WORDS) lead.push(w);
    if (interesting.has(w)) (found ??= new Set()).add(w);
  };
  const end = (): void => {
    if (lead.length > 0) statements.push({ lead, found: found ?? EMPTY });
    lead = [];
    found = null;
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 59) { // ;
      end();
      i++;
    } else if (c === 45 && text.charCodeAt(i + 1) === 45) { // --
      const newline = text.indexOf("\n", i);
      i = newline === -1 ? text.length : newline + 1;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) { // /*
      i = skipBlockComment(text, i);
    } else if (c === 39) { // '
      i = skipQuoted(text, i, 39, false);
    } else if (c === 34) { // "
      const close = skipQuoted(text, i, 34, false);
      word(text.slice(i + 1, close - 1).replaceAll('""', '"').toLowerCase());
      i = close;
    } else if (c === 36) { // $
      const past = skipDollarQuote(text, i);
      i = past === -1 ? i + 1 : past;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < text.length && isWordPart(text.charCodeAt(j))) j++;
      // E'…' (and e'…'): backslash escapes; U&'…', B'…', X'…' are ordinary quoting.
      if (j === i + 1 && (c === 69 || c === 101) && text.charCodeAt(j) === 39) {
        i = skipQuoted(text, j, 39, true);
        continue;
      }
      word(text.slice(i, j).toLowerCase());
      i = j;
    } else i++;
  }
  end();
  return statements;
}
