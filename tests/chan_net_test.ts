// Networked channels: Exporter and Importer over loopback TCP, and against
// hand-written peers (tests/fixtures/chan_wire.ts) where a test needs a peer
// that withholds acks, stops, or breaks off.
import assert from "node:assert/strict";
import {
  Channel,
  ChannelClosedError,
  ChanProtocolError,
  ChanValueError,
  type Codec,
  Dir,
  Exporter,
  type ExporterOptions,
  Importer,
  type ImporterOptions,
  ImportRefusedError,
  select,
  type StandardSchemaV1,
} from "../src/chan/mod.ts";
import {
  ClosedError,
  type Conn,
  connect,
  listen,
  type Listener,
  TimeoutError,
} from "../src/runtime/mod.ts";
import {
  collect,
  delay,
  forEachAdapter,
  HOST,
  nextError,
  portOf,
  tempDir,
  test,
  until,
} from "./_harness.ts";
import * as wire from "./fixtures/chan_wire.ts";

interface Pair extends AsyncDisposable {
  exporter: Exporter;
  importer: Importer;
  port: number;
}

/** An exporter listening on a free port and an importer connected to it. */
async function setup(
  exporterOptions?: ExporterOptions,
  importerOptions?: ImporterOptions,
): Promise<Pair> {
  const exporter = new Exporter(exporterOptions);
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  const port = portOf(listener);
  const importer = await Importer.connect({ hostname: HOST, port, ...importerOptions });
  return {
    exporter,
    importer,
    port,
    async [Symbol.asyncDispose]() {
      await importer.close();
      await exporter.close();
    },
  };
}

/** Tracks whether a promise settled, without leaving it unhandled. */
function track<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  return { settled: () => settled, promise: p };
}

/** A listener that plays an exporter by hand. */
async function fakeExporter(): Promise<{ listener: Listener; port: number }> {
  const listener = await listen({ hostname: HOST, port: 0 });
  return { listener, port: portOf(listener) };
}

/** Connects by hand as an importer: writes the preamble, reads the exporter's. */
async function rawImporter(
  port: number,
  ...frames: Uint8Array[]
): Promise<[Conn, wire.WireReader]> {
  const conn = await connect({ hostname: HOST, port });
  await conn.write(wire.concat(wire.preamble(wire.ROLE_IMPORTER), ...frames));
  const reader = new wire.WireReader(conn);
  assert.ok(await reader.preamble());
  return [conn, reader];
}

const positive: StandardSchemaV1<unknown, number> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (value) =>
      typeof value === "number" && value > 0
        ? { value }
        : { issues: [{ message: "Expected a positive number", path: [] }] },
  },
};

// --- per adapter: the core path ----------------------------------------------

