// Internal: what an Exporter and an Importer share, held by each (what Go
// gets from embedding): the entries by name, the error stream, the drain and
// sync waits, the session callbacks both answer alike, the argument checks of
// export() and import(), hangup's lookup, the value counters and the close
// that runs once. (A base class would be a private type in the public docs.)
import type { Channel } from "./channel.ts";
import type { Codec } from "./codec.ts";
import { Dir } from "./dir.ts";
import type { ChannelOptions } from "./options.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";
import type { ChannelSession, SessionHost } from "./_channel_session.ts";
import { ConditionWaits } from "./_condition_waits.ts";
import { ErrorQueue } from "./_error_queue.ts";
import { channelOptions, checkChannel, checkDir, checkName } from "./_options.ts";
import { channelHooks } from "./_wait_queue.ts";

/** What every entry (an exported or an imported name) holds. */
export interface EndpointEntry {
  readonly name: string;
  readonly channel: Channel<unknown>;
  readonly dir: Dir;
  /** Stops watching the channel for close. */
  unwatch: () => void;
}

/** The checked arguments of `export()` and `import()`. */
export interface Binding {
  /** The name's UTF-8 bytes. */
  nameBytes: Uint8Array;
  codec: Codec<unknown>;
  schema: StandardSchemaV1<unknown, unknown> | undefined;
}

/** The value counters of a session, or of several. */
export interface ValueCounts {
  sent: number;
  acked: number;
  received: number;
  requeued: number;
}

/** The state an exporter or an importer shares with the other. */
export class Endpoint<E extends EndpointEntry> {
  /** The entries by name. */
  readonly entries: Map<string, E> = new Map();
  /** The error stream behind `errors`. */
  readonly errors: ErrorQueue;
  /** The pending drains and syncs. */
  readonly waits: ConditionWaits = new ConditionWaits();
  /** `"exported"` or `"imported"`, for messages. */
  readonly #what: string;
  #closing: Promise<void> | undefined;

  constructor(errorBuffer: number, what: "exported" | "imported") {
    this.errors = new ErrorQueue(errorBuffer);
    this.#what = what;
  }

  /** Whether closing started. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Reports an error on `errors`. */
  report(err: Error): void {
    this.errors.push(err);
  }

  /** Re-checks the waits after an event that may end them. */
  recheck(): void {
    if (this.waits.size > 0) this.waits.recheck();
  }

  /** The callbacks of a session: errors and acknowledgements come here. */
  sessionHost(
    handshake: () => void,
    ended: (session: ChannelSession, err: Error | null) => void,
  ): SessionHost {
    return {
      report: (err) => this.report(err),
      handshake,
      acked: () => this.recheck(),
      ended,
    };
  }

  /** Checks the arguments of `export()` or `import()`. */
  checkBinding(
    name: string,
    channel: Channel<unknown>,
    dir: Dir,
    options: ChannelOptions<unknown> | undefined,
    action: string,
  ): Binding {
    const nameBytes = checkName(name, action);
    checkChannel(channel, action);
    checkDir(dir, action);
    const { codec, schema } = channelOptions(options, action);
    return { nameBytes, codec, schema };
  }

  /** Throws if `name` has an entry already. */
  checkFree(name: string, action: string): void {
    if (this.entries.has(name)) {
      throw new RangeError(`Cannot ${action}: "${name}" is already ${this.#what}`);
    }
  }

  /** The entry that `hangup(name)` ends; throws if there is none. */
  hangupEntry(name: unknown): E {
    const entry = typeof name === "string" ? this.entries.get(name) : undefined;
    if (entry === undefined) {
      throw new RangeError(`Cannot hang up: "${String(name)}" is not ${this.#what}`);
    }
    return entry;
  }

  /** Whether a `Dir.Send` entry's channel still holds values to send. */
  sendBuffered(): boolean {
    for (const e of this.entries.values()) {
      if (e.dir === Dir.Send && channelHooks.hasValues(e.channel)) return true;
    }
    return false;
  }

  /** Runs `close` the first time; returns its promise every time. */
  closeOnce(close: () => Promise<void>): Promise<void> {
    this.#closing ??= close();
    return this.#closing;
  }
}

/** No counts. */
export function noCounts(): ValueCounts {
  return { sent: 0, acked: 0, received: 0, requeued: 0 };
}

/** Adds the counters of `from` to `into`. */
export function addCounts(into: ValueCounts, from: ValueCounts): void {
  into.sent += from.sent;
  into.acked += from.acked;
  into.received += from.received;
  into.requeued += from.requeued;
}

/** Does nothing (an entry's `unwatch` before it watches). */
export function noop(): void {}
