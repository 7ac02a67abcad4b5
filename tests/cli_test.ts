// `netkit run` (the CLI): restarts under load of a netkit program, a plain
// socket-activated program (--ready-delay), one that says READY=1 with
// sd_notify, and one whose new copy crashes; argument parsing. Real
// processes, loopback only.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main, parseRunArgs } from "../src/inherit/cli.ts";
import { test } from "./_harness.ts";
import {
  allowLongTests,
  ask,
  cliCommand,
  commandFor,
  current,
  reap,
  signal,
  startLoad,
  startLogged,
  tempDir,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

/** Starts `netkit run --listen 127.0.0.1:0 <flags> -- <fixture>` on this runtime. */
async function startCli(
  fixture: string,
  flags: string[] = [],
  env: Record<string, string> = {},
  runtimeFlags: string[] = [],
) {
  const [cmd, args] = cliCommand(current, runtimeFlags);
  const [fcmd, fargs] = commandFor(current, fixture);
  const cli = startLogged(cmd, [
    ...args,
    "run",
    "--listen",
    "web=127.0.0.1:0",
    ...flags,
    "--",
    fcmd,
    ...fargs,
  ], { env });
  const listening = await cli.line(/^netkit: listening on 127\.0\.0\.1:\d+ /);
  const port = Number(/:(\d+) /.exec(listening)![1]);
  const first = await cli.line(/^netkit: ready pid=\d+/);
  return { cli, port, first, pid: Number(/pid=(\d+)/.exec(first)![1]) };
}

/** Sends SIGHUP and waits for the n-th restart to finish; returns the new pid. */
async function restart(cli: ReturnType<typeof startLogged>, n: number): Promise<number> {
  signal(cli.pid, "SIGHUP");
  const seen = () => cli.lines.filter((l) => /^netkit: ready pid=\d+ .*stopping pid=/.test(l));
  for (let i = 0; i < 1500 && seen().length < n; i++) await new Promise((r) => setTimeout(r, 20));
  const line = seen()[n - 1];
  assert.ok(line !== undefined, `restart ${n} did not finish:\n${cli.lines.join("\n")}`);
  return Number(/ready pid=(\d+)/.exec(line)![1]);
}

test("netkit run restarts a netkit program on SIGHUP with no failed connection", async () => {
  const { cli, port, first } = await startCli("inherit_server");
  const pids = new Set<number>([cli.pid]);
  try {
    assert.match(first, /\(ready\(\)\)$/);
    const load = await startLoad(port, { min: 2000, maxMs: 40_000 });
    pids.add(load.pid);
    let pid = 0;
    for (let n = 1; n <= 5; n++) {
      pid = await restart(cli, n);
      pids.add(pid);
    }
    load.stop();
    const result = await load.result;
    assert.deepEqual(result.errors, {});
    assert.equal(result.failed, 0);
    assert.ok(result.conns >= 2000);
    assert.equal(await ask({ port }), `pong ${pid}\n`);
    signal(cli.pid, "SIGTERM");
    assert.equal(await cli.exited, 0);
    await cli.closed;
  } finally {
    await reap(pids);
  }
});

test("netkit run restarts a plain socket-activated program after --ready-delay", async () => {
  const { cli, port, first, pid } = await startCli("inherit_plain", ["--ready-delay", "200"], {
    PLAIN_MODE: "silent",
  });
  const pids = new Set<number>([cli.pid, pid]);
  try {
    assert.match(first, /\(delay\)$/);
    assert.equal(await ask({ port }), `pong ${pid}\n`);
    const next = await restart(cli, 1);
    pids.add(next);
    assert.notEqual(next, pid);
    await cli.line(new RegExp(`^PLAIN_EXITED pid=${pid}$`));
    assert.equal(await ask({ port }), `pong ${next}\n`);
    signal(cli.pid, "SIGTERM");
    assert.equal(await cli.exited, 0);
    await cli.closed;
  } finally {
    await reap(pids);
  }
});

test(
  "netkit run takes sd_notify READY=1 where the runtime can receive Unix datagrams",
  async () => {
    const { cli, port, first, pid } = await startCli(
      "inherit_plain",
      ["--ready-delay", "0"],
      { PLAIN_MODE: "notify" },
      ["--unstable-net"],
    );
    const pids = new Set<number>([cli.pid, pid]);
    try {
      assert.match(first, /\(sd_notify\)$/);
      const next = await restart(cli, 1);
      pids.add(next);
      assert.match(cli.lines.find((l) => l.includes(`ready pid=${next}`))!, /\(sd_notify\);/);
      assert.equal(await ask({ port }), `pong ${next}\n`);
      signal(cli.pid, "SIGTERM");
      assert.equal(await cli.exited, 0);
      await cli.closed;
    } finally {
      await reap(pids);
    }
  },
  {
    skip: current === "node" ? "Node cannot receive Unix datagrams (no FFI, no unix dgram)" : false,
  },
);

test("netkit run keeps the old program serving when the new copy crashes", async () => {
  const [dir, cleanup] = tempDir();
  const modeFile = join(dir, "mode");
  // A delay long enough for the new copy's crash to come first.
  const { cli, port, pid } = await startCli("inherit_plain", ["--ready-delay", "1500"], {
    PLAIN_MODE_FILE: modeFile,
  });
  const pids = new Set<number>([cli.pid, pid]);
  try {
    writeFileSync(modeFile, "crash");
    signal(cli.pid, "SIGHUP");
    const failed = await cli.line(/^netkit: restart failed: /);
    assert.match(failed, new RegExp(`exited with code 3; pid=${pid} goes on serving$`));
    assert.equal(await ask({ port }), `pong ${pid}\n`);
    signal(cli.pid, "SIGTERM");
    assert.equal(await cli.exited, 0);
    await cli.closed;
  } finally {
    await reap(pids);
    cleanup();
  }
});

test("parseRunArgs() reads addresses, names, durations and the command", () => {
  const o = parseRunArgs([
    "--listen",
    "web=127.0.0.1:8080",
    "-l",
    "[::1]:9090",
    "--listen=:7070",
    "--listen",
    "ctl=unix:/run/app.sock",
    "--ready-delay",
    "0",
    "--timeout=5000",
    "--",
    "node",
    "server.js",
    "--port",
    "1",
  ]);
  assert.deepEqual(o.listen, [
    { address: { hostname: "127.0.0.1", port: 8080 }, name: "web" },
    { address: { hostname: "::1", port: 9090 }, name: undefined },
    { address: { hostname: "0.0.0.0", port: 7070 }, name: undefined },
    { address: { path: "/run/app.sock" }, name: "ctl" },
  ]);
  assert.equal(o.readyDelay, 0);
  assert.equal(o.timeout, 5000);
  assert.equal(o.stopTimeout, 30_000);
  assert.equal(o.command, "node");
  assert.deepEqual(o.args, ["server.js", "--port", "1"]);
  assert.throws(() => parseRunArgs(["--listen", "nope", "--", "x"]), RangeError);
  assert.throws(() => parseRunArgs(["--ready-delay", "-1", "--", "x"]), RangeError);
  assert.throws(() => parseRunArgs(["--frobnicate", "--", "x"]), TypeError);
  assert.throws(() => parseRunArgs(["--listen", ":1"]), TypeError);
});

test("main() answers help and refuses unknown commands", async () => {
  const log = console.log, error = console.error;
  console.log = console.error = () => {};
  try {
    assert.equal(await main(["help"]), 0);
    assert.equal(await main(["frobnicate"]), 2);
    assert.equal(await main(["run", "--bogus"]), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
});
