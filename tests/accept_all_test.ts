// Tests of acceptAll() (runtime entry): it ends when the listener closes or
// its signal aborts, throws failed accepts, or with onError reports them and
// goes on accepting after a backoff.
import assert from "node:assert/strict";
import {
  acceptAll,
  type AcceptAllOptions,
  connect,
  listen,
  ListenerClosedError,
} from "../src/runtime/mod.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { adapters, portOf, test } from "./_harness.ts";

/** A listener whose accept() answers from a script: a value, or an error to reject with. */
class ScriptedListener {
  closed = false;
  calls = 0;
  signals: (AbortSignal | undefined)[] = [];
  readonly #script: (string | Error)[];

  constructor(script: (string | Error)[]) {
    this.#script = script;
  }

  accept(options?: { signal?: AbortSignal }): Promise<string> {
    this.calls++;
    this.signals.push(options?.signal);
    const next = this.#script.shift() ??
      new ListenerClosedError("Cannot accept: the listener is closed");
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
}

async function collect(
  listener: ScriptedListener,
  options?: AcceptAllOptions,
): Promise<string[]> {
  const got: string[] = [];
  for await (const conn of acceptAll(listener, options)) got.push(conn);
  return got;
}

test("acceptAll() yields each accepted connection and ends when the listener closes", async () => {
  const listener = new ScriptedListener(["a", "b"]);
  assert.deepEqual(await collect(listener), ["a", "b"]);
  assert.equal(listener.calls, 3);
  assert.deepEqual(listener.signals, [undefined, undefined, undefined]);
});

test("acceptAll() throws a failed accept when no onError is given", async () => {
  const boom = new Error("boom");
  const listener = new ScriptedListener(["a", boom, "b"]);
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const conn of acceptAll(listener)) got.push(conn);
  }, boom);
  assert.deepEqual(got, ["a"]);
});

test("acceptAll() with onError reports failed accepts and goes on accepting", async () => {
  const first = new Error("out of fds");
  const second = new Error("out of fds again");
  const listener = new ScriptedListener([first, second, "a", new Error("third"), "b"]);
  const errors: unknown[] = [];
  const got = await collect(listener, { onError: (err) => errors.push(err) });
  assert.deepEqual(got, ["a", "b"]);
  assert.equal(errors.length, 3);
  assert.equal(errors[0], first);
  assert.equal(errors[1], second);
  assert.equal((errors[2] as Error).message, "third");
});

test("acceptAll() with onError ends without reporting once the listener is closed", async () => {
  const listener = new ScriptedListener(["a"]);
  const errors: unknown[] = [];
  const stream = acceptAll(listener, { onError: (err) => errors.push(err) });
  assert.deepEqual(await stream.next(), { value: "a", done: false });
  listener.closed = true;
  (listener as unknown as { accept(): Promise<string> }).accept = () =>
    Promise.reject(new Error("bad file descriptor"));
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
  assert.deepEqual(errors, []);
});

test("acceptAll() passes its signal to accept() and ends when it aborts during a backoff", async () => {
  const stop = new AbortController();
  const listener = new ScriptedListener(
    Array.from({ length: 100 }, () => new Error("failing")),
  );
  const errors: unknown[] = [];
  const got = await collect(listener, {
    signal: stop.signal,
    onError: (err) => {
      errors.push(err);
      if (errors.length === 2) stop.abort();
    },
  });
  assert.deepEqual(got, []);
  assert.equal(errors.length, 2);
  assert.equal(listener.calls, 2);
  assert.ok(listener.signals.every((s) => s === stop.signal));
});

test("acceptAll() does not accept with a signal that aborted already", async () => {
  const listener = new ScriptedListener(["a"]);
  assert.deepEqual(await collect(listener, { signal: AbortSignal.abort() }), []);
  assert.equal(listener.calls, 0);
});

for (const adapter of adapters) {
  const on = `(${adapter} adapter)`;

  test(`acceptAll() serves a listener until it closes ${on}`, async () => {
    const before = useRuntime(adapter);
    try {
      const listener = await listen({ hostname: "127.0.0.1", port: 0 });
      let served = 0;
      const serving = (async () => {
        for await (const conn of acceptAll(listener)) {
          served++;
          conn.close();
        }
      })();
      const client = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
      const buf = new Uint8Array(1);
      assert.equal(await client.read(buf), null); // the server closed it
      client.close();
      await listener.close();
      await serving;
      assert.equal(served, 1);
    } finally {
      useRuntime(before);
    }
  });

  test(`a listener's own iterator answers overlapping next() calls in order, hands a conn to a next() made before return(), and ends at close ${on}`, async () => {
    const before = useRuntime(adapter);
    try {
      const listener = await listen({ hostname: "127.0.0.1", port: 0 });
      const it = listener[Symbol.asyncIterator]();
      const first = it.next();
      const second = it.next();
      const a = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
      const got1 = await first;
      const b = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
      const got2 = await second;
      assert.equal(got1.done, false);
      assert.equal(got2.done, false);
      // In order: the first next() has the first client's conn.
      const c1 = got1.value!, c2 = got2.value!;
      assert.deepEqual(c1.remoteAddr, a.localAddr);
      assert.deepEqual(c2.remoteAddr, b.localAddr);
      // return() while a next() waits: the conn that comes is still handed out.
      const third = it.next();
      assert.deepEqual(await it.return!(), { done: true, value: undefined });
      const c = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
      const got3 = await third;
      assert.equal(got3.done, false);
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      // A fresh iterator's waiting next() ends, without an error, when the listener closes.
      const again = listener[Symbol.asyncIterator]();
      const waiting = again.next();
      await listener.close();
      assert.deepEqual(await waiting, { done: true, value: undefined });
      assert.deepEqual(await again.next(), { done: true, value: undefined });
      for (const conn of [c1, c2, got3.value!, a, b, c]) conn.close();
    } finally {
      useRuntime(before);
    }
  });

  test(`acceptAll() ends when its signal aborts and leaves the listener open ${on}`, async () => {
    const before = useRuntime(adapter);
    try {
      await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
      const stop = new AbortController();
      const errors: unknown[] = [];
      const serving = (async () => {
        const options = { signal: stop.signal, onError: (err: unknown) => errors.push(err) };
        for await (const conn of acceptAll(listener, options)) conn.close();
      })();
      stop.abort();
      await serving;
      assert.equal(listener.closed, false);
      assert.deepEqual(errors, []);
    } finally {
      useRuntime(before);
    }
  });
}