forEachAdapter((t) => {
  t("Importer.import() receives an exported Send channel's values in order", async () => {
    await using p = await setup();
    const source = new Channel<{ id: number; name: string }>(8);
    p.exporter.export("prices", source, Dir.Send);
    const sink = new Channel<{ id: number; name: string }>(8);
    await p.importer.import("prices", sink, Dir.Recv, 8);
    const producer = (async () => {
      for (let i = 0; i < 100; i++) await source.send({ id: i, name: `n${i}` });
      source.close();
    })();
    const got = await collect(sink); // ends: the close propagates
    await producer;
    assert.deepEqual(got.map((v) => v.id), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(got[7].name, "n7");
  });

  t("Importer.import() with Dir.Send feeds an exported Recv channel", async () => {
    await using p = await setup();
    const inbox = new Channel<string>(4);
    p.exporter.export("inbox", inbox, Dir.Recv);
    const outbox = new Channel<string>(4);
    await p.importer.import("inbox", outbox, Dir.Send, 4);
    const received = collect(inbox);
    for (let i = 0; i < 50; i++) await outbox.send(`m${i}`);
    outbox.close(); // the last importer's close closes the exported channel
    assert.deepEqual(await received, Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  t(
    "Exporter.export() keeps at most credits x value size queued for a paused importer",
    async () => {
      await using p = await setup();
      const WINDOW = 8;
      const value = "x".repeat(1000);
      const frameBytes = 4 + 1 + 4 + JSON.stringify(value).length;
      const source = new Channel<string>(16);
      p.exporter.export("big", source, Dir.Send);
      const sink = new Channel<string>(); // nobody receives for now
      await p.importer.import("big", sink, Dir.Recv, WINDOW);
      let sent = 0;
      let maxBuffered = 0;
      const producer = (async () => {
        for (let i = 0; i < 500; i++) {
          await source.send(value);
          sent++;
          maxBuffered = Math.max(maxBuffered, p.exporter.stats.bufferedBytes);
        }
        source.close();
      })();
      await until(() => p.importer.stats.received === WINDOW, "the window to fill");
      for (let i = 0; i < 50; i++) {
        await delay(1);
        maxBuffered = Math.max(maxBuffered, p.exporter.stats.bufferedBytes);
      }
      // In flight: WINDOW values; in the exported channel: its 16; one send waits.
      assert.ok(sent <= WINDOW + 16, `the producer ran ahead: ${sent} sent`);
      assert.equal(p.importer.stats.received, WINDOW);
      assert.ok(maxBuffered <= WINDOW * frameBytes + 64, `buffered ${maxBuffered} bytes`); // + replies
      let n = 0;
      for await (const v of sink) {
        assert.equal(v, value);
        n++;
      }
      await producer;
      assert.equal(n, 500);
    },
  );

  t("Importer.import() delivers a 1,000,000-value stream complete and in order", async () => {
    await using p = await setup();
    const source = new Channel<{ id: number; name: string }>(1024);
    p.exporter.export("stream", source, Dir.Send);
    const sink = new Channel<{ id: number; name: string }>(1024);
    await p.importer.import("stream", sink, Dir.Recv, 1024);
    const N = 1_000_000;
    const producer = (async () => {
      for (let i = 0; i < N; i++) await source.send({ id: i, name: "v" });
      source.close();
    })();
    let next = 0;
    for await (const v of sink) {
      if (v.id !== next) assert.fail(`value ${v.id} arrived at position ${next}`);
      next++;
    }
    await producer;
    assert.equal(next, N);
    await p.exporter.drain({ timeout: 10_000 });
    assert.equal(p.exporter.stats.acked, N);
  });
});

// --- API ---------------------------------------------------------------------

test("Dir names the two directions", () => {
  assert.equal(Dir.Send, "send");
  assert.equal(Dir.Recv, "recv");
});

test("Exporter.export() throws for bad arguments and duplicate names", async () => {
  const exporter = new Exporter();
  const ch = new Channel<number>();
  exporter.export("a", ch, Dir.Send);
  assert.throws(() => exporter.export("a", new Channel(), Dir.Recv), {
    name: "RangeError",
    message: 'Cannot export: "a" is already exported',
  });
  const exp = exporter as unknown as { export(...args: unknown[]): void };
  assert.throws(() => exp.export(1, ch, Dir.Send), TypeError);
  assert.throws(() => exp.export("", ch, Dir.Send), RangeError);
  assert.throws(() => exp.export("x".repeat(1025), ch, Dir.Send), RangeError);
  assert.throws(() => exp.export("b", {}, Dir.Send), TypeError);
  assert.throws(() => exp.export("b", ch, "sideways"), TypeError);
  assert.throws(() => exp.export("b", ch, Dir.Send, { codec: "xml" }), TypeError);
  assert.throws(() => exp.export("b", ch, Dir.Send, { schema: {} }), TypeError);
  assert.throws(() => new Exporter({ maxFrameSize: 10 }), RangeError);
  assert.throws(() => new Exporter({ handshakeTimeout: "1" as unknown as number }), TypeError);
  assert.throws(() => exporter.hangup("nope"), RangeError);
  await exporter.close();
  assert.throws(() => exporter.export("c", new Channel(), Dir.Send), ClosedError);
  assert.equal(ch.closed, false); // close() leaves exported channels open
});

test("Importer.import() rejects with ImportRefusedError for unknown names and wrong directions", async () => {
  await using p = await setup();
  p.exporter.export("out", new Channel<number>(), Dir.Send);
  await assert.rejects(p.importer.import("nope", new Channel(), Dir.Recv, 1), (err) => {
    assert.ok(err instanceof ImportRefusedError);
    assert.equal(err.code, "no-such-channel");
    assert.equal(err.name, "ImportRefusedError");
    return true;
  });
  await assert.rejects(
    p.importer.import("out", new Channel(), Dir.Send, 1),
    (err) => err instanceof ImportRefusedError && err.code === "wrong-direction",
  );
  // The connection is still good.
  const sink = new Channel<number>(1);
  await p.importer.import("out", sink, Dir.Recv, 1);
  assert.throws(() => p.importer.import("out", new Channel(), Dir.Recv, 1), RangeError);
  const imp = p.importer as unknown as { import(...args: unknown[]): Promise<void> };
  assert.throws(() => imp.import("x", new Channel(), Dir.Recv, -1), RangeError);
  assert.throws(() => imp.import("x", new Channel(), Dir.Recv, 1.5), RangeError);
  assert.throws(() => imp.import("x", [], Dir.Recv, 1), TypeError);
  assert.throws(() => p.importer.hangup("x"), RangeError);
});

test("Importer.import() refuses channels over the exporter's maxChannels", async () => {
  await using p = await setup({ maxChannels: 1 });
  p.exporter.export("a", new Channel<number>(), Dir.Send);
  p.exporter.export("b", new Channel<number>(), Dir.Send);
  await p.importer.import("a", new Channel<number>(), Dir.Recv, 1);
  await assert.rejects(
    p.importer.import("b", new Channel<number>(), Dir.Recv, 1),
    (err) => err instanceof ImportRefusedError && err.code === "too-many-channels",
  );
});

test("Exporter.export() load-balances a Send channel's values across importers", async () => {
  await using p = await setup();
  await using second = await Importer.connect({ hostname: HOST, port: p.port });
  const source = new Channel<number>();
  p.exporter.export("work", source, Dir.Send);
  const a = new Channel<number>(200);
  const b = new Channel<number>(200);
  await p.importer.import("work", a, Dir.Recv, 4);
  await second.import("work", b, Dir.Recv, 4);
  const gotA = collect(a);
  const gotB = collect(b);
  for (let i = 0; i < 200; i++) await source.send(i);
  source.close();
  const [va, vb] = await Promise.all([gotA, gotB]);
  assert.ok(va.length > 0 && vb.length > 0, `split ${va.length}/${vb.length}`);
  assert.deepEqual([...va, ...vb].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i));
  // Each importer sees its share in order.
  assert.deepEqual(va, [...va].sort((x, y) => x - y));
});

test("Importer.importNValues() closes the channel after n values", async () => {
  await using p = await setup();
  const source = new Channel<number>(100);
  p.exporter.export("n", source, Dir.Send);
  for (let i = 0; i < 100; i++) await source.send(i);
  const sink = new Channel<number>(4);
  await p.importer.importNValues("n", sink, Dir.Recv, 4, 10);
  assert.deepEqual(await collect(sink), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(sink.closed, true);
  // The rest stays in the exported channel for other importers.
  await until(() => p.exporter.stats.channels === 0, "the link to close");
  assert.ok(source.size >= 80);
  // And the name can be imported again.
  const again = new Channel<number>(4);
  await p.importer.importNValues("n", again, Dir.Recv, 4, 2);
  assert.equal((await collect(again)).length, 2);
});

test("Importer.importNValues() with Dir.Send sends n values, then closes both ends", async () => {
  await using p = await setup();
  const inbox = new Channel<number>(16);
  p.exporter.export("in", inbox, Dir.Recv);
  const outbox = new Channel<number>(16);
  await p.importer.importNValues("in", outbox, Dir.Send, 8, 5);
  for (let i = 0; i < 5; i++) await outbox.send(i);
  assert.deepEqual(await collect(inbox), [0, 1, 2, 3, 4]);
  await until(() => outbox.closed, "the local channel to close");
  await assert.rejects(outbox.send(5), ChannelClosedError);
});

test("Exporter.hangup() closes the channel on both sides", async () => {
  await using p = await setup();
  const out = new Channel<number>(4);
  const inbox = new Channel<number>(1);
  p.exporter.export("out", out, Dir.Send);
  p.exporter.export("in", inbox, Dir.Recv);
  const sink = new Channel<number>(4);
  const outbox = new Channel<number>();
  await p.importer.import("out", sink, Dir.Recv, 4);
  await p.importer.import("in", outbox, Dir.Send, 1);
  await out.send(1);
  assert.equal(await sink.receive(), 1);
  // Fill the importer's credit so that a send waits.
  await outbox.send(10);
  await outbox.send(11);
  const waiting = outbox.send(12);
  await until(() => p.exporter.stats.received === 2, "the values to arrive");

  p.exporter.hangup("out");
  p.exporter.hangup("in");
  assert.equal(out.closed, true);
  assert.equal(inbox.closed, true);
  assert.deepEqual(await collect(sink), []); // closed on the importer's side
  await assert.rejects(waiting, ChannelClosedError);
  await until(() => outbox.closed, "the importer's Send channel to close");
  await assert.rejects(
    p.importer.import("out", new Channel(), Dir.Recv, 1),
    (err) => err instanceof ImportRefusedError && err.code === "no-such-channel",
  );
});

test("Importer.hangup() closes the channel on both sides", async () => {
  await using p = await setup();
  const inbox = new Channel<string>(4);
  const out = new Channel<number>(4);
  p.exporter.export("in", inbox, Dir.Recv);
  p.exporter.export("out", out, Dir.Send);
  const outbox = new Channel<string>(4);
  const sink = new Channel<number>(4);
  await p.importer.import("in", outbox, Dir.Send, 4);
  await p.importer.import("out", sink, Dir.Recv, 4);
  await outbox.send("a");
  assert.equal(await inbox.receive(), "a");

  p.importer.hangup("in");
  p.importer.hangup("out");
  assert.equal(outbox.closed, true);
  assert.equal(sink.closed, true);
  // The exported Recv channel closes (its only importer hung up)...
  assert.deepEqual(await collect(inbox), []);
  // ...while a Send export stays open for other importers.
  await until(() => p.exporter.stats.channels === 0, "the links to close");
  assert.equal(out.closed, false);
  await out.send(7);
  const again = new Channel<number>(1);
  await p.importer.import("out", again, Dir.Recv, 1);
  assert.equal(await again.receive(), 7);
});

test("Importer.import() hangs up when the owner closes an imported Recv channel", async () => {
  await using p = await setup();
  const out = new Channel<number>(4);
  p.exporter.export("out", out, Dir.Send);
  const sink = new Channel<number>(4);
  await p.importer.import("out", sink, Dir.Recv, 4);
  await until(() => p.exporter.stats.channels === 1, "the link");
  sink.close();
  await until(() => p.exporter.stats.channels === 0, "the link to close");
  assert.equal(out.closed, false);
  assert.equal(p.importer.stats.channels, 0);
});

test("Importer.import() channels close when the exporter closes the connection", async () => {
  await using p = await setup();
  const out = new Channel<number>(4);
  const inbox = new Channel<number>(); // nobody receives
  p.exporter.export("out", out, Dir.Send);
  p.exporter.export("in", inbox, Dir.Recv);
  const sink = new Channel<number>(); // nobody receives yet: values wait in the link
  const outbox = new Channel<number>();
  await p.importer.import("out", sink, Dir.Recv, 4);
  await p.importer.import("in", outbox, Dir.Send, 1); // 1 credit
  await out.send(1);
  await out.send(2);
  await until(() => p.importer.stats.received === 2, "two values to arrive");
  await outbox.send(10); // uses the one credit
  // Waits: no credit, nobody receives locally. (It may reject while close()
  // waits for the importer to answer the CLOSE of its links: handled now.)
  const pending = assert.rejects(outbox.send(11), ChannelClosedError);
  await p.exporter.close();
  await pending;
  assert.deepEqual(await collect(sink), [1, 2]); // delivered, then closed
  await until(() => p.importer.closed, "the importer to see the end");
  assert.equal(outbox.closed, true);
  await assert.rejects(p.importer.import("x", new Channel(), Dir.Recv, 1), ClosedError);
});

test("Importer.import() channels close when the exporter breaks off mid-frame", async () => {
  const { listener, port } = await fakeExporter();
  try {
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(wire.preamble(wire.ROLE_EXPORTER));
      const reader = new wire.WireReader(conn);
      await reader.preamble();
      const open = await reader.expect(wire.T_OPEN);
      const truncated = wire.data(open.id, wire.json(3)).subarray(0, 7);
      await conn.write(
        wire.concat(
          wire.opened(open.id, 0),
          wire.data(open.id, wire.json(1)),
          wire.data(open.id, wire.json(2)),
          truncated,
        ),
      );
      conn.close();
    })();
    const importer = await Importer.connect({ hostname: HOST, port });
    const sink = new Channel<number>(8);
    await importer.import("x", sink, Dir.Recv, 8);
    await served;
    assert.deepEqual(await collect(sink), [1, 2]);
    const err = await nextError(importer.errors);
    assert.ok(err instanceof ChanProtocolError);
    assert.equal(err.code, "truncated");
    await importer.close();
  } finally {
    await listener.close();
  }
});

test("Exporter.drain() waits until importers have acknowledged every value", async () => {
  await using p = await setup();
  const source = new Channel<number>(100);
  p.exporter.export("d", source, Dir.Send);
  const sink = new Channel<number>(); // nobody receives yet
  await p.importer.import("d", sink, Dir.Recv, 2);
  for (let i = 0; i < 10; i++) await source.send(i);
  const drained = track(p.exporter.drain());
  await until(() => p.importer.stats.received === 2, "the window to fill");
  await delay(50);
  assert.equal(drained.settled(), false, "drain() returned with values left");
  const got: number[] = [];
  for (let i = 0; i < 10; i++) got.push(await sink.receive());
  await drained.promise;
  assert.equal(p.exporter.stats.acked, 10);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("Exporter.drain() rejects with TimeoutError when no importer takes the values", async () => {
  const exporter = new Exporter();
  const source = new Channel<number>(1);
  exporter.export("d", source, Dir.Send);
  await source.send(1);
  await assert.rejects(exporter.drain({ timeout: 30 }), TimeoutError);
  await assert.rejects(exporter.drain({ timeout: 0 }), TimeoutError);
  assert.throws(() => exporter.drain({ timeout: -1 }), RangeError);
  const ac = new AbortController();
  const aborted = exporter.drain({ signal: ac.signal });
  ac.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  const pending = exporter.drain();
  await exporter.close();
  await assert.rejects(pending, ClosedError);
});

test("Exporter.sync() really waits for the values sent before the call", async () => {
  const exporter = new Exporter();
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  const source = new Channel<number>(10);
  exporter.export("s", source, Dir.Send);
  const [conn, reader] = await rawImporter(
    portOf(listener),
    wire.open(1, wire.WIRE_RECV, 10, -1, "s"),
  );
  try {
    await reader.expect(wire.T_OPENED);
    for (let i = 0; i < 3; i++) await source.send(i);
    for (let i = 0; i < 3; i++) assert.equal(wire.dataValue(await reader.expect(wire.T_DATA)), i);
    const synced = track(exporter.sync());
    await source.send(3); // after the call: sync() does not wait for it
    await reader.expect(wire.T_DATA);
    await delay(50);
    assert.equal(synced.settled(), false, "sync() returned before the acks");
    await conn.write(wire.ack(2));
    await delay(20);
    assert.equal(synced.settled(), false, "sync() returned before the last ack");
    await conn.write(wire.ack(3));
    await synced.promise;
    await assert.rejects(exporter.drain({ timeout: 20 }), TimeoutError); // value 3 unacked
    await conn.write(wire.ack(4));
    await exporter.drain({ timeout: 5000 });
  } finally {
    conn.close();
    await exporter.close();
  }
});

test("Importer.drain() waits until the exporter acknowledged every value", async () => {
  const { listener, port } = await fakeExporter();
  let exporterConn: Conn | undefined;
  try {
    const opened = (async () => {
      const conn = await listener.accept();
      exporterConn = conn;
      await conn.write(wire.preamble(wire.ROLE_EXPORTER));
      const reader = new wire.WireReader(conn);
      await reader.preamble();
      const open = await reader.expect(wire.T_OPEN);
      await conn.write(wire.opened(open.id, 10));
      return reader;
    })();
    const importer = await Importer.connect({ hostname: HOST, port });
    const outbox = new Channel<number>(4);
    await importer.import("in", outbox, Dir.Send, 10);
    const reader = await opened;
    await outbox.send(1);
    await outbox.send(2);
    await reader.expect(wire.T_DATA);
    await reader.expect(wire.T_DATA);
    const drained = track(importer.drain());
    await delay(50);
    assert.equal(drained.settled(), false, "drain() returned before the acks");
    await exporterConn!.write(wire.ack(2));
    await drained.promise;
    await outbox.send(3);
    await reader.expect(wire.T_DATA);
    const lost = importer.drain();
    exporterConn!.close(); // gone before acking: the drain cannot succeed
    await assert.rejects(lost, ClosedError);
    await importer.close();
  } finally {
    exporterConn?.close();
    await listener.close();
  }
});

test("Importer.connect() rejects a peer that is not an exporter", async () => {
  const { listener, port } = await fakeExporter();
  try {
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* until closed */ }
      conn.close();
    })();
    await assert.rejects(
      Importer.connect({ hostname: HOST, port }),
      (err) => err instanceof ChanProtocolError && err.code === "bad-handshake",
    );
    await served;
    const silent = (async () => {
      const conn = await listener.accept();
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* says nothing */ }
      conn.close();
    })();
    await assert.rejects(
      Importer.connect({ hostname: HOST, port, handshakeTimeout: 50 }),
      (err) => err instanceof ChanProtocolError && err.code === "handshake-timeout",
    );
    await silent;
  } finally {
    await listener.close();
  }
});

