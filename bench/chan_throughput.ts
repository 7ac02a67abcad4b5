// Benchmark: networked channel throughput against a raw framed TCP baseline,
// on the same runtime, in the same run.
//   deno run -A bench/chan_throughput.ts     bun bench/chan_throughput.ts
//   node npm/esm/bench/chan_throughput.js    (after node scripts/build_npm.mjs)
//   options: --n=<values per round> (default 1000000), --rounds=<n> (default 3),
//            --capacity=<channel capacity and credit window> (default 1024)
//
// Both ends run in this process over 127.0.0.1 through netkit's runtime layer.
// The values are small objects ({ id: number, name: string }), JSON-encoded.
// - baseline: a sender writes DATA frames in the protocol's framing
//   (u32 length, type, u32 channel id, JSON) into 64 KiB batches and awaits
//   each write; a receiver reads with a 1 MiB buffer, parses the frames and
//   JSON.parses every value. No channels, credits, acks or close handling.
// - channel: a producer awaits `send()` on a Channel exported as Dir.Send; an
//   Importer imports it as Dir.Recv into a Channel of the same capacity, with
//   a credit window of the same size, and `for await` consumes it.
// Rounds alternate; the table shows the median values/s of each and the
// ratio channel / baseline (targets: >= 0.5, and >= 500,000 values/s on Bun
// and Deno).
import { Channel, Dir, Exporter, Importer } from "../src/chan/mod.ts";
import { connect, listen, runtime } from "../src/runtime/mod.ts";

const argv: string[] = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
function arg(name: string, fallback: number): number {
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
}
const N = arg("n", 1_000_000);
const ROUNDS = arg("rounds", 3);
const CAPACITY = arg("capacity", 1024);

interface Item {
  id: number;
  name: string;
}

function item(i: number): Item {
  return { id: i, name: `item-${i}` };
}

/** Raw framed TCP: the same frames, no channel logic. */
async function baseline(n: number): Promise<number> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
  const accepted = listener.accept();
  const client = await connect({ hostname: "127.0.0.1", port });
  const server = await accepted;
  const start = performance.now();

  const sender = (async () => {
    const BATCH = 64 * 1024;
    let buf = new Uint8Array(BATCH + 8192);
    let view = new DataView(buf.buffer);
    let end = 0;
    for (let i = 0; i < n; i++) {
      const text = JSON.stringify(item(i));
      let p = end + 9;
      for (let k = 0; k < text.length; k++) buf[p++] = text.charCodeAt(k);
      view.setUint32(end, p - end - 4);
      buf[end + 4] = 4;
      view.setUint32(end + 5, 1);
      end = p;
      if (end >= BATCH) {
        await server.write(buf.subarray(0, end));
        buf = new Uint8Array(BATCH + 8192);
        view = new DataView(buf.buffer);
        end = 0;
      }
    }
    if (end > 0) await server.write(buf.subarray(0, end));
  })();

  const decoder = new TextDecoder();
  const buf = new Uint8Array(1024 * 1024);
  const view = new DataView(buf.buffer);
  let start_ = 0;
  let end = 0;
  let got = 0;
  while (got < n) {
    if (start_ > 0) {
      buf.copyWithin(0, start_, end);
      end -= start_;
      start_ = 0;
    }
    const r = await client.read(buf.subarray(end));
    if (r === null) throw new Error("baseline: early EOF");
    end += r;
    while (end - start_ >= 4) {
      const len = view.getUint32(start_);
      if (end - start_ - 4 < len) break;
      const v = JSON.parse(decoder.decode(buf.subarray(start_ + 9, start_ + 4 + len))) as Item;
      if (v.id !== got) throw new Error(`baseline: out of order: ${v.id} at ${got}`);
      got++;
      start_ += 4 + len;
    }
  }
  const elapsed = performance.now() - start;
  await sender;
  client.close();
  server.close();
  await listener.close();
  return n / elapsed * 1000;
}

/** An exported channel and an importer over one connection. */
async function channel(n: number): Promise<number> {
  const exporter = new Exporter();
  const source = new Channel<Item>(CAPACITY);
  exporter.export("items", source, Dir.Send);
  const listener = await exporter.listenAndServe({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
  const importer = await Importer.connect({ hostname: "127.0.0.1", port });
  const sink = new Channel<Item>(CAPACITY);
  await importer.import("items", sink, Dir.Recv, CAPACITY);
  const start = performance.now();
  const producer = (async () => {
    for (let i = 0; i < n; i++) await source.send(item(i));
    source.close();
  })();
  let got = 0;
  for await (const v of sink) {
    if (v.id !== got) throw new Error(`channel: out of order: ${v.id} at ${got}`);
    got++;
  }
  const elapsed = performance.now() - start;
  await producer;
  if (got !== n) throw new Error(`channel: got ${got} of ${n}`);
  await importer.close();
  await exporter.close();
  return n / elapsed * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const fmt = (x: number): string => Math.round(x).toLocaleString("en-US");

// Warm-up (JIT), then measured rounds.
await baseline(Math.min(N, 100_000));
await channel(Math.min(N, 100_000));
const base: number[] = [];
const chan: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  base.push(await baseline(N));
  chan.push(await channel(N));
}
const b = median(base);
const c = median(chan);
console.log(
  `chan_throughput ${runtime.name}: ${fmt(N)} values/round, capacity ${CAPACITY}, ${ROUNDS} rounds`,
);
console.log(`  baseline (raw framed TCP + JSON)  ${fmt(b).padStart(11)} values/s`);
console.log(`  Exporter -> Importer channel      ${fmt(c).padStart(11)} values/s`);
console.log(`  ratio channel / baseline          ${(c / b).toFixed(2).padStart(11)}`);
