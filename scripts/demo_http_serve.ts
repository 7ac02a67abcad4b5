// Demo: a Hono app on serve() restarts itself under HTTP load; no request fails.
//
//   deno run -A scripts/demo_http_serve.ts [restarts] [runtime...]
//   bun scripts/demo_http_serve.ts [restarts] [runtime...]
//   node npm/esm/scripts/demo_http_serve.js [restarts] [runtime...]
//
// Starts tests/fixtures/http_hono_server.ts (listenAndServe() from
// @netkit/netkit/http: a Hono app answering GET / with "pong <pid>") on the
// first runtime, keeps two kinds of HTTP clients busy from another process (a
// new connection per request, and keep-alive agents), and sends the server
// SIGHUP `restarts` times (default 5); each successor runs on the next
// runtime in the list (default: this runtime, then the others it can start).
// Prints each hand-off and the tally. Needs hono (npm ci --prefix scripts).
import process from "node:process";
import {
  commandFor,
  current,
  field,
  reap,
  runnable,
  signal,
  startLogged,
} from "../tests/fixtures/inherit_helpers.ts";
import { honoUrl, startHttpLoad } from "../tests/fixtures/http_helpers.ts";

type Rt = "deno" | "bun" | "node";

const argv = process.argv.slice(2);
const restarts = Number(argv[0] ?? "5");
const others = runnable().filter((rt) => rt !== current);
const runtimes = (argv.length > 1 ? argv.slice(1) : [current, ...others]) as Rt[];

if (honoUrl() === undefined) {
  console.log(
    "demo_http_serve: hono is not installed (npm ci --prefix scripts); skipped",
  );
} else {
  const argvs = runtimes.map((rt) => {
    const [cmd, args] = commandFor(rt, "http_hono_server");
    return [cmd, ...args];
  });
  const srv = startLogged(argvs[0][0], argvs[0].slice(1), {
    env: { HTTP_NEXT: JSON.stringify([...argvs.slice(1), argvs[0]]) },
  });
  const pids = new Set<number>([srv.pid]);
  try {
    const first = await srv.line(/^READY .*gen=0 /);
    const port = field(first, "port");
    let pid = field(first, "pid");
    console.log(
      `Hono on serve() at http://127.0.0.1:${port}/: pid ${pid} (${runtimes[0]})`,
    );
    const load = await startHttpLoad(port, {
      min: 500,
      maxMs: 120_000,
      loops: 2,
    });
    pids.add(load.pid);
    for (let g = 1; g <= restarts; g++) {
      const old = pid;
      const t0 = performance.now();
      signal(pid, "SIGHUP");
      const line = await srv.line(new RegExp(`^READY .*gen=${g} `));
      pid = field(line, "pid");
      pids.add(pid);
      console.log(
        `restart ${g}: pid ${old} -> ${pid} (${/runtime=(\w+)/.exec(line)![1]}) in ${
          (performance.now() - t0).toFixed(0)
        } ms`,
      );
    }
    load.stop();
    const r = await load.result;
    console.log(
      `${r.requests} requests (${r.kinds.close} on new connections, ${r.kinds.keepalive} keep-alive), ` +
        `${r.failed} failed, ${r.retries} retried, answered by ${
          Object.keys(r.pids).length
        } processes`,
    );
    signal(pid, "SIGTERM");
    await srv.closed;
  } finally {
    await reap(pids);
  }
}
