// Net (gracenet's part): fresh listeners, Unix paths, startProcess() with
// inheritance from fd 3 (closed listeners skipped, variables unset for the
// child's children), LISTEN_PID, ready() closing unclaimed fds, cross-runtime
// hand-off, and Deno without /proc access. Real processes, loopback only.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { Net, NotInheritedError } from "../src/inherit/mod.ts";
import { AddrInUseError, connect, listen } from "../src/runtime/mod.ts";
import { portOf, test } from "./_harness.ts";
import {
  allowLongTests,
  ask,
  binary,
  commandFor,
  current,
  field,
  fixturePath,
  partners,
  reap,
  repoRoot,
  type Rt,
  signal,
  startLogged,
  tempDir,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

test("Net.listen() binds a fresh listener when nothing is inherited", async () => {
  const net = new Net();
  assert.deepEqual(net.inherited(), []);
  assert.equal(net.hasParent, false);
  await using listener = await net.listen({ hostname: "127.0.0.1", port: 0, name: "web" });
  assert.equal(listener.addr.transport, "tcp");
  assert.ok(listener.fd !== undefined && listener.fd > 2);
  const accepted = listener.accept();
  await using client = await connect({ hostname: "127.0.0.1", port: portOf(listener) });
  await using conn = await accepted;
  await conn.write(new TextEncoder().encode("hi"));
  const buf = new Uint8Array(2);
  assert.equal(await client.read(buf), 2);
  await net.ready();
  await net.close();
});

test("Net.listen() and listenNamed() reject what they cannot serve", async () => {
  const net = new Net();
  await assert.rejects(net.listen({ fd: 3 } as never), TypeError);
  await assert.rejects(net.listen({ port: 0, name: "a:b" }), TypeError);
  await assert.rejects(net.listen({ port: 0, name: "" }), TypeError);
  await assert.rejects(net.listenNamed("web"), NotInheritedError);
  await assert.rejects(net.listenNamed("bad name"), TypeError);
});

test("Net.listen() binds a Unix socket path, refuses a taken one, and removes it at close", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const path = join(dir, "s.sock");
  const net = new Net();
  const listener = await net.listen({ path });
  assert.deepEqual(listener.addr, { transport: "unix", path });
  assert.ok(existsSync(path));
  await assert.rejects(net.listen({ path }), AddrInUseError);
  const served = listener.accept().then(async (conn) => {
    await conn.read(new Uint8Array(16)); // AF_UNIX: closing with unread data resets the peer
    await conn.write(new TextEncoder().encode("unix ok\n"));
    conn.close();
  });
  assert.equal(await ask({ path }, "x\n", 5000), "unix ok\n");
  await served;
  await listener.close();
  assert.equal(existsSync(path), false);
  writeFileSync(join(dir, "file"), "");
  await assert.rejects(net.listen({ path: join(dir, "file") }), AddrInUseError);
});

/** Runs inherit_parent on `parentRt`, whose child (inherit_child) runs on `childRt`. */
async function gracenetRestart(parentRt: Rt, childRt: Rt) {
  using tmp = tempDir();
  const dir = tmp.path;
  const path = join(dir, "c.sock");
  const [ccmd, cargs] = commandFor(childRt, "inherit_child");
  const [pcmd, pargs] = commandFor(parentRt, "inherit_parent");
  const proc = startLogged(pcmd, pargs, {
    env: { PARENT_CHILD: JSON.stringify([ccmd, ...cargs]), PARENT_UNIX: path },
  });
  const pids = new Set<number>([proc.pid]);
  try {
    const parent = await proc.line(/^PARENT /);
    const child = field(await proc.line(/^STARTED /), "child");
    pids.add(child);
    const serving = await proc.line(/^SERVING /);
    const a = field(parent, "a");
    const b = field(parent, "b");
    const env = await proc.line(/^ENV /);
    const inherited = JSON.parse((await proc.line(/^INHERITED /)).slice(10));
    const after = await proc.line(/^AFTER /);
    const grandchild = await proc.line(/^GRANDCHILD /);
    const answers = [await ask({ port: a }), await ask({ path })];
    await assert.rejects(ask({ port: b }, "ping\n", 5000), /ECONNREFUSED/);
    await proc.closed;
    return { env, inherited, after, grandchild, answers, child, serving, a, path };
  } finally {
    await reap(pids);
  }
}

