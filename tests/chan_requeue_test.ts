// Networked channels: values sent and not taken go back to their channel when
// a link ends under them (docs/protocol.md, section 7). An importer that
// closes or hangs up gives back exactly what it did not take (no loss, no
// duplicate); a broken connection gives back everything not acknowledged (no
// loss, at least once). Both directions: an exported Send channel's values
// sent to importers, and an importer's Send channel's values sent to an
// exported Recv channel.
import assert from "node:assert/strict";
import { Channel, Dir, Exporter, Importer } from "../src/chan/mod.ts";
import { type Conn, connect, listen, type Listener } from "../src/runtime/mod.ts";
import { channelHooks } from "../src/chan/_wait_queue.ts";
import { collect, HOST, portOf, test, until } from "./_harness.ts";
import * as wire from "./fixtures/chan_wire.ts";

/** How often each of 0..n-1 occurs in `values` (and fails on anything else). */
function counts(values: number[], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const v of values) {
    assert.ok(Number.isInteger(v) && v >= 0 && v < n, `unexpected value ${v}`);
    c[v]++;
  }
  return c;
}

/** Asserts that 0..n-1 each occur exactly once in `values`. */
function exactlyOnce(values: number[], n: number): void {
  const c = counts(values, n);
  const lost = c.flatMap((k, v) => (k === 0 ? [v] : []));
  const doubled = c.flatMap((k, v) => (k > 1 ? [v] : []));
  assert.equal(lost.length, 0, `${lost.length} of ${n} value(s) lost: ${lost.slice(0, 20)}`);
  assert.equal(doubled.length, 0, `${doubled.length} value(s) duplicated: ${doubled.slice(0, 20)}`);
}

/** Asserts that 0..n-1 each occur at least once; returns the number of duplicates. */
function atLeastOnce(values: number[], n: number): number {
  const c = counts(values, n);
  const lost = c.flatMap((k, v) => (k === 0 ? [v] : []));
  assert.equal(lost.length, 0, `${lost.length} of ${n} value(s) lost: ${lost.slice(0, 20)}`);
  return values.length - n;
}

function ascending(values: number[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] <= values[i - 1]) return false;
  return true;
}

/** A TCP relay between importers and an exporter whose connections can be cut. */
class Relay implements AsyncDisposable {
  readonly #listener: Listener;
  readonly #target: number;
  readonly #conns = new Set<Conn>();
  readonly #pipes: Promise<void>[] = [];
  readonly #accepting: Promise<void>;

  private constructor(listener: Listener, target: number) {
    this.#listener = listener;
    this.#target = target;
    this.#accepting = this.#accept();
  }

  static async start(target: number): Promise<Relay> {
    return new Relay(await listen({ hostname: HOST, port: 0 }), target);
  }

  get port(): number {
    return portOf(this.#listener);
  }

  /** Closes both sides of every relayed connection at once: no frame finishes. */
  cut(): void {
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }

  async #accept(): Promise<void> {
    while (true) {
      let down: Conn;
      try {
        down = await this.#listener.accept();
      } catch {
        return;
      }
      const up = await connect({ hostname: HOST, port: this.#target });
      this.#conns.add(down);
      this.#conns.add(up);
      this.#pipes.push(this.#pipe(down, up), this.#pipe(up, down));
    }
  }

  async #pipe(from: Conn, to: Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        await to.write(buf.slice(0, n));
      }
    } catch {
      // cut
    }
    from.close();
    to.close();
    this.#conns.delete(from);
    this.#conns.delete(to);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    await this.#listener.close();
    await this.#accepting;
    await Promise.all(this.#pipes);
  }
}

/** An exporter listening on a free port, closed at the end. */
async function exporterOnPort(): Promise<{ exporter: Exporter; port: number } & AsyncDisposable> {
  const exporter = new Exporter();
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  return {
    exporter,
    port: portOf(listener),
    [Symbol.asyncDispose]: () => exporter.close(),
  };
}