test("new Importer() works over a connection and Exporter.serveConn() serves it", async () => {
  const exporter = new Exporter();
  const source = new Channel<string>(4);
  exporter.export("hello", source, Dir.Send);
  const listener = await listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const importer = new Importer(await connect({ hostname: HOST, port: portOf(listener) }));
  const served = exporter.serveConn(await accepted);
  const sink = new Channel<string>(4);
  await importer.import("hello", sink, Dir.Recv, 4);
  await source.send("hi");
  assert.equal(await sink.receive(), "hi");
  await importer.close();
  await served; // resolves when the importer is gone
  assert.equal(exporter.stats.connections, 0);
  await exporter.close();
  await listener.close();
});

test("Exporter.serve() serves a listener until it closes, without closing it", async () => {
  const exporter = new Exporter();
  exporter.export("x", new Channel<number>(), Dir.Send);
  const listener = await listen({ hostname: HOST, port: 0 });
  const serving = exporter.serve(listener);
  const importer = await Importer.connect({ hostname: HOST, port: portOf(listener) });
  await importer.import("x", new Channel<number>(1), Dir.Recv, 1);
  await exporter.close(); // stops serving; the listener is the caller's
  await serving;
  assert.equal(listener.closed, false);
  await listener.close();
  await importer.close();
  assert.throws(() => exporter.serve({} as Listener), TypeError);
});

