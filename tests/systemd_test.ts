// systemd compatibility under Debian's real systemd-socket-activate: a TCP
// socket, a Unix socket, two named sockets, a LISTEN_PID naming another
// process; and notify() speaking sd_notify. Real processes, loopback only.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "./_harness.ts";
import {
  allowLongTests,
  ask,
  commandFor,
  current,
  field,
  freePort,
  reap,
  startLogged,
  tempDir,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

const ACTIVATE = "/usr/bin/systemd-socket-activate";
const skip = existsSync(ACTIVATE) ? false : `${ACTIVATE} is not installed (${current})`;

/** Runs `systemd-socket-activate <flags> -- <the fixture on this runtime> <args>`. */
function activate(flags: string[], args: string[], wrap?: (argv: string[]) => string[]) {
  const [cmd, cargs] = commandFor(current, "inherit_activated", args);
  const argv = wrap ? wrap([cmd, ...cargs]) : [cmd, ...cargs];
  return startLogged(ACTIVATE, [...flags, "--", ...argv]);
}

test("Net.listen() serves the TCP socket systemd-socket-activate passes", async () => {
  const port = await freePort();
  const proc = activate(["-l", `127.0.0.1:${port}`], ["tcp", String(port), "2"]);
  try {
    await proc.line(/Listening on/);
    // The first connection makes systemd-socket-activate exec the program in place.
    assert.equal(await ask({ port }), `tcp ${proc.pid}\n`);
    const line = await proc.line(/^ACTIVATED /);
    assert.equal(field(line, "pid"), proc.pid);
    assert.equal(field(line, "LISTEN_PID"), proc.pid);
    const inherited = JSON.parse(line.slice(line.indexOf("inherited=") + 10));
    assert.deepEqual(inherited, [{
      fd: 3,
      name: "unknown",
      addr: { transport: "tcp", hostname: "127.0.0.1", port },
      claimed: false,
    }]);
    assert.equal(await ask({ port }), `tcp ${proc.pid}\n`);
    assert.equal(await proc.exited, 0);
  } finally {
    await reap([proc.pid]);
  }
}, { skip });

test("Net.listen() serves the Unix socket systemd-socket-activate passes", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const path = join(dir, "activated.sock");
  const proc = activate(["-l", path], ["unix", path, "1"]);
  try {
    await proc.line(/Listening on/);
    assert.equal(await ask({ path }), `unix ${proc.pid}\n`);
    const line = await proc.line(/^ACTIVATED /);
    assert.match(line, new RegExp(`"addr":\\{"transport":"unix","path":"${path}"\\}`));
    assert.equal(await proc.exited, 0);
    // The socket belongs to the activator, not to this program: its path stays.
    assert.ok(existsSync(path));
  } finally {
    await reap([proc.pid]);
  }
}, { skip });

test("Net.listenNamed() takes the sockets named with --fdname", async () => {
  using tmp = tempDir();
  const dir = tmp.path;
  const path = join(dir, "ctl.sock");
  const port = await freePort();
  const proc = activate(
    ["-l", `127.0.0.1:${port}`, "-l", path, "--fdname=web:ctl"],
    ["named", "2"],
  );
  try {
    await proc.line(/Listening on .*ctl\.sock/);
    assert.equal(await ask({ port }), `web ${proc.pid}\n`);
    assert.equal(await ask({ path }), `ctl ${proc.pid}\n`);
    const line = await proc.line(/^ACTIVATED /);
    const inherited = JSON.parse(line.slice(line.indexOf("inherited=") + 10));
    assert.deepEqual(inherited.map((l: { fd: number; name: string }) => [l.fd, l.name]), [
      [3, "web"],
      [4, "ctl"],
    ]);
    assert.equal(await proc.exited, 0);
  } finally {
    await reap([proc.pid]);
  }
}, { skip });

test("Net ignores the sockets when LISTEN_PID names another process (a wrapper)", async () => {
  const port = await freePort();
  // `sh -c 'cmd; exit'` forks cmd, so LISTEN_PID is the shell's pid, not the program's.
  const proc = activate(
    ["-l", `127.0.0.1:${port}`],
    ["report"],
    (argv) => ["/bin/sh", "-c", '"$@"; exit $?', "sh", ...argv],
  );
  try {
    await proc.line(/Listening on/);
    const pending = ask({ port }, "ping\n", 20_000).catch(() => "no answer");
    const line = await proc.line(/^ACTIVATED /);
    assert.notEqual(field(line, "pid"), field(line, "LISTEN_PID"));
    assert.match(line, / LISTEN_FDS=1 inherited=\[\]$/);
    assert.equal(await proc.line(/^AFTER /), "AFTER LISTEN_FDS=unset");
    assert.equal(await proc.exited, 0);
    assert.equal(await pending, "no answer");
  } finally {
    await reap([proc.pid]);
  }
}, { skip });

test("notify() sends READY=1 and STATUS to NOTIFY_SOCKET", async () => {
  // Bun receives Unix datagrams through bun:ffi, whatever runtime this is.
  const [rcmd, rargs] = commandFor("bun", "inherit_notify", ["recv"]);
  const rx = startLogged(rcmd, rargs);
  try {
    const socket = (await rx.line(/^NOTIFY_SOCKET=/)).slice("NOTIFY_SOCKET=".length);
    const [scmd, sargs] = commandFor(current, "inherit_notify", ["send"]);
    const tx = startLogged(scmd, sargs, { env: { NOTIFY_SOCKET: socket } });
    const sent = await tx.line(/^SENT /);
    // Deno without --unstable-net and Node have no Unix datagrams: systemd-notify sends.
    const transport = { deno: "systemd-notify", bun: "ffi", node: "systemd-notify" }[current];
    assert.equal(sent, `SENT true ${transport}`);
    const message = JSON.parse((await rx.line(/^MSG /)).slice(4)) as string;
    assert.deepEqual(message.trim().split("\n"), ["READY=1", `STATUS=up on ${current}`]);
    await Promise.all([tx.closed, tx.exited, rx.closed, rx.exited]);
  } finally {
    await reap([rx.pid]);
  }
}, {
  skip: existsSync("/usr/bin/systemd-notify") ? false : `systemd-notify is missing (${current})`,
});

test("notify() says false when NOTIFY_SOCKET is not set", async () => {
  const [cmd, args] = commandFor(current, "inherit_notify", ["send"]);
  const tx = startLogged(cmd, args, { env: { NOTIFY_SOCKET: undefined } });
  assert.match(await tx.line(/^SENT /), /^SENT false /);
  await Promise.all([tx.closed, tx.exited]);
});