/**
 * Issue 10 point 4: 40 values load-balanced over two importers with window
 * 4; importer A takes 5 (and 2 more wait in its channel), then `end` ends
 * it with 4 values in flight to it. Returns what each side got.
 */
async function fortyOverTwo(
  end: (a: Importer, cutA: () => void) => Promise<void> | void,
  viaRelay: boolean,
): Promise<{ gotA: number[]; gotB: number[]; requeued: number }> {
  await using ex = await exporterOnPort();
  await using relay = await Relay.start(ex.port);
  const a = await Importer.connect({ hostname: HOST, port: viaRelay ? relay.port : ex.port });
  const b = await Importer.connect({ hostname: HOST, port: ex.port });
  try {
    const source = new Channel<number>(40);
    for (let i = 0; i < 40; i++) await source.send(i);
    source.close(); // the importers' channels close once it is drained
    ex.exporter.export("work", source, Dir.Send);
    const sinkA = new Channel<number>(2);
    const sinkB = new Channel<number>(); // B takes nothing until A is gone
    await a.import("work", sinkA, Dir.Recv, 4);
    await b.import("work", sinkB, Dir.Recv, 4);
    const gotA: number[] = [];
    for (let i = 0; i < 5; i++) gotA.push(await sinkA.receive());
    // A: 5 taken, 2 in its channel, 4 in flight (window 4); B: 4 in flight.
    await until(
      () => a.stats.received === 11 && b.stats.received === 4,
      "both windows to fill",
    );
    await end(a, () => relay.cut());
    gotA.push(...await collect(sinkA)); // what is in A's channel stays A's
    const gotB = await collect(sinkB);
    return { gotA, gotB, requeued: ex.exporter.stats.requeued };
  } finally {
    await a.close();
    await b.close();
  }
}

test("Importer.close() gives the values it did not take back to the channel: 40 over two importers lose none", async () => {
  const { gotA, gotB, requeued } = await fortyOverTwo((a) => a.close(), false);
  exactlyOnce([...gotA, ...gotB], 40);
  assert.equal(gotA.length, 7);
  assert.equal(requeued, 4);
  // Back at the front, in their order: B gets them right after its own 4.
  assert.ok(ascending(gotB.slice(4)), `B got ${gotB}`);
});

test("Importer.hangup() gives the values it did not take back to the channel, in order", async () => {
  const { gotA, gotB, requeued } = await fortyOverTwo((a) => a.hangup("work"), false);
  exactlyOnce([...gotA, ...gotB], 40);
  assert.equal(gotA.length, 7);
  assert.equal(requeued, 4);
  assert.ok(ascending(gotB.slice(4)), `B got ${gotB}`);
});

test("Exporter gives back the values in flight to an importer whose connection breaks (at least once)", async () => {
  const { gotA, gotB, requeued } = await fortyOverTwo((_a, cut) => cut(), true);
  const dups = atLeastOnce([...gotA, ...gotB], 40);
  assert.equal(requeued, 4);
  assert.ok(dups <= requeued, `${dups} duplicates, ${requeued} given back`);
});

