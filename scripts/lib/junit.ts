/**
 * Reads the JUnit XML that all three runners write (`node --test-reporter=junit`,
 * `deno test --junit-path`, `bun test --reporter=junit`) into test cases and counts.
 *
 * The runners nest differently: Node and Bun make a describe block (or a test with subtests) a
 * `<testsuite>`; Deno makes it a `<testcase>` too and names its steps `parent > child`. Counting
 * leaves only makes the three agree on what a test is.
 *
 * @module
 */

/** One test as a runner reported it. */
export interface TestCase {
  /** Enclosing describe/test names and the test's own, joined by ` > `. */
  name: string;
  status: "passed" | "failed" | "skipped";
}

/** Counts over the leaf test cases. */
export interface CaseCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of the failed tests. */
  failures: string[];
}

// An element's start or end tag with its attributes; quoted values may contain '>' (Node writes
// `&lt;anonymous>`), never '<' or their own quote. Text and comments never contain these tag names
// after a '<' because XML escapes '<' in text.
const TAG = /<(\/?)(testsuite|testcase|failure|error|skipped)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * Every `<testcase>` in `xml`, in document order, named with its enclosing suites.
 *
 * @example
 * ```ts
 * readJUnit('<testsuite name="pool"><testcase name="acquires"/></testsuite>');
 * // [{ name: "pool > acquires", status: "passed" }]
 * ```
 */
export function readJUnit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const suites: (string | undefined)[] = [];
  let open: TestCase | undefined;
  for (const match of xml.matchAll(TAG)) {
    const [, closing, element, attributes = "", selfClosing] = match;
    if (element === "testsuite") {
      if (closing) suites.pop();
      else if (!selfClosing) suites.push(suiteName(attribute(attributes, "name")));
      continue;
    }
    if (element === "testcase") {
      if (closing) {
        if (open !== undefined) cases.push(open);
        open = undefined;
        continue;
      }
      const own = attribute(attributes, "name") ?? "(unnamed)";
      const name = [...suites.filter((s): s is string => s !== undefined), own].join(" > ");
      const testCase: TestCase = { name, status: "passed" };
      if (selfClosing) cases.push(testCase);
      else open = testCase;
      continue;
    }
    if (open === undefined || closing) continue;
    if (element === "skipped") {
      if (open.status === "passed") open.status = "skipped";
    } else {
      open.status = "failed";
    }
  }
  return cases;
}

/**
 * Count the leaves of `cases`: a case that others are nested in (`A` of `A > b`, Deno's describe
 * blocks) counts only when it failed and none of its children did (a failed hook); Node's
 * stand-in for a file without tests does not count unless it failed.
 *
 * @example
 * ```ts
 * countCases([{ name: "s", status: "failed" }, { name: "s > t", status: "failed" }]);
 * // { passed: 0, failed: 1, skipped: 0, failures: ["s > t"] }
 * ```
 */
export function countCases(cases: readonly TestCase[]): CaseCounts {
  const counts: CaseCounts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const testCase of cases) {
    // Node reports a file that registered no test (all gated off, see tests/support/tools.ts) as
    // a passing test named by its path; a file that failed to load it reports the same way, failed.
    if (testCase.status === "passed" && isFilePath(testCase.name)) continue;
    const children = cases.filter((other) => other.name.startsWith(`${testCase.name} > `));
    if (children.length > 0 && (testCase.status !== "failed" || children.some((c) => c.status === "failed"))) {
      continue;
    }
    counts[testCase.status]++;
    if (testCase.status === "failed") counts.failures.push(testCase.name);
  }
  return counts;
}

function isFilePath(name: string): boolean {
  return /^(?:[A-Za-z]:)?[\\/].*\.[cm]?[jt]sx?$/.test(name);
}

/** A suite's name for display, or `undefined` for file-level suites (paths, Deno's `ext:` ones). */
function suiteName(name: string | undefined): string | undefined {
  if (name === undefined || name.startsWith("ext:") || /\.[cm]?[jt]sx?$/.test(name)) return undefined;
  return name;
}

function attribute(attributes: string, wanted: string): string | undefined {
  for (const [, key, doubleQuoted, singleQuoted] of attributes.matchAll(ATTRIBUTE)) {
    if (key === wanted) return decodeEntities(doubleQuoted ?? singleQuoted ?? "");
  }
  return undefined;
}

const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (entity, code: string) => {
    if (code[0] === "#") {
      const point = code[1] === "x" || code[1] === "X" ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(point) ? String.fromCodePoint(point) : entity;
    }
    return NAMED[code] ?? entity;
  });
}