function checkRestart(r: Awaited<ReturnType<typeof gracenetRestart>>): void {
  // Two listeners passed ("b" was closed), with their names, to a child whose pid is LISTEN_PID.
  assert.match(r.env, / LISTEN_FDS=2 LISTEN_FDNAMES=a:c pidMatches=true$/);
  assert.equal(r.inherited.length, 2);
  assert.deepEqual(r.inherited.map((l: { fd: number }) => l.fd), [3, 4]);
  assert.deepEqual(r.inherited[0].addr, { transport: "tcp", hostname: "127.0.0.1", port: r.a });
  assert.deepEqual(r.inherited[1].addr, { transport: "unix", path: r.path });
  // Net unset the variables: the child's own children do not take fd 3 (grace#44).
  assert.match(r.after, /LISTEN_FDS=unset LISTEN_PID=unset/);
  assert.equal(
    r.grandchild,
    "GRANDCHILD LISTEN_FDS=unset LISTEN_PID=unset LISTEN_FDNAMES=unset NETKIT_LISTEN_ADDRS=unset",
  );
  assert.deepEqual(r.answers, [
    `child ${r.child} tcp:127.0.0.1:0\n`,
    `child ${r.child} unix:${r.path}\n`,
  ]);
}

test("Net.startProcess() passes the open listeners from fd 3, skips closed ones, and unsets the variables", async () => {
  checkRestart(await gracenetRestart(current, current));
});

for (const partner of partners()) {
  test(`Net.startProcess() hands the listeners of a ${current} parent to a ${partner} child and back`, async () => {
    checkRestart(await gracenetRestart(current, partner));
    checkRestart(await gracenetRestart(partner, current));
  });
}

test("Net ignores inherited fds when LISTEN_PID names another process, and unsets the variables", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const [cmd, args] = commandFor(current, "inherit_child");
  const proc = startLogged(cmd, args, {
    fds: [listener.fd!],
    env: { LISTEN_FDS: "1", LISTEN_PID: "1", LISTEN_FDNAMES: "web", CHILD_MODE: "report" },
  });
  try {
    assert.match(await proc.line(/^ENV /), /LISTEN_FDS=1 .* pidMatches=false$/);
    assert.equal(await proc.line(/^INHERITED /), "INHERITED []");
    assert.equal(await proc.line(/^AFTER /), "AFTER LISTEN_FDS=unset LISTEN_PID=unset");
    assert.equal(await proc.exited, 0);
  } finally {
    await reap([proc.pid]);
  }
});

test("Net.ready() closes the inherited listeners nobody claimed", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const [cmd, args] = commandFor(current, "inherit_child");
  // /bin/sh sets LISTEN_PID to the pid that exec then hands to the runtime.
  const proc = startLogged(
    "/bin/sh",
    ["-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh", cmd, ...args],
    { fds: [listener.fd!], env: { LISTEN_FDS: "1", LISTEN_FDNAMES: "web", CHILD_MODE: "report" } },
  );
  try {
    assert.match(await proc.line(/^ENV /), /LISTEN_FDS=1 LISTEN_FDNAMES=web pidMatches=true$/);
    const inherited = JSON.parse((await proc.line(/^INHERITED /)).slice(10));
    assert.deepEqual(inherited, [{
      fd: 3,
      name: "web",
      addr: { transport: "tcp", hostname: "127.0.0.1", port: portOf(listener) },
      claimed: false,
    }]);
    assert.equal(await proc.line(/^FD3_BEFORE/), "FD3_BEFORE=listener");
    assert.equal(await proc.line(/^FD3_AFTER/), "FD3_AFTER=closed");
    assert.equal(await proc.exited, 0);
  } finally {
    await reap([proc.pid]);
  }
});

test(
  "Upgrader on Deno restarts with --allow-net --allow-env --allow-run only (no /proc access)",
  async () => {
    const flags = ["run", "--allow-net", "--allow-env", "--allow-run"];
    const deno = binary("deno");
    const script = fixturePath("inherit_server");
    const srv = startLogged(deno, [...flags, script]);
    const pids = new Set<number>([srv.pid]);
    try {
      const first = await srv.line(/^READY .*gen=0 /);
      const port = field(first, "port");
      let pid = field(first, "pid");
      for (let g = 1; g <= 2; g++) {
        signal(pid, "SIGHUP");
        const line = await srv.line(new RegExp(`^READY .*gen=${g} `));
        const old = pid;
        pid = field(line, "pid");
        pids.add(pid);
        // The old copy may take a connection until it has closed its listener.
        await srv.line(new RegExp(`^EXITED pid=${old} `));
      }
      assert.equal(await ask({ port }), `pong ${pid}\n`);
      signal(pid, "SIGTERM");
      await srv.closed;
      assert.equal(srv.lines.filter((l) => l.startsWith("UPGRADED ")).length, 2);
    } finally {
      await reap(pids);
    }
  },
  { skip: current === "deno" ? false : `runs in the Deno suite only (this is ${current})` },
);

