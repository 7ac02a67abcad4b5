// Bad input: the exporter must survive anything a peer sends. Each kind of
// misbehaviour is tested on its own (the typed error, the closed connection,
// the exporter still serving), then a fuzz run feeds well over 10,000 random
// and mutated frames from many connections to a live exporter and checks it
// still serves a well-behaved importer.
import assert from "node:assert/strict";
import {
  Channel,
  ChanProtocolError,
  type ChanProtocolErrorCode,
  ChanValueError,
  Dir,
  Exporter,
  Importer,
  ImportRefusedError,
  type StandardSchemaV1,
} from "../src/chan/mod.ts";
import { type Conn, connect, type Listener } from "../src/runtime/mod.ts";
import { HOST, portOf, test, until } from "./_harness.ts";
import * as wire from "./fixtures/chan_wire.ts";

const isNumber: StandardSchemaV1<unknown, number> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (v) =>
      typeof v === "number" ? { value: v } : { issues: [{ message: "not a number" }] },
  },
};

interface Served extends AsyncDisposable {
  exporter: Exporter;
  listener: Listener;
  port: number;
  out: Channel<number>;
  inbox: Channel<number>;
  /** Errors reported so far, read continuously. */
  errors: Error[];
}

/** An exporter with a fed Send channel ("out") and a drained Recv channel ("in"). */
async function serve(options: { maxFrameSize?: number } = {}): Promise<Served> {
  const exporter = new Exporter({
    handshakeTimeout: 200,
    writeTimeout: 300,
    maxFrameSize: options.maxFrameSize,
    errorBuffer: 1000,
  });
  const out = new Channel<number>(16);
  const inbox = new Channel<number>(16);
  exporter.export("out", out, Dir.Send);
  exporter.export("in", inbox, Dir.Recv, { schema: isNumber });
  exporter.export("raw", new Channel<Uint8Array>(4), Dir.Recv, { codec: "bytes" });
  const listener = await exporter.listenAndServe({ hostname: HOST, port: 0 });
  let stop = false;
  const producer = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        await out.send(i);
      } catch {
        return;
      }
    }
  })();
  const consumer = (async () => {
    for await (const _ of inbox) { /* drain */ }
  })();
  // The fuzz closes "fuzz" again and again (a peer's graceful end closes an
  // exported Recv channel): export a fresh one each time.
  let fuzz = new Channel<number>(4);
  const refuzz = (async () => {
    while (!stop) {
      exporter.export("fuzz", fuzz, Dir.Recv, { schema: isNumber });
      for await (const _ of fuzz) { /* drain */ }
      if (stop) return;
      exporter.hangup("fuzz");
      fuzz = new Channel<number>(4);
    }
  })();
  const errors: Error[] = [];
  const reading = (async () => {
    for await (const err of exporter.errors) errors.push(err);
  })();
  return {
    exporter,
    listener,
    port: portOf(listener),
    out,
    inbox,
    errors,
    async [Symbol.asyncDispose]() {
      stop = true;
      out.close();
      inbox.close();
      fuzz.close();
      await exporter.close();
      await Promise.all([producer, consumer, refuzz, reading]);
    },
  };
}

/** Asserts that a well-behaved importer still gets served, both ways. */
async function assertServes(s: Served): Promise<void> {
  await using importer = await Importer.connect({ hostname: HOST, port: s.port });
  const sink = new Channel<number>(4);
  await importer.importNValues("out", sink, Dir.Recv, 4, 3);
  let n = 0;
  for await (const _ of sink) n++;
  assert.equal(n, 3);
  const outbox = new Channel<number>(4);
  await importer.import("in", outbox, Dir.Send, 4);
  for (let i = 0; i < 5; i++) await outbox.send(i);
  await importer.drain({ timeout: 10_000 });
}

