// `netkit run` (the CLI): restarts under load of a netkit program, a plain
// socket-activated program (--ready-delay), one that says READY=1 with
// sd_notify, and one whose new copy crashes; argument parsing. Real
// processes, loopback only.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main, parseRunArgs, USAGE, VERSION } from "../src/cli/mod.ts";
import { listen } from "../src/runtime/mod.ts";
import { test } from "./_harness.ts";
import {
  alive,
  allowLongTests,
  ask,
  cliCommand,
  commandFor,
  current,
  freePort,
  reap,
  repoRoot,
  signal,
  startLoad,
  startLogged,
  stopped,
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
  // A delay far longer than a loaded machine's start-up: ready() must come first.
  const { cli, port, first, pid: firstPid } = await startCli("inherit_server", [
    "--ready-delay",
    "30000",
  ]);
  // The program too: were netkit killed, it would keep the output pipes open.
  const pids = new Set<number>([cli.pid, firstPid]);
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
    assert.equal(await stopped(cli), 0);
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
    assert.equal(await stopped(cli), 0);
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
      // The old copy may take a connection until its SIGTERM closes its listener.
      await cli.line(new RegExp(`^PLAIN_EXITED pid=${pid}$`));
      assert.equal(await ask({ port }), `pong ${next}\n`);
      assert.equal(await stopped(cli), 0);
    } finally {
      await reap(pids);
    }
  },
  {
    skip: current === "node" ? "Node cannot receive Unix datagrams (no FFI, no unix dgram)" : false,
  },
);

