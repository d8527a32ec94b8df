/**
 * Headless Chromium for browser tests, launched with playwright-core. Runs on Node (tsx), Deno and Bun.
 *
 * On Linux x64 the browser comes from npm: `@sparticuz/chromium` ships a brotli-packed
 * chrome-headless-shell plus the few shared libraries (NSS, NSPR, expat) it needs; with those it
 * loads only glibc and libgcc from the system, so it runs on a fresh Debian 12 with no apt package.
 * It is unpacked once into `node_modules/.cache/`. Elsewhere a system Chromium is used (see
 * `requireTool("chromium")` in tools.ts).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { brotliDecompressSync } from "node:zlib";
import { type Browser, chromium } from "playwright-core";
import type { ToolGate } from "./tools.ts";

/** Flags for a headless run as root on a machine with no network but loopback. */
const CHROMIUM_ARGS = [
  "--headless=shell",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launch the Chromium that `gate` found. The caller closes the browser.
 *
 * @throws {Error} when the gate found no Chromium (gate its tests instead), or unpacking fails.
 *
 * @example
 * ```ts
 * import { requireTool } from "./tools.ts";
 * const chromiumTool = requireTool("chromium");
 * chromiumTool.test("the page loads", async () => {
 *   const browser = await launchChromium(chromiumTool);
 *   try { await (await browser.newPage()).goto("http://127.0.0.1:8080/"); } finally { await browser.close(); }
 * });
 * ```
 */
export async function launchChromium(gate: ToolGate): Promise<Browser> {
  const location = gate.location;
  if (location === undefined) throw new Error(gate.missing);
  if (location.kind === "system") return await chromium.launch({ executablePath: location.path, args: CHROMIUM_ARGS });
  const dir = unpackNpmChromium(location.path);
  const libraries = [join(dir, "al2023", "lib"), process.env.LD_LIBRARY_PATH].filter((p) => p !== undefined && p !== "");
  return await chromium.launch({
    executablePath: join(dir, "chromium"),
    args: CHROMIUM_ARGS,
    env: {
      ...process.env,
      LD_LIBRARY_PATH: libraries.join(":"),
      FONTCONFIG_PATH: join(dir, "fonts"),
    },
  });
}

/** Unpack the package's browser, libraries and fonts once per version; returns the directory. */
function unpackNpmChromium(packageDir: string): string {
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string };
  const cache = join(packageDir, "..", "..", ".cache", "agentpool-chromium");
  const dir = join(cache, version);
  if (existsSync(join(dir, "chromium"))) return dir;
  // Unpack beside the target and rename it into place, so a killed run never leaves half a browser.
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const bin = join(packageDir, "bin");
  try {
    for (const archive of ["al2023", "fonts"]) {
      const target = join(partial, archive);
      mkdirSync(target);
      const tar = join(partial, `${archive}.tar`);
      writeFileSync(tar, brotliDecompressSync(readFileSync(join(bin, `${archive}.tar.br`))));
      const untar = spawnSync("tar", ["-xf", tar, "-C", target], { encoding: "utf8" });
      if (untar.status !== 0) throw new Error(`Cannot unpack ${archive}.tar.br: ${untar.stderr || untar.error}`);
      rmSync(tar);
    }
    // The package's fonts.conf names Lambda's paths (/tmp/fonts); point it at our copy.
    writeFileSync(
      join(partial, "fonts", "fonts.conf"),
      `<?xml version="1.0"?>\n<fontconfig>\n  <dir>${join(dir, "fonts", "fonts")}</dir>\n` +
        `  <cachedir>${join(dir, "fonts", "cache")}</cachedir>\n</fontconfig>\n`,
    );
    writeFileSync(join(partial, "chromium"), brotliDecompressSync(readFileSync(join(bin, "chromium.br"))), { mode: 0o755 });
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return dir;
}