/** Sends `bytes` as a raw peer; returns the frames read until the exporter closed. */
async function rawSession(port: number, bytes: Uint8Array): Promise<wire.Frame[]> {
  const conn = await connect({ hostname: HOST, port });
  try {
    const reader = new wire.WireReader(conn);
    const frames = reader.preamble().then((p) => (p === null ? [] : reader.drainToEof()));
    await conn.write(bytes).catch(() => {});
    await conn.closeWrite().catch(() => {}); // then EOF: a cut-off frame is seen as such
    return await frames;
  } finally {
    conn.close();
  }
}

function goaway(frames: wire.Frame[]): string | undefined {
  const f = frames.find((f) => f.type === wire.T_GOAWAY);
  return f === undefined ? undefined : `${f.payload[0]}: ${wire.message(f)}`;
}

const hello = wire.preamble(wire.ROLE_IMPORTER);
const te = new TextEncoder();

/** [name, bytes to send, the expected error code] */
const cases: [string, () => Uint8Array, ChanProtocolErrorCode][] = [
  [
    "garbage before the handshake",
    () => te.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "bad-handshake",
  ],
  ["an exporter's preamble", () => wire.preamble(wire.ROLE_EXPORTER), "bad-handshake"],
  ["protocol version 0", () => wire.preamble(wire.ROLE_IMPORTER, 1 << 20, 0), "version"],
  [
    "a maximum frame size under 4096",
    () => wire.preamble(wire.ROLE_IMPORTER, 100),
    "bad-handshake",
  ],
  ["an empty frame", () => wire.concat(hello, new Uint8Array(4)), "malformed-frame"],
  [
    "a length over the maximum (without the body)",
    () => wire.concat(hello, new Uint8Array([0x7f, 0xff, 0xff, 0xff, wire.T_DATA])),
    "frame-too-large",
  ],
  [
    "an unknown frame type",
    () => wire.concat(hello, wire.frame(99, new Uint8Array(3))),
    "unknown-frame",
  ],
  [
    "an OPENED frame from an importer",
    () => wire.concat(hello, wire.opened(1, 1)),
    "unexpected-frame",
  ],
  [
    "DATA for an unknown channel",
    () => wire.concat(hello, wire.data(7, wire.json(1))),
    "unknown-channel",
  ],
  [
    "a short DATA frame",
    () => wire.concat(hello, wire.frame(wire.T_DATA, new Uint8Array(2))),
    "malformed-frame",
  ],
  [
    "a CREDIT of the wrong length",
    () => wire.concat(hello, wire.frame(wire.T_CREDIT, new Uint8Array(3))),
    "malformed-frame",
  ],
  [
    "credits the peer does not own",
    () => wire.concat(hello, wire.open(1, wire.WIRE_RECV, 2, -1, "out"), wire.credit(1, 5)),
    "credit",
  ],
  [
    "a CREDIT on a channel it sends on",
    () => wire.concat(hello, wire.open(1, wire.WIRE_SEND, 2, -1, "in"), wire.credit(1, 1)),
    "credit",
  ],
  ["an ACK of values never sent", () => wire.concat(hello, wire.ack(5)), "ack"],
  ["an ACK that is not an integer", () => wire.concat(hello, wire.ack(0.5)), "ack"],
  [
    "DATA beyond the credits granted",
    () =>
      wire.concat(
        hello,
        wire.open(1, wire.WIRE_SEND, 1, -1, "raw"),
        ...Array.from({ length: 8 }, () => wire.data(1, new Uint8Array(10))),
      ),
    "credit",
  ],
  [
    "DATA past the announced count",
    () =>
      wire.concat(
        hello,
        wire.open(1, wire.WIRE_SEND, 100, 1, "raw"),
        wire.data(1, wire.json(1)),
        wire.data(1, wire.json(2)),
      ),
    "credit",
  ],
  [
    "a reused channel id",
    () =>
      wire.concat(
        hello,
        wire.open(1, wire.WIRE_RECV, 1, -1, "out"),
        wire.open(1, wire.WIRE_RECV, 1, -1, "out"),
      ),
    "duplicate-channel",
  ],
  ["a CLOSE for an unknown channel", () => wire.concat(hello, wire.close(3)), "unknown-channel"],
  [
    "an OPEN for channel 0",
    () => wire.concat(hello, wire.open(0, wire.WIRE_RECV, 1, -1, "out")),
    "malformed-frame",
  ],
  [
    "DATA beyond the credits granted, before the exporter returned any",
    () =>
      wire.concat(
        hello,
        wire.open(1, wire.WIRE_SEND, 1, -1, "in"),
        wire.data(1, wire.json(1)),
        wire.data(1, wire.json(2)),
      ),
    "credit",
  ],
  [
    "a frame cut off by EOF",
    () => wire.concat(hello, wire.data(1, wire.json(1)).subarray(0, 6)),
    "truncated",
  ],
  [
    "a GOAWAY",
    () => wire.concat(hello, wire.frame(wire.T_GOAWAY, new Uint8Array([5, 0x41]))),
    "goaway",
  ],
];

