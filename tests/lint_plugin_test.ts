// Tests of netkit's `deno lint` plugin (lint/netkit_plugin.ts): planted
// violations in a temporary copy of the src/ layout must be reported, rule by
// rule, and the real src/ must be clean. Runs the Deno binary on every runtime.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { binary, repoRoot, runToEnd, tempDir, test } from "./_harness.ts";

const root = repoRoot();
const deno = binary("deno");
const noDeno = existsSync(deno)
  ? undefined
  : "Bun and Node: the pinned Deno binary is not installed in scripts/node_modules";

interface Diagnostic {
  filename: string;
  code: string;
  message: string;
}

/** Runs `deno lint --json` in `cwd`; returns its exit code and diagnostics. */
async function lint(
  cwd: string,
  args: string[] = [],
): Promise<{ code: number | null; diagnostics: Diagnostic[] }> {
  const r = await runToEnd(deno, ["lint", "--json", ...args], cwd, {}, 120_000);
  let out: { diagnostics: Diagnostic[]; errors: unknown[] };
  try {
    out = JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`deno lint failed (exit ${r.code}):\n${r.out}`, { cause: err });
  }
  assert.deepEqual(out.errors, [], "deno lint could not lint every file");
  return { code: r.code, diagnostics: out.diagnostics };
}

/** `file: code` for each netkit diagnostic, sorted, paths relative to `dir`. */
function netkitFindings(diagnostics: Diagnostic[], dir: string): string[] {
  return diagnostics
    .filter((d) => d.code.startsWith("netkit/"))
    .map((d) => `${d.filename.replace(/^file:\/\//, "").slice(dir.length + 1)}: ${d.code}`)
    .sort();
}

/** Files planted in a copy of the layout, each with the findings it must produce. */
const planted: Record<string, string> = {
  // netkit/runtime-only: a node: import, a Deno value, a Bun type, a dynamic
  // node: import and a node: type import; comments and strings do not count.
  "src/graceful/uses_runtime.ts": `import { createServer } from "node:net";
// Deno.listen and "node:fs" in a comment are fine.
export const pid: number = Deno.pid;
export type Socket = Bun.Socket;
export const message = "the node:net adapter and Deno.listen";
export const lazy = () => import("node:fs");
export type Server = import("node:http").Server;
export { createServer };
`,
  // Runtime globals and node: imports are src/runtime/'s own business.
  "src/runtime/adapter.ts": `import { createServer } from "node:net";
export const pid: number = Deno.pid;
export { createServer };
`,
  // netkit/layering, from a module: another module's inner file, an adapter
  // file, the test-only entry, a re-export from an inner file, outside src/.
  "src/graceful/reaches.ts": `import { listenBuffer } from "../listenbuffer/listen_buffer.ts";
import { DenoAdapter } from "../runtime/deno.ts";
import { useRuntime } from "../runtime/testing.ts";
export { Poller } from "../poll/poller.ts";
import { fixture } from "../../tests/_harness.ts";
export { DenoAdapter, fixture, listenBuffer, useRuntime };
`,
  // What a module may import.
  "src/graceful/allowed.ts": `import { listen } from "../runtime/mod.ts";
import { os } from "../runtime/_internal.ts";
import { checkTimeout } from "../_util/validate.ts";
import { listenBuffer } from "../listenbuffer/mod.ts";
import { Tracker } from "./_tracker.ts";
import { assert } from "jsr:@std/assert";
export { assert, checkTimeout, listen, listenBuffer, os, Tracker };
`,
  // src/_util/ imports only itself.
  "src/_util/shared.ts": `import { listen } from "../runtime/mod.ts";
import { checkTimeout } from "./validate.ts";
export { checkTimeout, listen };
`,
  // src/runtime/ imports nothing of the modules above it.
  "src/runtime/upward.ts": `import { wrap } from "../graceful/mod.ts";
import { checkTimeout } from "../_util/validate.ts";
import { Conn } from "./types.ts";
export { checkTimeout, Conn, wrap };
`,
  // src/cli/ may use any module's public entry, never its inner files.
  "src/cli/main.ts": `import { createUpgrader } from "../inherit/mod.ts";
import { os } from "../runtime/_internal.ts";
import { parse } from "../graceful/_tracker.ts";
export { createUpgrader, os, parse };
`,
  // netkit/error-message: lowercase start, final period, two sentences, a
  // contraction; the rest are fine (e.g. is not a sentence break).
  "src/chan/messages.ts": `export const errors = [
  new TypeError("cannot send: the channel is closed"),
  new RangeError("Cannot create channel: capacity must be an integer."),
  new Error(\`Cannot send: \${1} bytes. Too many\`),
  new Error("Cannot send: the channel isn't open"),
  new Error("Cannot listen: give an address, e.g. 127.0.0.1:0"),
  new TypeError(\`Cannot read: \${"x"} is not a number\`),
  new Error(message()),
];
function message(): string {
  return "anything.";
}
`,
};

const expected = [
  "src/_util/shared.ts: netkit/layering",
  "src/chan/messages.ts: netkit/error-message",
  "src/chan/messages.ts: netkit/error-message",
  "src/chan/messages.ts: netkit/error-message",
  "src/chan/messages.ts: netkit/error-message",
  "src/cli/main.ts: netkit/layering",
  "src/graceful/reaches.ts: netkit/layering",
  "src/graceful/reaches.ts: netkit/layering",
  "src/graceful/reaches.ts: netkit/layering",
  "src/graceful/reaches.ts: netkit/layering",
  "src/graceful/reaches.ts: netkit/layering",
  "src/graceful/uses_runtime.ts: netkit/runtime-only",
  "src/graceful/uses_runtime.ts: netkit/runtime-only",
  "src/graceful/uses_runtime.ts: netkit/runtime-only",
  "src/graceful/uses_runtime.ts: netkit/runtime-only",
  "src/graceful/uses_runtime.ts: netkit/runtime-only",
  "src/runtime/upward.ts: netkit/layering",
];

test(
  "netkit lint plugin reports each planted violation, rule by rule, and nothing else",
  async () => {
    using dir = tempDir("lint");
    // A temporary project: this plugin in its lint/, registered as in deno.json.
    mkdirSync(dir.join("lint"));
    copyFileSync(join(root, "lint/netkit_plugin.ts"), dir.join("lint/netkit_plugin.ts"));
    writeFileSync(
      dir.join("deno.json"),
      JSON.stringify({ lint: { plugins: ["./lint/netkit_plugin.ts"] } }),
    );
    for (const [path, source] of Object.entries(planted)) {
      mkdirSync(dirname(dir.join(path)), { recursive: true });
      writeFileSync(dir.join(path), source);
    }
    const { code, diagnostics } = await lint(dir.path);
    assert.deepEqual(netkitFindings(diagnostics, dir.path), expected);
    assert.equal(code, 1, "deno lint fails on the planted violations");
  },
  { skip: noDeno },
);

test("netkit lint plugin is registered in deno.json and finds nothing in src/", async () => {
  const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  assert.ok(config.lint.plugins.includes("./lint/netkit_plugin.ts"), "deno.json lint.plugins");
  const findings = netkitFindings((await lint(root, ["src/"])).diagnostics, root);
  assert.deepEqual(findings, []);
}, { skip: noDeno });
