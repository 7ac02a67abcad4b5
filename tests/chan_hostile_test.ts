// Hostile and slow peers against a live Exporter: a peer that grants a large
// window and never reads, many channels on one connection, values that pile
// up behind a full channel, a stalled frame, an oversized GOAWAY, an idle
// connection. Each test checks the typed error or the bound, and that an
// honest importer is still served. Stall bounds are generous (they catch
// the quadratic freeze, not machine noise); the figures are in
// bench/chan_hostile.ts.
import assert from "node:assert/strict";
import {
  Channel,
  ChanProtocolError,
  type ChanProtocolErrorCode,
  Dir,
  Exporter,
  type ExporterOptions,
  Importer,
} from "../src/chan/mod.ts";
import { type Conn, connect, type Listener } from "../src/runtime/mod.ts";
import { delay, HOST, portOf, test, until } from "./_harness.ts";
import * as wire from "./fixtures/chan_wire.ts";

const hello = wire.preamble(wire.ROLE_IMPORTER);
/** A stall this long means the event loop froze (the bug was 20 s to 147 s). */
const STALL_LIMIT_MS = 3000;

interface Served extends AsyncDisposable {
  exporter: Exporter;
  listener: Listener;
  port: number;
  /** Errors reported so far, read continuously. */
  errors: Error[];
  /** Exported Send channels fed as fast as they take values. */
  feed(name: string, value: unknown, capacity?: number): void;
}

/** An exporter with "ping" (Send, a value every 10 ms) and what `feed` adds. */
async function serve(options: ExporterOptions = {}): Promise<Served> {
  const exporter = new Exporter({ errorBuffer: 1000, ...options });
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  let stop = false;
  const tasks: Promise<void>[] = [];
  const channels: Channel<unknown>[] = [];
  const feed = (name: string, value: unknown, capacity = 1024) => {
    const ch = new Channel<unknown>(capacity);
    channels.push(ch);
    exporter.export(name, ch, Dir.Send);
    tasks.push((async () => {
      try {
        while (!stop) {
          if (!ch.trySend(value)) await ch.send(value);
        }
      } catch { /* closed at the end */ }
    })());
  };
  const ping = new Channel<number>(16);
  channels.push(ping as Channel<unknown>);
  exporter.export("ping", ping, Dir.Send);
  tasks.push((async () => {
    try {
      while (!stop) {
        await ping.send(performance.now());
        await delay(10);
      }
    } catch { /* closed at the end */ }
  })());
  const errors: Error[] = [];
  tasks.push((async () => {
    for await (const err of exporter.errors) errors.push(err);
  })());
  return {
    exporter,
    listener,
    port: portOf(listener),
    errors,
    feed,
    async [Symbol.asyncDispose]() {
      stop = true;
      for (const ch of channels) ch.close();
      await exporter.close();
      await Promise.all(tasks);
    },
  };
}

/** Measures the longest gap between 5 ms ticks: how long the event loop stalled. */
function stallMeter(): { readonly max: number; stop(): void } {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > max) max = now - last;
    last = now;
  }, 5);
  return {
    get max() {
      return max;
    },
    stop: () => clearInterval(timer),
  };
}

/** An honest importer of "ping": resolves with the latencies it saw, once `n` arrived. */
async function honest(port: number, n: number): Promise<number[]> {
  await using importer = await Importer.connect({ hostname: HOST, port });
  const ch = new Channel<number>(16);
  await importer.importNValues("ping", ch, Dir.Recv, 16, n);
  const lat: number[] = [];
  for await (const sent of ch) lat.push(performance.now() - sent);
  return lat;
}

function errorOf(s: Served, code: ChanProtocolErrorCode): ChanProtocolError | undefined {
  return s.errors.find((e): e is ChanProtocolError =>
    e instanceof ChanProtocolError && e.code === code
  );
}

/** Reads frames until EOF in the background; resolves with them. */
function readAll(conn: Conn): Promise<wire.Frame[]> {
  const reader = new wire.WireReader(conn);
  return reader.preamble().then((p) => (p === null ? [] : reader.drainToEof()));
}

function goawayCode(frames: wire.Frame[]): number | undefined {
  return frames.find((f) => f.type === wire.T_GOAWAY)?.payload[0];
}

