// Internal: a session that carries links, the frames both roles handle alike
// (DATA, CREDIT, CLOSE, ACK, GOAWAY), and what it needs of its owner. The
// exporter's and the importer's sessions add the frames of their role.
import type { Conn } from "../runtime/mod.ts";
import { InLink } from "./_in_link.ts";
import { CLOSING, GONE, type LinkState, OPEN, OPENING } from "./_link.ts";
import { OutLink } from "./_out_link.ts";
import type { Pump } from "./_pump.ts";
import {
  ROLE_EXPORTER,
  ROLE_IMPORTER,
  T_ACK,
  T_CLOSE,
  T_CREDIT,
  T_DATA,
  T_GOAWAY,
  T_OPEN,
  T_OPENED,
  T_REFUSE,
} from "./_protocol.ts";
import { goawayError, Session, type SessionConfig } from "./_session.ts";

/** What a session needs of the exporter or importer that owns it. */
export interface SessionHost {
  /** Reports an error on the owner's `errors`. */
  report(err: Error): void;
  /** The peer's preamble was valid. */
  handshake(): void;
  /** The peer acknowledged more values. */
  acked(): void;
  /** The connection ended (once); its links were dropped already. */
  ended(session: ChannelSession, err: Error | null): void;
}

/**
 * A session that carries links: the frames both roles handle alike. `H` is
 * what the role's session needs of its owner.
 */
export abstract class ChannelSession<H extends SessionHost = SessionHost> extends Session {
  /** The open links by channel id. */
  readonly links: Map<number, OutLink | InLink> = new Map();
  /** Values in flight given back to their channel because a link ended without them. */
  requeued = 0;
  /** The owner. */
  protected readonly host: H;
  /** What the session does, for messages: "serve importer 127.0.0.1:4567". */
  protected readonly action: string;
  #settle: (() => void)[] = [];

  constructor(conn: Conn, config: SessionConfig, role: number, host: H) {
    super(conn, config, role, role === ROLE_EXPORTER ? ROLE_IMPORTER : ROLE_EXPORTER);
    this.host = host;
    const a = conn.remoteAddr;
    const peer = a.transport === "tcp" ? `${a.hostname}:${a.port}` : a.path || "unix socket";
    this.action = role === ROLE_EXPORTER ? `serve importer ${peer}` : `import from ${peer}`;
  }

  report(err: Error): void {
    this.host.report(err);
  }

  protected onHandshake(): void {
    this.host.handshake();
  }

  /** The write backlog drained under the budget: the pumps may send again. */
  protected override onUnblocked(): void {
    for (const link of this.links.values()) {
      if (link instanceof OutLink) link.pump?.kick();
    }
  }

  /** OPEN: only an importer sends it (the exporter's session handles it). */
  protected onOpen(_off: number, _len: number): void {
    this.violation("unexpected-frame", "an OPEN frame, which only an importer sends");
  }

  /** OPENED: only an exporter sends it (the importer's session handles it). */
  protected onOpened(_off: number, _len: number): void {
    this.violation("unexpected-frame", `frame type ${T_OPENED}, which only an exporter sends`);
  }

  /** REFUSE: only an exporter sends it (the importer's session handles it). */
  protected onRefuse(_off: number, _len: number): void {
    this.violation("unexpected-frame", `frame type ${T_REFUSE}, which only an exporter sends`);
  }

  /**
   * Whether a frame's payload is `want` bytes long; if not, ends the
   * session (`malformed-frame`). `frame` names it: "a CLOSE frame".
   */
  protected sized(len: number, want: number, frame: string): boolean {
    if (len === want) return true;
    this.violation("malformed-frame", `${frame} of ${len + 1} bytes, not ${want + 1}`);
    return false;
  }

  /**
   * The link of channel `id`, or `undefined` after ending the session
   * (`unknown-channel`) if there is none: a `frame` for a channel `unknown`.
   */
  protected linkOf(
    id: number,
    frame: string,
    unknown = "which is not open",
  ): OutLink | InLink | undefined {
    const link = this.links.get(id);
    if (link === undefined) {
      this.violation("unknown-channel", `${frame} for channel ${id}, ${unknown}`);
    }
    return link;
  }

