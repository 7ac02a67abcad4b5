// Networked channels across runtimes: an exporter on one runtime serves an
// importer on another (a Deno exporter with a Bun importer, and more), over
// loopback. The other side runs as a fixture (tests/fixtures/chan_*.ts) on
// the other runtime's binary from scripts/node_modules/.bin.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Channel, Dir, Exporter, Importer } from "../src/chan/mod.ts";
import { runtime } from "../src/runtime/mod.ts";
import { binary, type Child, portOf, repoRoot, spawnChild, test } from "./_harness.ts";

const N = 10_000;

const root = repoRoot();

/** Runs a TypeScript fixture on Deno or Bun (from the sources). */
function runFixture(on: "deno" | "bun", name: string, args: string[]): Child {
  const script = join(root, "tests", "fixtures", `${name}.ts`);
  const argv = on === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
  return spawnChild(`${on} fixture ${name}`, binary(on), argv);
}

type Item = { i: number; s: string; from: string };

/** This process exports; the other runtime imports. */
async function exportTo(other: "deno" | "bun"): Promise<void> {
  const exporter = new Exporter();
  const down = new Channel<Item>(64);
  const up = new Channel<Item>(64);
  exporter.export("down", down, Dir.Send);
  exporter.export("up", up, Dir.Recv);
  const listener = await exporter.listenAndServe({ hostname: "127.0.0.1", port: 0 });
  const child = runFixture(other, "chan_importer", [String(portOf(listener)), String(N)]);
  try {
    const received = (async () => {
      const got: Item[] = [];
      for await (const v of up) got.push(v);
      return got;
    })();
    for (let i = 0; i < N; i++) await down.send({ i, s: `down-${i}`, from: runtime.name });
    down.close();
    assert.equal(await child.line(/^DOWN /), `DOWN OK ${N} from ${runtime.name}`);
    const got = await received; // ends when the importer closes its channel
    assert.equal(got.length, N);
    for (let i = 0; i < N; i++) assert.equal(got[i].s, `up-${i}`);
    assert.equal(got[0].from, other);
    assert.equal(await child.exited, 0);
  } finally {
    child.kill("SIGKILL");
    await exporter.close();
  }
}

/** The other runtime exports; this process imports. */
async function importFrom(other: "deno" | "bun"): Promise<void> {
  const child = runFixture(other, "chan_exporter", [String(N)]);
  try {
    const ready = await child.line(/^READY /);
    const [, port, name] = ready.split(" ");
    assert.equal(name, other);
    await using importer = await Importer.connect({ hostname: "127.0.0.1", port: Number(port) });
    const down = new Channel<Item>(64);
    await importer.import("down", down, Dir.Recv, 64);
    let next = 0;
    for await (const v of down) {
      if (v.i !== next || v.from !== other) assert.fail(`value ${JSON.stringify(v)} at ${next}`);
      next++;
    }
    assert.equal(next, N);
    const up = new Channel<Item>(64);
    await importer.import("up", up, Dir.Send, 64);
    for (let i = 0; i < N; i++) await up.send({ i, s: `up-${i}`, from: runtime.name });
    up.close();
    await importer.drain({ timeout: 30_000 });
    assert.equal(await child.line(/^UP /), `UP OK ${N} from ${runtime.name}`);
    assert.equal(await child.exited, 0);
  } finally {
    child.kill("SIGKILL");
  }
}

const here = runtime.name;
if (here === "deno") {
  test("Exporter.serve() on Deno serves an Importer on Bun", () => exportTo("bun"));
  test("Importer.import() on Deno imports from an Exporter on Bun", () => importFrom("bun"));
} else if (here === "bun") {
  test("Importer.import() on Bun imports from an Exporter on Deno", () => importFrom("deno"));
  test("Exporter.serve() on Bun serves an Importer on Deno", () => exportTo("deno"));
} else {
  test("Importer.import() on Node imports from an Exporter on Deno", () => importFrom("deno"));
  test("Exporter.serve() on Node serves an Importer on Bun", () => exportTo("bun"));
}
