import { test } from "node:test";
import assert from "node:assert/strict";
import { Channel, ChannelClosedError, select } from "../src/chan/mod.ts";

/** Lets every pending promise callback and a timer turn run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has settled, without leaving it unhandled. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  promise.then(() => {
    settled = true;
  }, () => {
    settled = true;
  });
  return { settled: () => settled, promise };
}

function isClosedError(err: unknown): boolean {
  return err instanceof ChannelClosedError && err.name === "ChannelClosedError";
}

// --- construction and arguments ---------------------------------------------

test("new Channel() makes a rendezvous channel by default", () => {
  const ch = new Channel<number>();
  assert.equal(ch.capacity, 0);
  assert.equal(ch.size, 0);
  assert.equal(ch.closed, false);
  assert.equal(new Channel<number>(5).capacity, 5);
});

test("new Channel() throws RangeError for a capacity out of range", () => {
  assert.throws(() => new Channel(-1), {
    name: "RangeError",
    message: "Cannot create channel: capacity must be a non-negative integer, received -1",
  });
  for (const bad of [1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
    assert.throws(() => new Channel(bad), RangeError);
  }
});

test("new Channel() throws TypeError for a capacity that is not a number", () => {
  assert.throws(() => new Channel("3" as unknown as number), {
    name: "TypeError",
    message: "Cannot create channel: capacity must be a number, received string",
  });
  assert.throws(() => new Channel(null as unknown as number), TypeError);
});

test("Channel.send() and Channel.receive() throw TypeError for bad options", () => {
  const ch = new Channel<number>();
  assert.throws(() => ch.send(1, 5 as unknown as { signal?: AbortSignal }), TypeError);
  assert.throws(() => ch.send(1, { signal: {} as AbortSignal }), {
    name: "TypeError",
    message: "Cannot send: signal must be an AbortSignal, received [object Object]",
  });
  assert.throws(() => ch.receive(null as unknown as { signal?: AbortSignal }), TypeError);
  assert.throws(() => ch.receive({ signal: "x" as unknown as AbortSignal }), {
    name: "TypeError",
    message: "Cannot receive: signal must be an AbortSignal, received x",
  });
  assert.equal(ch.trySend(1), false); // nothing was queued by the failed calls
});

test("select() throws TypeError for bad cases and options", () => {
  const ch = new Channel<number>(1);
  const sel = select as (cases: unknown, options?: unknown) => Promise<unknown>;
  assert.throws(() => sel("nope"), {
    name: "TypeError",
    message: "Cannot select: cases must be an array, received nope",
  });
  assert.throws(() => sel([null]), TypeError);
  assert.throws(() => sel([{}]), {
    name: "TypeError",
    message: 'Cannot select: case 0 must have exactly one of "send" and "receive"',
  });
  assert.throws(() => sel([{ receive: ch, send: ch, value: 1 }]), TypeError);
  assert.throws(() => sel([{ receive: ch }, { receive: {} }]), {
    name: "TypeError",
    message: 'Cannot select: case 1 must have a Channel as "receive", received [object Object]',
  });
  assert.throws(() => sel([{ receive: ch }], { default: "yes" }), TypeError);
  assert.throws(() => sel([{ receive: ch }], { signal: 1 }), TypeError);
  assert.throws(() => sel([{ receive: ch }], 1), TypeError);
  assert.equal(ch.trySend(1), true); // nothing was queued by the failed calls
});

// --- rendezvous -------------------------------------------------------------

test("Channel.send() on a rendezvous channel waits until a receiver takes the value", async () => {
  const ch = new Channel<string>();
  const sent = track(ch.send("a"));
  await flush();
  assert.equal(sent.settled(), false);
  assert.equal(ch.size, 0);
  assert.equal(await ch.receive(), "a");
  await sent.promise;
});

test("Channel.send() on a rendezvous channel hands the value to a waiting receiver", async () => {
  const ch = new Channel<string>();
  const received = ch.receive();
  await ch.send("b");
  assert.equal(await received, "b");
  assert.equal(ch.size, 0);
});

test("Channel.trySend() on a rendezvous channel succeeds only with a waiting receiver", async () => {
  const ch = new Channel<number>();
  assert.equal(ch.trySend(1), false);
  const received = ch.receive();
  assert.equal(ch.trySend(2), true);
  assert.equal(ch.trySend(3), false);
  assert.equal(await received, 2);
});

test("Channel.tryReceive() on a rendezvous channel takes a waiting sender's value", async () => {
  const ch = new Channel<number>();
  assert.deepEqual(ch.tryReceive(), { state: "empty" });
  const sent = ch.send(4);
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 4 });
  await sent;
  assert.deepEqual(ch.tryReceive(), { state: "empty" });
});

test("Channel carries undefined as a value", async () => {
  const ch = new Channel<undefined>(1);
  await ch.send(undefined);
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: undefined });
  const received = ch.receive();
  await ch.send(undefined);
  assert.equal(await received, undefined);
});

// --- buffering and FIFO -----------------------------------------------------

test("Channel.receive() returns buffered values in FIFO order", async () => {
  const ch = new Channel<number>(3);
  await ch.send(1);
  await ch.send(2);
  await ch.send(3);
  assert.equal(ch.size, 3);
  assert.equal(await ch.receive(), 1);
  assert.equal(await ch.receive(), 2);
  assert.equal(await ch.receive(), 3);
  assert.equal(ch.size, 0);
});

test("Channel.send() on a full buffer waits until a value is received", async () => {
  const ch = new Channel<number>(1);
  await ch.send(1);
  assert.equal(ch.trySend(9), false);
  const sent = track(ch.send(2));
  await flush();
  assert.equal(sent.settled(), false);
  assert.equal(await ch.receive(), 1);
  await sent.promise; // its value moved into the buffer
  assert.equal(ch.size, 1);
  assert.equal(await ch.receive(), 2);
});

test("Channel.send() serves waiting senders in FIFO order", async () => {
  for (const capacity of [0, 2]) {
    const ch = new Channel<number>(capacity);
    for (let i = 0; i < capacity; i++) await ch.send(-1);
    const order: number[] = [];
    const senders = [1, 2, 3, 4].map((n) => ch.send(n).then(() => order.push(n)));
    const received: number[] = [];
    for (let i = 0; i < capacity + 4; i++) received.push(await ch.receive());
    await Promise.all(senders);
    assert.deepEqual(received.filter((n) => n > 0), [1, 2, 3, 4]);
    assert.deepEqual(order, [1, 2, 3, 4]);
  }
});

test("Channel.receive() serves waiting receivers in FIFO order", async () => {
  for (const capacity of [0, 2]) {
    const ch = new Channel<string>(capacity);
    const receivers = [ch.receive(), ch.receive(), ch.receive()];
    await ch.send("x");
    await ch.send("y");
    await ch.send("z");
    assert.deepEqual(await Promise.all(receivers), ["x", "y", "z"]);
  }
});

test("Channel.trySend() and Channel.tryReceive() do not wait", async () => {
  const ch = new Channel<number>(2);
  assert.equal(ch.trySend(1), true);
  assert.equal(ch.trySend(2), true);
  assert.equal(ch.trySend(3), false);
  assert.equal(ch.size, 2);
  const sent = ch.send(3); // waits for space
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 1 });
  await sent;
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 2 });
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 3 });
  assert.deepEqual(ch.tryReceive(), { state: "empty" });
  ch.close();
  assert.deepEqual(ch.tryReceive(), { state: "closed" });
});

test("Channel keeps FIFO order across ring buffer wrap-around and growth", async () => {
  const ch = new Channel<number>(100);
  const expected: number[] = [];
  const received: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    const pushes = (round * 7) % 13 + 1;
    for (let i = 0; i < pushes && ch.size < ch.capacity; i++) {
      expected.push(next);
      assert.equal(ch.trySend(next++), true);
    }
    const pops = (round * 5) % 11;
    for (let i = 0; i < pops && ch.size > 0; i++) received.push(await ch.receive());
  }
  for (let r = ch.tryReceive(); r.state === "ok"; r = ch.tryReceive()) received.push(r.value);
  assert.deepEqual(received, expected);
});

// --- close ------------------------------------------------------------------

test("Channel.close() lets receivers drain buffered values, then rejects them", async () => {
  const ch = new Channel<number>(2);
  await ch.send(1);
  await ch.send(2);
  ch.close();
  assert.equal(ch.closed, true);
  assert.equal(ch.size, 2);
  assert.equal(await ch.receive(), 1);
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 2 });
  await assert.rejects(ch.receive(), {
    name: "ChannelClosedError",
    message: "Cannot receive: channel is closed",
  });
  assert.deepEqual(ch.tryReceive(), { state: "closed" });
});

test("Channel.close() rejects waiting receivers with ChannelClosedError", async () => {
  const ch = new Channel<number>();
  const receivers = [ch.receive(), ch.receive()];
  ch.close();
  for (const r of receivers) await assert.rejects(r, isClosedError);
});

test("Channel.close() rejects waiting senders, whose values are not delivered", async () => {
  for (const capacity of [0, 1]) {
    const ch = new Channel<number>(capacity);
    if (capacity === 1) await ch.send(1);
    const senders = [ch.send(2), ch.send(3)];
    ch.close();
    for (const s of senders) {
      await assert.rejects(s, {
        name: "ChannelClosedError",
        message: "Cannot send: channel is closed",
      });
    }
    const left: number[] = [];
    for await (const n of ch) left.push(n);
    assert.deepEqual(left, capacity === 1 ? [1] : []);
  }
});

test("Channel.send() and Channel.trySend() on a closed channel fail with ChannelClosedError", async () => {
  const ch = new Channel<number>(4);
  ch.close();
  await assert.rejects(ch.send(1), isClosedError);
  assert.throws(() => ch.trySend(1), isClosedError);
  assert.equal(ch.size, 0);
});

test("Channel.close() on a closed channel does nothing", async () => {
  const ch = new Channel<number>(1);
  await ch.send(1);
  ch.close();
  ch.close();
  assert.equal(ch.closed, true);
  assert.equal(await ch.receive(), 1);
});

test("ChannelClosedError is an Error with a name and a cause", () => {
  const cause = new Error("root");
  const err = new ChannelClosedError("Cannot send: channel is closed", { cause });
  assert.ok(err instanceof Error);
  assert.equal(err.name, "ChannelClosedError");
  assert.equal(err.cause, cause);
  assert.equal(new ChannelClosedError().message, "Cannot use channel: channel is closed");
});

// --- abort signals ----------------------------------------------------------

test("Channel.send() with an aborted signal rejects and delivers nothing", async () => {
  const ch = new Channel<number>(1);
  const reason = new Error("stop");
  const controller = new AbortController();
  controller.abort(reason);
  await assert.rejects(ch.send(1, { signal: controller.signal }), (err) => err === reason);
  assert.equal(ch.size, 0);
  // Not even to a waiting receiver.
  const rendezvous = new Channel<number>();
  const received = track(rendezvous.receive());
  await assert.rejects(rendezvous.send(1, { signal: controller.signal }), (err) => err === reason);
  await flush();
  assert.equal(received.settled(), false);
  await rendezvous.send(2);
  assert.equal(await received.promise, 2);
});

test("Channel.send() aborted while waiting rejects and its value is never delivered", async () => {
  for (const capacity of [0, 1]) {
    const ch = new Channel<number>(capacity);
    if (capacity === 1) await ch.send(1);
    const controller = new AbortController();
    const aborted = ch.send(2, { signal: controller.signal });
    const later = ch.send(3);
    controller.abort();
    await assert.rejects(aborted, { name: "AbortError" });
    const received: number[] = [];
    for (let i = 0; i < capacity + 1; i++) received.push(await ch.receive());
    await later;
    assert.deepEqual(received, capacity === 1 ? [1, 3] : [3]);
    assert.deepEqual(ch.tryReceive(), { state: "empty" });
  }
});

test("Channel.send() aborted after a receiver took the value resolves", async () => {
  const ch = new Channel<number>();
  const controller = new AbortController();
  const sent = ch.send(1, { signal: controller.signal });
  assert.deepEqual(ch.tryReceive(), { state: "ok", value: 1 });
  controller.abort();
  await sent; // resolves: the value was delivered
  assert.deepEqual(ch.tryReceive(), { state: "empty" });
});

test("Channel.receive() with an aborted signal rejects and takes no value", async () => {
  const ch = new Channel<number>(1);
  await ch.send(1);
  const reason = "gone";
  await assert.rejects(ch.receive({ signal: AbortSignal.abort(reason) }), (err) => err === reason);
  assert.equal(ch.size, 1);
  assert.equal(await ch.receive(), 1);
});

test("Channel.receive() aborted while waiting rejects and never takes a value", async () => {
  const ch = new Channel<number>();
  const controller = new AbortController();
  const aborted = ch.receive({ signal: controller.signal });
  const later = ch.receive();
  controller.abort(new RangeError("enough"));
  await assert.rejects(aborted, RangeError);
  await ch.send(7);
  assert.equal(await later, 7);
  // The aborted receiver left the queue: a send now waits.
  assert.equal(ch.trySend(8), false);
});

test("Channel.receive() that got a value before the abort resolves with it", async () => {
  const ch = new Channel<number>();
  const controller = new AbortController();
  const received = ch.receive({ signal: controller.signal });
  assert.equal(ch.trySend(5), true);
  controller.abort();
  assert.equal(await received, 5);
});

test("Channel ignores a signal once its operation completed", async () => {
  const ch = new Channel<number>(1);
  const controller = new AbortController();
  await ch.send(1, { signal: controller.signal }); // buffered at once
  assert.equal(await ch.receive({ signal: controller.signal }), 1);
  controller.abort();
  assert.equal(ch.trySend(2), true);
  assert.equal(await ch.receive(), 2);
});

// --- iteration and dispose --------------------------------------------------

test("Channel[Symbol.asyncIterator]() yields values until closed and drained", async () => {
  const ch = new Channel<number>(2);
  const producer = (async () => {
    for (let i = 0; i < 10; i++) await ch.send(i);
    ch.close();
  })();
  const received: number[] = [];
  for await (const n of ch) received.push(n);
  await producer;
  assert.deepEqual(received, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("Channel[Symbol.asyncIterator]() ends when the channel closes while waiting", async () => {
  const ch = new Channel<number>();
  const consumer = (async () => {
    const got: number[] = [];
    for await (const n of ch) got.push(n);
    return got;
  })();
  await ch.send(1);
  await flush();
  ch.close();
  assert.deepEqual(await consumer, [1]);
});

test("Channel[Symbol.asyncIterator]() shares values between loops and break leaves it open", async () => {
  const ch = new Channel<number>(10);
  for (let i = 0; i < 6; i++) await ch.send(i);
  ch.close();
  const first: number[] = [];
  for await (const n of ch) {
    first.push(n);
    if (n === 2) break;
  }
  const rest: number[] = [];
  for await (const n of ch) rest.push(n);
  assert.deepEqual(first, [0, 1, 2]);
  assert.deepEqual(rest, [3, 4, 5]);

  const open = new Channel<number>(1);
  await open.send(1);
  for await (const _ of open) break;
  assert.equal(open.closed, false);
});

test("Channel[Symbol.asyncDispose]() closes the channel", async () => {
  const ch = new Channel<number>(1);
  await ch.send(1);
  await ch[Symbol.asyncDispose]();
  assert.equal(ch.closed, true);
  assert.equal(await ch.receive(), 1);
  await ch[Symbol.asyncDispose](); // again: no error

  let ref: Channel<number> | undefined;
  {
    await using scoped = new Channel<number>();
    ref = scoped;
  }
  assert.equal(ref.closed, true);
});

// --- select -----------------------------------------------------------------

test("select() receives from the ready channel", async () => {
  const a = new Channel<number>(1);
  const b = new Channel<string>(1);
  await b.send("b");
  const r = await select([{ receive: a }, { receive: b }]);
  assert.deepEqual(r, { index: 1, ok: true, value: "b" });
  if (r.index === 1 && r.ok) {
    const s: string = r.value; // typed per case
    assert.equal(s, "b");
  }
  assert.equal(b.size, 0);
  assert.equal(a.size, 0);
});

test("select() sends on the ready channel and only there", async () => {
  const full = new Channel<number>(1);
  await full.send(0);
  const free = new Channel<number>(1);
  const r = await select([{ send: full, value: 1 }, { send: free, value: 2 }]);
  assert.deepEqual(r, { index: 1, ok: true, value: undefined });
  assert.deepEqual(full.tryReceive(), { state: "ok", value: 0 });
  assert.deepEqual(full.tryReceive(), { state: "empty" });
  assert.deepEqual(free.tryReceive(), { state: "ok", value: 2 });
});

test("select() waits for a receive case and leaves the other cases untouched", async () => {
  const a = new Channel<number>();
  const b = new Channel<number>();
  const out = new Channel<number>();
  const selected = select([{ receive: a }, { receive: b }, { send: out, value: 9 }]);
  await flush();
  await b.send(2);
  assert.deepEqual(await selected, { index: 1, ok: true, value: 2 });
  // The select's other waiters are gone.
  assert.equal(a.trySend(1), false);
  assert.deepEqual(out.tryReceive(), { state: "empty" });
});

test("select() waits for a send case to be received", async () => {
  const a = new Channel<number>();
  const out = new Channel<string>();
  const selected = select([{ receive: a }, { send: out, value: "v" }]);
  await flush();
  assert.equal(await out.receive(), "v");
  assert.deepEqual(await selected, { index: 1, ok: true, value: undefined });
  assert.equal(a.trySend(1), false);
});

test("select() between two selects on a rendezvous channel hands the value over", async () => {
  const ch = new Channel<number>();
  const idle = new Channel<number>();
  const full = new Channel<number>(1);
  await full.send(0);
  const receiving = select([{ receive: idle }, { receive: ch }]);
  const sending = await select([{ send: full, value: 1 }, { send: ch, value: 42 }]);
  assert.deepEqual(sending, { index: 1, ok: true, value: undefined });
  assert.equal(full.size, 1);
  assert.deepEqual(await receiving, { index: 1, ok: true, value: 42 });
});

test("select() with send and receive cases on one channel does not match itself", async () => {
  const ch = new Channel<number>();
  const selected = select([{ send: ch, value: 1 }, { receive: ch }]);
  await flush();
  assert.equal(ch.trySend(5), true); // taken by the receive case
  assert.deepEqual(await selected, { index: 1, ok: true, value: 5 });
  assert.deepEqual(ch.tryReceive(), { state: "empty" }); // the send case left
});

test("select() with default resolves with index -1 when no case is ready", async () => {
  const a = new Channel<number>();
  const b = new Channel<number>(1);
  await b.send(1);
  const r = await select([{ receive: a }, { send: b, value: 2 }], { default: true });
  assert.deepEqual(r, { index: -1, ok: false, value: undefined });
  assert.equal(a.trySend(1), false); // nothing was queued
  assert.equal(b.size, 1);
  const ready = await select([{ receive: b }], { default: true });
  assert.deepEqual(ready, { index: 0, ok: true, value: 1 });
  assert.deepEqual(await select([], { default: true }), { index: -1, ok: false, value: undefined });
});

test("select() reports a closed receive case with ok false", async () => {
  const open = new Channel<number>();
  const closed = new Channel<number>(1);
  await closed.send(1);
  closed.close();
  assert.deepEqual(await select([{ receive: open }, { receive: closed }]), {
    index: 1,
    ok: true,
    value: 1,
  });
  assert.deepEqual(await select([{ receive: open }, { receive: closed }]), {
    index: 1,
    ok: false,
    value: undefined,
  });
  const waiting = select([{ receive: open }]);
  open.close();
  assert.deepEqual(await waiting, { index: 0, ok: false, value: undefined });
});

test("select() rejects with ChannelClosedError for a send case on a closed channel", async () => {
  const ready = new Channel<number>(1);
  await ready.send(1);
  const closed = new Channel<number>(1);
  closed.close();
  await assert.rejects(select([{ receive: ready }, { send: closed, value: 1 }]), {
    name: "ChannelClosedError",
    message: "Cannot select: case 1 sends on a closed channel",
  });
  assert.equal(ready.size, 1); // the receive case did not run

  const out = new Channel<number>();
  const idle = new Channel<number>();
  const waiting = select([{ receive: idle }, { send: out, value: 1 }]);
  out.close();
  await assert.rejects(waiting, isClosedError);
  assert.equal(idle.trySend(1), false); // the receive case left the queue
});

test("select() with an aborted signal rejects without running a ready case", async () => {
  const ch = new Channel<number>(1);
  await ch.send(1);
  const reason = new Error("no");
  await assert.rejects(
    select([{ receive: ch }], { signal: AbortSignal.abort(reason), default: true }),
    (err) => err === reason,
  );
  assert.equal(ch.size, 1);
});

test("select() aborted while waiting rejects and no case takes effect", async () => {
  const a = new Channel<number>();
  const out = new Channel<number>();
  const controller = new AbortController();
  const waiting = select([{ receive: a }, { send: out, value: 1 }], {
    signal: controller.signal,
  });
  await flush();
  controller.abort();
  await assert.rejects(waiting, { name: "AbortError" });
  assert.equal(a.trySend(1), false);
  assert.deepEqual(out.tryReceive(), { state: "empty" });
  // An empty select waits until its signal aborts.
  const forever = new AbortController();
  const empty = select([], { signal: forever.signal });
  forever.abort();
  await assert.rejects(empty, { name: "AbortError" });
});

test("select() chooses fairly among ready cases", async () => {
  const a = new Channel<number>(1);
  const b = new Channel<number>(1);
  const never = new Channel<number>();
  const out = new Channel<number>(1);
  const counts = [0, 0, 0, 0];
  for (let round = 0; round < 1000; round++) {
    if (a.size === 0) a.trySend(1);
    if (b.size === 0) b.trySend(2);
    if (out.size === 1) out.tryReceive();
    const r = await select([
      { receive: a },
      { receive: never },
      { receive: b },
      { send: out, value: 3 },
    ]);
    counts[r.index]++;
  }
  assert.equal(counts[1], 0);
  for (const i of [0, 2, 3]) assert.ok(counts[i] >= 100, `case ${i} chosen ${counts[i]} times`);
});

// --- volume -----------------------------------------------------------------

test("Channel carries 100,000 values from a producer to a consumer complete and in order", async () => {
  for (const capacity of [0, 64]) {
    const ch = new Channel<number>(capacity);
    const total = 100_000;
    const producer = (async () => {
      for (let i = 0; i < total; i++) await ch.send(i);
      ch.close();
    })();
    let expected = 0;
    for await (const n of ch) {
      if (n !== expected) assert.fail(`expected ${expected}, received ${n}`);
      expected++;
    }
    await producer;
    assert.equal(expected, total);
  }
});

test("select() carries 100,000 values between two channels without loss or duplication", async () => {
  const a = new Channel<number>();
  const b = new Channel<number>();
  const total = 100_000;
  const producer = (async () => {
    for (let i = 0; i < total; i++) await select([{ send: a, value: i }, { send: b, value: i }]);
    a.close();
    b.close();
  })();
  const seen = new Uint8Array(total);
  const last = [-1, -1];
  const closed = new Set<number>();
  while (closed.size < 2) {
    const r = await select([{ receive: a }, { receive: b }]);
    if (!r.ok) {
      closed.add(r.index);
      continue;
    }
    seen[r.value]++;
    if (r.value <= last[r.index]) assert.fail(`case ${r.index}: ${r.value} after ${last[r.index]}`);
    last[r.index] = r.value;
  }
  await producer;
  assert.ok(seen.every((n) => n === 1));
  assert.ok(last[0] >= 0 && last[1] >= 0);
});