for (const [name, bytes, code] of cases) {
  test(`Exporter.serve() survives ${name} (${code})`, async () => {
    await using s = await serve({ maxFrameSize: 64 * 1024 });
    const frames = await rawSession(s.port, bytes());
    await until(() => s.errors.some((e) => e instanceof ChanProtocolError), "the error");
    const err = s.errors.find((e) => e instanceof ChanProtocolError) as ChanProtocolError;
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /^Cannot serve importer 127\.0\.0\.1:\d+: /);
    if (code !== "truncated" && code !== "goaway") {
      assert.ok(goaway(frames) !== undefined, "the exporter says why it closes");
    }
    await until(() => s.exporter.stats.connections === 0, "the connection to close");
    await assertServes(s);
  });
}

test("Exporter.serve() closes a peer that says nothing (handshake timeout)", async () => {
  await using s = await serve();
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const frames = await new wire.WireReader(conn).preamble().then(() =>
      new wire.WireReader(conn).drainToEof()
    );
    assert.ok(frames.length <= 1);
    await until(() => s.errors.length > 0, "the error");
    const err = s.errors[0];
    assert.ok(err instanceof ChanProtocolError && err.code === "handshake-timeout", err.message);
  } finally {
    conn.close();
  }
  await assertServes(s);
});

test("Exporter.serve() refuses bad requests without closing the connection", async () => {
  await using s = await serve();
  const conn = await connect({ hostname: HOST, port: s.port });
  try {
    const reader = new wire.WireReader(conn);
    await conn.write(wire.concat(
      hello,
      wire.open(1, wire.WIRE_RECV, 1, -1, "nope"),
      wire.open(2, wire.WIRE_SEND, 1, -1, "out"),
      // id 3 (id 0 is a protocol error: see below), a name that is not UTF-8
      wire.frame(
        wire.T_OPEN,
        wire.concat(new Uint8Array([0, 0, 0, 3]), new Uint8Array(13), new Uint8Array([0xff, 0xfe])),
      ),
      wire.open(4, 9, 1, -1, "out"),
      wire.open(5, wire.WIRE_RECV, 0, -1, "out"),
      wire.open(6, wire.WIRE_RECV, 1, -2, "out"),
      wire.open(7, wire.WIRE_RECV, 1, 1, "out"),
    ));
    assert.ok(await reader.preamble());
    const refused: [number, number, string][] = [];
    for (let i = 0; i < 6; i++) {
      const f = await reader.expect(wire.T_REFUSE);
      refused.push([f.id, f.payload[4], wire.message(f)]);
    }
    assert.deepEqual(refused.map((r) => r[1]), [1, 2, 4, 4, 4, 4]);
    assert.match(refused[0][2], /no channel "nope"/);
    // The valid request on the same connection is served.
    assert.equal((await reader.expect(wire.T_OPENED)).id, 7);
    assert.equal((await reader.expect(wire.T_DATA)).id, 7);
    assert.equal((await reader.expect(wire.T_CLOSE)).id, 7); // count 1 reached
    assert.equal(s.exporter.stats.connections, 1);
    assert.equal(s.errors.length, 0);
  } finally {
    conn.close();
  }
  // And a real importer sees the refusals as ImportRefusedError.
  await using importer = await Importer.connect({ hostname: HOST, port: s.port });
  await assert.rejects(
    importer.import("out", new Channel(), Dir.Send, 1),
    (err) => err instanceof ImportRefusedError && err.code === "wrong-direction",
  );
});

