// Tests for poll: easygo's netpoll semantics on every adapter this runtime
// has (its native one and, on Deno and Bun, node:net). No timing is asserted:
// where a test checks that a callback does NOT come, it waits a little and
// can only pass vacuously on a slow machine, never fail.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as nodeNet from "node:net";
import {
  AlreadyRegisteredError,
  createPoller,
  Event,
  eventString,
  handle,
  handleListener,
  handleRead,
  handleReadOnce,
  handleReadWrite,
  handleWrite,
  handleWriteOnce,
  NotRegisteredError,
  PollerClosedError,
} from "../src/poll/mod.ts";
import { type Conn, connect, listen, type Listener } from "../src/runtime/mod.ts";
import {
  bytes,
  delay,
  forEachAdapter,
  HOST,
  loopbackPair,
  pair,
  portOf,
  readAll,
  readExactly,
  test,
  text,
} from "./_harness.ts";

/** How long a test waits before checking that something did NOT happen. */
const QUIET_MS = 40;

/** Records a callback's events; `reach(n)` resolves once n were seen. */
class Recorder {
  readonly events: number[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  push(ev: number): void {
    this.events.push(ev);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.events.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  get count(): number {
    return this.events.length;
  }

  reach(n: number): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** The OR of every event seen. */
  get all(): number {
    return this.events.reduce((a, b) => a | b, 0);
  }
}

test("Event has easygo's values and eventString() writes easygo's names", () => {
  assert.deepEqual(
    [
      Event.Read,
      Event.Write,
      Event.OneShot,
      Event.EdgeTriggered,
      Event.Hup,
      Event.ReadHup,
      Event.WriteHup,
      Event.Err,
      Event.PollerClosed,
    ],
    [0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x8000],
  );
  assert.equal(eventString(0), "");
  assert.equal(eventString(Event.Read | Event.ReadHup), "EventRead|EventReadHup");
  assert.equal(
    eventString(0x80ff),
    "EventRead|EventWrite|EventOneShot|EventEdgeTriggered|EventReadHup|EventWriteHup|EventHup|EventErr|EventPollerClosed",
  );
});

forEachAdapter((t) => {
  t("handle() and its shorthands ask for easygo's events and check their arguments", async () => {
    await using p = await loopbackPair();
    const { listener, server } = p;
    assert.equal(handleRead(server).events, Event.Read | Event.EdgeTriggered);
    assert.equal(handleReadOnce(server).events, Event.Read | Event.OneShot);
    assert.equal(handleWrite(server).events, Event.Write | Event.EdgeTriggered);
    assert.equal(handleWriteOnce(server).events, Event.Write | Event.OneShot);
    assert.equal(
      handleReadWrite(server).events,
      Event.Read | Event.Write | Event.EdgeTriggered,
    );
    const d = handleListener(listener, Event.Read | Event.OneShot);
    assert.equal(d.target, listener);
    assert.equal(d.listener, true);
    assert.throws(() => handle(server, 0), RangeError);
    assert.throws(() => handle(server, Event.Hup), RangeError);
    assert.throws(() => handle(server, Event.Read | Event.Err), RangeError);
    assert.throws(() => handle(server, "1" as unknown as number), TypeError);
    assert.throws(() => handle({} as Conn, Event.Read), TypeError);
    assert.throws(() => handleListener(listener, Event.Write), RangeError);
    assert.throws(() => handleListener({} as Listener, Event.Read), TypeError);
    await using poller = createPoller();
    assert.throws(
      () => poller.start({ target: server, events: Event.Read, listener: false }, () => {}),
      TypeError,
    );
    assert.throws(() => poller.start(handleRead(server), null as never), TypeError);
    assert.throws(() => createPoller({ onError: 1 as never }), TypeError);
  });

  t("Poller.start() calls a level-triggered Read callback while unread data remains", async () => {
    await using p = await loopbackPair();
    const { server, client } = p;
    await using poller = createPoller();
    const rec = new Recorder();
    const got: string[] = [];
    const one = new Uint8Array(1);
    const desc = handle(server, Event.Read);
    let calls = 0;
    poller.start(desc, async (ev) => {
      // The first two calls leave everything unread; then one byte per call.
      if (++calls > 2) {
        const n = await server.read(one);
        if (n !== null) got.push(text(one.subarray(0, n)));
      }
      rec.push(ev);
    });
    await client.write(bytes("abc"));
    await rec.reach(5);
    poller.stop(desc);
    assert.equal(got.join(""), "abc");
    assert.ok(rec.events.every((ev) => ev === Event.Read), rec.events.map(eventString).join());
  });

  t("Poller.start() calls an edge-triggered callback once per arrival of new data", async () => {
    await using p = await loopbackPair();
    const { server, client } = p;
    await using poller = createPoller();
    const rec = new Recorder();
    const desc = handleRead(server);
    poller.start(desc, (ev) => rec.push(ev)); // reads nothing
    for (let i = 1; i <= 3; i++) {
      await client.write(bytes(String(i)));
      await rec.reach(i);
      await delay(QUIET_MS);
      assert.equal(rec.count, i, `after write ${i}: ${rec.events.map(eventString).join()}`);
    }
    poller.stop(desc);
    // Nothing was lost or reordered by the poller.
    assert.equal(text(await readExactly(server, 3)), "123");
    assert.ok(rec.events.every((ev) => ev === Event.Read));
  });

  t(
    "Poller.start() with OneShot calls once, then only after resume(), even from inside the callback",
    async () => {
      await using p = await loopbackPair();
      const { server, client } = p;
      await using poller = createPoller();
      const rec = new Recorder();
      const desc = handleReadOnce(server);
      let depth = 0;
      let nested = false;
      const buf = new Uint8Array(64);
      const got: string[] = [];
      poller.start(desc, async (ev) => {
        if (depth > 0) nested = true;
        depth++;
        if (rec.count >= 1) {
          poller.resume(desc); // inside the callback: must not recurse or deadlock
          const n = await server.read(buf);
          if (n !== null) got.push(text(buf.subarray(0, n)));
        }
        rec.push(ev);
        depth--;
      });
      await client.write(bytes("x"));
      await rec.reach(1);
      await delay(QUIET_MS);
      assert.equal(rec.count, 1); // data still unread, yet silent
      poller.resume(desc);
      await rec.reach(2); // the unread data is announced again
      await client.write(bytes("y"));
      await rec.reach(3);
      poller.stop(desc);
      assert.equal(nested, false);
      assert.equal(got.join(""), "xy");
    },
  );

  t("Poller delivers ReadHup when the peer half-closes", async () => {
    await using p = await loopbackPair();
    const { server, client } = p;
    await using poller = createPoller();
    const rec = new Recorder();
    const chunks: string[] = [];
    const buf = new Uint8Array(64);
    const desc = handle(server, Event.Read);
    let eof = false;
    poller.start(desc, async (ev) => {
      rec.push(ev);
      if ((ev & Event.ReadHup) !== 0) {
        poller.stop(desc);
        eof = (await server.read(buf)) === null;
        return;
      }
      const n = await server.read(buf);
      if (n !== null) chunks.push(text(buf.subarray(0, n)));
    });
    await client.write(bytes("last words"));
    await client.closeWrite();
    await rec.reach(2);
    await delay(QUIET_MS);
    assert.equal(chunks.join(""), "last words");
    const last = rec.events[rec.events.length - 1];
    assert.equal(last & (Event.Read | Event.ReadHup), Event.Read | Event.ReadHup);
    assert.equal(last & (Event.Hup | Event.Err), 0);
    assert.equal(eof, true);
    // Half-closed only: the server can still answer.
    await server.write(bytes("bye"));
    server.close();
    assert.equal(text(await readAll(client)), "bye");
  });

  t("Poller delivers Err and Hup on a reset, with only Read asked for", async () => {
    await using listener = await listen({ hostname: HOST, port: 0 });
    // A node:net client, for resetAndDestroy(): RST on every runtime (a Deno
    // conn closed with unread bytes was seen sending FIN).
    const accepted = listener.accept();
    const client = nodeNet.connect({ host: HOST, port: portOf(listener) });
    client.on("error", () => {});
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    await using server = await accepted;
    await using poller = createPoller();
    const rec = new Recorder();
    const desc = handle(server, Event.Read);
    poller.start(desc, (ev) => {
      rec.push(ev);
      if ((ev & (Event.Hup | Event.Err)) !== 0) poller.stop(desc);
    });
    await server.write(bytes("unread"));
    client.resetAndDestroy();
    await rec.reach(1);
    const ev = rec.events[rec.events.length - 1];
    assert.equal(ev & (Event.Err | Event.Hup), Event.Err | Event.Hup, eventString(ev));
  });

  t("Poller delivers Hup when the conn is closed here, and drops it", async () => {
    await using listener = await listen({ hostname: HOST, port: 0 });
    const [server, client] = await pair(listener);
    await using _c = client;
    await using poller = createPoller();
    const rec = new Recorder();
    const desc = handle(server, Event.Read);
    poller.start(desc, (ev) => rec.push(ev));
    server.close();
    await rec.reach(1);
    assert.equal(rec.events[0], Event.Hup);
    poller.stop(desc); // a closed conn's registration ended by itself: no error
    await delay(QUIET_MS);
    assert.equal(rec.count, 1);
  });

  t("Poller calls a Write callback once backpressure clears", async () => {
    await using p = await loopbackPair();
    const { server, client } = p;
    await using poller = createPoller();
    const rec = new Recorder();
    const desc = handleWrite(server);
    poller.start(desc, (ev) => rec.push(ev));
    await rec.reach(1); // writable at once, as epoll reports on registration
    assert.equal(rec.events[0], Event.Write);
    // 8 MiB to a peer that does not read: the write waits for the peer.
    const big = new Uint8Array(8 * 1024 * 1024).fill(7);
    let written = false;
    const writing = server.write(big).then(() => {
      written = true;
    });
    await delay(QUIET_MS);
    assert.equal(written, false);
    const seenBefore = rec.count;
    const received = await readExactly(client, big.byteLength);
    await writing;
    await rec.reach(seenBefore + 1);
    assert.equal(rec.events[rec.events.length - 1], Event.Write);
    assert.equal(received.byteLength, big.byteLength);
    poller.stop(desc);
  });

  t(
    "Poller.stop() stops callbacks at once, keeps the conn open and allows a new start()",
    async () => {
      await using p = await loopbackPair();
      const { server, client } = p;
      await using poller = createPoller();
      const rec = new Recorder();
      const desc = handle(server, Event.Read);
      let afterStop = 0;
      let stopped = false;
      poller.start(desc, (ev) => {
        if (stopped) afterStop++;
        rec.push(ev);
        if (rec.count === 3) {
          poller.stop(desc);
          stopped = true;
        }
      });
      await client.write(bytes("hello"));
      await rec.reach(3);
      await delay(QUIET_MS);
      assert.equal(afterStop, 0);
      assert.equal(rec.count, 3);
      assert.throws(() => poller.stop(desc), NotRegisteredError);
      assert.throws(() => poller.resume(desc), NotRegisteredError);
      // The conn is open and its bytes are intact.
      assert.equal(text(await readExactly(server, 5)), "hello");
      // start() again, and stop() from outside a callback.
      const again = new Recorder();
      const buf = new Uint8Array(16);
      const got: string[] = [];
      poller.start(desc, async (ev) => {
        again.push(ev);
        const n = await server.read(buf);
        if (n !== null) got.push(text(buf.subarray(0, n)));
      });
      assert.throws(() => poller.start(desc, () => {}), AlreadyRegisteredError);
      assert.throws(() => poller.start(handleRead(server), () => {}), AlreadyRegisteredError);
      await client.write(bytes("world"));
      await again.reach(1);
      poller.stop(desc);
      const count = again.count;
      await client.write(bytes("!"));
      await delay(QUIET_MS);
      assert.equal(again.count, count);
      assert.equal(got.join(""), "world");
      assert.equal(text(await readExactly(server, 1)), "!");
    },
  );

  t(
    "Poller.close() gives every callback PollerClosed once; then everything throws PollerClosedError",
    async () => {
      await using listener = await listen({ hostname: HOST, port: 0 });
      const [s1, c1] = await pair(listener);
      const [s2, c2] = await pair(listener);
      await using _s1 = s1;
      await using _c1 = c1;
      await using _s2 = s2;
      await using _c2 = c2;
      const poller = createPoller();
      const rec1 = new Recorder();
      const rec2 = new Recorder();
      const recL = new Recorder();
      const d1 = handleRead(s1);
      const d2 = handle(s2, Event.Read | Event.Write);
      const dl = handleListener(listener, Event.Read);
      poller.start(d1, (ev) => rec1.push(ev));
      poller.start(d2, async (ev) => {
        rec2.push(ev);
        await delay(1);
      });
      poller.start(dl, (ev) => recL.push(ev));
      await rec2.reach(1); // writable at once
      await Promise.all([poller.close(), poller.close()]);
      assert.equal(poller.closed, true);
      for (const rec of [rec1, rec2, recL]) {
        assert.equal(rec.events.filter((ev) => ev === Event.PollerClosed).length, 1);
        assert.equal(rec.events[rec.events.length - 1], Event.PollerClosed);
      }
      await delay(QUIET_MS);
      assert.equal(rec1.count + rec2.count + recL.count, 3 + rec2.count - 1 + 0);
      assert.throws(() => poller.start(d1, () => {}), PollerClosedError);
      assert.throws(() => poller.stop(d1), PollerClosedError);
      assert.throws(() => poller.resume(d1), PollerClosedError);
      // The conns stay open.
      await c1.write(bytes("still open"));
      assert.equal(text(await readExactly(s1, 10)), "still open");
    },
  );

  t("handleListener() calls back when a connection waits to be accepted", async () => {
    await using listener = await listen({ hostname: HOST, port: 0 });
    await using poller = createPoller();
    const desc = handleListener(listener, Event.Read | Event.OneShot);
    const accepted: Conn[] = [];
    const rec = new Recorder();
    poller.start(desc, async (ev) => {
      if ((ev & Event.Read) !== 0) accepted.push(await listener.accept());
      rec.push(ev);
      poller.resume(desc);
    });
    const clients: Conn[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        clients.push(await connect({ hostname: HOST, port: portOf(listener) }));
        await rec.reach(i);
      }
      assert.equal(accepted.length, 3);
      assert.ok(rec.events.every((ev) => ev === Event.Read));
      poller.stop(desc);
      await listener.close();
    } finally {
      for (const c of [...clients, ...accepted]) c.close();
    }
  });

  t("createPoller() hands what a callback throws or rejects with to onError", async () => {
    await using p = await loopbackPair();
    const { server, client } = p;
    const errors: unknown[] = [];
    let reported: () => void = () => {};
    const twice = new Promise<void>((resolve) => reported = resolve);
    await using poller = createPoller({
      onError: (err) => {
        errors.push(err);
        if (errors.length === 2) reported();
      },
    });
    let calls = 0;
    const desc = handleReadOnce(server);
    poller.start(desc, (ev) => {
      assert.equal(ev, Event.Read);
      calls++;
      if (calls === 1) {
        poller.resume(desc);
        throw new Error("thrown");
      }
      return Promise.reject(new Error("rejected"));
    });
    await client.write(bytes("x"));
    await twice;
    poller.stop(desc);
    assert.deepEqual(errors.map((e) => (e as Error).message), ["thrown", "rejected"]);
  });

  t(
    "Poller reads 4 MiB through level-triggered callbacks without losing or reordering a byte",
    async () => {
      await using p = await loopbackPair();
      const { server, client } = p;
      await using poller = createPoller();
      const total = 4 * 1024 * 1024;
      const sent = createHash("sha256");
      const received = createHash("sha256");
      let count = 0;
      const buf = new Uint8Array(10_000);
      const desc = handle(server, Event.Read);
      const done = new Promise<void>((resolve) => {
        poller.start(desc, async (ev) => {
          if ((ev & Event.Read) === 0) return;
          const n = await server.read(buf);
          if (n === null) {
            poller.stop(desc);
            resolve();
            return;
          }
          received.update(buf.subarray(0, n));
          count += n;
        });
      });
      const chunk = new Uint8Array(64 * 1024);
      let seed = 1;
      for (let off = 0; off < total; off += chunk.byteLength) {
        for (let i = 0; i < chunk.byteLength; i += 512) chunk[i] = seed = (seed * 31 + 7) & 0xff;
        sent.update(chunk);
        await client.write(chunk);
      }
      await client.closeWrite();
      await done;
      assert.equal(count, total);
      assert.equal(received.digest("hex"), sent.digest("hex"));
    },
  );

  t("Poller serves many mostly idle conns: only the ones that speak are called", async () => {
    await using listener = await listen({ hostname: HOST, port: 0, backlog: 1024 });
    await using poller = createPoller();
    const servers: Conn[] = [];
    const clients: Conn[] = [];
    const heard = new Map<number, string>();
    const rec = new Recorder();
    try {
      for (let i = 0; i < 200; i++) {
        const [s, c] = await pair(listener);
        servers.push(s);
        clients.push(c);
        poller.start(handleRead(s), async (ev) => {
          if ((ev & Event.Read) === 0) return;
          // A buffer per call: callbacks of different conns may overlap.
          const buf = new Uint8Array(256);
          const n = await s.read(buf);
          if (n !== null) heard.set(i, text(buf.subarray(0, n)));
          rec.push(i);
        });
      }
      const speakers = [3, 77, 150, 199];
      for (const i of speakers) await clients[i].write(bytes(`client ${i}`));
      await rec.reach(speakers.length);
      await delay(QUIET_MS);
      assert.deepEqual([...heard.keys()].sort((a, b) => a - b), speakers);
      for (const i of speakers) assert.equal(heard.get(i), `client ${i}`);
    } finally {
      await poller.close();
      for (const c of [...servers, ...clients]) c.close();
    }
  });
});
