// Benchmark: zero-downtime restarts through the Upgrader, per runtime.
//   hand-off   time from SIGHUP (upgrade() called) to the successor serving
//              (upgrade() resolved), measured in the old process
//   latency    the load process's connection latency (connect, request,
//              answer, close): p99 with no restart (steady state), and the
//              worst seen while the server restarts
// Targets: hand-off < 200 ms; worst latency during restarts < 2 × steady
// p99 + 100 ms. Loopback only, bounded.
//
//   deno run -A bench/inherit_handoff.ts             (Deno and Bun servers)
//   node npm/esm/bench/inherit_handoff.js            (all three; after the npm build)
import {
  commandFor,
  field,
  reap,
  runnable,
  signal,
  startLoad,
  startLogged,
} from "../tests/fixtures/inherit_helpers.ts";

type Rt = "deno" | "bun" | "node";

const RESTARTS = 10;
const CONNS = 3000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function bench(rt: Rt) {
  const [cmd, args] = commandFor(rt, "inherit_server");
  const srv = startLogged(cmd, args);
  const pids = new Set<number>([srv.pid]);
  try {
    const first = await srv.line(/^READY .*gen=0 /);
    const port = field(first, "port");
    let pid = field(first, "pid");
    // Steady state: no restart.
    const steady = await startLoad(port, { min: CONNS, maxMs: 60_000 });
    steady.stop();
    const base = await steady.result;
    // The same load while the server restarts RESTARTS times.
    const load = await startLoad(port, { min: CONNS, maxMs: 60_000 });
    for (let g = 1; g <= RESTARTS; g++) {
      signal(pid, "SIGHUP");
      pid = field(await srv.line(new RegExp(`^READY .*gen=${g} `)), "pid");
      pids.add(pid);
      await sleep(100);
    }
    load.stop();
    const during = await load.result;
    signal(pid, "SIGTERM");
    await srv.closed;
    const handoffs = srv.lines.filter((l) => l.startsWith("UPGRADED ")).map((l) =>
      Number(/ms=([\d.]+)/.exec(l)![1])
    );
    return { rt, base, during, handoffs };
  } finally {
    await reap(pids);
  }
}

console.log(
  `runtime  hand-off median/max (ms)  steady p99 (ms)  worst during restarts (ms)  target (ms)  conns  failed`,
);
for (const rt of runnable()) {
  const { base, during, handoffs } = await bench(rt);
  const target = 2 * base.p99 + 100;
  const ok = Math.max(...handoffs) < 200 && during.maxMs < target;
  console.log(
    [
      rt.padEnd(7),
      `${median(handoffs).toFixed(0)} / ${Math.max(...handoffs).toFixed(0)}`.padEnd(25),
      String(base.p99).padEnd(15),
      String(during.maxMs).padEnd(26),
      `< ${target.toFixed(0)}`.padEnd(11),
      String(during.conns).padEnd(6),
      `${during.failed}${ok ? "" : "  (over target)"}`,
    ].join("  "),
  );
}
