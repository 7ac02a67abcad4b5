/**
 * The Upgrader: zero-downtime restarts with a readiness handshake and a safe
 * rollback, after cloudflare/tableflip, on top of {@linkcode Net}.
 *
 * @module
 */
import {
  type Addr,
  type Listener,
  onSignal,
  type Signal,
  type SignalOptions,
} from "../runtime/mod.ts";
import { os } from "../runtime/_internal.ts";
import { watch } from "../_util/abort.ts";
import { checkTimeout } from "../_util/validate.ts";
import { Net, type NetListenOptions, spawnWithListeners, type StartProcessOptions } from "./net.ts";
import { UpgradeError } from "./errors.ts";

/** Options of {@linkcode Upgrader.handleSignals}. */
export interface UpgradeSignalsOptions extends SignalOptions {
  /**
   * The signals that start an upgrade.
   * @default {["SIGHUP"]}
   */
  signals?: readonly Signal[];
  /** Called on each signal, before its upgrade starts. */
  onSignal?: (signal: Signal) => void;
  /**
   * Called with the error of each failed upgrade (this process goes on serving).
   * @default {logs it with console.error}
   */
  onError?: (err: Error) => void;
}

/** Options of {@linkcode createUpgrader}. */
export interface UpgraderOptions {
  /**
   * How long a successor may take to become ready, in milliseconds; then it
   * is killed and the upgrade fails.
   * @default {60000}
   */
  timeout?: number;
  /** A file to write this process's pid to (atomically) at `ready()`. */
  pidFile?: string;
  /**
   * The Net to take listeners from.
   * @default {a new Net}
   */
  net?: Net;
  /**
   * How to start successors.
   * @default {the same program: see {@linkcode StartProcessOptions}}
   */
  process?: StartProcessOptions;
}

/** Options of {@linkcode Upgrader.upgrade}: how to start this successor, and an abort signal. */
export interface UpgradeOptions extends StartProcessOptions {
  /** Gives up: the successor is killed and `upgrade()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

type State = "starting" | "ready" | "upgrading" | "upgraded" | "closed";

/**
 * Zero-downtime restarts: `upgrade()` starts a new copy of the program that
 * inherits the listeners, waits until it says it is `ready()`, and only then
 * settles `exit`, the sign for this process to stop accepting, drain and
 * leave. A successor that exits or is not ready in time is killed, and this
 * process goes on serving as if nothing had happened.
 *
 * Make one with {@linkcode createUpgrader}.
 *
 * @example A server that restarts itself on SIGHUP
 * ```ts ignore
 * import { createUpgrader } from "@netkit/netkit/inherit";
 *
 * const upgrader = createUpgrader({ pidFile: "/run/app.pid" });
 * upgrader.handleSignals();
 * const listener = await upgrader.listen({ hostname: "127.0.0.1", port: 8080 });
 * const serving = (async () => {
 *   for await (const conn of listener) conn.close(); // your server
 * })();
 * await upgrader.ready();
 * await upgrader.exit; // a successor serves now
 * await listener.close(); // stop accepting, then drain
 * await serving;
 * ```
 */
export class Upgrader implements AsyncDisposable {
  /** The Net the listeners come from. */
  readonly net: Net;
  /**
   * Settles when this process should drain and leave: a successor took over
   * (or {@linkcode Upgrader.close} was called). Never rejects.
   */
  readonly exit: Promise<void>;
  readonly #timeout: number;
  readonly #pidFile: string | undefined;
  readonly #process: StartProcessOptions;
  readonly #signals = new Set<() => void>();
  #resolveExit!: () => void;
  #state: State = "starting";
  #abortCurrent: (() => void) | undefined;