test("Exporter.serve() stays responsive with a peer that grants 65536 credits and never reads", async () => {
  const budget = 4 * 1024 * 1024;
  await using s = await serve({ maxConnectionBytes: budget, writeTimeout: 60_000 });
  const value = "v".repeat(200);
  s.feed("big", value);
  const meter = stallMeter();
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    // Never read: 65536 × ~215 bytes would be 14 MB of backlog without the budget.
    await conn.write(wire.concat(hello, wire.open(1, wire.WIRE_RECV, 65536, -1, "big")));
    await until(() => s.exporter.stats.bufferedBytes >= budget, "the backlog to reach the budget");
    const lat = await honest(s.port, 50);
    assert.equal(lat.length, 50, "the honest importer is served meanwhile");
    const { bufferedBytes, heldBytes } = s.exporter.stats;
    assert.ok(bufferedBytes <= budget + 64 * 1024, `buffered ${bufferedBytes} bytes`);
    assert.ok(heldBytes <= budget + 2 * 1024 * 1024, `held ${heldBytes} bytes`);
    assert.ok(meter.max < STALL_LIMIT_MS, `the event loop stalled for ${meter.max} ms`);
  } finally {
    meter.stop();
    conn.close();
  }
  await until(() => s.exporter.stats.connections === 0, "the connection to close");
  assert.equal(s.exporter.stats.heldBytes, 0);
});

test("Exporter.serve() bounds one connection's backlog across 64 channels × 1024 credits", async () => {
  const budget = 1024 * 1024;
  await using s = await serve({ maxConnectionBytes: budget, writeTimeout: 60_000 });
  s.feed("big", "w".repeat(500));
  const meter = stallMeter();
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const opens = Array.from(
      { length: 64 },
      (_, i) => wire.open(i + 1, wire.WIRE_RECV, 1024, -1, "big"),
    );
    await conn.write(wire.concat(hello, ...opens));
    await until(() => s.exporter.stats.channels >= 64, "the channels to open");
    await until(() => s.exporter.stats.bufferedBytes >= budget, "the backlog to reach the budget");
    const lat = await honest(s.port, 30);
    assert.equal(lat.length, 30);
    const { bufferedBytes } = s.exporter.stats;
    // Without the budget: 64 × 1024 × 515 bytes, 33 MB.
    assert.ok(bufferedBytes <= budget + 64 * 1024, `buffered ${bufferedBytes} bytes`);
    assert.ok(meter.max < STALL_LIMIT_MS, `the event loop stalled for ${meter.max} ms`);
  } finally {
    meter.stop();
    conn.close();
  }
});

test("Exporter.serve() holds back credits while a connection's values wait past its budget", async () => {
  await using s = await serve({ maxConnectionBytes: 16 * 1024 });
  const inbox = new Channel<string>(0);
  s.exporter.export("in", inbox, Dir.Recv);
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const reader = new wire.WireReader(conn);
    assert.ok(await reader.preamble());
    await conn.write(wire.concat(hello, wire.open(1, wire.WIRE_SEND, 64, -1, "in")));
    assert.equal((await reader.expect(wire.T_OPENED)).id, 1);
    const value = wire.json("x".repeat(1000));
    await conn.write(wire.concat(...Array.from({ length: 64 }, () => wire.data(1, value))));
    await until(() => s.exporter.stats.received === 64, "the values to arrive");
    assert.ok(s.exporter.stats.heldBytes >= 64 * 1000, "the values are counted");
    // Past the budget: values taken from the channel return no credits yet.
    let credited = 0;
    const credits = (async () => {
      while (credited < 64) {
        const f = await reader.expect(wire.T_CREDIT);
        credited += f.view.getUint32(4);
      }
    })();
    for (let i = 0; i < 10; i++) await inbox.receive();
    await delay(100);
    assert.equal(credited, 0, "no credit while the connection is over its budget");
    // Under it again, every credit comes back.
    for (let i = 0; i < 54; i++) await inbox.receive();
    await credits;
    assert.equal(credited, 64);
  } finally {
    conn.close();
  }
});

test("Exporter.serve() closes the connection holding the most when all hold more than maxTotalBytes", async () => {
  await using s = await serve({ maxTotalBytes: 2 * 1024 * 1024 });
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const frames = readAll(conn);
    // A frame of 8 MiB, 3 MiB of it sent: its read buffer goes over the total.
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(0, 8 * 1024 * 1024);
    head[4] = wire.T_DATA;
    await conn.write(wire.concat(hello, head));
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 12 && errorOf(s, "over-budget") === undefined; i++) {
      await conn.write(chunk).catch(() => {});
    }
    await until(() => errorOf(s, "over-budget") !== undefined, "the over-budget error");
    assert.match(errorOf(s, "over-budget")!.message, /maxTotalBytes of 2097152/);
    assert.equal(goawayCode(await frames), 15);
  } finally {
    conn.close();
  }
  await until(() => s.exporter.stats.connections === 0, "the connection to close");
  assert.equal(s.exporter.stats.heldBytes, 0);
  assert.equal((await honest(s.port, 3)).length, 3);
});

