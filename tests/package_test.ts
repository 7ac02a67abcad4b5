// The npm package `netkit` as a user gets it: packs the npm build (npm/),
// installs the tarball into a fresh project in a temporary directory outside
// the repository, and checks there the `netkit` command, every entry
// resolving on Node, `tsc --noEmit` on a strict file importing every entry
// (nodenext, bundler, node10), and the README's examples (examples/) running
// as written against the installed package on Node, Bun and Deno. Node only:
// the package is the tsc build that `node --test` runs from npm/esm/tests
// (Bun and Deno are started from here against the installed package).
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "./_harness.ts";
import {
  alive,
  allowLongTests,
  ask,
  binary,
  current,
  reap,
  repoRoot,
  runToEnd,
  signal,
  startLogged,
  stopped,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

const skip = current === "node"
  ? false
  : `Node only (this is ${current}): packs the npm build, starts Bun and Deno on the install`;

const root = repoRoot();
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as {
  version: string;
  exports: Record<string, string>;
};
/** Every entry as an npm specifier: `netkit`, `netkit/runtime`, … (from deno.json). */
const specifiers = Object.keys(deno.exports).map((k) =>
  k === "." ? "netkit" : `netkit/${k.slice(2)}`
);

let project: Promise<string> | undefined;

/** Packs npm/ and installs the tarball into a fresh project (once); returns its directory. */
function installed(): Promise<string> {
  project ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "netkit-pkg-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const npmDir = join(root, "npm");
    assert.ok(existsSync(join(npmDir, "package.json")), "no npm build: node scripts/build_npm.mjs");
    const packed = await runToEnd("npm", ["pack", "--silent", "--pack-destination", dir], npmDir);
    assert.equal(packed.code, 0, packed.out);
    const tarball = packed.out.trim().split("\n").pop()!;
    const app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }, null, 2),
    );
    const install = await runToEnd("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      join(dir, tarball),
    ], app);
    assert.equal(install.code, 0, install.out);
    cpSync(join(root, "examples"), app, { recursive: true });
    return app;
  })();
  return project;
}

test("npm pack: the tarball installs as netkit, with its command, docs and no tests", async () => {
  const app = await installed();
  const pkgDir = join(app, "node_modules", "netkit");
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  assert.equal(pkg.name, "netkit");
  assert.equal(pkg.version, deno.version);
  assert.deepEqual(pkg.bin, { netkit: "./bin/netkit.js" });
  for (const field of ["repository", "homepage", "bugs", "keywords", "publishConfig", "engines"]) {
    assert.ok(pkg[field] !== undefined, `package.json has no ${field}`);
  }
  assert.equal(pkg.exports["./package.json"], "./package.json");
  assert.match(readFileSync(join(pkgDir, "bin", "netkit.js"), "utf8"), /^#!\/usr\/bin\/env node\n/);
  for (const f of ["README.md", "LICENSE", "docs/runtimes.md", "docs/protocol.md"]) {
    assert.ok(existsSync(join(pkgDir, f)), `${f} is not in the package`);
  }
  assert.ok(!existsSync(join(pkgDir, "esm", "tests")), "tests are in the package");
}, { skip });

test("npx netkit --help exits 0 and npx netkit --version prints the version", async () => {
  const app = await installed();
  const help = await runToEnd("npx", ["--no-install", "netkit", "--help"], app);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /^usage: netkit run \[options\] -- COMMAND/);
  assert.match(help.out, /NETKIT_READY_FD/);
  const runHelp = await runToEnd("npx", ["--no-install", "netkit", "run", "--help"], app);
  assert.equal(runHelp.code, 0, runHelp.out);
  const version = await runToEnd("npx", ["--no-install", "netkit", "--version"], app);
  assert.equal(version.code, 0, version.out);
  assert.equal(version.out.trim(), `netkit ${deno.version}`);
  // What `bunx netkit` runs: the same bin, on Bun.
  const bun = await runToEnd(
    binary("bun"),
    [join("node_modules", ".bin", "netkit"), "--version"],
    app,
  );
  assert.equal(bun.out.trim(), `netkit ${deno.version}`);
  const missing = await runToEnd(
    "npx",
    ["--no-install", "netkit", "run", "--", "no-such-cmd"],
    app,
  );
  assert.equal(missing.code, 127);
  assert.equal(missing.out.trim(), "netkit: command not found: no-such-cmd");
}, { skip });