  /**
   * Makes an upgrader; {@linkcode createUpgrader} is the usual way.
   *
   * @param options Timeout, pid file, Net and how to start successors.
   * @throws {RangeError} If `timeout` is not a positive number.
   * @throws {TypeError} If `pidFile` is not a string.
   */
  constructor(options: UpgraderOptions = {}) {
    const timeout = checkTimeout(options.timeout, "create upgrader", {
      fallback: 60_000,
      positive: true,
    });
    if (options.pidFile !== undefined && typeof options.pidFile !== "string") {
      throw new TypeError("Cannot create upgrader: pidFile must be a string");
    }
    this.#timeout = timeout;
    this.#pidFile = options.pidFile;
    this.#process = options.process ?? {};
    this.net = options.net ?? new Net();
    this.exit = new Promise<void>((resolve) => this.#resolveExit = resolve);
  }

  /**
   * Whether a netkit parent started this process and waits for its `ready()`.
   *
   * @example
   * ```ts
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * await using upgrader = createUpgrader();
   * console.log(upgrader.hasParent); // false when started by hand
   * ```
   */
  get hasParent(): boolean {
    return this.net.hasParent;
  }

  /**
   * Listens through the Net: the inherited listener for the address, else a
   * fresh one (see {@linkcode Net.listen}).
   *
   * @param options The address, and the name passed to successors.
   * @returns The listener.
   * @throws {TypeError} If the options are not an address.
   * @throws {AddrInUseError} If a fresh listener's address is taken.
   *
   * @example
   * ```ts ignore
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * const upgrader = createUpgrader();
   * const listener = await upgrader.listen({ port: 8080 });
   * ```
   */
  listen(options: NetListenOptions): Promise<Listener> {
    return this.net.listen(options);
  }

  /**
   * A raw listening fd for a server of your own, passed to successors (see
   * {@linkcode Net.listenFd}).
   *
   * @param options The TCP address, and the name passed to successors.
   * @returns The fd and its address.
   * @throws {TypeError} If the options are not a TCP address.
   *
   * @example
   * ```ts ignore
   * import { createServer } from "node:http";
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * const upgrader = createUpgrader();
   * const { fd } = await upgrader.listenFd({ port: 8080 });
   * createServer((req, res) => res.end("hi")).listen({ fd });
   * ```
   */
  listenFd(options: NetListenOptions): Promise<{ fd: number; addr: Addr }> {
    return this.net.listenFd(options);
  }

  /**
   * Takes the inherited listener named `name` (see {@linkcode Net.listenNamed}).
   *
   * @param name The name in `LISTEN_FDNAMES`.
   * @returns The listener.
   * @throws {NotInheritedError} If there is no such listener.
   *
   * @example
   * ```ts ignore
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * const web = await createUpgrader().listenNamed("web");
   * ```
   */
  listenNamed(name: string): Promise<Listener> {
    return this.net.listenNamed(name);
  }

  /**
   * Says this process serves: closes inherited listeners nobody claimed,
   * writes the pid file, and tells the parent (whose `upgrade()` then
   * resolves). Call it once every listener is being served. Idempotent.
   *
   * @returns Resolves when done.
   * @throws {UpgradeError} If the upgrader is closed (`reason` `"closed"`).
   * @throws {Error} If the pid file cannot be written.
   *
   * @example
   * ```ts ignore
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * const upgrader = createUpgrader();
   * const listener = await upgrader.listen({ port: 8080 });
   * // … start serving …
   * await upgrader.ready();
   * ```
   */
  async ready(): Promise<void> {
    if (this.#state === "closed") {
      throw new UpgradeError("Cannot get ready: the upgrader is closed", "closed");
    }
    if (this.#state !== "starting") return;
    this.#state = "ready";
    if (this.#pidFile !== undefined) {
      try {
        os.writeFileAtomic(this.#pidFile, `${os.pid}\n`);
      } catch (err) {
        throw new Error(`Cannot write pid file ${this.#pidFile}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    await this.net.ready();
  }

  /**
   * Starts a successor with the listeners and waits until it is ready. Then
   * `exit` settles and the promise resolves. If the successor exits first,
   * or is not ready within the timeout, it is killed and the promise rejects;
   * this process goes on serving as if nothing happened. One upgrade at a
   * time, and only after `ready()`.
   *
   * @param options How to start this successor (overrides the upgrader's `process`), and a signal.
   * @returns Resolves once the successor serves.
   * @throws {UpgradeError} If the upgrade failed or could not begin (see `reason`).
   *
   * @example Upgrading, and going on when the successor fails
   * ```ts ignore
   * import { createUpgrader, UpgradeError } from "@netkit/netkit/inherit";
   *
   * const upgrader = createUpgrader({ timeout: 10_000 });
   * await upgrader.listen({ port: 8080 });
   * await upgrader.ready();
   * try {
   *   await upgrader.upgrade();
   * } catch (err) {
   *   if (err instanceof UpgradeError) console.error(err.message); // still serving
   * }
   * ```
   */
  async upgrade(options: UpgradeOptions = {}): Promise<void> {
    switch (this.#state) {
      case "closed":
        throw new UpgradeError("Cannot upgrade: the upgrader is closed", "closed");
      case "starting":
        throw new UpgradeError("Cannot upgrade: call ready() first", "not-ready");
      case "upgrading":
        throw new UpgradeError("Cannot upgrade: an upgrade is already in progress", "busy");
      case "upgraded":
        throw new UpgradeError("Cannot upgrade: a successor has already taken over", "done");
    }
    const { signal, ...start } = options;
    signal?.throwIfAborted();
    this.#state = "upgrading";
    let spawned;
    try {
      spawned = await spawnWithListeners(this.net, { ...this.#process, ...start, control: true });
    } catch (err) {
      if (this.#state === "upgrading") this.#state = "ready";
      throw new UpgradeError(
        `Cannot upgrade: the successor did not start: ${(err as Error).message}`,
        "spawn",
        { cause: err },
      );
    }
    const { sub, passed } = spawned;
    type Outcome =
      | { kind: "ready" }
      | { kind: "exited"; code: number | null; signal: string | null }
      | { kind: "timeout" }
      | { kind: "closed" }
      | { kind: "aborted"; reason: unknown };
    let stopWatch = () => {};
    const outcome = await new Promise<Outcome>((resolve) => {
      sub.onMessage((line) => {
        if (line.trim() === "READY=1") resolve({ kind: "ready" });
      });
      sub.exited.then((s) => resolve({ kind: "exited", code: s.code, signal: s.signal }));
      this.#abortCurrent = () => resolve({ kind: "closed" });
      if (this.#closed()) resolve({ kind: "closed" });
      stopWatch = watch(signal, this.#timeout, {
        onAbort: (reason) => resolve({ kind: "aborted", reason }),
        onTimeout: () => resolve({ kind: "timeout" }),
      });
    });
    stopWatch();
    this.#abortCurrent = undefined;
    sub.closeControl();
    if (outcome.kind === "ready") {
      sub.unref();
      for (const l of passed) l.handedOff = true;
      this.#state = "upgraded";
      this.#resolveExit();
      return;
    }
    // Roll back: the successor goes, taking its copies of the sockets with it.
    sub.kill("SIGKILL");
    await sub.exited;
    if (this.#state === "upgrading") this.#state = "ready";
    const who = `the successor (pid ${sub.pid})`;
    switch (outcome.kind) {
      case "exited":
        throw new UpgradeError(
          `Cannot upgrade: ${who} exited ${
            outcome.code !== null ? `with code ${outcome.code}` : `on ${outcome.signal}`
          } before it was ready`,
          "exited",
        );
      case "timeout":
        throw new UpgradeError(
          `Cannot upgrade: ${who} was not ready within ${this.#timeout} ms and was killed`,
          "timeout",
        );
      case "closed":
        throw new UpgradeError(
          `Cannot upgrade: the upgrader was closed; ${who} was killed`,
          "closed",
        );
      case "aborted":
        throw outcome.reason;
    }
  }

  /** Whether close() was called (a method: TypeScript narrows the field after a check). */
  #closed(): boolean {
    return this.#state === "closed";
  }

  /**
   * Upgrades each time this process receives one of `signals` (default
   * `["SIGHUP"]`). A failed upgrade is passed to `onError` (default: logged
   * with `console.error`), and this process goes on serving. The same
   * options shape as `GracefulHttp.handleSignals()`.
   *
   * @param options `signals`, `onSignal` (called on each signal before the
   * upgrade starts) and `onError`.
   * @returns A function that stops handling the signals.
   * @throws {TypeError} If a callback is not a function or `signals` is empty.
   * @throws {RangeError} If a signal cannot be handled.
   *
   * @example `kill -HUP <pid>` restarts the server
   * ```ts
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * await using upgrader = createUpgrader();
   * const off = upgrader.handleSignals({ onError: (err) => console.error(err.message) });
   * off();
   * ```
   */
  handleSignals(options: UpgradeSignalsOptions = {}): () => void {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `Cannot handle signals: options must be an object, received ${String(options)}`,
      );
    }
    const { signals = ["SIGHUP"], onSignal: onEach, onError } = options;
    if (!Array.isArray(signals) || signals.length === 0) {
      throw new TypeError("Cannot handle signals: signals must be a non-empty array");
    }
    for (const fn of [onEach, onError]) {
      if (fn !== undefined && typeof fn !== "function") {
        throw new TypeError("Cannot handle signals: onSignal and onError must be functions");
      }
    }
    const report = onError ?? ((err: Error) => console.error(`netkit: ${err.message}`));
    const removes: (() => void)[] = [];
    const off = () => {
      this.#signals.delete(off);
      for (const remove of removes.splice(0)) remove();
    };
    try {
      for (const signal of signals) {
        removes.push(onSignal(signal, () => {
          onEach?.(signal);
          this.upgrade().catch((err) =>
            report(err instanceof Error ? err : new Error(String(err)))
          );
        }));
      }
    } catch (err) {
      off();
      throw err;
    }
    this.#signals.add(off);
    return off;
  }

  /**
   * Upgrades each time this process receives `signal`: the same as
   * `handleSignals({ signals: [signal], onError })`.
   *
   * @deprecated Use {@linkcode Upgrader.handleSignals}.
   * @param signal The signal.
   * @param onError Called with the error of each failed upgrade.
   * @returns A function that stops handling the signal.
   * @throws {RangeError} If `signal` cannot be handled.
   *
   * @example `kill -HUP <pid>` restarts the server
   * ```ts
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * await using upgrader = createUpgrader();
   * const off = upgrader.onSignal("SIGHUP", (err) => console.error(err.message));
   * off();
   * ```
   */
  onSignal(signal: Signal = "SIGHUP", onError?: (err: Error) => void): () => void {
    return this.handleSignals({ signals: [signal], onError });
  }

  /**
   * Stops upgrading: removes the signal handlers, kills a successor that is
   * not ready yet (its `upgrade()` rejects), closes inherited listeners nobody
   * claimed, and settles `exit`. Listeners already handed out stay open.
   * Idempotent.
   *
   * @returns Resolves when done.
   *
   * @example
   * ```ts
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * const upgrader = createUpgrader();
   * await upgrader.close();
   * await upgrader.exit; // settled
   * ```
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    for (const off of [...this.#signals]) off();
    this.#abortCurrent?.();
    await this.net.close();
    this.#resolveExit();
  }

  /**
   * Same as {@linkcode Upgrader.close}, for `await using`.
   *
   * @returns Resolves when done.
   *
   * @example
   * ```ts
   * import { createUpgrader } from "@netkit/netkit/inherit";
   *
   * await using upgrader = createUpgrader({ timeout: 5_000 });
   * console.log(upgrader.hasParent);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Makes an {@linkcode Upgrader}: tableflip's zero-downtime restarts for
 * JavaScript, with the listeners of a {@linkcode Net}.
 *
 * @param options Timeout (default 60 s), pid file, Net, how to start successors.
 * @returns The upgrader.
 * @throws {RangeError} If `timeout` is not a positive number.
 *
 * @example
 * ```ts
 * import { createUpgrader } from "@netkit/netkit/inherit";
 *
 * await using upgrader = createUpgrader({ timeout: 30_000 });
 * console.log(upgrader.hasParent);
 * ```
 */
export function createUpgrader(options?: UpgraderOptions): Upgrader {
  return new Upgrader(options);
}
