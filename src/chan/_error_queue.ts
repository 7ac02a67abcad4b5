// Internal: the bounded, drop-oldest error buffer behind `errors`.
import { Channel } from "./channel.ts";
import type { ErrorStream } from "./error_stream.ts";
import { channelHooks } from "./_wait_queue.ts";

/** An {@linkcode ErrorStream} that never blocks the side that pushes. */
export class ErrorQueue implements ErrorStream {
  readonly #ch: Channel<Error>;
  #dropped = 0;

  constructor(capacity: number) {
    this.#ch = new Channel<Error>(capacity);
  }

  get dropped(): number {
    return this.#dropped;
  }

  get buffered(): number {
    return this.#ch.size;
  }

  /** Adds an error, dropping the oldest one if the buffer is full. */
  push(err: Error): void {
    const ch = this.#ch;
    if (ch.closed) return;
    if (ch.trySend(err)) return;
    channelHooks.poll(ch); // full: drop the oldest
    this.#dropped++;
    ch.trySend(err);
  }

  /** Ends the iteration once the buffered errors are read. */
  close(): void {
    this.#ch.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Error> {
    return this.#ch[Symbol.asyncIterator]();
  }
}

/** `err` if it is an Error, else an Error that says what it is. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
