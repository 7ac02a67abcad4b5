// Load client for bench/runtime_bench.ts, always run on Bun (its native
// client is the fastest here, so the server under test is the bottleneck).
//   bun bench/_load_client.ts echo   <port> <conns> <seconds>  → "RESULT <msgs/s> <counted>"
//   bun bench/_load_client.ts accept <port> <loops> <seconds>  → "RESULT <conns/s> <counted>"
// `<port>` may be a comma-separated list: the servers are then loaded at the
// same time, `<conns>` (or `<loops>`) each, and one RESULT line is printed
// per port, in order. Servers loaded together meet the same machine load, so
// their ratio is steadier than that of servers loaded one after the other.
// Not library code: it may use Bun.* directly.
// deno-lint-ignore-file no-explicit-any
export {};
const B = (globalThis as any).Bun;
const [mode, portArg, nArg, secArg] = (globalThis as any).process.argv.slice(2);
const ports = String(portArg).split(",").map(Number);
const n = Number(nArg);
const ms = Number(secArg) * 1000;
const warmupMs = 1000;

// One counting window for every port: warm-up (the servers' JIT tiers up),
// then "START", `<seconds>` counted, then "END" (the bench reads the servers'
// CPU time at START and END), then one "RESULT <ops/s> <ops counted>" per port.
let counting = false;
let stop = false;
const counts = ports.map(() => 0);

async function echo(i: number): Promise<void> {
  const msg = new Uint8Array(64).fill(97);
  const sockets: any[] = [];
  await Promise.all(Array.from({ length: n }, async () => {
    let got = 0;
    const s = await B.connect({
      hostname: "127.0.0.1",
      port: ports[i],
      socket: {
        data(sock: any, d: Uint8Array) {
          got += d.length;
          while (got >= 64) {
            got -= 64;
            if (counting) counts[i]++;
            if (!stop) sock.write(msg);
          }
        },
        error() {},
        close() {},
      },
    });
    s.setNoDelay(true);
    sockets.push(s);
  }));
  for (const s of sockets) s.write(msg);
  while (!stop) await B.sleep(50);
  for (const s of sockets) s.terminate();
}

async function accept(i: number): Promise<void> {
  const one = () =>
    new Promise<void>((resolve) => {
      B.connect({
        hostname: "127.0.0.1",
        port: ports[i],
        socket: {
          open(s: any) {
            s.write("x");
          },
          data(s: any) {
            if (counting) counts[i]++;
            s.terminate(); // RST: no TIME_WAIT pile-up
            resolve();
          },
          error() {
            resolve();
          },
          connectError() {
            resolve();
          },
          close() {
            resolve();
          },
        },
      }).catch(() => resolve());
    });
  await Promise.all(Array.from({ length: n }, async () => {
    while (!stop) await one();
  }));
}

const work = Promise.all(ports.map((_, i) => mode === "echo" ? echo(i) : accept(i)));
await B.sleep(warmupMs);
counting = true;
console.log("START");
await B.sleep(ms);
counting = false;
console.log("END");
stop = true;
await work;
for (const c of counts) console.log(`RESULT ${Math.round(c / (ms / 1000))} ${c}`);
