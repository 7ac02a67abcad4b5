// Restart under load with a graceful listener (issue 10 point 1): a server
// restarted through the Upgrader wraps its listener with wrap() and, once
// `exit` settles, calls drain(). The drain must not cut a connection whose
// request is already sent: not one accepted but not read yet, not one the
// runtime had accepted but the application had not. Real processes,
// loopback only.
import assert from "node:assert/strict";
import { test } from "./_harness.ts";
import {
  allowLongTests,
  commandFor,
  current,
  field,
  reap,
  signal,
  startLoad,
  startLogged,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

const UPGRADES = 20;
const CONNS = 10_000;

test(`GracefulListener.drain() after Upgrader exit: a ${current} server restarts ${UPGRADES} times under load with no failed connection`, async () => {
  const [cmd, args] = commandFor(current, "graceful_restart_server");
  const srv = startLogged(cmd, args);
  const pids = new Set<number>([srv.pid]);
  try {
    const first = await srv.line(/^READY .*gen=0 /);
    const port = field(first, "port");
    let pid = field(first, "pid");
    const load = await startLoad(port, { min: CONNS, maxMs: 45_000 });
    const t0 = performance.now();
    pids.add(load.pid);
    for (let g = 1; g <= UPGRADES; g++) {
      signal(pid, "SIGHUP");
      pid = field(await srv.line(new RegExp(`^READY .*gen=${g} `)), "pid");
      pids.add(pid);
    }
    const restarted = performance.now() - t0;
    load.stop();
    const r = await load.result;
    console.log(
      `restarts done at ${Math.round(restarted)} ms; load ${
        JSON.stringify({ ...r, pids: Object.keys(r.pids).length })
      }`,
    );
    signal(pid, "SIGTERM");
    await srv.closed;
    const drained = srv.lines.filter((l) => l.startsWith("DRAINED "));
    const sum = (name: string) => drained.reduce((n, l) => n + field(l, name), 0);
    const served = sum("served");
    console.log(
      `drains met ${sum("fresh")} fresh conns and ${sum("pending")} the runtime had accepted`,
    );
    assert.deepEqual(r.errors, {});
    assert.equal(r.failed, 0);
    assert.equal(r.timedOut, false);
    assert.ok(r.conns >= CONNS, `only ${r.conns} connections`);
    assert.equal(srv.lines.filter((l) => l.startsWith("UPGRADED ")).length, UPGRADES);
    assert.deepEqual(srv.lines.filter((l) => /^(DRAIN|UPGRADE)_FAILED /.test(l)), []);
    assert.equal(drained.length, UPGRADES + 1, "every generation drained");
    assert.equal(served, r.conns, "every connection answered by some generation");
    for (const l of drained) {
      const stats = JSON.parse(l.slice(l.indexOf("stats=") + 6));
      assert.equal(stats.total, 0);
      assert.equal(stats.accepted, stats.closed);
    }
    assert.ok(Object.keys(r.pids).length > 1);
  } finally {
    await reap(pids);
  }
});