test("Exporter.serve() closes a peer that stops reading, with bounded buffers", async () => {
  await using s = await serve();
  const big = new Channel<string>(2);
  s.exporter.export("big", big, Dir.Send);
  const WINDOW = 64;
  const value = "z".repeat(256 * 1024);
  const frameBytes = 9 + value.length + 2;
  const conn: Conn = await connect({ hostname: HOST, port: s.port });
  let maxBuffered = 0;
  try {
    await conn.write(wire.concat(hello, wire.open(1, wire.WIRE_RECV, WINDOW, -1, "big")));
    // Never read: the kernel buffers fill, the exporter's write stalls.
    const producer = (async () => {
      try {
        for (let i = 0; i < 1000; i++) {
          await big.send(value);
          maxBuffered = Math.max(maxBuffered, s.exporter.stats.bufferedBytes);
        }
      } catch { /* closed at the end */ }
    })();
    await until(
      () => s.errors.some((e) => e instanceof ChanProtocolError && e.code === "not-reading"),
      "the not-reading error",
    );
    assert.ok(maxBuffered <= WINDOW * frameBytes + 64, `buffered ${maxBuffered} bytes`); // + replies
    big.close();
    await producer;
  } finally {
    conn.close();
  }
  await until(() => s.exporter.stats.connections === 0, "the connection to close");
  await assertServes(s);
});

// --- fuzz ------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BAD_NAMES = ["nope", "\u00e9t\u00e9", "x".repeat(1100)];

/**
 * One connection's bytes: a (usually valid) preamble, then frames. Most
 * frames are valid for the state the connection is in (requests, refused
 * requests, values within the credits, good or bad payloads, closes, acks), so
 * the exporter processes them; some are random or mutated, and may end the
 * connection. `processed` counts the frames up to the first of those.
 */