  /**
   * Resolves once no link waits for the peer's answer (OPEN or CLOSE), the
   * session ended, or `ms` passed: the close handshakes are done.
   */
  settled(ms: number): Promise<void> {
    if (this.ended || !this.#unsettled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.#settle.indexOf(done);
        if (i !== -1) this.#settle.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#settle.push(done);
    });
  }

  #unsettled(): boolean {
    for (const link of this.links.values()) if (link.state !== OPEN) return true;
    return false;
  }

  #checkSettled(): void {
    if (this.#settle.length === 0 || (!this.ended && this.#unsettled())) return;
    for (const done of [...this.#settle]) done();
  }

  /** Gives the link's values in flight back to its channel. */
  #giveBack(link: OutLink): void {
    this.requeued += link.giveBack();
  }

  protected onFrame(type: number, off: number, len: number): void {
    this.#frame(type, off, len);
    if (this.#settle.length > 0) this.#checkSettled();
  }

  #frame(type: number, off: number, len: number): void {
    switch (type) {
      case T_DATA:
        this.#data(off, len);
        return;
      case T_CREDIT:
        this.#creditFrame(off, len);
        return;
      case T_CLOSE:
        this.#close(off, len);
        return;
      case T_ACK:
        this.#ack(off, len);
        return;
      case T_OPEN:
        this.onOpen(off, len);
        return;
      case T_OPENED:
        this.onOpened(off, len);
        return;
      case T_REFUSE:
        this.onRefuse(off, len);
        return;
      case T_GOAWAY:
        if (len < 1) {
          this.violation("malformed-frame", "a GOAWAY frame is empty");
          return;
        }
        this.report(goawayError(this.action, this.rbuf, off, len));
        this.close(null, 0);
        return;
      default:
        this.violation("unknown-frame", `unknown frame type ${type}`);
    }
  }

  protected onEnd(err: Error | null): void {
    const links = [...this.links.values()];
    this.links.clear();
    // Off the pumps first, so that values given back go to other connections.
    const pumps = new Set<Pump>();
    const states: LinkState[] = [];
    for (const link of links) {
      states.push(link.state);
      link.state = GONE;
      if (link instanceof OutLink && link.pump !== null) {
        pumps.add(link.pump);
        link.pump.remove(link);
      }
    }
    for (let i = 0; i < links.length; i++) {
      const link = links[i];
      if (link instanceof InLink) link.end(false);
      else {
        // Whether the peer took these is unknown: at least once.
        this.#giveBack(link);
        if (states[i] !== CLOSING) link.onGone?.();
      }
    }
    for (const pump of pumps) pump.kick();
    this.host.ended(this, err);
    this.#checkSettled();
  }

  #data(off: number, len: number): void {
    if (len < 4) {
      this.violation("malformed-frame", "a DATA frame is shorter than 5 bytes");
      return;
    }
    const id = this.rview.getUint32(off);
    const link = this.linkOf(id, "DATA");
    if (link === undefined) return;
    if (!(link instanceof InLink)) {
      this.violation("unexpected-frame", `DATA for channel ${id}, on which this side sends`);
      return;
    }
    this.countReceived();
    if (link.state === CLOSING) return; // this side hung up: drop
    if (link.state !== OPEN) {
      this.violation("unexpected-frame", `DATA for channel ${id} before it was opened`);
      return;
    }
    if (!link.data(this.rbuf, off + 4, len - 4)) {
      this.violation("credit", `DATA for channel ${id} beyond the credits granted`);
    }
  }

  #creditFrame(off: number, len: number): void {
    if (!this.sized(len, 8, "a CREDIT frame")) return;
    const id = this.rview.getUint32(off);
    const n = this.rview.getUint32(off + 4);
    const link = this.linkOf(id, "CREDIT");
    if (link === undefined) return;
    if (!(link instanceof OutLink)) {
      this.violation("credit", `CREDIT for channel ${id}, on which this side receives`);
      return;
    }
    if (link.state !== OPEN && link.state !== CLOSING) {
      this.violation("unexpected-frame", `CREDIT for channel ${id} before it was opened`);
      return;
    }
    if (n === 0 || n > link.inflight) {
      if (link.state === CLOSING) return; // v1: credits after CLOSE are ignored
      this.violation(
        "credit",
        `CREDIT of ${n} for channel ${id}, which has ${link.inflight} value(s) in flight`,
      );
      return;
    }
    link.credited(n);
  }

  #close(off: number, len: number): void {
    if (!this.sized(len, 4, "a CLOSE frame")) return;
    const id = this.rview.getUint32(off);
    const link = this.linkOf(id, "CLOSE");
    if (link === undefined) return;
    if (link.state === OPENING) {
      this.violation("unexpected-frame", `CLOSE for channel ${id} before it was opened`);
      return;
    }
    this.links.delete(id);
    const was = link.state;
    if (link instanceof InLink) {
      if (was === CLOSING) {
        link.state = GONE; // the peer's answer to this side's CLOSE
        return;
      }
      // The peer is done: every value that came counts as taken.
      link.creditAll();
      link.state = GONE;
      this.writeClose(id);
      link.end(true);
      return;
    }
    link.state = GONE;
    const pump = link.pump;
    pump?.remove(link);
    // The peer credited what it took before its CLOSE and dropped the rest
    // (version 2). A version 1 peer may have taken some without crediting
    // them: give back (at least once) only when it hung up, not when it
    // answered this side's CLOSE having delivered everything.
    if (this.version >= 2 || was === OPEN) this.#giveBack(link);
    pump?.kick();
    if (was === CLOSING) return; // the peer's answer to this side's CLOSE
    this.writeClose(id);
    link.onGone?.();
  }

  #ack(off: number, len: number): void {
    if (!this.sized(len, 8, "an ACK frame")) return;
    const n = this.rview.getFloat64(off);
    if (!Number.isInteger(n) || n < this.acked || n > this.sent) {
      this.violation("ack", `ACK of ${n} values, with ${this.acked} acked of ${this.sent} sent`);
      return;
    }
    if (n === this.acked) return;
    this.acked = n;
    this.host.acked();
  }
}
