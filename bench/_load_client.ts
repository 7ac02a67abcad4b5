// Load client for bench/runtime_bench.ts, always run on Bun (its native
// client is the fastest here, so the server under test is the bottleneck).
//   bun bench/_load_client.ts echo   <port> <conns> <seconds>  → "RESULT <msgs/s> <total>"
//   bun bench/_load_client.ts accept <port> <loops> <seconds>  → "RESULT <conns/s> <total>"
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
const warmupMs = 500;

// Each returns [rate over the counted window, total over the whole run].
async function echo(port: number): Promise<[number, number]> {
  const msg = new Uint8Array(64).fill(97);
  let count = 0;
  let total = 0;
  let counting = false;
  let stop = false;
  const sockets: any[] = [];
  await Promise.all(Array.from({ length: n }, async () => {
    let got = 0;
    const s = await B.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(sock: any, d: Uint8Array) {
          got += d.length;
          while (got >= 64) {
            got -= 64;
            total++;
            if (counting) count++;
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
  await B.sleep(warmupMs);
  counting = true;
  await B.sleep(ms);
  counting = false;
  stop = true;
  for (const s of sockets) s.terminate();
  return [count / (ms / 1000), total];
}

async function accept(port: number): Promise<[number, number]> {
  let count = 0;
  const end = Date.now() + ms;
  const one = () =>
    new Promise<void>((resolve) => {
      B.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(s: any) {
            s.write("x");
          },
          data(s: any) {
            count++;
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
    while (Date.now() < end) await one();
  }));
  return [count / (ms / 1000), count];
}

const results = await Promise.all(ports.map((p) => mode === "echo" ? echo(p) : accept(p)));
for (const [rate, total] of results) console.log(`RESULT ${Math.round(rate)} ${total}`);
