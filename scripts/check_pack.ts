/**
 * `npm run check:pack`: build, then check what `npm pack` would publish.
 *
 * Allowed: `package.json`, `README.md`, `LICENSE`, JavaScript / `.d.ts` under `dist/`, and the
 * files `package.json`'s `bin` names (npm always packs those) — which must then run from the
 * installed package: their relative imports must be packed, their bare imports dependencies.
 * Required: those three files and the build output of every `exports` target.
 * Refused: anything else — tests, benchmarks and their results, `.ci/`, TypeScript sources, env files,
 * keys — and any file containing a database URL with a real-looking password
 * (a `postgres://` URL whose user part carries a password; documented placeholders like `***` or
 * `secret` are allowed).
 *
 * Usage: `node --import tsx scripts/check_pack.ts [--no-build]`. Exits 1 listing every problem.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { build, ROOT } from "./build.ts";

/** One file of `npm pack --dry-run --json`. */
export interface PackedFile {
  path: string;
  size: number;
}

/** Files every package must contain. */
const REQUIRED = ["package.json", "README.md", "LICENSE"];
const ALLOWED = [/^package\.json$/, /^README\.md$/, /^LICENSE$/, /^dist\/.+\.(?:js|d\.ts)$/];
/** Refusals with a reason, checked first so the message says what went wrong. */
const REFUSED: [RegExp, string][] = [
  [/(^|\/)tests?\//, "a test file"],
  [/\.test\.[cm]?[jt]s$/, "a test file"],
  [/(^|\/)benchmarks?\//, "a benchmark file or result"],
  [/(^|\/)\.ci\//, "CI configuration"],
  [/(^|\/)\.env(\.|$)/, "an environment file"],
  [/(^|\/)\.npmrc$/, "an npm config (may hold a token)"],
  [/\.(pem|key|p12)$/, "a key file"],
  [/(?<!\.d)\.ts$/, "a TypeScript source (npm ships dist/)"],
];

/** Passwords that are documentation placeholders, not secrets. */
const PLACEHOLDER_PASSWORDS = new Set(["***", "secret", "s3cret", "password", "pass", "PASSWORD", "<password>", "xxx"]);
const CREDENTIAL_URL = /\b(?:postgres(?:ql)?|mysql|redis|mongodb(?:\+srv)?):\/\/([^\s:/@"'`]+):([^\s@"'`]+)@/g;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** Secrets found in `text`, masked for printing. */
export function findSecrets(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(CREDENTIAL_URL)) {
    const password = match[2];
    if (PLACEHOLDER_PASSWORDS.has(password) || password.startsWith("${")) continue;
    found.push(`${match[0].split("://")[0]}://${match[1]}:<${password.length} chars>@`);
  }
  if (PRIVATE_KEY.test(text)) found.push("a PEM private key");
  return found;
}

/**
 * Check a pack listing against the rules; `read` returns a file's text (for the secret scan).
 *
 * @returns one message per problem; empty when the package is clean.
 */
export function checkPackContents(
  files: PackedFile[],
  requiredTargets: string[],
  read: (path: string) => string,
  manifest: PackageManifest = {},
): string[] {
  const problems: string[] = [];
  const paths = files.map((f) => f.path);
  const bins = binTargets(manifest);
  for (const path of paths) {
    if (bins.includes(path)) {
      problems.push(...checkBin(path, read, paths, manifest));
      continue;
    }
    const refused = REFUSED.find(([pattern]) => pattern.test(path));
    if (refused !== undefined) problems.push(`${path}: ${refused[1]} must not be published`);
    else if (!ALLOWED.some((pattern) => pattern.test(path))) {
      problems.push(`${path}: not allowed (only package.json, README.md, LICENSE and dist/**/*.{js,d.ts})`);
    }
  }
  for (const path of [...REQUIRED, ...requiredTargets]) {
    if (!paths.includes(path)) problems.push(`${path}: missing from the package`);
  }
  for (const path of paths) {
    let text: string;
    try {
      text = read(path);
    } catch {
      continue; // unreadable (e.g. already reported as missing)
    }
    for (const secret of findSecrets(text)) problems.push(`${path}: contains a secret (${secret})`);
  }
  return problems;
}

/** The parts of package.json the pack check reads. */
export interface PackageManifest {
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The files package.json's `bin` names, without the leading `./`. */
export function binTargets(manifest: PackageManifest): string[] {
  const bin = manifest.bin;
  const targets = typeof bin === "string" ? [bin] : Object.values(bin ?? {});
  return targets.map((t) => t.replace(/^\.\//, ""));
}

/** Static imports only: a dynamic `import()` may be a fallback for running inside the repo. */
const IMPORT_SPECIFIER = /(?:\bfrom\s*|^\s*import\s+)["']([^"']+)["']/gm;

/**
 * A `bin` file must run from the installed package: its static relative imports packed, its static
 * bare imports declared dependencies (`tests/packaging_consumer.test.ts` runs it for real).
 */
function checkBin(path: string, read: (path: string) => string, packed: string[], manifest: PackageManifest): string[] {
  let text: string;
  try {
    text = read(path);
  } catch {
    return [`${path}: the 'bin' file cannot be read`];
  }
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const problems: string[] = [];
  for (const [, specifier] of text.matchAll(IMPORT_SPECIFIER)) {
    if (specifier.startsWith("node:")) continue;
    if (specifier.startsWith(".")) {
      const target = new URL(specifier, `file:///pkg/${path}`).pathname.replace(/^\/pkg\//, "");
      if (!packed.includes(target)) {
        problems.push(`${path}: the 'bin' command imports ${specifier}, which is not in the package (npm users would get ERR_MODULE_NOT_FOUND)`);
      }
      continue;
    }
    const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
    if (!declared.has(name)) {
      problems.push(`${path}: the 'bin' command imports '${specifier}', but '${name}' is not a dependency (npm users would not have it)`);
    }
  }
  return problems;
}

/** The files `npm pack --dry-run` would publish from `root` (lifecycle scripts skipped). */
export function packListing(root: string = ROOT): PackedFile[] {
  const result = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, npm_config_loglevel: "error" },
  });
  if (result.status !== 0) throw new Error(`npm pack --dry-run failed (exit ${result.status}):\n${result.stderr}`);
  const [report] = JSON.parse(result.stdout) as { files: PackedFile[] }[];
  return report.files;
}

/** The `exports` targets of package.json (all conditions), without the leading `./`. */
export function exportTargets(root: string = ROOT): string[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports?: unknown };
  const targets: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === "string") targets.push(value.replace(/^\.\//, ""));
    else if (value !== null && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(pkg.exports);
  return [...new Set(targets)];
}

if (process.argv[1]?.endsWith("check_pack.ts")) {
  try {
    if (!process.argv.includes("--no-build")) build("dist");
    const files = packListing();
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageManifest;
    const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
    const problems = checkPackContents(files, exportTargets(), read, manifest);
    if (problems.length > 0) {
      console.error(`check:pack: the npm package is not clean (${problems.length}):`);
      for (const problem of problems) console.error(`  - ${problem}`);
      process.exit(1);
    }
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    console.log(`check:pack: ok — ${files.length} files, ${(bytes / 1024).toFixed(1)} KiB unpacked`);
  } catch (error) {
    console.error(`check:pack failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
