/**
 * Go's `select` statement over {@linkcode Channel}s.
 *
 * @module
 */
import { Channel, type ChannelWaitOptions } from "./channel.ts";
import { channelHooks, checkSignal, unlink, type Waiter, type WaitQueue } from "./_wait_queue.ts";
import { ChannelClosedError } from "./errors.ts";

/**
 * A select case that receives from `receive` (Go's `case v, ok := <-ch:`).
 *
 * @typeParam T The channel's value type.
 */
export interface ReceiveCase<T> {
  /** The channel to receive from. */
  receive: Channel<T>;
}

/**
 * A select case that sends `value` on `send` (Go's `case ch <- v:`).
 *
 * @typeParam T The channel's value type.
 */
export interface SendCase<T> {
  /** The channel to send on. */
  send: Channel<T>;
  /** The value to send; it is delivered only if this case is chosen. */
  value: T;
}

/**
 * One case of {@linkcode select}: a {@linkcode ReceiveCase} or a
 * {@linkcode SendCase}.
 *
 * @typeParam T The channel's value type.
 */
export type SelectCase<T = unknown> = ReceiveCase<T> | SendCase<T>;

/**
 * A receive case was chosen and got a value.
 *
 * @typeParam T The channel's value type.
 * @typeParam I The case's index.
 */
export interface SelectReceived<T, I extends number = number> {
  /** The index of the chosen case. */
  index: I;
  /** `true`: a value was received. */
  ok: true;
  /** The received value. */
  value: T;
}

/**
 * A receive case was chosen because its channel is closed and drained
 * (Go's `v, ok := <-ch` with `ok == false`).
 *
 * @typeParam I The case's index.
 */
export interface SelectReceiveClosed<I extends number = number> {
  /** The index of the chosen case. */
  index: I;
  /** `false`: the channel is closed; no value was received. */
  ok: false;
  /** Always `undefined`. */
  value: undefined;
}

/**
 * A send case was chosen: its value was handed to a receiver or buffered.
 *
 * @typeParam I The case's index.
 */
export interface SelectSent<I extends number = number> {
  /** The index of the chosen case. */
  index: I;
  /** `true`: the value was sent. */
  ok: true;
  /** Always `undefined`. */
  value: undefined;
}

/** No case was ready and the `default` option was set (Go's `default:`). */
export interface SelectDefault {
  /** `-1`: no case was chosen. */
  index: -1;
  /** `false`: nothing was sent or received. */
  ok: false;
  /** Always `undefined`. */
  value: undefined;
}

/**
 * The result of choosing case `C` at index `I`.
 *
 * @typeParam C The case's type.
 * @typeParam I The case's index.
 */
export type SelectCaseResult<C, I extends number> = C extends { receive: Channel<infer T> }
  ? SelectReceived<T, I> | SelectReceiveClosed<I>
  : C extends { send: Channel<unknown> } ? SelectSent<I>
  : never;

/**
 * What {@linkcode select} resolves with for the cases `C`: a union with one
 * member per case, told apart by `index` (a literal type when `C` is a
 * tuple, as for an array literal), then by `ok`.
 *
 * @typeParam C The tuple (or array) of cases.
 */
export type SelectResult<C extends readonly SelectCase[]> = {
  [K in keyof C]: SelectCaseResult<C[K], K extends `${infer I extends number}` ? I : number>;
}[number];

/**
 * Type check of {@linkcode select}'s cases: each send case's value must
 * have its channel's value type.
 *
 * @typeParam C The tuple (or array) of cases.
 */
export type CheckedCases<C extends readonly SelectCase[]> = {
  readonly [K in keyof C]: C[K] extends { send: Channel<infer T> } ? SendCase<T> : C[K];
};

/** Options of {@linkcode select}. */
export interface SelectOptions extends ChannelWaitOptions {
  /**
   * If no case is ready, resolve at once with {@linkcode SelectDefault}
   * instead of waiting (Go's `default:` case).
   *
   * @default {false}
   */
  default?: boolean;
}

const DEFAULT_RESULT: SelectDefault = Object.freeze({
  index: -1 as const,
  ok: false as const,
  value: undefined,
});

type AnyResult = SelectReceived<unknown> | SelectReceiveClosed | SelectSent;

/** One blocked select: its waiters on every case's channel. */
class SelectGroup {
  readonly #waiters: SelectWaiter[] = [];
  readonly #resolve: (result: AnyResult) => void;
  readonly #reject: (reason: unknown) => void;
  #signal: AbortSignal | undefined;

