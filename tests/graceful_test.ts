// Tests of the graceful listener (@netkit/netkit/graceful: wrap, modes,
// markIdle/markInUse/disown, closeIdle, drain, drainAll, stats). Every test
// runs once per adapter this runtime has.
import assert from "node:assert/strict";
import {
  disown,
  DrainTimeoutError,
  type GracefulConn,
  type GracefulStats,
  markIdle,
  markInUse,
  Mode,
  NotManagedError,
  wrap,
} from "../src/graceful/mod.ts";
import {
  ClosedError,
  type Conn,
  connect,
  listen,
  ListenerClosedError,
} from "../src/runtime/mod.ts";
import { type Entry, newEntry, Tracker } from "../src/graceful/_internal.ts";
import {
  bytes,
  delay,
  forEachAdapter,
  HOST,
  pair,
  portOf,
  readExactly,
  seesClose,
  test,
  text,
} from "./_harness.ts";

function counts(s: GracefulStats): string {
  return `idle=${s.idle} inUse=${s.inUse} disowned=${s.disowned} total=${s.total} accepted=${s.accepted} closed=${s.closed}`;
}

forEachAdapter((t) => {
  t(
    "wrap({ grace: 0 }) in Automatic mode (the default): new conns are idle, data marks in use",
    async () => {
      await using listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 0 });
      assert.equal(listener.mode, Mode.Automatic);
      const [conn, client] = await pair(listener);
      await using _c = conn;
      await using _k = client;
      assert.equal(conn.state, "idle");
      assert.equal(counts(listener.stats), "idle=1 inUse=0 disowned=0 total=1 accepted=1 closed=0");
      await client.write(bytes("req"));
      assert.equal(text(await readExactly(conn, 3)), "req");
      assert.equal(conn.state, "in-use");
      assert.equal(counts(listener.stats), "idle=0 inUse=1 disowned=0 total=1 accepted=1 closed=0");
      // Reads on an in-use conn, and a read deadline, change nothing.
      await client.write(bytes("more"));
      await readExactly(conn, 4);
      conn.setReadDeadline(null);
      assert.equal(conn.state, "in-use");
      conn.markIdle();
      assert.equal(conn.state, "idle");
      // A read that brings nothing (EOF) leaves it idle.
      await client.closeWrite();
      assert.equal(await conn.read(new Uint8Array(8)), null);
      assert.equal(conn.state, "idle");
      conn.close();
      assert.equal(conn.state, "closed");
      assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=1 closed=1");
    },
  );

  t("wrap() in Manual mode: only markIdle() and markInUse() change state", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }), Mode.Manual);
    const [conn, client] = await pair(listener);
    await using _c = conn;
    await using _k = client;
    await client.write(bytes("abc"));
    await readExactly(conn, 3);
    conn.setReadDeadline(Date.now() + 60_000);
    assert.equal(conn.state, "idle");
    markInUse(conn);
    assert.equal(conn.state, "in-use");
    markInUse(conn); // no-op
    assert.equal(listener.stats.inUse, 1);
    markIdle(conn);
    markIdle(conn); // no-op
    assert.equal(conn.state, "idle");
    assert.equal(listener.stats.idle, 1);
  });

  t(
    "wrap({ grace: 0 }) in Deadline mode: a read marks in use, setting a read deadline marks idle",
    async () => {
      await using listener = wrap(await listen({ hostname: HOST, port: 0 }), {
        mode: Mode.Deadline,
        grace: 0,
      });
      const [conn, client] = await pair(listener);
      await using _c = conn;
      await using _k = client;
      for (let i = 0; i < 3; i++) {
        // What an HTTP server does: deadline for the next request, read it, answer.
        conn.setReadDeadline(Date.now() + 60_000);
        assert.equal(conn.state, "idle");
        await client.write(bytes(`r${i}`));
        await readExactly(conn, 2);
        assert.equal(conn.state, "in-use");
        await conn.write(bytes(`a${i}`));
        await readExactly(client, 2);
      }
      conn.setDeadline(null);
      assert.equal(conn.state, "idle");
      conn.setWriteDeadline(null);
      assert.equal(conn.state, "idle");
    },
  );

  t("markIdle(), markInUse() and disown() reject a conn no graceful listener wrapped", async () => {
    await using plain = await listen({ hostname: HOST, port: 0 });
    const accepted = plain.accept();
    await using client = await connect({ hostname: HOST, port: portOf(plain) });
    await using conn = await accepted;
    assert.throws(() => markIdle(conn), NotManagedError);
    assert.throws(() => markInUse(conn), NotManagedError);
    assert.throws(() => disown(client), NotManagedError);
    assert.throws(() => markIdle({} as Conn), (err: Error) => err.name === "NotManagedError");
  });

  t(
    "GracefulListener.closeIdle() closes the idle conns only (grace 0: new conns idle)",
    async () => {
      await using listener = wrap(await listen({ hostname: HOST, port: 0 }), {
        mode: Mode.Manual,
        grace: 0,
      });
      const [idle, c1] = await pair(listener);
      const [busy, c2] = await pair(listener);
      await using _1 = c1;
      await using _2 = c2;
      await using _b = busy;
      busy.markInUse();
      await listener.closeIdle();
      assert.equal(idle.state, "closed");
      assert.equal(idle.closed, true);
      assert.equal(busy.state, "in-use");
      assert.ok(await seesClose(c1));
      // Conns that turn idle later stay open: closeIdle() is not a drain.
      busy.markIdle();
      assert.equal(busy.closed, false);
      assert.equal(counts(listener.stats), "idle=1 inUse=0 disowned=0 total=1 accepted=2 closed=1");
    },
  );

  t("GracefulListener.drain() waits for an in-use conn, then closes it when idle", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 0 });
    const [idle, c1] = await pair(listener);
    const [busy, c2] = await pair(listener);
    await using _1 = c1;
    await using _2 = c2;
    await c2.write(bytes("work"));
    await readExactly(busy, 4); // Automatic: in use now
    let drained = false;
    const draining = listener.drain().then(() => (drained = true));
    assert.equal(listener.draining, true);
    assert.equal(idle.closed, true, "idle conns close at once");
    await delay(50);
    assert.equal(drained, false, "drain waits for the in-use conn");
    assert.equal(busy.closed, false);
    // Not accepting any more: new accepts reject, connects are refused.
    await assert.rejects(listener.accept(), ListenerClosedError);
    assert.equal(listener.closed, true);
    await assert.rejects(connect({ hostname: HOST, port: portOf(listener) }));
    // The busy conn finishes its work and turns idle: the drain closes it.
    await busy.write(bytes("done"));
    assert.equal(text(await readExactly(c2, 4)), "done");
    busy.markIdle();
    await draining;
    assert.equal(busy.state, "closed");
    assert.ok(await seesClose(c2));
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=2 closed=2");
  });

  t("GracefulListener.drain({ timeout }) force-closes what is left and says how many", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), {
      mode: Mode.Manual,
      grace: 0,
    });
    const [a, c1] = await pair(listener);
    const [b, c2] = await pair(listener);
    const [idle, c3] = await pair(listener);
    await using _1 = c1;
    await using _2 = c2;
    await using _3 = c3;
    a.markInUse();
    b.markInUse();
    const err = await listener.drain({ timeout: 50 }).then(
      () => assert.fail("drain should time out"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DrainTimeoutError);
    assert.equal(err.cut, 2);
    assert.match(err.message, /^Cannot drain: 2 connections still open after 50 ms/);
    assert.equal(idle.closed, true);
    assert.equal(a.closed && b.closed, true);
    assert.ok(await seesClose(c1));
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=3 closed=3");
  });

  t("GracefulListener.drain({ signal }) force-closes on abort", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), Mode.Manual);
    const [a, c1] = await pair(listener);
    await using _1 = c1;
    a.markInUse();
    const ac = new AbortController();
    const draining = listener.drain({ signal: ac.signal });
    ac.abort(new Error("deploy deadline"));
    await assert.rejects(draining, (err: unknown) => {
      assert.ok(err instanceof DrainTimeoutError);
      assert.equal(err.cut, 1);
      assert.equal((err.cause as Error).message, "deploy deadline");
      return true;
    });
    assert.equal(a.closed, true);
    // An already aborted signal cuts at once; nothing is left, so it resolves.
    await listener.drain({ signal: AbortSignal.abort() });
    await assert.rejects(listener.drain({ timeout: -1 }), RangeError);
    await assert.rejects(
      listener.drain({ signal: "no" as unknown as AbortSignal }),
      TypeError,
    );
  });

  t("GracefulListener.drainAll() closes every tracked conn; disowned ones survive", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), {
      mode: Mode.Manual,
      grace: 0,
    });
    const [idle, c1] = await pair(listener);
    const [busy, c2] = await pair(listener);
    const [ws, c3] = await pair(listener);
    await using _1 = c1;
    await using _2 = c2;
    await using _3 = c3;
    busy.markInUse();
    disown(ws);
    assert.equal(ws.state, "disowned");
    ws.markInUse(); // no effect on a disowned conn
    assert.equal(counts(listener.stats), "idle=1 inUse=1 disowned=1 total=3 accepted=3 closed=0");
    await listener.drainAll();
    assert.equal(idle.closed && busy.closed, true);
    assert.equal(ws.closed, false);
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=1 total=1 accepted=3 closed=2");
    // The disowned conn still works, and a drain does not wait for it.
    await c3.write(bytes("still here"));
    assert.equal(text(await readExactly(ws, 10)), "still here");
    await listener.drain();
    ws.close();
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=3 closed=3");
  });

  t(
    "GracefulListener's accept loop, busy when a drain starts, is then handed what the runtime had accepted, and ends",
    async () => {
      const listener = wrap(await listen({ hostname: HOST, port: 0 }));
      const served: string[] = [];
      let release: () => void = () => {};
      const busy = new Promise<void>((resolve) => release = resolve);
      const loop = (async () => {
        for await (const conn of listener) {
          const got = text(await readExactly(conn, 2));
          served.push(got);
          await conn.write(bytes(got));
          if (got === "q0") await busy; // the loop is busy while the others come
          conn.close();
        }
      })();
      const clients: Conn[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const c = await connect({ hostname: HOST, port: portOf(listener) });
          clients.push(c);
          await c.write(bytes(`q${i}`));
          if (i === 0) assert.equal(text(await readExactly(c, 2)), "q0");
        }
        for (let i = 0; i < 400 && listener.pending !== undefined && listener.pending < 2; i++) {
          await delay(5);
        }
        const draining = listener.drain({ timeout: 10_000 });
        release();
        await loop;
        await draining;
        if (listener.pending === undefined) {
          assert.deepEqual(served, ["q0"]); // Deno.listen leaves them in the kernel queue
        } else {
          assert.deepEqual(served, ["q0", "q1", "q2"]);
          for (let i = 1; i < 3; i++) assert.equal(text(await readExactly(clients[i], 2)), `q${i}`);
        }
        await assert.rejects(listener.accept(), ListenerClosedError);
      } finally {
        for (const c of clients) c.close();
      }
    },
  );

  t(
    "GracefulListener's accept loop, waiting with nothing accepted, ends quietly when a drain starts",
    async () => {
      const listener = wrap(await listen({ hostname: HOST, port: 0 }));
      let n = 0;
      const loop = (async () => {
        for await (const conn of listener) {
          n++;
          conn.close();
        }
      })();
      await delay(20);
      // Its iterator is iterable itself, as acceptAll()'s is.
      const it = listener[Symbol.asyncIterator]() as AsyncIterableIterator<GracefulConn>;
      assert.equal(it[Symbol.asyncIterator](), it);
      await listener.drain();
      await loop;
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      assert.equal(n, 0);
      assert.equal(listener.closed, true);
    },
  );

  t("GracefulListener's accept loop ends quietly when a drain starts (grace 0)", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 0 });
    const got: GracefulConn[] = [];
    const loop = (async () => {
      for await (const conn of listener) got.push(conn);
    })();
    const waiting = listener.accept();
    const client = await connect({ hostname: HOST, port: portOf(listener) });
    for (let i = 0; i < 200 && got.length === 0; i++) await delay(5);
    // Whoever got the connection, the drain closes it (idle) and ends the loop.
    await listener.drain();
    await loop;
    await waiting.then((c) => got.push(c), (err) => assert.ok(err instanceof ListenerClosedError));
    assert.equal(got.length, 1);
    assert.equal(got[0].closed, true);
    await assert.rejects(listener.accept(), ListenerClosedError);
    client.close();
  });

  t("GracefulConn streams go through the tracking", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }));
    const [conn, client] = await pair(listener);
    await using _k = client;
    const reader = conn.readable.getReader();
    await client.write(bytes("stream"));
    const { value } = await reader.read();
    assert.ok(value !== undefined && value.byteLength > 0);
    assert.equal(conn.state, "in-use");
    reader.releaseLock();
    const writer = conn.writable.getWriter();
    await writer.write(bytes("back"));
    assert.equal(text(await readExactly(client, 4)), "back");
    await writer.abort(); // closes the conn, through the tracking
    assert.equal(conn.state, "closed");
    assert.equal(listener.stats.closed, 1);
  });

  t("GracefulConn: a read on an idle conn closed by a drain rejects (grace 0)", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 0 });
    const [conn, client] = await pair(listener);
    await using _k = client;
    const reading = conn.read(new Uint8Array(8)); // idle, waiting for a request
    await listener.drain();
    await assert.rejects(reading, ClosedError);
    await assert.rejects(conn.read(new Uint8Array(8)), ClosedError);
  });

  t("GracefulListener and GracefulConn pass readiness through to the adapter", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 0 });
    assert.equal(typeof listener.whenAcceptable, "function");
    const acceptable = new Promise<string>((resolve) => listener.whenAcceptable!(resolve));
    await using client = await connect({ hostname: HOST, port: portOf(listener) });
    assert.equal(await acceptable, "ready");
    await using conn = await listener.accept();
    assert.equal(typeof conn.whenReadable, "function");
    assert.equal(typeof conn.whenWritable, "function");
    const readable = new Promise<string>((resolve) => conn.whenReadable!(resolve));
    await client.write(bytes("poll"));
    assert.equal(await readable, "data");
    assert.equal(conn.state, "idle", "readiness alone does not mark it in use");
    assert.equal(text(await readExactly(conn, 4)), "poll");
    assert.equal(conn.state, "in-use", "the read that follows does");
    assert.equal(await new Promise<string>((resolve) => conn.whenWritable!(resolve)), "ready");
  });

  t("GracefulListener passes the listener through: addr, pending, close, dispose", async () => {
    const inner = await listen({ hostname: HOST, port: 0 });
    const listener = wrap(inner);
    assert.deepEqual(listener.addr, inner.addr);
    assert.equal(listener.native, inner.native);
    assert.equal(listener.pending, inner.pending);
    assert.equal(listener.dropped, 0);
    assert.equal(listener.draining, false);
    await listener[Symbol.asyncDispose]();
    assert.equal(inner.closed, true);
    assert.equal(listener.closed, true);
    await assert.rejects(listener.accept(), ListenerClosedError);
  });

  t("wrap() validates its arguments", async () => {
    await using inner = await listen({ hostname: HOST, port: 0 });
    assert.throws(() => wrap(inner, "fast" as unknown as Mode), RangeError);
    assert.throws(() => wrap({} as unknown as typeof inner), TypeError);
    assert.throws(() => wrap(null as unknown as typeof inner), TypeError);
    assert.throws(() => wrap(inner, { grace: -1 }), RangeError);
    assert.throws(() => wrap(inner, { grace: Number.NaN }), RangeError);
    assert.throws(() => wrap(inner, { grace: "5" as unknown as number }), RangeError);
    assert.throws(() => wrap(inner, { mode: "fast" as unknown as Mode }), RangeError);
    assert.throws(() => wrap(inner, 5 as unknown as Mode), TypeError);
    assert.throws(() => wrap(inner, null as unknown as Mode), TypeError);
    assert.equal(wrap(inner).grace, 5000);
    assert.equal(wrap(inner, { grace: 0 }).grace, 0);
    assert.equal(wrap(inner, { grace: Infinity }).grace, Infinity);
  });

  t("wrap(): a new conn is fresh, in use until its first read brings data", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }));
    assert.equal(listener.grace, 5000);
    const [conn, client] = await pair(listener);
    await using _c = conn;
    await using _k = client;
    assert.equal(conn.state, "in-use");
    assert.equal(conn.fresh, true);
    assert.equal(listener.stats.fresh, 1);
    assert.equal(counts(listener.stats), "idle=0 inUse=1 disowned=0 total=1 accepted=1 closed=0");
    // Marking idle or setting a read deadline before the first read keeps it fresh.
    conn.markIdle();
    conn.setReadDeadline(null);
    await listener.closeIdle();
    assert.equal(conn.closed, false, "closeIdle() leaves a fresh conn alone");
    assert.equal(conn.fresh, true);
    await client.write(bytes("req"));
    assert.equal(text(await readExactly(conn, 3)), "req");
    assert.equal(conn.fresh, false);
    assert.equal(conn.state, "in-use", "Automatic: the data marks it in use");
    assert.equal(listener.stats.fresh, 0);
    conn.markIdle();
    assert.equal(conn.state, "idle");
  });

  t("wrap(): a first read that brings EOF or an error ends freshness, idle", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }));
    const [a, c1] = await pair(listener);
    const [b, c2] = await pair(listener);
    await using _a = a;
    await using _b = b;
    await c1.closeWrite();
    assert.equal(await a.read(new Uint8Array(8)), null);
    assert.equal(a.fresh, false);
    assert.equal(a.state, "idle");
    const reading = b.read(new Uint8Array(8));
    b.setReadDeadline(Date.now() + 20);
    await assert.rejects(reading);
    assert.equal(b.fresh, false);
    assert.equal(b.state, "idle");
    c1.close();
    c2.close();
  });

  t("GracefulListener.drain() does not cut a request sent to a conn not read yet", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }));
    const [conn, client] = await pair(listener);
    await using _k = client;
    await client.write(bytes("ping"));
    const draining = listener.drain({ timeout: 10_000 });
    await delay(50);
    assert.equal(conn.closed, false, "the drain waits for the fresh conn");
    assert.equal(listener.stats.fresh, 1);
    // The server gets to it late: the request is there and is answered.
    assert.equal(text(await readExactly(conn, 4)), "ping");
    await conn.write(bytes("pong"));
    conn.markIdle(); // answered: the drain closes it
    await draining;
    assert.equal(conn.state, "closed");
    assert.equal(text(await readExactly(client, 4)), "pong");
    assert.ok(await seesClose(client));
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=1 closed=1");
  });

  t("GracefulListener.drain() closes a fresh conn once its grace passes with no data", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }), { grace: 500 });
    const [silent, c1] = await pair(listener);
    const [busy, c2] = await pair(listener);
    await using _1 = c1;
    await using _2 = c2;
    busy.markInUse(); // still fresh: it stays in use once the grace passes
    assert.equal(busy.fresh, true);
    const draining = listener.drain({ timeout: 10_000 });
    assert.equal(silent.closed, false);
    for (let i = 0; i < 400 && !silent.closed; i++) await delay(5);
    assert.equal(silent.closed, true, "closed once its grace passed");
    assert.ok(await seesClose(c1));
    for (let i = 0; i < 400 && busy.fresh; i++) await delay(5); // accepted a little later
    assert.equal(busy.fresh, false);
    assert.equal(busy.state, "in-use", "marked in use while fresh");
    busy.markIdle();
    await draining;
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=2 closed=2");
  });

  t(
    "wrap() in Manual mode: a fresh conn's first read leaves the state markIdle()/markInUse() gave",
    async () => {
      await using listener = wrap(await listen({ hostname: HOST, port: 0 }), Mode.Manual);
      const [a, c1] = await pair(listener);
      const [b, c2] = await pair(listener);
      await using _a = a;
      await using _b = b;
      await using _1 = c1;
      await using _2 = c2;
      assert.equal(a.state, "in-use");
      assert.equal(b.state, "in-use");
      b.markInUse();
      await c1.write(bytes("x"));
      await c2.write(bytes("y"));
      await readExactly(a, 1);
      await readExactly(b, 1);
      assert.equal(a.state, "idle", "Manual: data alone does not mark in use");
      assert.equal(b.state, "in-use");
      assert.equal(counts(listener.stats), "idle=1 inUse=1 disowned=0 total=2 accepted=2 closed=0");
    },
  );

  t("GracefulConn: disowning or closing a fresh conn ends its freshness", async () => {
    await using listener = wrap(await listen({ hostname: HOST, port: 0 }));
    const [a, c1] = await pair(listener);
    const [b, c2] = await pair(listener);
    await using _1 = c1;
    await using _2 = c2;
    a.disown();
    assert.equal(a.fresh, false);
    assert.equal(a.state, "disowned");
    b.close();
    assert.equal(b.fresh, false);
    assert.equal(b.state, "closed");
    assert.equal(listener.stats.fresh, 0);
    a.close();
    assert.equal(counts(listener.stats), "idle=0 inUse=0 disowned=0 total=0 accepted=2 closed=2");
  });

  t(
    "GracefulListener.drain() serves the conns the runtime had accepted instead of resetting them",
    async () => {
      const listener = wrap(await listen({ hostname: HOST, port: 0 }));
      const N = 5;
      const clients: Conn[] = [];
      try {
        for (let i = 0; i < N; i++) {
          const c = await connect({ hostname: HOST, port: portOf(listener) });
          clients.push(c);
          await c.write(bytes(`q${i}`));
        }
        // node:net and Bun accept eagerly: wait until the runtime holds all of them.
        for (let i = 0; i < 400 && listener.pending !== undefined && listener.pending < N; i++) {
          await delay(5);
        }
        if (listener.pending !== undefined) assert.equal(listener.pending, N);
        const draining = listener.drain({ timeout: 10_000 });
        let served = 0;
        for await (const conn of listener) {
          assert.equal(conn.fresh, true);
          const got = await readExactly(conn, 2);
          await conn.write(got);
          conn.close();
          served++;
        }
        await draining;
        if (listener.pending === undefined) {
          // Deno.listen leaves them in the kernel queue: closing the socket resets them.
          assert.equal(served, 0);
        } else {
          assert.equal(served, N);
          for (let i = 0; i < N; i++) {
            assert.equal(text(await readExactly(clients[i], 2)), `q${i}`);
          }
        }
      } finally {
        for (const c of clients) c.close();
      }
    },
  );

  t("GracefulListener.drainAll() closes the conns the runtime had accepted too", async () => {
    const listener = wrap(await listen({ hostname: HOST, port: 0 }));
    const clients: Conn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        clients.push(await connect({ hostname: HOST, port: portOf(listener) }));
      }
      for (let i = 0; i < 400 && listener.pending !== undefined && listener.pending < 3; i++) {
        await delay(5);
      }
      await listener.drainAll();
      await assert.rejects(listener.accept(), ListenerClosedError);
      for (const c of clients) assert.ok(await seesClose(c));
      assert.equal(listener.stats.total, 0);
      assert.equal(listener.stats.accepted, listener.stats.closed);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

interface TestEntry extends Entry {
  readonly id: number;
}

function entry(id: number): TestEntry {
  return newEntry({ id });
}

test("Tracker keeps exact counts and order through closes, settles and disowns in any order", () => {
  const shut: number[] = [];
  const tracker: Tracker<TestEntry> = new Tracker<TestEntry>((e) => {
    shut.push(e.id);
    tracker.gone(e);
  }, 60_000);
  const e = [0, 1, 2, 3, 4, 5].map(entry);
  for (const x of e) tracker.add(x);
  assert.equal(tracker.stats().fresh, 6);
  tracker.settle(e[2], true); // data came: stays in use
  tracker.settle(e[4], false); // EOF: idle
  tracker.gone(e[0]); // the oldest
  tracker.gone(e[5]); // the newest
  tracker.disown(e[3]);
  assert.deepEqual(tracker.stats(), {
    idle: 1,
    inUse: 2,
    fresh: 1,
    disowned: 1,
    total: 4,
    accepted: 6,
    closed: 2,
  });
  // A closed or disowned entry keeps no link to the others (nothing old names a young conn).
  for (const x of [e[0], e[3], e[5]]) assert.deepEqual([x.older, x.newer], [null, null]);
  tracker.closeIdle();
  assert.deepEqual(shut, [4]);
  const late = entry(6);
  tracker.add(late);
  assert.equal(tracker.closeAll(), 3);
  assert.deepEqual(shut, [4, 1, 2, 6], "oldest first");
  assert.equal(tracker.tracked, 0);
  tracker.gone(e[3]);
  assert.deepEqual(tracker.stats(), {
    idle: 0,
    inUse: 0,
    fresh: 0,
    disowned: 0,
    total: 0,
    accepted: 7,
    closed: 7,
  });
});

test("Tracker ends the freshness of the entries whose grace passed, oldest first", async () => {
  const tracker = new Tracker<TestEntry>((e) => tracker.gone(e), 1);
  const [a, b, c, d] = [0, 1, 2, 3].map(entry);
  for (const x of [a, b, c, d]) tracker.add(x);
  tracker.settle(b, true);
  tracker.gone(a);
  tracker.markInUse(d); // held: in use once its grace passes
  await delay(20);
  assert.deepEqual(tracker.stats(), {
    idle: 1,
    inUse: 2,
    fresh: 0,
    disowned: 0,
    total: 3,
    accepted: 4,
    closed: 1,
  });
  assert.deepEqual([b.state, c.state, d.state], ["in-use", "idle", "in-use"]);
  // New fresh entries after the old ones expired are found again.
  const e = entry(4);
  tracker.add(e);
  assert.equal(tracker.stats().fresh, 1);
  await delay(20);
  assert.equal(tracker.stats().fresh, 0);
  assert.equal(e.state, "idle");
  tracker.closeAll();
  assert.equal(tracker.tracked, 0);
});
