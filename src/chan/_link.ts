// Internal: what both halves of a networked channel on one connection are
// (its id, name, codec, protocol state and count), and the states a link goes
// through. The sending half is in _out_link.ts, the receiving half in
// _in_link.ts; the session that carries them in _channel_session.ts.
import type { Codec } from "./codec.ts";
import type { ChannelSession } from "./_channel_session.ts";

/** The importer asked for the channel; no answer yet. */
export const OPENING = 0;
/** Both sides use the channel. */
export const OPEN = 1;
/** This side sent CLOSE and waits for the peer's. */
export const CLOSING = 2;
/** Closed on both sides, or the connection ended. */
export const GONE = 3;
/** A link's protocol state. */
export type LinkState = 0 | 1 | 2 | 3;

/** One half of a channel on one connection. */
export abstract class Link {
  readonly id: number;
  readonly session: ChannelSession;
  readonly name: string;
  readonly codec: Codec<unknown>;
  state: LinkState;
  /** Values still to go (send or receive) before the link ends by itself; -1: no limit. */
  remaining: number;

  constructor(
    session: ChannelSession,
    id: number,
    name: string,
    codec: Codec<unknown>,
    state: LinkState,
    remaining: number,
  ) {
    this.session = session;
    this.id = id;
    this.name = name;
    this.codec = codec;
    this.state = state;
    this.remaining = remaining;
  }
}