test("netkit run keeps the old program serving when the new copy crashes", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
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
    assert.equal(await stopped(cli), 0);
  } finally {
    await reap(pids);
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

/** Starts `netkit run --listen 127.0.0.1:0 <flags> -- <fixture>`; resolves once it listens. */
function launch(
  fixture: string,
  flags: string[],
  env: Record<string, string> = {},
  listen = "127.0.0.1:0",
) {
  const [cmd, args] = cliCommand(current);
  const [fcmd, fargs] = commandFor(current, fixture);
  const cli = startLogged(
    cmd,
    [...args, "run", "--listen", listen, ...flags, "--", fcmd, ...fargs],
    {
      env,
    },
  );
  return cli;
}

/** Whether a TCP port on 127.0.0.1 can be bound again (nobody holds it). */
async function portFree(port: number): Promise<boolean> {
  try {
    const l = await listen({ hostname: "127.0.0.1", port });
    await l.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until none of `pids` is alive. */
async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  return !pids.some(alive);
}

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  test(`netkit run stops its program on ${sig} before the first copy is ready`, async () => {
    // A delay that outlasts the test: the copy is never ready while the signal comes.
    const cli = launch("inherit_plain", ["--ready-delay", "50000"], { PLAIN_MODE: "silent" });
    const pids = [cli.pid];
    try {
      const listening = await cli.line(/^netkit: listening on 127\.0\.0\.1:\d+ /);
      const port = Number(/:(\d+) /.exec(listening)![1]);
      const started = await cli.line(/^netkit: started pid=\d+$/);
      const child = Number(/pid=(\d+)/.exec(started)![1]);
      pids.push(child);
      await cli.line(new RegExp(`^PLAIN pid=${child} `));
      signal(cli.pid, sig);
      const code = await cli.exited;
      await cli.closed;
      // The program exits 0 on SIGTERM once it handles it; 143 if it died by it.
      assert.ok(code === 0 || code === 143, `exit code ${code}:\n${cli.lines.join("\n")}`);
      assert.ok(await gone(pids), `still alive: ${pids.filter(alive)}`);
      assert.ok(await portFree(port), `port ${port} is still held`);
    } finally {
      await reap(pids);
    }
  });
}

test("netkit run queues a SIGHUP that comes before the first copy is ready", async () => {
  const cli = launch("inherit_plain", ["--ready-delay", "1500"], { PLAIN_MODE: "silent" });
  const pids = [cli.pid];
  try {
    const listening = await cli.line(/^netkit: listening on 127\.0\.0\.1:\d+ /);
    const port = Number(/:(\d+) /.exec(listening)![1]);
    const started = await cli.line(/^netkit: started pid=\d+$/);
    const first = Number(/pid=(\d+)/.exec(started)![1]);
    pids.push(first);
    signal(cli.pid, "SIGHUP");
    await cli.line(/^netkit: restart queued/);
    const swapped = await cli.line(new RegExp(`^netkit: ready pid=\\d+ .*stopping pid=${first}$`));
    const next = Number(/ready pid=(\d+)/.exec(swapped)![1]);
    pids.push(next);
    await cli.line(new RegExp(`^PLAIN_EXITED pid=${first}$`));
    assert.equal(await ask({ port }), `pong ${next}\n`);
    assert.equal(await stopped(cli), 0);
    assert.ok(await gone(pids), `still alive: ${pids.filter(alive)}`);
    assert.ok(await portFree(port), `port ${port} is still held`);
  } finally {
    await reap(pids);
  }
});

test("netkit run queues a SIGHUP that comes during a restart", async () => {
  const { cli, port, pid } = await startCli("inherit_plain", ["--ready-delay", "700"], {
    PLAIN_MODE: "silent",
  });
  const pids = [cli.pid, pid];
  try {
    signal(cli.pid, "SIGHUP");
    await cli.line(/^netkit: restarting: started pid=\d+$/);
    signal(cli.pid, "SIGHUP");
    await cli.line(/^netkit: a restart is in progress: one more is queued$/);
    const second = await restart(cli, 2);
    pids.push(second);
    const firstSwap = cli.lines.find((l) => /^netkit: ready pid=\d+ .*stopping pid=/.test(l))!;
    const between = Number(/ready pid=(\d+)/.exec(firstSwap)![1]);
    pids.push(between);
    await cli.line(new RegExp(`^PLAIN_EXITED pid=${between}$`));
    assert.equal(await ask({ port }), `pong ${second}\n`);
    assert.equal(await stopped(cli), 0);
  } finally {
    await reap(pids);
  }
});

test("netkit run exits with 128 + n when its program dies by signal n", async () => {
  const { cli, pid } = await startCli("inherit_plain", ["--ready-delay", "100"], {
    PLAIN_MODE: "silent",
  });
  try {
    signal(pid, "SIGKILL");
    assert.equal(await cli.exited, 137);
    await cli.closed;
    assert.ok(cli.lines.includes(`netkit: pid=${pid} exited with SIGKILL on its own`));
  } finally {
    await reap([cli.pid, pid]);
  }
});

test(
  "netkit run warns at once when --ready-delay 0 leaves no way to receive readiness",
  async () => {
    const cli = launch("inherit_plain", ["--ready-delay", "0"], { PLAIN_MODE: "silent" });
    const pids = [cli.pid];
    try {
      const warning = await cli.line(/^netkit: warning: --ready-delay 0 /);
      assert.match(warning, /write READY=1 to fd 4 \(NETKIT_READY_FD\)/);
      const started = await cli.line(/^netkit: started pid=\d+$/);
      pids.push(Number(/pid=(\d+)/.exec(started)![1]));
      signal(cli.pid, "SIGTERM");
      await cli.exited;
      await cli.closed;
      assert.ok(await gone(pids), `still alive: ${pids.filter(alive)}`);
    } finally {
      await reap(pids);
    }
  },
  {
    skip: current === "bun"
      ? "Bun receives sd_notify (FFI), so --ready-delay 0 has a way and needs no warning"
      : false,
  },
);

test("netkit run --quiet says nothing but serves; unnamed sockets are named by address", async () => {
  // --quiet hides the port: take one that was free a moment ago.
  const port = await freePort();
  const cli = launch(
    "inherit_plain",
    ["--quiet", "--ready-delay", "100"],
    { PLAIN_MODE: "silent" },
    `127.0.0.1:${port}`,
  );
  const pids = [cli.pid];
  try {
    const plain = await cli.line(/^PLAIN pid=\d+ /);
    pids.push(Number(/pid=(\d+)/.exec(plain)![1]));
    let answer = "";
    for (let i = 0; i < 200 && answer === ""; i++) {
      answer = await ask({ port }).catch(() => "");
      if (answer === "") await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(answer, /^pong \d+\n$/);
    assert.equal(await stopped(cli), 0);
    assert.deepEqual(cli.lines.filter((l) => l.startsWith("netkit:")), []);
  } finally {
    await reap(pids);
  }
  const named = launch("inherit_plain", ["--ready-delay", "100"], { PLAIN_MODE: "silent" });
  try {
    const line = await named.line(/^netkit: listening on /);
    assert.match(
      line,
      /^netkit: listening on 127\.0\.0\.1:(\d+) \(fd \d+, name 127\.0\.0\.1_\1\)$/,
    );
    const ready = await named.line(/^netkit: ready pid=\d+/);
    pids.push(Number(/pid=(\d+)/.exec(ready)![1]));
    // Once it answers, its SIGTERM handler is on.
    assert.equal(await ask({ port: Number(/:(\d+) /.exec(line)![1]) }), `pong ${pids.at(-1)}\n`);
    assert.equal(await stopped(named), 0);
  } finally {
    await reap([...pids, named.pid]);
  }
});

test("netkit run --log json writes one JSON object per line", async () => {
  const cli = launch("inherit_plain", ["--log", "json", "--ready-delay", "100"], {
    PLAIN_MODE: "silent",
  });
  const pids = [cli.pid];
  try {
    const ready = await cli.line(/^\{.*"msg":"ready pid=\d+/);
    pids.push(Number(/pid=(\d+)/.exec(ready)![1]));
    const listening = cli.lines.find((l) => l.includes('"msg":"listening on'))!;
    // Once it answers, its SIGTERM handler is on.
    const port = Number(/127\.0\.0\.1:(\d+) /.exec(listening)![1]);
    assert.equal(await ask({ port }), `pong ${pids.at(-1)}\n`);
    assert.equal(await stopped(cli), 0);
    const own = cli.lines.filter((l) => !/^PLAIN/.test(l));
    assert.ok(own.length >= 4, own.join("\n"));
    for (const l of own) {
      const o = JSON.parse(l);
      assert.deepEqual(Object.keys(o), ["time", "level", "msg"]);
      assert.ok(["info", "warn", "error"].includes(o.level));
      assert.ok(!Number.isNaN(Date.parse(o.time)));
    }
    assert.ok(own.some((l) => JSON.parse(l).msg.startsWith("listening on 127.0.0.1:")));
  } finally {
    await reap(pids);
  }
});

test("main() prints --version, run --help, and says what is wrong with the arguments", async () => {
  const log = console.log, error = console.error;
  const out: string[] = [];
  console.log = console.error = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    assert.equal(await main(["--version"]), 0);
    assert.equal(out.pop(), `netkit ${VERSION}`);
    assert.equal(await main(["run", "--help"]), 0);
    assert.equal(out.pop(), USAGE);
    assert.match(USAGE, /NETKIT_READY_FD/);
    assert.equal(await main(["run", "--listen", "--", "x"]), 2);
    assert.match(out.pop()!, /^netkit: Cannot run: --listen needs an address/);
    assert.equal(await main(["run", "--listen"]), 2);
    assert.match(out.pop()!, /^netkit: Cannot run: --listen needs an address/);
    assert.equal(await main(["run", "--log", "xml", "--", "x"]), 2);
    assert.match(out.pop()!, /--log takes text or json/);
    assert.equal(await main(["run", "--listen", ":0", "--", "netkit-no-such-command"]), 127);
    assert.equal(out.pop(), "netkit: command not found: netkit-no-such-command");
  } finally {
    console.log = log;
    console.error = error;
  }
});

test("VERSION is deno.json's version", () => {
  const deno = JSON.parse(readFileSync(join(repoRoot(), "deno.json"), "utf8"));
  assert.equal(VERSION, deno.version);
});
