// Tests of the wrapper base classes ConnWrapper and ListenerWrapper (runtime
// entry): every member forwards; overrides are seen by streams, iteration,
// setDeadline and asyncDispose.
import assert from "node:assert/strict";
import {
  type AcceptReadiness,
  type Conn,
  connect,
  ConnWrapper,
  type Deadline,
  listen,
  type Listener,
  ListenerWrapper,
} from "../src/runtime/mod.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { adapters, bytes, pair, portOf, test, text } from "./_harness.ts";

class Upper extends ConnWrapper {
  deadlines: Deadline[] = [];
  closes = 0;
  override async read(buf: Uint8Array): Promise<number | null> {
    const n = await super.read(buf);
    if (n !== null) {
      for (let i = 0; i < n; i++) if (buf[i] >= 97 && buf[i] <= 122) buf[i] -= 32;
    }
    return n;
  }
  override setReadDeadline(deadline: Deadline): void {
    this.deadlines.push(deadline);
    super.setReadDeadline(deadline);
  }
  override close(): void {
    this.closes++;
    super.close();
  }
}

class Wrapping extends ListenerWrapper {
  accepted = 0;
  override async accept(): Promise<Conn> {
    const conn = await super.accept();
    this.accepted++;
    return new Upper(conn);
  }
}

for (const adapter of adapters) {
  const on = `(${adapter} adapter)`;

  test(`ConnWrapper forwards every member and its streams use the overrides ${on}`, async () => {
    const before = useRuntime(adapter);
    try {
      await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
      const [inner, client] = await pair(listener);
      const conn = new Upper(inner);
      assert.equal(conn.inner, inner);
      assert.deepEqual(conn.localAddr, inner.localAddr);
      assert.deepEqual(conn.remoteAddr, inner.remoteAddr);
      assert.equal(conn.native, inner.native);
      assert.equal(conn.fd, inner.fd);
      assert.equal(typeof conn.whenReadable, typeof inner.whenReadable);
      conn.setNoDelay(true);
      conn.setKeepAlive(true, 1000);
      await client.write(bytes("abc"));
      const reader = conn.readable.getReader();
      const { value } = await reader.read();
      assert.equal(text(value!), "ABC");
      reader.releaseLock();
      const writer = conn.writable.getWriter();
      await writer.write(bytes("xyz"));
      writer.releaseLock();
      const buf = new Uint8Array(8);
      const n = await client.read(buf);
      assert.equal(text(buf.subarray(0, n!)), "xyz");
      conn.setDeadline(null);
      assert.deepEqual(conn.deadlines, [null]);
      await conn[Symbol.asyncDispose]();
      assert.equal(conn.closes, 1);
      assert.equal(conn.closed, true);
      assert.equal(inner.closed, true);
      client.close();
    } finally {
      useRuntime(before);
    }
  });

  test(`ListenerWrapper forwards every member and iterates its own accept() ${on}`, async () => {
    const before = useRuntime(adapter);
    try {
      const inner = await listen({ hostname: "127.0.0.1", port: 0 });
      const listener = new Wrapping(inner);
      assert.deepEqual(listener.addr, inner.addr);
      assert.equal(listener.native, inner.native);
      assert.equal(listener.fd, inner.fd);
      assert.equal(listener.pending, inner.pending);
      assert.equal(listener.dropped, 0);
      assert.equal(typeof listener.whenAcceptable, typeof inner.whenAcceptable);
      const [first, client] = await pair(listener);
      assert.ok(first instanceof Upper);
      first.close();
      assert.equal(listener.accepted, 1);
      const served = (async () => {
        for await (const conn of listener) {
          assert.ok(conn instanceof Upper);
          conn.close();
        }
      })();
      const client2 = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
      // The loop closes it: EOF (or a reset) here.
      assert.equal(await client2.read(new Uint8Array(4)).catch(() => null), null);
      assert.equal(listener.accepted, 2);
      await listener[Symbol.asyncDispose]();
      assert.equal(listener.closed, true);
      await served;
      client.close();
      client2.close();
    } finally {
      useRuntime(before);
    }
  });
}

test("ConnWrapper and ListenerWrapper reject what is not a Conn or Listener", () => {
  assert.throws(() => new ConnWrapper({} as Conn), TypeError);
  assert.throws(() => new ListenerWrapper(null as never), TypeError);
});

test("ConnWrapper forwards tls; readiness and overrides of it exist only where the wrapped object has it", () => {
  const tls = { protocol: "TLSv1.3", alpnProtocol: undefined, authorized: false };
  const plain = { read() {}, write() {}, tls } as unknown as Conn;
  const conn = new ConnWrapper(plain);
  assert.equal(conn.tls, tls);
  assert.equal(conn.whenReadable, undefined);
  assert.equal(conn.whenWritable, undefined);
  const seen: string[] = [];
  class Watching extends ListenerWrapper {
    override whenAcceptable(_callback: ((state: AcceptReadiness) => void) | null): void {
      seen.push("override");
    }
  }
  const bare = { accept() {}, close() {} } as unknown as Listener;
  assert.equal(new Watching(bare).whenAcceptable, undefined);
  assert.equal(new ListenerWrapper(bare).whenAcceptable, undefined);
  const ready = { accept() {}, close() {}, whenAcceptable: () => seen.push("inner") };
  new Watching(ready as unknown as Listener).whenAcceptable!(null);
  new ListenerWrapper(ready as unknown as Listener).whenAcceptable!(null);
  assert.deepEqual(seen, ["override", "inner"]);
});
