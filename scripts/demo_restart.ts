// Demo: a server restarts itself under load with no failed connection.
//
//   deno run -A scripts/demo_restart.ts [restarts] [runtime...]
//   bun scripts/demo_restart.ts [restarts] [runtime...]
//
// Starts tests/fixtures/inherit_server.ts (an Upgrader server answering
// "ping" with "pong <pid>") on the first runtime, opens connections to it
// without pause from another process, and sends it SIGHUP `restarts` times
// (default 10); each successor runs on the next runtime in the list
// (default: deno then bun, in turn). Prints each hand-off and the tally.
import process from "node:process";
import {
  commandFor,
  field,
  reap,
  signal,
  startLoad,
  startLogged,
} from "../tests/fixtures/inherit_helpers.ts";

type Rt = "deno" | "bun" | "node";

const argv = process.argv.slice(2);
const restarts = Number(argv[0] ?? "10");
const runtimes = (argv.length > 1 ? argv.slice(1) : ["deno", "bun"]) as Rt[];
const argvs = runtimes.map((rt) => {
  const [cmd, args] = commandFor(rt, "inherit_server");
  return [cmd, ...args];
});
const srv = startLogged(argvs[0][0], argvs[0].slice(1), {
  env: { INHERIT_NEXT: JSON.stringify([...argvs.slice(1), argvs[0]]) },
});
const pids = new Set<number>([srv.pid]);
try {
  const first = await srv.line(/^READY .*gen=0 /);
  const port = field(first, "port");
  let pid = field(first, "pid");
  console.log(`serving on 127.0.0.1:${port}: pid ${pid} (${runtimes[0]})`);
  const load = await startLoad(port, { min: 2000, maxMs: 60_000 });
  for (let g = 1; g <= restarts; g++) {
    const old = pid;
    signal(pid, "SIGHUP");
    const line = await srv.line(new RegExp(`^READY .*gen=${g} `));
    pid = field(line, "pid");
    pids.add(pid);
    const took = (await srv.line(new RegExp(`^UPGRADED pid=${old} `))).split("ms=")[1];
    console.log(
      `restart ${g}: pid ${old} -> ${pid} (${/runtime=(\w+)/.exec(line)![1]}), hand-off ${took} ms`,
    );
  }
  load.stop();
  const r = await load.result;
  console.log(
    `${r.conns} connections, ${r.failed} failed, answered by ${
      Object.keys(r.pids).length
    } processes; latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.maxMs} ms`,
  );
  signal(pid, "SIGTERM");
  await srv.closed;
} finally {
  await reap(pids);
}
