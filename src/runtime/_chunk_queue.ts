// Internal: turns a push-based socket (Bun's `data` handler, node:net's
// 'data' event) into pull-based reads with backpressure: the socket is paused
// until the first read and whenever more than `highWater` bytes wait unread.
// Runtime-free: the adapter passes in its socket (anything that pauses and
// resumes), not closures over it: one less pair of functions per conn.
import { type DeadlineClock, PendingRead } from "./_deadline.ts";
import type { ReadReadiness } from "./types.ts";

/** How many unread bytes a conn buffers before it pauses the socket. */
export const HIGH_WATER: number = 64 * 1024;

const EMPTY = new Uint8Array(0);

/** What a {@linkcode ChunkQueue} stops and restarts: node:net's and Bun's sockets both are. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export class ChunkQueue {
  readonly #socket: Pausable;
  // The chunks waiting, oldest first: the oldest in a slot of its own, the
  // others in an array made only when two wait (most conns never have two:
  // an array costs an allocation of 16 slots at its first push).
  #head: Uint8Array | null = null;
  #rest: Uint8Array[] | null = null;
  #offset = 0; // read position in #head
  #size = 0;
  #flowing = false;
  #eof = false;
  #error: Error | (() => Error) | null = null;
  /** The oldest read waiting for data, and the others (made when two wait), oldest first. */
  #reader: PendingRead | null = null;
  #moreReaders: PendingRead[] | null = null;
  // Readiness: called once when a read would not wait (see watch()).
  #watch: ((state: ReadReadiness) => void) | null = null;

  /** `flowing`: the socket is not paused now (else the first read resumes it). */
  constructor(socket: Pausable, flowing = false) {
    this.#socket = socket;
    this.#flowing = flowing;
  }

  /**
   * Pauses a socket left flowing at open, unless a read or a readiness watch
   * waits for its data: its bytes then stay in the kernel until one does.
   */
  pauseUnlessWaited(): void {
    if (!this.#flowing || this.#reader !== null || this.#watch !== null || this.ended) return;
    this.#flowing = false;
    this.#socket.pause();
  }

  /** Bytes received and not yet read. */
  get size(): number {
    return this.#size;
  }

  /** Whether EOF or an error was seen. */
  get ended(): boolean {
    return this.#eof || this.#error !== null;
  }

  /** New data from the socket. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (this.#head === null) this.#head = chunk;
    else (this.#rest ??= []).push(chunk);
    this.#size += chunk.byteLength;
    if (this.#flowing && this.#size >= HIGH_WATER) {
      this.#flowing = false;
      this.#socket.pause();
    }
    this.#notify();
  }

  /** The peer sent FIN. */
  end(): void {
    this.#eof = true;
    this.#notify();
  }

  /**
   * The socket failed or closed; reads after the buffered data reject with
   * `err` (a function makes the error only when a read needs it: stack
   * traces are costly and most conns close with nobody reading).
   */
  fail(err: Error | (() => Error)): void {
    if (this.#error === null && !this.#eof) this.#error = err;
    this.#notify();
  }

  /** Drops buffered data (on close). */
  clear(): void {
    this.#head = null;
    this.#rest = null;
    this.#offset = 0;
    this.#size = 0;
  }

  /**
   * Calls `fire` once when a read would not wait: at once (in a microtask)
   * if data or an end waits and `edge` is false, else when the socket brings
   * data, EOF or an error. `null` cancels. The socket flows while watched (a
   * paused socket hears no FIN), into this bounded queue.
   */
  watch(fire: ((state: ReadReadiness) => void) | null, edge: boolean): void {
    this.#watch = fire;
    if (fire === null) return;
    if (!edge && (this.#size > 0 || this.ended)) {
      queueMicrotask(() => this.#fireWatch());
      return;
    }
    if (!this.#flowing && !this.ended && this.#size < HIGH_WATER) {
      this.#flowing = true;
      this.#socket.resume();
    }
  }

  #fireWatch(): void {
    const fire = this.#watch;
    if (fire === null) return;
    let state: ReadReadiness;
    if (this.#size > 0) state = "data";
    else if (this.#error !== null) state = "error";
    else if (this.#eof) state = "eof";
    else return; // a pending read took the data: keep watching
    this.#watch = null;
    fire(state);
  }

  /**
   * Reads into `buf`; `null` at EOF. Bytes already queued are copied at
   * once (an already-settled promise); else the read waits, registered with
   * `clock` so that a deadline or close can cut it.
   */
  read(buf: Uint8Array, clock: DeadlineClock): Promise<number | null> {
    if (this.#reader === null) {
      const n = this.#take(buf);
      if (n !== undefined) return n instanceof Error ? Promise.reject(n) : Promise.resolve(n);
    }
    const r = new PendingRead(buf, clock, this);
    if (this.#reader === null) this.#reader = r;
    else (this.#moreReaders ??= []).push(r);
    return r.promise;
  }

  /** Drops a read that was answered otherwise (deadline, close). */
  forget(r: PendingRead): void {
    if (this.#reader === r) {
      this.#reader = this.#nextReader();
      return;
    }
    const more = this.#moreReaders;
    const i = more === null ? -1 : more.indexOf(r);
    if (i >= 0) more!.splice(i, 1);
  }

  /** The read that waits after the oldest, taken out of the others, or `null`. */
  #nextReader(): PendingRead | null {
    const more = this.#moreReaders;
    return more === null || more.length === 0 ? null : more.shift()!;
  }

  #notify(): void {
    let r: PendingRead | null;
    while ((r = this.#reader) !== null) {
      const n = this.#take(r.buf);
      if (n === undefined) break;
      this.#reader = this.#nextReader();
      r.settle(n);
    }
    if (this.#watch !== null) this.#fireWatch();
  }

  /**
   * Takes every chunk received and not read yet, whole (no copy): for a
   * reader that consumes chunks as they come (the HTTP engine). `null` at
   * EOF, the error after a failure, `undefined` when nothing waits (the
   * socket flows: watch() says when to look again).
   */
  takeAll(): Uint8Array[] | null | Error | undefined {
    if (this.#size === 0) {
      const end = this.#take(EMPTY);
      return typeof end === "number" ? undefined : end;
    }
    const head = this.#head!;
    const chunks = [this.#offset === 0 ? head : head.subarray(this.#offset)];
    if (this.#rest !== null) { for (const chunk of this.#rest) chunks.push(chunk); }
    this.#head = null;
    this.#rest = null;
    this.#offset = 0;
    this.#size = 0;
    if (!this.#flowing && !this.ended) {
      this.#flowing = true;
      this.#socket.resume();
    }
    return chunks;
  }

  /** Copies what is there; `undefined` means "wait". */
  #take(buf: Uint8Array): number | null | Error | undefined {
    if (this.#size === 0) {
      if (this.#error !== null) {
        if (typeof this.#error === "function") this.#error = this.#error();
        return this.#error;
      }
      if (this.#eof) return null;
      if (!this.#flowing) {
        this.#flowing = true;
        this.#socket.resume();
      }
      if (buf.byteLength === 0) return 0;
      return undefined;
    }
    let n = 0;
    let head: Uint8Array | null;
    while (n < buf.byteLength && (head = this.#head) !== null) {
      const avail = head.byteLength - this.#offset;
      const want = buf.byteLength - n;
      if (avail <= want) {
        buf.set(this.#offset === 0 ? head : head.subarray(this.#offset), n);
        n += avail;
        const rest = this.#rest;
        this.#head = rest === null || rest.length === 0 ? null : rest.shift()!;
        this.#offset = 0;
      } else {
        buf.set(head.subarray(this.#offset, this.#offset + want), n);
        this.#offset += want;
        n += want;
      }
    }
    this.#size -= n;
    if (!this.#flowing && this.#size < HIGH_WATER && !this.ended) {
      this.#flowing = true;
      this.#socket.resume();
    }
    return n;
  }
}
