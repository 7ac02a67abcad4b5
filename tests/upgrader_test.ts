// The Upgrader (tableflip's part): restarts under load on this runtime and
// across runtimes, successors that crash or never get ready, the pid file,
// and the rules of upgrade(). Real processes, loopback only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createUpgrader, UpgradeError } from "../src/inherit/mod.ts";
import { test } from "./_harness.ts";
import {
  alive,
  allowLongTests,
  ask,
  commandFor,
  current,
  field,
  partners,
  reap,
  type RestartResult,
  type Rt,
  signal,
  startLoad,
  startLogged,
  tempDir,
  upgradeUnderLoad,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

const UPGRADES = 20;
const CONNS = 10_000;

function serverArgv(rt: Rt): string[] {
  const [cmd, args] = commandFor(rt, "inherit_server");
  return [cmd, ...args];
}

/** Restarts inherit_server UPGRADES times under load, from runtimes[0] on. */
function restartUnderLoad(runtimes: Rt[]): Promise<RestartResult> {
  return upgradeUnderLoad(runtimes, { upgrades: UPGRADES, conns: CONNS });
}

test(`Upgrader.upgrade() restarts a ${current} server ${UPGRADES} times under load with no failed connection`, async () => {
  const r = await restartUnderLoad([current]);
  assert.deepEqual(r.errors, {});
  assert.equal(r.failed, 0);
  assert.equal(r.timedOut, false);
  assert.ok(r.conns >= CONNS, `only ${r.conns} connections`);
  assert.equal(r.upgraded, UPGRADES);
  assert.ok(r.generations > 1);
});

for (const partner of partners()) {
  test(`Upgrader.upgrade() hands off between ${current} and ${partner} under load with no failed connection`, async () => {
    const r = await restartUnderLoad([current, partner]);
    assert.deepEqual(r.errors, {});
    assert.equal(r.failed, 0);
    assert.equal(r.timedOut, false);
    assert.ok(r.conns >= CONNS, `only ${r.conns} connections`);
    assert.equal(r.upgraded, UPGRADES);
  });
}

/** Starts a server whose successor is the inherit_bad fixture in `mode`. */
async function failedUpgrade(mode: "crash" | "hang", env: Record<string, string> = {}) {
  const [badCmd, badArgs] = commandFor(current, "inherit_bad", [mode]);
  const [cmd, ...args] = serverArgv(current);
  const srv = startLogged(cmd, args, {
    env: { INHERIT_NEXT: JSON.stringify([[badCmd, ...badArgs]]), ...env },
  });
  const pids = new Set<number>([srv.pid]);
  try {
    const ready = await srv.line(/^READY .*gen=0 /);
    const port = field(ready, "port");
    const pid = field(ready, "pid");
    const load = await startLoad(port, { min: 1000, maxMs: 40_000 });
    pids.add(load.pid);
    signal(pid, "SIGHUP");
    const bad = field(await srv.line(/^BAD_STARTED /), "pid");
    pids.add(bad);
    const failure = await srv.line(/^UPGRADE_FAILED /);
    // The old process goes on serving as if nothing happened.
    assert.equal(await ask({ port }), `pong ${pid}\n`);
    load.stop();
    const result = await load.result;
    const badAlive = alive(bad);
    signal(pid, "SIGTERM");
    await srv.closed;
    return { failure, result, badAlive, pid };
  } finally {
    await reap(pids);
  }
}

test("Upgrader.upgrade() rejects when the successor crashes at start, and the old process serves on", async () => {
  const { failure, result, badAlive } = await failedUpgrade("crash");
  assert.match(failure, /reason=exited /);
  assert.match(
    failure,
    /Cannot upgrade: the successor \(pid \d+\) exited with code \d+ before it was ready/,
  );
  assert.equal(badAlive, false);
  assert.deepEqual(result.errors, {});
  assert.equal(result.failed, 0);
  assert.ok(result.conns >= 1000);
});

test("Upgrader.upgrade() kills a successor that is not ready in time, and the old process serves on", async () => {
  const { failure, result, badAlive } = await failedUpgrade("hang", { INHERIT_TIMEOUT: "1500" });
  assert.match(failure, /reason=timeout /);
  assert.match(failure, /was not ready within 1500 ms and was killed/);
  assert.equal(badAlive, false);
  assert.deepEqual(result.errors, {});
  assert.equal(result.failed, 0);
});

test("Upgrader.ready() writes the pid file, and the successor rewrites it", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const pidFile = join(dir, "server.pid");
  const [cmd, ...args] = serverArgv(current);
  const srv = startLogged(cmd, args, { env: { INHERIT_PIDFILE: pidFile } });
  const pids = new Set<number>([srv.pid]);
  try {
    const first = field(await srv.line(/^READY .*gen=0 /), "pid");
    assert.equal(readFileSync(pidFile, "utf8"), `${first}\n`);
    signal(first, "SIGHUP");
    const second = field(await srv.line(/^READY .*gen=1 /), "pid");
    pids.add(second);
    await srv.line(new RegExp(`^EXITED pid=${first} `));
    assert.equal(readFileSync(pidFile, "utf8"), `${second}\n`);
    signal(second, "SIGTERM");
    await srv.closed;
  } finally {
    await reap(pids);
  }
});

