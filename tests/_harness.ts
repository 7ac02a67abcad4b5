// Test harness shared by every suite: one `test()` that runs under deno test
// (with Deno's op and resource sanitizers on), bun test and node --test, plus
// a leak check on netkit's own resource counts; `forEachAdapter()` for tests
// that run once per adapter, `loopbackPair()`, reads and waits (`seesClose`,
// `until`), fixtures and child processes. New tests take every helper from here.
// Tests are not library code: this file may look at the runtime it runs on.
import { test as nodeTest } from "node:test";
import { spawn } from "node:child_process";
import { binary, current, fixturePath } from "./fixtures/inherit_helpers.ts";
import { type Conn, connect, listen, type Listener, runtime } from "../src/runtime/mod.ts";
import { openResources, type ResourceCounts, useRuntime } from "../src/runtime/testing.ts";

// The process helpers (runtimes' binaries, fixture commands, children watched
// line by line, signals, temporary directories) live in
// fixtures/inherit_helpers.ts, which fixture programs may import too (it has
// no node:test); tests take them from here.
export {
  alive,
  allowLongTests,
  binary,
  commandFor,
  current,
  field,
  fixturePath,
  freePort,
  type Logged,
  partners,
  reap,
  repoRoot,
  type Rt,
  runnable,
  type RunResult,
  runToEnd,
  signal,
  startLogged,
  stopped,
  type TempDir,
  tempDir,
} from "./fixtures/inherit_helpers.ts";

/** The loopback address every test listens and connects on. */
export const HOST = "127.0.0.1";

/** No test may run longer than this: a hang fails instead of stalling CI. */
const TEST_LIMIT_MS = 60_000;

/** Options of a test. */
export interface TestOptions {
  /** Skip the test, saying why (the reason must name the runtime). */
  skip?: string | false;
  /** Turn Deno's op sanitizer off for this test, saying why. */
  noOpSanitizer?: string;
  /** This test's own time limit in milliseconds, for the few that need more. */
  limitMs?: number;
}

interface DenoTestApi {
  test(def: {
    name: string;
    fn: () => Promise<void>;
    ignore?: boolean;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
  execPath(): string;
}

const denoApi = (globalThis as { Deno?: DenoTestApi }).Deno;

async function settled(before: ResourceCounts): Promise<ResourceCounts> {
  // Closing is asynchronous on node:net and Bun: give it a few turns.
  let now = openResources();
  for (let i = 0; i < 200 && (now.conns > before.conns || now.listeners > before.listeners); i++) {
    await new Promise((r) => setTimeout(r, 10));
    now = openResources();
  }
  return now;
}

/** Registers a test that must close every listener and conn it opened. */
export function test(
  name: string,
  fn: () => Promise<void> | void,
  options: TestOptions = {},
): void {
  const body = async () => {
    const before = openResources();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      const ms = options.limitMs ?? TEST_LIMIT_MS;
      timer = setTimeout(() => reject(new Error(`Test ran over ${ms} ms`)), ms);
    });
    try {
      await Promise.race([fn(), limit]);
    } finally {
      clearTimeout(timer);
    }
    const after = await settled(before);
    if (after.conns !== before.conns || after.listeners !== before.listeners) {
      throw new Error(
        `Leak: ${after.listeners - before.listeners} listener(s) and ${
          after.conns - before.conns
        } conn(s) left open`,
      );
    }
  };
  // Deno and Bun print no skip reason of their own: the name carries it
  // (scripts/test.sh lists skipped tests with their reasons).
  if (options.skip && runtime.name !== "node") name = `${name} (skipped: ${options.skip})`;
  if (denoApi !== undefined) {
    denoApi.test({
      name,
      fn: body,
      ignore: Boolean(options.skip),
      sanitizeOps: options.noOpSanitizer === undefined,
      sanitizeResources: true,
    });
  } else if (options.skip) {
    nodeTest(name, { skip: options.skip }, body);
  } else {
    nodeTest(name, body);
  }
}

/** The adapters this runtime can run: its own, and node:net where that differs. */
export const adapters: Adapter[] = runtime.name === "node" ? ["node"] : [runtime.name, "node"];

/** The name of an adapter, as `useRuntime()` takes it. */
export type Adapter = "deno" | "bun" | "node";

/**
 * Registers a test that runs on one adapter (`useRuntime(adapter)` around its
 * body); a string third argument is a skip reason.
 */
export type AdapterTest = (
  name: string,
  fn: () => Promise<void> | void,
  options?: string | TestOptions,
) => void;

/**
 * Runs `block` once per adapter this runtime has; the tests it registers with
 * the `t` it gets are named `[<adapter>] <name>` and run on that adapter.
 */