/** Runs inherit_child (CHILD_MODE=stray) with only `fds` passed and `env` set. */
async function stray(
  env: Record<string, string>,
  options: { listenPid?: boolean; deno?: string[]; fds?: number[] } = {},
) {
  const [cmd, args] = commandFor(current, "inherit_child");
  if (options.deno !== undefined) args.splice(0, 2, "run", ...options.deno);
  const argv = options.listenPid === false
    ? [cmd, ...args]
    : ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh", cmd, ...args];
  const proc = startLogged(argv[0], argv.slice(1), {
    fds: options.fds,
    env: { CHILD_MODE: "stray", ...env },
  });
  try {
    const code = await proc.exited;
    await proc.closed;
    return { code, lines: proc.lines };
  } finally {
    await reap([proc.pid]);
  }
}

function lineOf(lines: string[], prefix: string): string {
  const line = lines.find((l) => l.startsWith(prefix));
  assert.ok(line !== undefined, `no ${prefix} line in:\n${lines.join("\n")}`);
  return line;
}

test("Net with LISTEN_FDS=6 and only fd 3 passed closes fd 3 and none of the runtime's fds", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const { code, lines } = await stray({ LISTEN_FDS: "6" }, { fds: [listener.fd!] });
  assert.equal(code, 0, lines.join("\n"));
  assert.match(lineOf(lines, "ALIVE"), /^ALIVE read=1$/);
  const before = lineOf(lines, "FDS_BEFORE ").split(" ").slice(1);
  const after = lineOf(lines, "FDS_AFTER ").split(" ").slice(1);
  assert.equal(before[0], "3:listener");
  assert.equal(after[0], "3:closed");
  // fds 4-10 are the runtime's (or closed): exactly as they were.
  assert.deepEqual(after.slice(1), before.slice(1));
  const inherited = JSON.parse(lineOf(lines, "INHERITED ").slice(10));
  assert.equal(inherited.length, 6);
  assert.deepEqual(inherited[0].addr, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: portOf(listener),
  });
  for (const l of inherited.slice(1)) assert.equal(l.addr, undefined);
});

test(
  "Net on Deno without /proc access (no --allow-all) survives LISTEN_FDS=6 with only fd 3 passed",
  async () => {
    await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const { code, lines } = await stray({ LISTEN_FDS: "6" }, {
      fds: [listener.fd!],
      deno: ["--allow-env", "--allow-net"],
    });
    assert.equal(code, 0, lines.join("\n"));
    assert.match(lineOf(lines, "ALIVE"), /^ALIVE read=1$/);
  },
  { skip: current === "deno" ? false : `Deno permissions only (this is ${current})` },
);

/** Runs inherit_child in report mode with `fds` passed, without LISTEN_PID unless given in `env`. */
async function report(env: Record<string, string>, fds: number[] = []) {
  const [cmd, args] = commandFor(current, "inherit_child");
  const proc = startLogged(cmd, args, { fds, env: { CHILD_MODE: "report", ...env } });
  try {
    const code = await proc.exited;
    await proc.closed;
    assert.equal(code, 0, proc.lines.join("\n"));
    return { pid: proc.pid, lines: proc.lines };
  } finally {
    await reap([proc.pid]);
  }
}

test("new Net() throws InheritanceError naming LISTEN_FDS when it is not a plain decimal count", async () => {
  const bad = ["0x1", " 1", "1 ", "+1", "1e1", "", "99999", "4097"];
  const runs = await Promise.all(bad.map((value) => report({ LISTEN_FDS: value })));
  for (const [i, { lines }] of runs.entries()) {
    assert.equal(
      lineOf(lines, "ERROR "),
      `ERROR InheritanceError: Cannot inherit: LISTEN_FDS must be a decimal number from 0 to 4096, received ${
        JSON.stringify(bad[i])
      }`,
    );
    // The variables are unset all the same: the second Net finds nothing.
    assert.equal(lineOf(lines, "INHERITED "), "INHERITED []");
    assert.equal(lineOf(lines, "AFTER "), "AFTER LISTEN_FDS=unset LISTEN_PID=unset");
  }
});

test("Net takes LISTEN_FDS without LISTEN_PID (a gracenet parent) and serves the socket", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = portOf(listener);
  const [cmd, args] = commandFor(current, "inherit_child");
  const proc = startLogged(cmd, args, {
    fds: [listener.fd!],
    env: {
      LISTEN_FDS: "1",
      LISTEN_PID: undefined,
      CHILD_MODE: "serve",
      CHILD_SPECS: `tcp:127.0.0.1:${port}`,
    },
  });
  try {
    assert.match(await proc.line(/^ENV /), /LISTEN_FDS=1 LISTEN_FDNAMES=unset pidMatches=false$/);
    const inherited = JSON.parse((await proc.line(/^INHERITED /)).slice(10));
    assert.deepEqual(inherited, [{
      fd: 3,
      name: "unknown",
      addr: { transport: "tcp", hostname: "127.0.0.1", port },
      claimed: false,
    }]);
    await proc.line(/^SERVING /);
    // From now on only the child accepts on the shared socket.
    await listener.close();
    assert.equal(await ask({ port }), `child ${proc.pid} tcp:127.0.0.1:${port}\n`);
    assert.equal(await proc.exited, 0);
  } finally {
    await listener.close();
    await reap([proc.pid]);
  }
});