function fuzzSession(rand: () => number): { bytes: Uint8Array; frames: number; processed: number } {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const parts: Uint8Array[] = [];
  let fatal = false;
  const roll = rand();
  if (roll < 0.02) {
    parts.push(randomBytes(1 + int(40)));
    fatal = true;
  } else if (roll < 0.04) {
    const p = wire.preamble(wire.ROLE_IMPORTER);
    p[int(8)] ^= 1 << int(8); // magic, version or role
    parts.push(p);
    fatal = true;
  } else parts.push(hello);
  const count = 40 + int(120);
  let processed = 0;
  let nextId = 1;
  const sending = new Map<number, number>(); // id -> values still allowed
  const receiving = new Set<number>();
  for (let i = 0; i < count; i++) {
    let f: Uint8Array;
    let bad = false;
    const r = rand();
    if (r < 0.2) {
      const id = nextId++;
      const kind = int(8);
      if (kind < 3) {
        const window = 1 + int(8);
        f = wire.open(id, wire.WIRE_SEND, window, pick([-1, -1, -1, 5]), pick(["fuzz", "raw"]));
        sending.set(id, window);
      } else if (kind < 5) {
        f = wire.open(id, wire.WIRE_RECV, 1 + int(8), pick([-1, 3, 0]), "out");
        receiving.add(id);
      } else if (kind === 5) f = wire.open(id, wire.WIRE_RECV, 1, -1, pick(BAD_NAMES));
      else if (kind === 6) f = wire.open(id, wire.WIRE_SEND, 1, -1, "out"); // wrong direction
      else f = wire.open(id, pick([0, 3, 255]), pick([0, 1]), pick([-5, 0.5, 1e300]), "in");
    } else if (r < 0.65 && sending.size > 0) {
      const id = pick([...sending.keys()]);
      const left = sending.get(id)!;
      if (left <= 1) sending.delete(id);
      else sending.set(id, left - 1);
      f = wire.data(
        id,
        pick([
          wire.json(int(1000)),
          wire.json("text"),
          wire.json({ a: [1, 2] }),
          te.encode("{bad json"),
          new Uint8Array(0),
          randomBytes(int(64)),
        ]),
      );
    } else if (r < 0.75 && (sending.size > 0 || receiving.size > 0)) {
      const ids = [...sending.keys(), ...receiving];
      const id = pick(ids);
      sending.delete(id);
      receiving.delete(id);
      f = wire.close(id);
    } else if (r < 0.95) {
      f = wire.ack(0);
    } else {
      bad = true;
      switch (int(6)) {
        case 0:
          f = wire.frame(9 + int(247), randomBytes(int(30)));
          break;
        case 1:
          f = wire.credit(nextId + 5, 1 + int(10));
          break;
        case 2:
          f = wire.ack(pick([1, -1, 1e9, NaN]));
          break;
        case 3:
          f = randomBytes(1 + int(20));
          break;
        case 4: {
          f = wire.data(1, wire.json(int(100))).slice();
          new DataView(f.buffer).setUint32(0, int(2 ** 32));
          break;
        }
        default: {
          f = wire.open(nextId++, wire.WIRE_RECV, 1, -1, "out").slice();
          f[int(f.length)] ^= 1 << int(8);
        }
      }
    }
    parts.push(f);
    if (!fatal) processed++;
    if (bad) fatal = true;
  }
  return { bytes: wire.concat(...parts), frames: count, processed };
}

test("Exporter.serve() survives 10,000 random and mutated frames, then serves an importer", async () => {
  await using s = await serve({ maxFrameSize: 64 * 1024 });
  const seed = Date.now() >>> 0;
  const rand = prng(seed);
  const GOAL = 10_000;
  let frames = 0;
  let processed = 0;
  let sessions = 0;
  const PARALLEL = 8;
  const worker = async () => {
    while (processed < GOAL) {
      const session = fuzzSession(rand);
      frames += session.frames;
      processed += session.processed;
      sessions++;
      const silent = rand() < 0.005;
      if (silent) {
        // Connects and says nothing: the handshake timeout closes it.
        const conn = await connect({ hostname: HOST, port: s.port });
        await new wire.WireReader(conn).drainToEof();
        conn.close();
        continue;
      }
      await rawSession(s.port, session.bytes);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  assert.ok(processed >= GOAL, `seed ${seed}: only ${processed} frames`);
  console.log(
    `fuzz: seed ${seed}: ${frames} frames (${processed} before a fatal one) in ${sessions} connections, ${s.errors.length} errors`,
  );
  await until(() => s.exporter.stats.connections === 0, `seed ${seed}: connections to close`);
  assert.equal(s.exporter.stats.bufferedBytes, 0);
  const protocolErrors = s.errors.filter((e) => e instanceof ChanProtocolError).length;
  const valueErrors = s.errors.filter((e) => e instanceof ChanValueError).length;
  assert.ok(
    protocolErrors > 0 && valueErrors > 0,
    `seed ${seed}: ${protocolErrors}/${valueErrors}`,
  );
  for (const e of s.errors) {
    assert.ok(
      e instanceof ChanProtocolError || e instanceof ChanValueError || e.name.endsWith("Error"),
      `seed ${seed}: unexpected ${e}`,
    );
  }
  await assertServes(s);
});