export function forEachAdapter(block: (t: AdapterTest, adapter: Adapter) => void): void {
  for (const adapter of adapters) {
    const t: AdapterTest = (name, fn, options) =>
      test(`[${adapter}] ${name}`, async () => {
        const before = useRuntime(adapter);
        try {
          await fn();
        } finally {
          useRuntime(before);
        }
      }, typeof options === "string" ? { skip: options } : options);
    block(t, adapter);
  }
}

/** Reads until EOF or an error: true when the peer closed the connection. */
export async function seesClose(conn: { read(b: Uint8Array): Promise<number | null> }): Promise<
  boolean
> {
  try {
    const buf = new Uint8Array(16);
    for (let i = 0; i < 100; i++) {
      if ((await conn.read(buf)) === null) return true;
    }
    return false;
  } catch {
    return true;
  }
}

/** A connected loopback conn pair and its listener, all closed on dispose. */
export interface LoopbackPair extends AsyncDisposable {
  listener: Listener;
  /** The accepted side. */
  server: Conn;
  /** The dialing side. */
  client: Conn;
}

/** Listens on loopback, connects once, accepts: `await using p = await loopbackPair()`. */
export async function loopbackPair(): Promise<LoopbackPair> {
  const listener = await listen({ hostname: HOST, port: 0 });
  try {
    const [server, client] = await pair(listener);
    return {
      listener,
      server,
      client,
      async [Symbol.asyncDispose]() {
        client.close();
        server.close();
        await listener.close();
      },
    };
  } catch (err) {
    await listener.close();
    throw err;
  }
}

/** The port of a TCP listener. */
export function portOf(listener: { addr: { transport: string; port?: number } }): number {
  const addr = listener.addr;
  if (addr.transport !== "tcp" || addr.port === undefined) throw new Error("not a TCP listener");
  return addr.port;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits until `cond()` holds, checking every few ms; fails the test with
 * `Timed out waiting for <what>` after `limitMs` (a bound, not a timing).
 */
export async function until(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Collects everything an async iterable (a channel) yields until it ends. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of items) out.push(v);
  return out;
}

/** The next error of a stream (an exporter's or importer's `errors`). */
export async function nextError(errors: AsyncIterable<Error>): Promise<Error> {
  for await (const err of errors) return err;
  throw new Error("the error stream ended");
}

/** Reads until EOF; returns all bytes. */
export async function readAll(
  conn: { read(b: Uint8Array): Promise<number | null> },
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Reads exactly `n` bytes (rejects on early EOF). */
export async function readExactly(
  conn: { read(b: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** UTF-8 encode. */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
/** UTF-8 decode. */
export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** The path of a fixture program, as built for the runtime running the tests. */
export function fixture(name: string): string {
  return fixturePath(name);
}

/** The command that runs a script on this runtime (the real binary, no wrapper). */
export function runtimeCommand(script: string): [string, string[]] {
  return current === "deno" ? [binary("deno"), ["run", "-A", script]] : [binary(current), [script]];
}

/** A child process started from a fixture. */
export interface Child {
  pid: number;
  /** Resolves with the first stdout line that matches. */
  line(match: RegExp): Promise<string>;
  /** Resolves with the exit code once the child has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `cmd argv` with extra fds from 3 on (`fds[i]` becomes fd 3 + i),
 * stdout piped and watched line by line; `label` names it in errors.
 */
export function spawnChild(
  label: string,
  cmd: string,
  argv: string[],
  options: { fds?: number[]; env?: Record<string, string> } = {},
): Child {
  const child = spawn(cmd, argv, {
    stdio: ["ignore", "pipe", "inherit", ...(options.fds ?? [])],
    env: { ...process.env, ...options.env },
  });
  let out = "";
  const watchers: { match: RegExp; resolve: (s: string) => void }[] = [];
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    out += chunk;
    for (const line of out.split("\n")) {
      for (const w of [...watchers]) {
        if (w.match.test(line)) {
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  return {
    pid: child.pid!,
    line: (match) =>
      new Promise((resolve, reject) => {
        watchers.push({ match, resolve });
        exited.then((code) =>
          reject(new Error(`${label} exited (${code}) before ${match}:\n${out}`))
        );
      }),
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // By pid: Deno's child.kill() delivers only the first signal and then
      // misreports the exit status.
      try {
        process.kill(child.pid!, signal);
      } catch {
        // Already gone.
      }
    },
  };
}

/** Starts a fixture on this runtime with extra fds from 3 on (`fds[i]` becomes fd 3 + i). */
export function startFixture(
  name: string,
  args: string[] = [],
  fds: number[] = [],
  env?: Record<string, string>,
): Child {
  const [cmd, base] = runtimeCommand(fixture(name));
  return spawnChild(`fixture ${name}`, cmd, [...base, ...args], { fds, env });
}

/** Accepts one conn on `listener` and connects one client to it (loopback). */
export async function pair<C>(
  listener: { accept(): Promise<C>; addr: { transport: string; port?: number } },
): Promise<[C, Conn]> {
  const accepted = listener.accept();
  const client = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
  return [await accepted, client];
}