test("Exporter.serve() reports failed accepts on errors and goes on serving", async () => {
  const exporter = new Exporter();
  const source = new Channel<number>(1);
  exporter.export("x", source, Dir.Send);
  const inner = await listen({ hostname: HOST, port: 0 });
  let failures = 2;
  const failing = {
    accept: (options?: { signal?: AbortSignal }) =>
      failures-- > 0 ? Promise.reject(new Error("out of file descriptors")) : inner.accept(options),
    get closed() {
      return inner.closed;
    },
  } as unknown as Listener;
  const serving = exporter.serve(failing);
  const importer = await Importer.connect({ hostname: HOST, port: portOf(inner) });
  const sink = new Channel<number>(1);
  await importer.import("x", sink, Dir.Recv, 1);
  await source.send(7);
  assert.equal(await sink.receive(), 7);
  assert.equal(exporter.errors.buffered, 2);
  assert.equal((await nextError(exporter.errors)).message, "out of file descriptors");
  await importer.close();
  await exporter.close();
  await serving;
  await inner.close();
});

test("Exporter.close() ends errors, rejects waits, and closes what it opened", async () => {
  const exporter = new Exporter();
  const source = new Channel<number>(1);
  exporter.export("x", source, Dir.Send);
  await source.send(1);
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  const iterated = (async () => {
    let n = 0;
    for await (const _ of exporter.errors) n++;
    return n;
  })();
  const drain = exporter.drain();
  await exporter.close();
  await exporter.close(); // idempotent
  await assert.rejects(drain, ClosedError);
  assert.equal(await iterated, 0);
  assert.equal(listener.closed, true);
  assert.equal(exporter.closed, true);
  await assert.rejects(exporter.listenAndServe({ hostname: HOST, port: 0 }), ClosedError);
});