test("import() and require() resolve netkit and every subpath on Node 20", async () => {
  const app = await installed();
  const script = `
    import { createRequire } from "node:module";
    const require = createRequire(import.meta.url);
    const specs = ${JSON.stringify(specifiers)};
    for (const s of specs) {
      const m = await import(s);
      if (Object.keys(m).length === 0) throw new Error(s + " exports nothing");
      // require(esm): Node >= 20.19, as engines says.
      if (Object.keys(require(s)).length === 0) throw new Error(s + " requires to nothing");
    }
    console.log(require("netkit/package.json").version, specs.length);
  `;
  const r = await runToEnd(process.execPath, ["--input-type=module", "-e", script], app);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`^${deno.version.replaceAll(".", "\\.")} ${specifiers.length}`));
}, { skip });

/** Type-checks a strict file importing every entry under one module resolution. */
async function typecheck(module: string, moduleResolution: string): Promise<void> {
  const app = await installed();
  const dir = join(app, `tsc-${moduleResolution}`);
  mkdirSync(dir, { recursive: true });
  const lines = specifiers.map((s, i) => `import * as e${i} from "${s}";`);
  lines.push(`export const entries: object[] = [${specifiers.map((_, i) => `e${i}`).join(", ")}];`);
  lines.push(
    `import type { Listener } from "netkit/runtime";`,
    `export async function close(l: Listener): Promise<void> {`,
    `  await l.close();`,
    `}`,
  );
  writeFileSync(join(dir, "all.ts"), lines.join("\n") + "\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module,
        moduleResolution,
        lib: ["ES2023", "DOM", "DOM.AsyncIterable", "ESNext.Disposable"],
        types: ["node"],
        typeRoots: [join(root, "scripts", "node_modules", "@types")],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
      },
      // The README's TypeScript example too (node10 has no top-level await).
      files: moduleResolution === "node10" ? ["all.ts"] : ["all.ts", "../echo.ts"],
    }),
  );
  const tsc = join(root, "scripts", "node_modules", "typescript", "bin", "tsc");
  const r = await runToEnd(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], dir);
  assert.equal(r.code, 0, `tsc (${moduleResolution}):\n${r.out}`);
}

test("tsc --noEmit passes on a strict file importing every entry (nodenext)", async () => {
  await typecheck("nodenext", "nodenext");
}, { skip });

test("tsc --noEmit passes on a strict file importing every entry (bundler)", async () => {
  await typecheck("esnext", "bundler");
}, { skip });

test(
  "tsc --noEmit passes on a strict file importing every entry (node10, typesVersions)",
  async () => {
    await typecheck("commonjs", "node10");
  },
  { skip },
);

/** Runs an example from the installed project on a runtime; returns its output. */
async function example(rt: "node" | "bun" | "deno", file: string): Promise<string> {
  const app = await installed();
  const args = rt === "deno" ? ["run", "-A", file] : [file];
  const r = await runToEnd(binary(rt), args, app);
  assert.equal(r.code, 0, `${rt} ${file}:\n${r.out}`);
  return r.out;
}

test("examples/echo.ts and echo.mjs run as written (Node: .mjs; Bun, Deno: both)", async () => {
  assert.equal(await example("node", "echo.mjs"), "hello\nserved on node\n");
  for (const rt of ["bun", "deno"] as const) {
    for (const file of ["echo.ts", "echo.mjs"]) {
      assert.equal(await example(rt, file), `hello\nserved on ${rt}\n`, `${rt} ${file}`);
    }
  }
}, { skip });

