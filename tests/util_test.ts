// The runtime-free shared tier (src/_util/) and the error hierarchy rooted in
// NetkitError; the one signal API's argument checks.
import assert from "node:assert/strict";
import { test } from "./_harness.ts";
import { abortable, watch } from "../src/_util/abort.ts";
import { checkInteger, checkTimeout, MAX_DELAY } from "../src/_util/validate.ts";
import {
  AddrInUseError,
  ClosedError,
  NetError,
  NetkitError,
  onSignal,
  type Signal,
  TimeoutError,
} from "../src/runtime/mod.ts";
import { ChannelClosedError } from "../src/chan/mod.ts";
import { DrainTimeoutError, NotManagedError } from "../src/graceful/mod.ts";
import { PollerClosedError } from "../src/poll/mod.ts";
import { UpgradeError } from "../src/inherit/mod.ts";
import * as root from "../mod.ts";

test("checkTimeout() takes non-negative milliseconds, Infinity by default, and says what is wrong", () => {
  assert.equal(checkTimeout(undefined, "wait"), Infinity);
  assert.equal(checkTimeout(undefined, "wait", { fallback: 5 }), 5);
  assert.equal(checkTimeout(0, "wait"), 0);
  assert.equal(checkTimeout(Infinity, "wait"), Infinity);
  assert.throws(() => checkTimeout(-1, "wait"), {
    name: "RangeError",
    message: "Cannot wait: timeout must be a non-negative number of milliseconds, received -1",
  });
  assert.throws(() => checkTimeout(NaN, "wait"), RangeError);
  assert.throws(() => checkTimeout("5", "wait"), RangeError);
  assert.throws(() => checkTimeout(0, "wait", { positive: true, name: "grace" }), {
    message: "Cannot wait: grace must be a positive number of milliseconds, received 0",
  });
  assert.throws(() => checkTimeout(Infinity, "wait", { positive: true }), RangeError);
});

test("checkInteger() takes integers in range, up to 2^31 - 1 by default", () => {
  assert.equal(checkInteger(undefined, "open", "size", { min: 1, fallback: 8 }), 8);
  assert.equal(checkInteger(MAX_DELAY, "open", "size", { min: 0 }), 2 ** 31 - 1);
  assert.throws(() => checkInteger(2 ** 31, "open", "size", { min: 0 }), {
    name: "RangeError",
    message: "Cannot open: size must be an integer from 0 to 2147483647, received 2147483648",
  });
  assert.throws(() => checkInteger(1.5, "open", "size", { min: 0, max: 9 }), RangeError);
  assert.throws(() => checkInteger("1", "open", "size", { min: 0 }), {
    name: "TypeError",
    message: "Cannot open: size must be a number, received string",
  });
});

test("watch() calls the first of abort and timeout, once, and stop() cancels both", async () => {
  const seen: string[] = [];
  const ac = new AbortController();
  const stop = watch(ac.signal, 10, {
    onAbort: (reason) => seen.push(`abort ${String(reason)}`),
    onTimeout: () => seen.push("timeout"),
  });
  ac.abort("why");
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(seen, ["abort why"]);
  stop();

  const timedOut: string[] = [];
  watch(undefined, 5, { onTimeout: () => timedOut.push("timeout") });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(timedOut, ["timeout"]);

  const stopped: string[] = [];
  const ac2 = new AbortController();
  watch(ac2.signal, 5, {
    onAbort: () => stopped.push("abort"),
    onTimeout: () => stopped.push("t"),
  })();
  ac2.abort();
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(stopped, []);

  const already: unknown[] = [];
  watch(AbortSignal.abort("before"), Infinity, { onAbort: (r) => already.push(r) });
  assert.deepEqual(already, ["before"]);
});

test("abortable() rejects on abort and closes what opens after it", async () => {
  let closed = false;
  let open!: (v: { close(): void }) => void;
  const pending = new Promise<{ close(): void }>((r) => open = r);
  const ac = new AbortController();
  const p = abortable(pending, ac.signal);
  ac.abort(new Error("gave up"));
  await assert.rejects(p, { message: "gave up" });
  open({ close: () => closed = true });
  await pending;
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(closed, true);
  const value = { close() {} };
  assert.equal(await abortable(Promise.resolve(value), new AbortController().signal), value);
});

test("NetkitError is the root of every netkit error, and each keeps its name", () => {
  const errors: [Error, string][] = [
    [new NetError("Cannot x: y"), "NetError"],
    [new AddrInUseError("Cannot x: y"), "AddrInUseError"],
    [new ClosedError("Cannot x: y"), "ClosedError"],
    [new TimeoutError("Cannot x: y"), "TimeoutError"],
    [new ChannelClosedError(), "ChannelClosedError"],
    [new NotManagedError(), "NotManagedError"],
    [new DrainTimeoutError("Cannot x: y", { cut: 1 }), "DrainTimeoutError"],
    [new PollerClosedError(), "PollerClosedError"],
    [new UpgradeError("Cannot x: y", "busy"), "UpgradeError"],
  ];
  for (const [err, name] of errors) {
    assert.ok(err instanceof NetkitError, name);
    assert.ok(err instanceof Error, name);
    assert.equal(err.name, name);
  }
  assert.ok(new TimeoutError("Cannot x: y") instanceof NetError);
  const cause = new Error("inner");
  assert.equal(new NetkitError("Cannot x: y", { cause }).cause, cause);
  assert.equal(root.NetkitError, NetkitError);
});

test("onSignal() refuses what is not a signal name or not a function", () => {
  assert.throws(() => onSignal(1 as unknown as Signal, () => {}), TypeError);
  assert.throws(() => onSignal("SIGFOO" as Signal, () => {}), {
    name: "RangeError",
    message: /^Cannot handle signal: signal must be one of SIGHUP, /,
  });
  assert.throws(() => onSignal("SIGHUP", 1 as unknown as () => void), TypeError);
  const off = onSignal("SIGUSR2", () => {});
  off();
  off();
});