test("Importer.close() and hangup() under load: 20,000 values over eight importers, each exactly once", async () => {
  const N = 20_000;
  await using ex = await exporterOnPort();
  const source = new Channel<number>(16);
  ex.exporter.export("load", source, Dir.Send);
  const stop = new AbortController();
  const producer = (async () => {
    for (let i = 0; i < N; i++) await source.send(i);
    stop.abort();
  })();
  const drainer = await Importer.connect({ hostname: HOST, port: ex.port });
  const drained = new Channel<number>(4);
  await drainer.import("load", drained, Dir.Recv, 8);
  const fromDrainer = collect(drained);
  const quitters = Array.from({ length: 8 }, async (_, q) => {
    const got: number[] = [];
    const imp = await Importer.connect({ hostname: HOST, port: ex.port });
    try {
      // Two rounds each: import, take some, end the import, again.
      for (let round = 0; round < 2; round++) {
        const sink = new Channel<number>(q % 4); // 0 to 3 buffered
        await imp.import("load", sink, Dir.Recv, 1 + (q * 5 + round * 3) % 16);
        const take = 200 + 150 * q + 100 * round;
        try {
          while (got.length < take * (round + 1)) {
            got.push(await sink.receive({ signal: stop.signal }));
          }
        } catch (err) {
          if (!stop.signal.aborted) throw err;
        }
        if (round === 1 && q % 2 === 0) {
          await imp.close();
        } else {
          imp.hangup("load");
        }
        got.push(...await collect(sink)); // left in its channel: still this one's
        if (stop.signal.aborted) break;
      }
    } finally {
      await imp.close();
    }
    return got;
  });
  const fromQuitters = (await Promise.all(quitters)).flat();
  await producer;
  // Every quitter's link is gone at the exporter (given back): only the drainer's is left.
  await until(() => ex.exporter.stats.channels === 1, "the quitters' links to close");
  source.close();
  const all = [...fromQuitters, ...await fromDrainer];
  exactlyOnce(all, N);
  assert.ok(ex.exporter.stats.requeued > 0, "nothing was in flight when the importers quit");
  await drainer.close();
});

test("Exporter gives back what was in flight on connections that break under load (at least once)", async () => {
  const N = 20_000;
  await using ex = await exporterOnPort();
  await using relay = await Relay.start(ex.port);
  const source = new Channel<number>(16);
  ex.exporter.export("load", source, Dir.Send);
  const producer = (async () => {
    for (let i = 0; i < N; i++) await source.send(i);
  })();
  const drainer = await Importer.connect({ hostname: HOST, port: ex.port });
  const drained = new Channel<number>(4);
  await drainer.import("load", drained, Dir.Recv, 8);
  const fromDrainer = collect(drained);
  const fromBroken: number[] = [];
  for (let round = 0; round < 4; round++) {
    const imps = await Promise.all(
      [0, 1, 2].map(() => Importer.connect({ hostname: HOST, port: relay.port })),
    );
    const readers = imps.map(async (imp, i) => {
      const sink = new Channel<number>(i);
      await imp.import("load", sink, Dir.Recv, 4 + 4 * i);
      for await (const v of sink) fromBroken.push(v); // ends when the connection breaks
    });
    await until(() => fromBroken.length >= 1000 * (round + 1), "the broken importers' share");
    relay.cut();
    await Promise.all(readers);
    await Promise.all(imps.map((imp) => imp.close()));
  }
  await producer;
  await until(() => ex.exporter.stats.connections === 1, "the broken connections to end");
  source.close();
  const dups = atLeastOnce([...fromBroken, ...await fromDrainer], N);
  const requeued = ex.exporter.stats.requeued;
  assert.ok(requeued > 0, "nothing was in flight when the connections broke");
  assert.ok(dups <= requeued, `${dups} duplicates, ${requeued} given back`);
  await drainer.close();
});

test("Exporter.hangup() of a Recv channel gives an importer's values in flight back to its channel", async () => {
  await using ex = await exporterOnPort();
  const inbox = new Channel<number>(2); // nobody receives: values wait in the link
  ex.exporter.export("in", inbox, Dir.Recv);
  const imp = await Importer.connect({ hostname: HOST, port: ex.port });
  try {
    const outbox = new Channel<number>(4);
    await imp.import("in", outbox, Dir.Send, 8);
    let sent = 0;
    const producer = (async () => {
      for (let i = 0; i < 30; i++) {
        await outbox.send(i);
        sent++;
      }
    })().catch(() => {}); // the last sends reject: the channel closed
    // 2 in the exported channel, 8 in flight, 4 in the importer's channel.
    await until(() => ex.exporter.stats.received === 10 && sent === 14, "the window to fill");
    ex.exporter.hangup("in");
    await producer;
    await until(() => outbox.closed, "the importer's channel to close");
    const kept = await collect(inbox); // closed: what it holds is still received
    const back = await collect(outbox);
    assert.equal(kept.length, 2);
    assert.equal(imp.stats.requeued, 8);
    exactlyOnce([...kept, ...back], sent);
    assert.deepEqual(back, Array.from({ length: sent - 2 }, (_, i) => i + 2)); // in order
  } finally {
    await imp.close();
  }
});