  constructor(resolve: (result: AnyResult) => void, reject: (reason: unknown) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Queues a waiter for every case, and listens to the signal. */
  wait(cases: readonly SelectCase[], signal: AbortSignal | undefined): void {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      if ("send" in c) {
        const w = new SelectWaiter(this, i, true, c.value);
        this.#waiters.push(w);
        channelHooks.waitSend(c.send, w);
      } else {
        const w = new SelectWaiter(this, i, false, undefined);
        this.#waiters.push(w);
        channelHooks.waitReceive(c.receive, w);
      }
    }
    this.#signal = signal;
    if (signal !== undefined) signal.addEventListener("abort", this, { once: true });
  }

  /** The abort listener. */
  handleEvent(): void {
    const signal = this.#signal!;
    this.#signal = undefined;
    this.#unlinkAll();
    this.#reject(signal.reason);
  }

  finish(result: AnyResult): void {
    this.#settle();
    this.#resolve(result);
  }

  fail(err: Error): void {
    this.#settle();
    this.#reject(err);
  }

  #settle(): void {
    this.#unlinkAll();
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener("abort", this);
      this.#signal = undefined;
    }
  }

  #unlinkAll(): void {
    for (const w of this.#waiters) unlink(w);
  }
}

/** A select's case, waiting in its channel's queue. */
class SelectWaiter implements Waiter<unknown> {
  prev: Waiter<unknown> | null = null;
  next: Waiter<unknown> | null = null;
  queue: WaitQueue<unknown> | null = null;
  value: unknown;
  readonly #group: SelectGroup;
  readonly #index: number;
  readonly #send: boolean;

  constructor(group: SelectGroup, index: number, send: boolean, value: unknown) {
    this.#group = group;
    this.#index = index;
    this.#send = send;
    this.value = value;
  }

  complete(value: unknown): void {
    this.#group.finish({ index: this.#index, ok: true, value: this.#send ? undefined : value });
  }

  fail(): void {
    if (this.#send) {
      this.#group.fail(
        new ChannelClosedError(`Cannot select: case ${this.#index} sends on a closed channel`),
      );
    } else {
      this.#group.finish({ index: this.#index, ok: false, value: undefined });
    }
  }
}

function checkCases(cases: unknown): asserts cases is readonly SelectCase[] {
  if (!Array.isArray(cases)) {
    throw new TypeError(`Cannot select: cases must be an array, received ${String(cases)}`);
  }
  for (let i = 0; i < cases.length; i++) {
    const c: unknown = cases[i];
    if (c === null || typeof c !== "object") {
      throw new TypeError(`Cannot select: case ${i} must be an object, received ${String(c)}`);
    }
    const hasSend = "send" in c;
    const hasReceive = "receive" in c;
    if (hasSend === hasReceive) {
      throw new TypeError(
        `Cannot select: case ${i} must have exactly one of "send" and "receive"`,
      );
    }
    const ch = hasSend ? (c as { send: unknown }).send : (c as { receive: unknown }).receive;
    if (!(ch instanceof Channel)) {
      throw new TypeError(
        `Cannot select: case ${i} must have a Channel as "${
          hasSend ? "send" : "receive"
        }", received ${String(ch)}`,
      );
    }
  }
}

/**
 * Waits until one of several channel operations can proceed and performs
 * exactly that one (Go's `select` statement). Each case either receives
 * (`{ receive: ch }`) or sends (`{ send: ch, value }`).
 *
 * - If several cases are ready, one is chosen uniformly at random, so no
 *   case starves (not always the first, unlike a chain of `if`s).
 * - If none is ready, the select waits; the first case to become ready
 *   wins, and the other cases have no effect (no value is taken or sent).
 * - A receive case on a closed, drained channel is ready and yields
 *   `{ index, ok: false, value: undefined }`.
 * - A send case on a closed channel makes the select reject with
 *   {@linkcode ChannelClosedError} (Go panics), also when the channel closes
 *   while the select waits.
 * - With `default: true` and no case ready, it resolves at once with
 *   `{ index: -1, ok: false, value: undefined }`.
 * - An empty list of cases waits until the signal aborts (Go's `select {}`).
 *
 * The result is typed per case: narrow it on `index` (a literal type when
 * the cases are an array literal), then on `ok`.
 *
 * @typeParam C The tuple (or array) of cases, inferred.
 * @param cases The cases to choose from.
 * @param options `signal` to give up waiting (the promise rejects with its
 *   reason and no case takes effect; an already aborted signal rejects at
 *   once), and `default` to not wait.
 * @returns A promise of the chosen case's index, `ok` and received value.
 * @throws {ChannelClosedError} (rejects) If a send case's channel is closed.
 * @throws {TypeError} If `cases` is not an array of cases, or `options` has
 *   the wrong type.
 *
 * @example Receiving from whichever channel is ready
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const numbers = new Channel<number>(1);
 * const words = new Channel<string>(1);
 * await words.send("hello");
 *
 * const r = await select([{ receive: numbers }, { receive: words }]);
 * if (r.index === 1 && r.ok) console.log(r.value.toUpperCase()); // "HELLO"
 * ```
 *
 * @example Sending, or giving up after a timeout
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const jobs = new Channel<string>(); // nobody receives
 * const quit = new Channel<void>();
 * try {
 *   await select([{ send: jobs, value: "job 1" }, { receive: quit }], {
 *     signal: AbortSignal.timeout(10),
 *   });
 * } catch (err) {
 *   console.log((err as Error).name); // "TimeoutError"
 * }
 * ```
 *
 * @example Polling with a default case
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const ch = new Channel<number>(1);
 * const r = await select([{ receive: ch }], { default: true });
 * console.log(r.index); // -1: nothing was ready
 * ```
 */
