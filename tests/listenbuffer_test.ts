// Tests of @netkit/netkit/listenbuffer. Every test runs once per adapter this
// runtime has: on Deno, waiting conns sit in the kernel backlog (native) or
// in the adapter's queue (node:net); on Bun and Node, in the adapter's queue.
import assert from "node:assert/strict";
import { type BufferedListener, listenBuffer } from "../src/listenbuffer/mod.ts";
import { type Conn, connect, ListenerClosedError, TimeoutError } from "../src/runtime/mod.ts";
import {
  bytes,
  delay,
  forEachAdapter,
  HOST,
  portOf,
  readExactly,
  seesClose,
  text,
  until,
} from "./_harness.ts";

/** Whether `p` settled within a few event-loop turns. */
async function settledSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await delay(50);
  return settled;
}

forEachAdapter((t, adapter) => {
  t(
    "listenBuffer() serves 100 connections made before activation, all, in arrival order",
    async () => {
      const ready = new AbortController();
      await using listener = await listenBuffer(
        { hostname: HOST, port: 0 },
        ready.signal,
      );
      assert.equal(listener.activated, false);
      const clients: Conn[] = [];
      try {
        for (let i = 0; i < 100; i++) {
          const client = await connect({
            hostname: HOST,
            port: portOf(listener),
          });
          clients.push(client);
          await client.write(bytes(String(i).padStart(3, "0")));
        }
        // Ten accepts wait before activation; they must not be served early.
        const early = Array.from({ length: 10 }, () => listener.accept());
        assert.equal(await settledSoon(early[0]), false);
        if (listener.pending !== undefined) {
          await until(() => listener.pending === 100, "100 queued connections");
        }
        assert.equal(listener.dropped, 0);

        ready.abort();
        assert.equal(listener.activated, true);
        const late = Array.from({ length: 90 }, () => listener.accept());
        const conns = await Promise.all([...early, ...late]);
        try {
          for (let i = 0; i < 100; i++) {
            assert.equal(
              text(await readExactly(conns[i], 3)),
              String(i).padStart(3, "0"),
            );
            await conns[i].write(bytes(`ok${i}`));
          }
          for (let i = 0; i < 100; i++) {
            assert.equal(
              text(await readExactly(clients[i], `ok${i}`.length)),
              `ok${i}`,
            );
          }
        } finally {
          for (const c of conns) c.close();
        }
        if (listener.pending !== undefined) assert.equal(listener.pending, 0);
      } finally {
        for (const c of clients) c.close();
      }
    },
  );

  t(
    "listenBuffer() activates when the promise settles, even rejected",
    async () => {
      let fail!: (err: Error) => void;
      const warmUp = new Promise<void>((_, reject) => (fail = reject));
      await using listener = await listenBuffer(
        { hostname: HOST, port: 0 },
        warmUp,
      );
      const accepted = listener.accept();
      await using client = await connect({
        hostname: HOST,
        port: portOf(listener),
      });
      assert.equal(await settledSoon(accepted), false);
      fail(new Error("warm-up failed"));
      await using conn = await accepted;
      assert.equal(listener.activated, true);
      await client.write(bytes("x"));
      assert.equal(text(await readExactly(conn, 1)), "x");
    },
  );

  t(
    "BufferedListener.activate() activates; an aborted signal activates at once",
    async () => {
      await using manual = await listenBuffer({ hostname: HOST, port: 0 });
      const accepted = manual.accept();
      await using _client = await connect({
        hostname: HOST,
        port: portOf(manual),
      });
      assert.equal(await settledSoon(accepted), false);
      manual.activate();
      manual.activate(); // idempotent
      await using conn = await accepted;
      assert.equal(conn.closed, false);

      await using now = await listenBuffer(
        { hostname: HOST, port: 0 },
        AbortSignal.abort(),
      );
      assert.equal(now.activated, true);
      const next = now.accept();
      await using c2 = await connect({ hostname: HOST, port: portOf(now) });
      await using s2 = await next;
      await c2.write(bytes("y"));
      assert.equal(text(await readExactly(s2, 1)), "y");
    },
  );

  t(
    "BufferedListener.close() before activation wakes every accept() and closes queued conns",
    async () => {
      const listener = await listenBuffer(
        { hostname: HOST, port: 0 },
        new AbortController().signal,
      );
      const waiting = [listener.accept(), listener.accept(), listener.accept()];
      const client = await connect({ hostname: HOST, port: portOf(listener) });
      try {
        await client.write(bytes("lost?"));
        if (listener.pending !== undefined) {
          await until(() => listener.pending === 1, "queued conn");
        }
        await listener.close();
        for (const p of waiting) {
          await assert.rejects(p, ListenerClosedError);
        }
        await assert.rejects(listener.accept(), ListenerClosedError);
        assert.equal(listener.closed, true);
        listener.activate(); // no effect once closed
        assert.equal(listener.activated, false);
        assert.ok(
          await seesClose(client),
          "the queued client sees its connection closed",
        );
        // An accept loop ends quietly.
        for await (const _ of listener) assert.fail("accepted after close");
      } finally {
        client.close();
      }
    },
  );

  t("BufferedListener.accept() before activation can be aborted", async () => {
    await using listener = await listenBuffer({ hostname: HOST, port: 0 });
    const ac = new AbortController();
    const aborted = listener.accept({ signal: ac.signal });
    const kept = listener.accept();
    ac.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    await assert.rejects(listener.accept({ signal: ac.signal }), /gave up/);
    listener.activate();
    await using client = await connect({
      hostname: HOST,
      port: portOf(listener),
    });
    await using conn = await kept;
    await client.write(bytes("z"));
    assert.equal(text(await readExactly(conn, 1)), "z");
  });

  t(
    "listenBuffer() closes on activation timeout: accepts reject with TimeoutError",
    async () => {
      const listener: BufferedListener = await listenBuffer(
        { hostname: HOST, port: 0, timeout: 100 },
        new AbortController().signal,
      );
      const waiting = listener.accept();
      const client = await connect({ hostname: HOST, port: portOf(listener) });
      try {
        await client.write(bytes("hello?"));
        await assert.rejects(waiting, TimeoutError);
        assert.equal(listener.closed, true);
        await assert.rejects(listener.accept(), TimeoutError);
        assert.ok(
          await seesClose(client),
          "the waiting client sees its connection closed",
        );
        await listener.close(); // idempotent, and still a TimeoutError after
        await assert.rejects(listener.accept(), TimeoutError);
      } finally {
        client.close();
      }
    },
  );

  t("listenBuffer() timeout does not fire once activated", async () => {
    await using listener = await listenBuffer({
      hostname: HOST,
      port: 0,
      timeout: 50,
    });
    listener.activate();
    await delay(120);
    assert.equal(listener.closed, false);
    const accepted = listener.accept();
    await using client = await connect({
      hostname: HOST,
      port: portOf(listener),
    });
    await using conn = await accepted;
    await client.write(bytes("k"));
    assert.equal(text(await readExactly(conn, 1)), "k");
  });

  t(
    "listenBuffer() bounds its queue by backlog: conns past it are closed and counted",
    async () => {
      const ready = new AbortController();
      await using listener = await listenBuffer(
        { hostname: HOST, port: 0, backlog: 5 },
        ready.signal,
      );
      const clients: Conn[] = [];
      try {
        for (let i = 0; i < 8; i++) {
          const client = await connect({
            hostname: HOST,
            port: portOf(listener),
          });
          clients.push(client);
          await client.write(bytes(String(i)));
          // One at a time, so that arrival order is the loop's order.
          await until(
            () => (listener.pending ?? 0) + listener.dropped === i + 1,
            `conn ${i}`,
          );
        }
        assert.equal(listener.pending, 5);
        assert.equal(listener.dropped, 3);
        for (let i = 5; i < 8; i++) {
          assert.ok(await seesClose(clients[i]), `client ${i} closed`);
        }
        ready.abort();
        for (let i = 0; i < 5; i++) {
          await using conn = await listener.accept();
          assert.equal(text(await readExactly(conn, 1)), String(i));
        }
        assert.equal(listener.pending, 0);
      } finally {
        for (const c of clients) c.close();
      }
    },
    adapter === "deno"
      ? "Deno: connections wait in the kernel backlog, which delays clients past the bound instead of closing them"
      : undefined,
  );

  t(
    "listenBuffer() past the kernel backlog delays clients, loses none (Deno)",
    async () => {
      const ready = new AbortController();
      await using listener = await listenBuffer(
        { hostname: HOST, port: 0, backlog: 2 },
        ready.signal,
      );
      assert.equal(listener.pending, undefined);
      // Six clients against an accept queue of backlog + 1 = 3: the kernel
      // drops the other SYNs; those clients retry and connect after activation.
      const clients = Array.from({ length: 6 }, async (_, i) => {
        const client = await connect({
          hostname: HOST,
          port: portOf(listener),
        });
        await client.write(bytes(String(i)));
        return client;
      });
      await delay(100);
      ready.abort();
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        await using conn = await listener.accept();
        const got = text(await readExactly(conn, 1));
        seen.add(got);
        await conn.write(bytes(got));
      }
      for (const p of clients) {
        await using client = await p;
        await readExactly(client, 1);
      }
      assert.equal(seen.size, 6);
    },
    adapter === "deno" ? undefined : "node:net and Bun accept eagerly into a userland queue",
  );

  t("BufferedListener.whenAcceptable() reports nothing before activation", async () => {
    const listener = await listenBuffer({ hostname: HOST, port: 0 });
    assert.equal(typeof listener.whenAcceptable, "function");
    const states: string[] = [];
    listener.whenAcceptable!((state) => states.push(state));
    const client = await connect({ hostname: HOST, port: portOf(listener) });
    try {
      await client.write(bytes("r"));
      if (listener.pending !== undefined) await until(() => listener.pending === 1, "queued");
      await delay(50);
      assert.deepEqual(states, [], "not ready before activation");
      listener.activate();
      await until(() => states.length === 1, "readiness after activation");
      assert.deepEqual(states, ["ready"]);
      await using conn = await listener.accept();
      assert.equal(text(await readExactly(conn, 1)), "r");
      // A watch set before activation hears "closed" when the listener closes.
      const other = await listenBuffer({ hostname: HOST, port: 0 });
      const closedStates: string[] = [];
      other.whenAcceptable!((state) => closedStates.push(state));
      await other.close();
      await until(() => closedStates.length === 1, "closed readiness");
      assert.deepEqual(closedStates, ["closed"]);
    } finally {
      client.close();
      await listener.close();
    }
  });

  t("listenBuffer() validates its arguments", async () => {
    await assert.rejects(
      listenBuffer({ hostname: HOST, port: 0 }, 42 as unknown as AbortSignal),
      TypeError,
    );
    await assert.rejects(
      listenBuffer({ hostname: HOST, port: 0, timeout: -1 }),
      RangeError,
    );
    await assert.rejects(
      listenBuffer({ hostname: HOST, port: 0, timeout: NaN }),
      RangeError,
    );
    await assert.rejects(
      listenBuffer(null as unknown as { port: number }),
      TypeError,
    );
    await assert.rejects(
      listenBuffer({ hostname: HOST, port: 70000 }),
      RangeError,
    );
  });
});