test("Importer gives its values in flight back to its channel when the connection breaks (at least once)", async () => {
  await using ex = await exporterOnPort();
  await using relay = await Relay.start(ex.port);
  const inbox = new Channel<number>(2);
  ex.exporter.export("in", inbox, Dir.Recv);
  const imp = await Importer.connect({ hostname: HOST, port: relay.port });
  try {
    const outbox = new Channel<number>(4);
    await imp.import("in", outbox, Dir.Send, 8);
    let sent = 0;
    const producer = (async () => {
      for (let i = 0; i < 30; i++) {
        await outbox.send(i);
        sent++;
      }
    })().catch(() => {});
    await until(() => ex.exporter.stats.received === 10 && sent === 14, "the window to fill");
    relay.cut();
    await producer;
    await until(() => outbox.closed && ex.exporter.stats.connections === 0, "the end");
    const back = await collect(outbox);
    // A broken connection does not close the exported channel; what arrived
    // is still delivered into it.
    const kept: number[] = [];
    while (kept.length < 10) kept.push(await inbox.receive());
    const dups = atLeastOnce([...kept, ...back], sent);
    assert.equal(imp.stats.requeued, 8);
    assert.ok(dups <= 8, `${dups} duplicates`);
  } finally {
    await imp.close();
  }
});

/** A hand-written importer: opens "work" for receiving, reads 3 values. */
async function rawReceiver(
  port: number,
  version: number,
): Promise<[Conn, wire.WireReader, number[]]> {
  const conn = await connect({ hostname: HOST, port });
  await conn.write(
    wire.concat(
      wire.preamble(wire.ROLE_IMPORTER, 1 << 20, version),
      wire.open(1, wire.WIRE_RECV, 3, -1, "work"),
    ),
  );
  const reader = new wire.WireReader(conn);
  assert.ok(await reader.preamble());
  await reader.expect(wire.T_OPENED);
  const got: number[] = [];
  for (let i = 0; i < 3; i++) got.push(wire.dataValue(await reader.expect(wire.T_DATA)) as number);
  return [conn, reader, got];
}

test("Exporter takes back exactly the values a version 2 importer did not credit before its CLOSE", async () => {
  await using ex = await exporterOnPort();
  const source = new Channel<number>(10);
  for (let i = 0; i < 10; i++) await source.send(i);
  ex.exporter.export("work", source, Dir.Send);
  const [conn, reader, got] = await rawReceiver(ex.port, 2);
  assert.deepEqual(got, [0, 1, 2]);
  // Took 0; hands back 1 and 2, and 3, which the credit lets the exporter
  // send before it reads the CLOSE.
  await conn.write(wire.concat(wire.credit(1, 1), wire.close(1)));
  const frames: wire.Frame[] = [];
  for (
    let f = await reader.next();
    f !== null && f.type !== wire.T_CLOSE;
    f = await reader.next()
  ) {
    frames.push(f);
  }
  assert.deepEqual(frames.filter((f) => f.type === wire.T_DATA).map(wire.dataValue), [3]);
  conn.close();
  await until(() => ex.exporter.stats.connections === 0, "the connection to end");
  assert.equal(ex.exporter.stats.requeued, 3);
  assert.equal(source.size, 9);
  assert.deepEqual(
    [await source.receive(), await source.receive(), await source.receive()],
    [1, 2, 3], // at the front, in order
  );
});