export function select<const C extends readonly SelectCase[]>(
  cases: C & CheckedCases<C>,
  options: SelectOptions & { default: true },
): Promise<SelectResult<C> | SelectDefault>;
/**
 * Waits until one of several channel operations can proceed and performs
 * exactly that one (Go's `select` statement), without a default case.
 *
 * @typeParam C The tuple (or array) of cases, inferred.
 * @param cases The cases to choose from.
 * @param options `signal` to give up waiting.
 * @returns A promise of the chosen case's index, `ok` and received value.
 * @throws {ChannelClosedError} (rejects) If a send case's channel is closed.
 * @throws {TypeError} If `cases` is not an array of cases, or `options` has
 *   the wrong type.
 *
 * @example Waiting for a value or a quit signal
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const values = new Channel<number>();
 * const quit = new Channel<void>();
 * setTimeout(() => quit.close(), 1);
 * const r = await select([{ receive: values }, { receive: quit }]);
 * console.log(r.index, r.ok); // 1 false: quit was closed
 * ```
 */
export function select<const C extends readonly SelectCase[]>(
  cases: C & CheckedCases<C>,
  options?: SelectOptions & { default?: false },
): Promise<SelectResult<C>>;
/**
 * Waits until one of several channel operations can proceed and performs
 * exactly that one (Go's `select` statement); `default` decided at run
 * time.
 *
 * @typeParam C The tuple (or array) of cases, inferred.
 * @param cases The cases to choose from.
 * @param options `signal` to give up waiting, `default` to not wait.
 * @returns A promise of the chosen case's result, or of
 *   {@linkcode SelectDefault}.
 * @throws {ChannelClosedError} (rejects) If a send case's channel is closed.
 * @throws {TypeError} If `cases` is not an array of cases, or `options` has
 *   the wrong type.
 *
 * @example Choosing whether to wait
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const ch = new Channel<number>(1);
 * ch.trySend(3);
 * const wait: boolean = Math.random() < 0.5;
 * const r = await select([{ receive: ch }], { default: !wait });
 * console.log(r.index, r.value); // 0 3
 * ```
 */
export function select<const C extends readonly SelectCase[]>(
  cases: C & CheckedCases<C>,
  options?: SelectOptions,
): Promise<SelectResult<C> | SelectDefault>;
export function select(
  cases: readonly SelectCase[],
  options?: SelectOptions,
): Promise<AnyResult | SelectDefault> {
  checkCases(cases);
  const signal = checkSignal(options, "select");
  const dflt = options?.default;
  if (dflt !== undefined && typeof dflt !== "boolean") {
    throw new TypeError(`Cannot select: default must be a boolean, received ${String(dflt)}`);
  }
  if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);

  // Pick one ready case uniformly at random (reservoir sampling), after
  // ruling out sends on closed channels.
  let chosen = -1;
  let ready = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    let isReady: boolean;
    if ("send" in c) {
      if (c.send.closed) {
        return Promise.reject(
          new ChannelClosedError(`Cannot select: case ${i} sends on a closed channel`),
        );
      }
      isReady = channelHooks.canSend(c.send);
    } else {
      isReady = channelHooks.canReceive(c.receive);
    }
    if (isReady && Math.random() * ++ready < 1) chosen = i;
  }

  if (chosen !== -1) {
    const c = cases[chosen];
    if ("send" in c) {
      c.send.trySend(c.value); // ready: cannot fail
      return Promise.resolve({ index: chosen, ok: true, value: undefined });
    }
    const r = c.receive.tryReceive(); // ready: "ok" or "closed"
    return Promise.resolve(
      r.state === "ok"
        ? { index: chosen, ok: true, value: r.value }
        : { index: chosen, ok: false, value: undefined },
    );
  }
  if (dflt === true) return Promise.resolve(DEFAULT_RESULT);
  return new Promise<AnyResult>((resolve, reject) => {
    new SelectGroup(resolve, reject).wait(cases, signal);
  });
}