/** Starts examples/restart_server.mjs on `rt`, restarts it with SIGHUP, checks the hand-over. */
async function restartExample(rt: "node" | "bun" | "deno"): Promise<void> {
  const app = await installed();
  const args = rt === "deno" ? ["run", "-A", "restart_server.mjs"] : ["restart_server.mjs"];
  const server = startLogged(binary(rt), args, { env: { PORT: "0" }, cwd: app });
  const pids = new Set([server.pid]);
  try {
    const first = await server.line(/^pid \d+ serving on port \d+$/);
    const port = Number(/port (\d+)/.exec(first)![1]);
    assert.equal(await ask({ port }, ""), `hello from ${server.pid}\n`);
    signal(server.pid, "SIGHUP");
    const next = await server.line(
      new RegExp(`^pid (?!${server.pid} )\\d+ serving on port ${port}$`),
    );
    const nextPid = Number(/pid (\d+)/.exec(next)![1]);
    pids.add(nextPid);
    await server.line(new RegExp(`^pid ${server.pid} handed over$`));
    assert.equal(await server.exited, 0);
    assert.equal(await ask({ port }, ""), `hello from ${nextPid}\n`);
  } finally {
    await reap(pids);
    await server.closed;
  }
}

for (const rt of ["node", "bun", "deno"] as const) {
  test(`examples/restart_server.mjs restarts itself on SIGHUP as written (${rt})`, async () => {
    await restartExample(rt);
  }, { skip });
}

/** GET / over a fresh connection (Connection: close); the response body. */
async function httpGet(port: number, path = "/"): Promise<string> {
  const raw = await ask(
    { port },
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
  assert.match(raw, /^HTTP\/1\.1 200 /, raw);
  return raw.slice(raw.indexOf("\r\n\r\n") + 4);
}

/** Starts examples/http_server.mjs on `rt`, restarts it with SIGHUP, checks the hand-over. */
async function httpExample(rt: "node" | "bun" | "deno"): Promise<void> {
  const app = await installed();
  const args = rt === "deno" ? ["run", "-A", "http_server.mjs"] : ["http_server.mjs"];
  const server = startLogged(binary(rt), args, { env: { PORT: "0" }, cwd: app });
  const pids = new Set([server.pid]);
  try {
    const first = await server.line(/^pid \d+ serving http on port \d+$/);
    const port = Number(/port (\d+)/.exec(first)![1]);
    assert.equal(await httpGet(port, "/a"), `hello from ${server.pid}: /a\n`);
    signal(server.pid, "SIGHUP");
    const next = await server.line(
      new RegExp(`^pid (?!${server.pid} )\\d+ serving http on port ${port}$`),
    );
    const nextPid = Number(/pid (\d+)/.exec(next)![1]);
    pids.add(nextPid);
    await server.line(new RegExp(`^pid ${server.pid} done$`));
    assert.equal(await server.exited, 0);
    assert.equal(await httpGet(port, "/b"), `hello from ${nextPid}: /b\n`);
  } finally {
    await reap(pids);
    await server.closed;
  }
}

for (const rt of ["node", "bun", "deno"] as const) {
  test(`examples/http_server.mjs serves and restarts on SIGHUP as written (${rt})`, async () => {
    await httpExample(rt);
  }, { skip });
}

test(
  "npx netkit run restarts examples/ready_server.mjs, which writes READY=1 to NETKIT_READY_FD",
  async () => {
    const app = await installed();
    const cli = startLogged(join(app, "node_modules", ".bin", "netkit"), [
      "run",
      "--listen",
      "127.0.0.1:0",
      "--ready-delay",
      "0",
      "--",
      process.execPath,
      "ready_server.mjs",
    ], { cwd: app });
    const pids = new Set([cli.pid]);
    try {
      const listening = await cli.line(/^netkit: listening on 127\.0\.0\.1:\d+ /);
      const port = Number(/:(\d+) /.exec(listening)![1]);
      const ready = await cli.line(/^netkit: ready pid=\d+ \(ready\(\)\)$/);
      const pid = Number(/pid=(\d+)/.exec(ready)![1]);
      pids.add(pid);
      assert.equal(await ask({ port }, ""), `hello from ${pid}\n`);
      signal(cli.pid, "SIGHUP");
      const swapped = await cli.line(/^netkit: ready pid=\d+ \(ready\(\)\); stopping pid=/);
      const next = Number(/pid=(\d+)/.exec(swapped)![1]);
      pids.add(next);
      // The old copy may still take a connection until its SIGTERM closes its
      // listener; once it has exited, only the new one answers.
      for (let i = 0; i < 500 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(pid), `the old copy (pid ${pid}) did not exit`);
      assert.equal(await ask({ port }, ""), `hello from ${next}\n`);
      assert.equal(await stopped(cli), 0);
    } finally {
      await reap(pids);
    }
  },
  { skip },
);