test("Exporter gives back what a version 1 importer had not credited when it hangs up (at least once)", async () => {
  await using ex = await exporterOnPort();
  const source = new Channel<number>(10);
  for (let i = 0; i < 10; i++) await source.send(i);
  ex.exporter.export("work", source, Dir.Send);
  const [conn, reader, got] = await rawReceiver(ex.port, 1);
  assert.deepEqual(got, [0, 1, 2]);
  await conn.write(wire.close(1)); // no final CREDIT in version 1
  await reader.expect(wire.T_CLOSE);
  conn.close();
  await until(() => ex.exporter.stats.connections === 0, "the connection to end");
  assert.equal(ex.exporter.stats.requeued, 3);
  assert.deepEqual(
    [await source.receive(), await source.receive(), await source.receive()],
    [0, 1, 2],
  );
});

test("Importer answers an exporter's CLOSE by crediting everything it received", async () => {
  await using ex = await exporterOnPort();
  const source = new Channel<number>(8);
  ex.exporter.export("work", source, Dir.Send);
  const imp = await Importer.connect({ hostname: HOST, port: ex.port });
  try {
    const sink = new Channel<number>(); // nobody receives yet: 4 wait in the link
    await imp.import("work", sink, Dir.Recv, 4);
    for (let i = 0; i < 8; i++) await source.send(i);
    await until(() => imp.stats.received === 4, "the window to fill");
    ex.exporter.hangup("work"); // CLOSE: the importer answers, crediting all 4
    await until(() => ex.exporter.stats.channels === 0, "the answer");
    assert.equal(ex.exporter.stats.requeued, 0);
    assert.deepEqual(await collect(sink), [0, 1, 2, 3]); // delivered, not duplicated
    assert.deepEqual(await collect(source), [4, 5, 6, 7]);
  } finally {
    await imp.close();
  }
});

test("Exporter keeps a closed Send channel's importers open until their values in flight are taken, so one that hangs up loses none", async () => {
  await using ex = await exporterOnPort();
  const a = await Importer.connect({ hostname: HOST, port: ex.port });
  const b = await Importer.connect({ hostname: HOST, port: ex.port });
  try {
    const source = new Channel<number>(10);
    for (let i = 0; i < 10; i++) await source.send(i);
    source.close();
    ex.exporter.export("work", source, Dir.Send);
    const sinkA = new Channel<number>();
    const sinkB = new Channel<number>();
    await a.import("work", sinkA, Dir.Recv, 4);
    await b.import("work", sinkB, Dir.Recv, 4);
    const gotA = [await sinkA.receive(), await sinkA.receive()];
    // The source is closed and drained: A has 4 in flight, B 4.
    await until(() => a.stats.received === 6 && b.stats.received === 4, "the windows to fill");
    assert.equal(source.size, 0);
    a.hangup("work");
    const gotB = await collect(sinkB); // B's 4, then A's 4: then the channels close
    exactlyOnce([...gotA, ...gotB], 10);
    assert.equal(ex.exporter.stats.requeued, 4);
    assert.equal(gotB.length, 8);
  } finally {
    await a.close();
    await b.close();
  }
});

test("channelHooks.requeue() puts values back at the front, in order, past the capacity", async () => {
  const ch = new Channel<number>(2);
  await ch.send(10);
  await ch.send(11);
  const waiting = ch.send(12); // the buffer is full
  channelHooks.requeue(ch, [1, 2, 3]);
  assert.equal(ch.size, 5);
  assert.equal(ch.trySend(13), false); // over capacity: sends wait
  const got: number[] = [];
  for (let i = 0; i < 6; i++) got.push(await ch.receive());
  await waiting;
  assert.deepEqual(got, [1, 2, 3, 10, 11, 12]);
  // Waiting receivers get requeued values first, in order.
  const r1 = ch.receive();
  const r2 = ch.receive();
  channelHooks.requeue(ch, [4, 5, 6]);
  assert.deepEqual([await r1, await r2, ch.size], [4, 5, 1]);
  // A closed channel still gives them out.
  ch.close();
  channelHooks.requeue(ch, [7]);
  assert.deepEqual(await collect(ch), [7, 6]);
});