test("Exporter.serve() allocates a frame's read buffer as its bytes arrive", async () => {
  await using s = await serve();
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const head = new Uint8Array(5 + 100);
    new DataView(head.buffer).setUint32(0, 16 * 1024 * 1024);
    head[4] = wire.T_DATA;
    await conn.write(wire.concat(hello, head));
    await until(() => s.exporter.stats.connections === 1, "the connection");
    await delay(200);
    const { heldBytes } = s.exporter.stats;
    assert.ok(heldBytes < 1024 * 1024, `a 16 MiB length made the exporter hold ${heldBytes} bytes`);
  } finally {
    conn.close();
  }
});

test("Exporter.serve() closes a peer whose frame body stalls (frameTimeout)", async () => {
  await using s = await serve({ frameTimeout: 200 });
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const frames = readAll(conn);
    const head = new Uint8Array(5 + 1000);
    new DataView(head.buffer).setUint32(0, 1024 * 1024);
    head[4] = wire.T_DATA;
    await conn.write(wire.concat(hello, head));
    assert.equal(goawayCode(await frames), 17);
    await until(() => errorOf(s, "frame-timeout") !== undefined, "the frame-timeout error");
  } finally {
    conn.close();
  }
  assert.equal((await honest(s.port, 3)).length, 3);
});

test("Exporter.serve() closes a connection with no channel open (idleTimeout), not a busy one", async () => {
  await using s = await serve({ idleTimeout: 200 });
  const idle = await connect({ hostname: HOST, port: s.port });
  await using importer = await Importer.connect({ hostname: HOST, port: s.port });
  try {
    const frames = readAll(idle);
    const ch = new Channel<number>(4);
    await importer.import("ping", ch, Dir.Recv, 4);
    await idle.write(hello);
    assert.equal(goawayCode(await frames), 16);
    const err = errorOf(s, "idle-timeout");
    assert.ok(err !== undefined);
    assert.match(err.message, /no channel was open for 200 ms/);
    // The importer with a channel open is still served after well over 200 ms.
    await delay(500);
    for (let i = 0; i < 3; i++) assert.equal(typeof (await ch.receive()), "number");
    assert.equal(s.exporter.stats.connections, 1);
  } finally {
    idle.close();
  }
});

test("Exporter.errors keeps a GOAWAY's message only up to the protocol's 1024 bytes", async () => {
  await using s = await serve();
  const big = new Uint8Array(1 + 2 * 1024 * 1024).fill(0x41);
  big[0] = 5;
  for (let i = 0; i < 5; i++) {
    const conn = await connect({ hostname: HOST, port: s.port });
    try {
      const frames = readAll(conn);
      await conn.write(wire.concat(hello, wire.frame(wire.T_GOAWAY, big)));
      await frames;
    } finally {
      conn.close();
    }
  }
  await until(() => s.errors.length >= 5, "the errors");
  for (const err of s.errors) {
    assert.ok(err instanceof ChanProtocolError && err.code === "goaway", err.message);
    assert.ok(err.message.length < 1024 + 200, `a message of ${err.message.length} characters`);
  }
  await until(() => s.exporter.stats.connections === 0, "the connections to close");
  assert.equal(s.exporter.stats.heldBytes, 0, "nothing is held once the connections closed");
});

test("new Exporter() checks the budget and timeout options", async () => {
  for (
    const [options, type] of [
      [{ maxConnectionBytes: "1" }, TypeError],
      [{ maxConnectionBytes: 10 }, RangeError],
      [{ maxTotalBytes: 1.5 }, RangeError],
      [{ idleTimeout: -1 }, RangeError],
      [{ frameTimeout: null }, TypeError],
    ] as const
  ) {
    assert.throws(
      () => new Exporter(options as unknown as ExporterOptions),
      (err) => err instanceof type && /^Cannot create exporter: /.test((err as Error).message),
    );
  }
  await using exporter = new Exporter({
    maxConnectionBytes: 1024,
    maxTotalBytes: 1024,
    idleTimeout: 0,
    frameTimeout: 0,
  });
  assert.equal(exporter.stats.heldBytes, 0);
});