// --- codecs and schemas --------------------------------------------------------

test("Exporter.export() carries raw bytes with the bytes codec and any custom codec", async () => {
  await using p = await setup();
  const raw = new Channel<Uint8Array>(4);
  p.exporter.export("raw", raw, Dir.Send, { codec: "bytes" });
  const float64: Codec<number> = {
    encode: (n) => new Uint8Array(new Float64Array([n]).buffer),
    decode: (b) => new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(0, true),
  };
  const nums = new Channel<number>(4);
  p.exporter.export("nums", nums, Dir.Recv, { codec: float64 });
  const rawSink = new Channel<Uint8Array>(4);
  await p.importer.import("raw", rawSink, Dir.Recv, 4, { codec: "bytes" });
  const numsOut = new Channel<number>(4);
  await p.importer.import("nums", numsOut, Dir.Send, 4, { codec: float64 });
  await raw.send(new Uint8Array([0, 1, 255]));
  await raw.send(new Uint8Array(0));
  assert.deepEqual(await rawSink.receive(), new Uint8Array([0, 1, 255]));
  assert.deepEqual(await rawSink.receive(), new Uint8Array(0));
  await numsOut.send(Math.PI);
  await numsOut.send(-0.5);
  assert.equal(await nums.receive(), Math.PI);
  assert.equal(await nums.receive(), -0.5);
});