test("Net trusts NETKIT_LISTEN_ADDRS only where /proc agrees with it", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const said = [{
    want: "unix /tmp/not-this.sock",
    addr: { transport: "unix", path: "/tmp/not-this.sock" },
    own: true,
  }];
  const { lines } = await report(
    { LISTEN_FDS: "1", NETKIT_LISTEN_ADDRS: JSON.stringify(said) },
    [listener.fd!],
  );
  const inherited = JSON.parse(lineOf(lines, "INHERITED ").slice(10));
  assert.deepEqual(inherited[0].addr, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: portOf(listener),
  });
});

test("Net takes einhorn's EINHORN_FD_COUNT/EINHORN_FD_<i> and EINHORN_FDS, and unsets them", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: portOf(listener) };
  const master = String(process.pid); // the test runner is the fixture's parent
  const [counted, listed, foreign] = await Promise.all([
    report({ EINHORN_FD_COUNT: "1", EINHORN_FD_0: "3", EINHORN_MASTER_PID: master }, [
      listener.fd!,
    ]),
    report({ EINHORN_FDS: "3" }, [listener.fd!]),
    report({ EINHORN_FD_COUNT: "1", EINHORN_FD_0: "3", EINHORN_MASTER_PID: "1" }, [
      listener.fd!,
    ]),
  ]);
  for (const { lines } of [counted, listed]) {
    assert.deepEqual(JSON.parse(lineOf(lines, "INHERITED ").slice(10)), [
      { fd: 3, name: "einhorn@0", addr, claimed: false },
    ]);
    assert.equal(lineOf(lines, "AFTER "), "AFTER LISTEN_FDS=unset LISTEN_PID=unset");
    assert.equal(lineOf(lines, "FD3_AFTER"), "FD3_AFTER=closed");
  }
  // EINHORN_MASTER_PID names another process: a worker's own child; the fds are not ours.
  assert.equal(lineOf(foreign.lines, "INHERITED "), "INHERITED []");
});

test("Net marks inherited listeners close-on-exec: programs it starts do not hold them", async () => {
  await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const { lines } = await report({ CHILD_MODE: "cloexec", LISTEN_FDS: "1" }, [listener.fd!]);
  const [, flag, socket] = lineOf(lines, "CLOEXEC ").split(" ");
  assert.equal(flag, "fd3=true");
  const held = lines.filter((l) => l.startsWith("GRANDCHILD_FD ")).map((l) => l.slice(14));
  assert.ok(held.length >= 3, lines.join("\n"));
  assert.ok(!held.includes(socket), `the grandchild holds ${socket}: ${held.join(" ")}`);
});

/** The `go` binary on PATH, if any. */
function goBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, "go"))) return join(dir, "go");
  }
  return undefined;
}

const GOPATH = "/usr/share/gocode";
const gracenetSkip = goBinary() === undefined
  ? `needs the Go toolchain (apt-get install golang-go) (${current})`
  : !existsSync(join(GOPATH, "src/github.com/facebookgo/grace/gracenet"))
  ? `needs facebookgo/grace (apt-get install golang-github-facebookgo-grace-dev) (${current})`
  : false;

test("Net serves the socket a real Go gracenet parent hands over with StartProcess", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const pids = new Set<number>();
  try {
    const exe = join(dir, "gracenet_parent");
    const build = startLogged(goBinary()!, [
      "build",
      "-o",
      exe,
      join(repoRoot(), "tests", "fixtures", "gracenet_parent.go"),
    ], { env: { GO111MODULE: "off", GOPATH } });
    assert.equal(await build.exited, 0, build.lines.join("\n"));
    await build.closed;
    const [cmd, args] = commandFor(current, "inherit_child");
    const proc = startLogged(exe, [cmd, ...args], {
      env: { CHILD_MODE: "serve", LISTEN_FDS: undefined, LISTEN_PID: undefined },
    });
    pids.add(proc.pid);
    const port = field(await proc.line(/^GOPARENT /), "port");
    const child = field(await proc.line(/^GOSTARTED /), "child");
    pids.add(child);
    // gracenet sets LISTEN_FDS and no LISTEN_PID.
    assert.match(await proc.line(/^ENV /), /LISTEN_FDS=1 LISTEN_FDNAMES=unset pidMatches=false$/);
    await proc.line(/^SERVING /);
    assert.equal(await ask({ port }), `child ${child} tcp:127.0.0.1:${port}\n`);
    await proc.closed;
  } finally {
    await reap(pids);
  }
}, { skip: gracenetSkip });