test("Upgrader.upgrade() rejects before ready(), while busy, when aborted, and after close()", async () => {
  const [cmd, args] = commandFor(current, "inherit_bad", ["hang"]);
  const upgrader = createUpgrader({
    timeout: 30_000,
    process: { command: cmd, args, env: { INHERIT_QUIET: "1" } },
  });
  const reason = (r: string) => (err: unknown) =>
    err instanceof UpgradeError && err.reason === r && err.message.startsWith("Cannot upgrade: ");
  await assert.rejects(upgrader.upgrade(), reason("not-ready"));
  await upgrader.ready();
  await assert.rejects(
    upgrader.upgrade({ signal: AbortSignal.abort(new Error("given up")) }),
    /given up/,
  );
  const aborting = new AbortController();
  const aborted = upgrader.upgrade({ signal: aborting.signal });
  await assert.rejects(upgrader.upgrade(), reason("busy"));
  aborting.abort(new Error("changed my mind"));
  await assert.rejects(aborted, /changed my mind/);
  const first = upgrader.upgrade();
  await assert.rejects(upgrader.upgrade(), reason("busy"));
  await upgrader.close();
  await assert.rejects(first, reason("closed"));
  await upgrader.exit;
  await assert.rejects(upgrader.upgrade(), reason("closed"));
  await assert.rejects(upgrader.ready(), (e) => e instanceof UpgradeError && e.reason === "closed");
});

test("Upgrader.upgrade() resolves once the successor serves; then exit settles and upgrade() says done", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const pidFile = join(dir, "successor.pid");
  const [cmd, args] = commandFor(current, "inherit_server");
  const upgrader = createUpgrader({
    process: { command: cmd, args, env: { INHERIT_QUIET: "1", INHERIT_PIDFILE: pidFile } },
  });
  const listener = await upgrader.listen({ hostname: "127.0.0.1", port: 0, name: "web" });
  const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
  let exited = false;
  upgrader.exit.then(() => exited = true);
  let successor = 0;
  try {
    await upgrader.ready();
    assert.equal(exited, false);
    await upgrader.upgrade();
    await upgrader.exit;
    assert.equal(exited, true);
    successor = Number(readFileSync(pidFile, "utf8"));
    await assert.rejects(
      upgrader.upgrade(),
      (e) => e instanceof UpgradeError && e.reason === "done",
    );
    // This process stops accepting; the successor has the socket.
    await listener.close();
    assert.equal(await ask({ port }), `pong ${successor}\n`);
  } finally {
    await listener.close();
    await upgrader.close();
    if (successor > 0) signal(successor, "SIGTERM");
    for (let i = 0; i < 200 && successor > 0 && alive(successor); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await reap(successor > 0 ? [successor] : []);
  }
});

test("createUpgrader() rejects a bad timeout and pid file", () => {
  assert.throws(() => createUpgrader({ timeout: 0 }), RangeError);
  assert.throws(() => createUpgrader({ timeout: Number.NaN }), RangeError);
  assert.throws(() => createUpgrader({ pidFile: 3 as unknown as string }), TypeError);
});