test("Exporter.errors reports values that do not encode or are too large; the channel goes on", async () => {
  await using p = await setup({}, { maxFrameSize: 4096 });
  const source = new Channel<unknown>(4);
  p.exporter.export("v", source, Dir.Send);
  const sink = new Channel<unknown>(4);
  await p.importer.import("v", sink, Dir.Recv, 4);
  await source.send(10n); // JSON cannot encode a BigInt
  let err = await nextError(p.exporter.errors);
  assert.ok(err instanceof ChanValueError);
  assert.equal(err.stage, "encode");
  assert.equal(err.channel, "v");
  await source.send("y".repeat(5000)); // over the importer's 4096-byte frames
  err = await nextError(p.exporter.errors);
  assert.ok(err instanceof ChanValueError && err.stage === "too-large");
  await source.send(undefined);
  await source.send({ ok: true });
  assert.equal(await sink.receive(), undefined);
  assert.deepEqual(await sink.receive(), { ok: true });
});

test("Importer.import() with a schema keeps invalid values out and returns their credit", async () => {
  await using p = await setup();
  const source = new Channel<unknown>(16);
  p.exporter.export("n", source, Dir.Send);
  const sink = new Channel<number>(16);
  await p.importer.import("n", sink, Dir.Recv, 1, { schema: positive }); // window 1: no stall
  for (const v of [1, -1, "x", 2, 0, 3]) await source.send(v);
  source.close();
  assert.deepEqual(await collect(sink), [1, 2, 3]);
  const errors: Error[] = [];
  for (let i = 0; i < 3; i++) errors.push(await nextError(p.importer.errors));
  for (const err of errors) {
    assert.ok(err instanceof ChanValueError);
    assert.equal(err.stage, "validate");
    assert.equal(err.issues?.[0].message, "Expected a positive number");
  }
});

test("Exporter.export() with an async schema validates in order", async () => {
  await using p = await setup();
  const asyncPositive: StandardSchemaV1<unknown, number> = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: async (value) => {
        await delay(Number(value) % 3);
        return typeof value === "number" && value > 0
          ? { value: value * 10 }
          : { issues: [{ message: "nope" }] };
      },
    },
  };
  const inbox = new Channel<number>(16);
  p.exporter.export("in", inbox, Dir.Recv, { schema: asyncPositive });
  const outbox = new Channel<number>(16);
  await p.importer.import("in", outbox, Dir.Send, 2);
  for (const v of [1, 2, -3, 4, 5, -6, 7]) await outbox.send(v);
  outbox.close();
  assert.deepEqual(await collect(inbox), [10, 20, 40, 50, 70]);
  const err = await nextError(p.exporter.errors);
  assert.ok(err instanceof ChanValueError && err.stage === "validate");
});

test("Importer.errors never shuts the importer down when nobody reads it", async () => {
  await using p = await setup({}, { errorBuffer: 2 });
  const source = new Channel<unknown>(32);
  p.exporter.export("n", source, Dir.Send);
  const sink = new Channel<number>(32);
  await p.importer.import("n", sink, Dir.Recv, 4, { schema: positive });
  for (let i = 0; i < 20; i++) await source.send(-i);
  await source.send(42);
  assert.equal(await sink.receive(), 42);
  assert.equal(p.importer.errors.buffered, 2);
  assert.equal(p.importer.errors.dropped, 18);
  assert.equal(p.importer.closed, false);
});

test("Exporter.listenAndServe() serves importers over a Unix socket", async () => {
  using dir = tempDir("chan");
  const path = dir.join("chan.sock");
  await using exporter = new Exporter();
  const source = new Channel<string>(2);
  exporter.export("u", source, Dir.Send);
  await exporter.listenAndServe({ path });
  await using importer = await Importer.connect({ path });
  const sink = new Channel<string>(2);
  await importer.import("u", sink, Dir.Recv, 2);
  await source.send("over unix");
  assert.equal(await sink.receive(), "over unix");
});

test("select() works on imported channels", async () => {
  await using p = await setup();
  const source = new Channel<string>(1);
  p.exporter.export("s", source, Dir.Send);
  const sink = new Channel<string>(1);
  await p.importer.import("s", sink, Dir.Recv, 1);
  const quit = new Channel<void>();
  await source.send("ready");
  const r = await select([{ receive: sink }, { receive: quit }]);
  assert.equal(r.index, 0);
  assert.equal(r.value, "ready");
});
