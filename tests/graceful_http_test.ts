// Tests of gracefulHttp() (@netkit/netkit/graceful) with real node:http and
// node:https servers, on the runtime's own node:http (Deno, Bun, Node), and
// of handleSignals() through a fixture process.
import assert from "node:assert/strict";
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import {
  Agent as HttpsAgent,
  createServer as createHttpsServer,
  request as httpsRequest,
} from "node:https";
import type { AddressInfo, Socket } from "node:net";
import process from "node:process";
import { DrainTimeoutError, type GracefulHttp, gracefulHttp } from "../src/graceful/mod.ts";
import { type Conn, connect, ConnectionRefusedError, runtime } from "../src/runtime/mod.ts";
import { bytes, delay, HOST, startFixture, test, text, until } from "./_harness.ts";
import { ca, cert, key } from "./fixtures/graceful_tls.ts";

interface Reply {
  status: number;
  connection: string | undefined;
  body: string;
}

function portOfServer(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** A node:http server on 127.0.0.1:0; resolves once it listens. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  before?: (server: Server) => void,
): Promise<{ server: Server; port: number; closed: Promise<void> }> {
  const server = createServer(handler);
  before?.(server);
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { server, port: portOfServer(server), closed };
}

/** GET over a keep-alive agent. */
function get(port: number, path: string, agent: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        const connection = res.headers.connection;
        resolve({ status: res.statusCode ?? 0, connection, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Reads from a raw conn until `marker` is seen; returns what was read. */
async function readUntil(conn: Conn, marker: string): Promise<string> {
  let got = "";
  const buf = new Uint8Array(4096);
  while (!got.includes(marker)) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += text(buf.subarray(0, n));
  }
  return got;
}

/** Registers for a fixture's output line now, so that it cannot be missed. */
function watch(child: { line(match: RegExp): Promise<string> }, match: RegExp): Promise<string> {
  const line = child.line(match);
  line.catch(() => {}); // awaited later; handled even if the test fails first
  return line;
}

async function shutdownAndWait(graceful: GracefulHttp, closed: Promise<void>): Promise<void> {
  await graceful.shutdown({ timeout: 5000 });
  await closed;
}

test("gracefulHttp() tracks sockets from the request lifecycle, with exact stats", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let graceful!: GracefulHttp;
  const { port, closed } = await serve((req, res) => {
    if (req.url === "/slow") released.then(() => res.end("slow"));
    else res.end("ok");
  }, (server) => (graceful = gracefulHttp(server)));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.deepEqual(await get(port, "/", agent), {
      status: 200,
      connection: "keep-alive",
      body: "ok",
    });
    await until(() => graceful.stats.idle === 1, "an idle keep-alive socket");
    assert.deepEqual(graceful.stats, {
      idle: 1,
      inUse: 0,
      fresh: 0,
      disowned: 0,
      total: 1,
      accepted: 1,
      closed: 0,
      requests: 0,
      served: 1,
    });
    const slow = get(port, "/slow", agent); // same socket, now in use
    await until(() => graceful.stats.inUse === 1, "the request in flight");
    assert.equal(graceful.stats.requests, 1);
    assert.equal(graceful.stats.idle, 0);
    release();
    assert.equal((await slow).body, "slow");
    await until(() => graceful.stats.idle === 1, "idle again");
    assert.equal(graceful.stats.served, 2);
    assert.equal(graceful.stats.accepted, 1);
  } finally {
    agent.destroy();
  }
  await until(() => graceful.stats.total === 0, "the client's close");
  assert.equal(graceful.stats.closed, 1);
  await shutdownAndWait(graceful, closed);
});

test(
  "GracefulHttp.shutdown() completes in-flight requests with Connection: close, closes idle sockets, refuses new ones",
  async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let graceful!: GracefulHttp;
    const { port, closed } = await serve((req, res) => {
      if (req.url === "/slow") released.then(() => res.end("slow done"));
      else res.end("ok");
    }, (server) => (graceful = gracefulHttp(server)));
    const idleAgent = new Agent({ keepAlive: true });
    const busyAgent = new Agent({ keepAlive: true });
    try {
      assert.equal((await get(port, "/", idleAgent)).status, 200);
      const slow = get(port, "/slow", busyAgent);
      await until(
        () => graceful.stats.inUse === 1 && graceful.stats.idle === 1,
        "one idle and one busy socket",
      );

      let done = false;
      const shutdown = graceful.shutdown().then((stats) => {
        done = true;
        return stats;
      });
      assert.equal(graceful.shuttingDown, true);
      // The idle keep-alive socket is closed at once.
      await until(() => graceful.stats.idle === 0 && graceful.stats.closed === 1, "idle closed");
      // New connections are refused.
      await assert.rejects(connect({ hostname: HOST, port }), ConnectionRefusedError);
      await delay(20);
      assert.equal(done, false, "shutdown waits for the request in flight");

      release();
      const reply = await slow;
      assert.deepEqual(reply, { status: 200, connection: "close", body: "slow done" });
      const stats = await shutdown;
      assert.deepEqual(stats, {
        idle: 0,
        inUse: 0,
        fresh: 0,
        disowned: 0,
        total: 0,
        accepted: 2,
        closed: 2,
        requests: 0,
        served: 2,
      });
      await closed;
      // Calling it again once over resolves at once.
      assert.equal((await graceful.shutdown()).total, 0);
    } finally {
      idleAgent.destroy();
      busyAgent.destroy();
    }
  },
);

const BUN_SKIP: string | false = runtime.name === "bun"
  ? "Bun's node:http reports a socket only with its first request, and its close() resets one that sent none"
  : false;

test(
  "GracefulHttp.shutdown() answers a request that comes after it began, on a socket that had sent nothing",
  async () => {
    let graceful!: GracefulHttp;
    const { port, closed } = await serve(
      (_req, res) => res.end("ok"),
      (server) => (graceful = gracefulHttp(server)),
    );
    await using client = await connect({ hostname: HOST, port });
    await until(() => graceful.stats.fresh === 1, "a fresh socket");
    assert.equal(graceful.stats.inUse, 1);
    const shutdown = graceful.shutdown({ timeout: 10_000 });
    await delay(30);
    assert.equal(graceful.stats.closed, 0, "the fresh socket is not closed");
    await client.write(bytes(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`));
    const reply = await readUntil(client, "\r\n\r\nok");
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /\r\nconnection: close\r\n/i);
    const stats = await shutdown;
    assert.equal(stats.served, 1);
    assert.equal(stats.fresh, 0);
    assert.equal(stats.total, 0);
    await closed;
  },
  { skip: BUN_SKIP },
);

test(
  "GracefulHttp.shutdown() closes a socket that sends nothing within its grace",
  async () => {
    let graceful!: GracefulHttp;
    const { port, closed } = await serve(
      (_req, res) => res.end("ok"),
      (server) => (graceful = gracefulHttp(server, { grace: 200 })),
    );
    await using client = await connect({ hostname: HOST, port });
    await until(() => graceful.stats.total === 1, "a tracked socket");
    const stats = await graceful.shutdown({ timeout: 10_000 });
    assert.equal(stats.closed, 1);
    assert.equal(stats.served, 0);
    assert.equal(await client.read(new Uint8Array(8)).catch(() => null), null);
    await closed;
    assert.throws(() => gracefulHttp(createServer(), { grace: -1 }), RangeError);
  },
  { skip: BUN_SKIP },
);

test("GracefulHttp.shutdown({ timeout }) cuts a handler that never answers and reports it", async () => {
  let graceful!: GracefulHttp;
  const { port, closed } = await serve((req, res) => {
    if (req.url !== "/hang") res.end("ok");
  }, (server) => (graceful = gracefulHttp(server)));
  const agent = new Agent({ keepAlive: true });
  try {
    const hung = get(port, "/hang", agent).then(
      () => assert.fail("the hung request should fail"),
      (err: Error) => err,
    );
    await until(() => graceful.stats.inUse === 1, "the hung request");
    await assert.rejects(graceful.shutdown({ timeout: 100 }), (err: unknown) => {
      assert.ok(err instanceof DrainTimeoutError);
      assert.equal(err.cut, 1);
      assert.match(err.message, /^Cannot shut down: 1 connection still open after 100 ms/);
      return true;
    });
    assert.ok((await hung) instanceof Error, "the client sees its request cut");
    assert.deepEqual(graceful.stats, {
      idle: 0,
      inUse: 0,
      fresh: 0,
      disowned: 0,
      total: 0,
      accepted: 1,
      closed: 1,
      requests: 0,
      served: 0,
    });
    await closed;
  } finally {
    agent.destroy();
  }
});

test("GracefulHttp.shutdown({ signal }) and shutdownNow() force-close", async () => {
  let graceful!: GracefulHttp;
  const { port, closed } = await serve(() => {
    // never answers
  }, (server) => (graceful = gracefulHttp(server, { timeout: 60_000 })));
  const agent = new Agent({ keepAlive: true });
  try {
    const hung = [get(port, "/a", agent), get(port, "/b", agent)].map((p) =>
      p.then(() => assert.fail("should be cut"), (err: Error) => err)
    );
    await until(() => graceful.stats.inUse === 2, "two requests in flight");
    const ac = new AbortController();
    const first = graceful.shutdown({ signal: ac.signal });
    await delay(10);
    const now = await graceful.shutdownNow();
    assert.equal(now.total, 0);
    assert.equal(now.closed, 2);
    ac.abort(); // nothing left to cut: the first shutdown is over
    assert.equal((await first).total, 0);
    for (const p of hung) assert.ok((await p) instanceof Error);
    await closed;
  } finally {
    agent.destroy();
  }
});

test("gracefulHttp() disowns upgraded sockets: shutdown neither waits for nor closes them", async () => {
  const upgraded: Socket[] = [];
  let graceful!: GracefulHttp;
  const { server, port, closed } = await serve(
    (_req, res) => res.end("ok"),
    (s) => (graceful = gracefulHttp(s)),
  );
  // Added after gracefulHttp(): it notices and tracks upgrades from now on.
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => {
    upgraded.push(socket);
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
    );
    socket.on("data", (chunk: Uint8Array) => socket.write(chunk));
    socket.on("end", () => socket.end());
  });
  const client = await connect({ hostname: HOST, port });
  try {
    await client.write(
      bytes("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"),
    );
    assert.match(await readUntil(client, "\r\n\r\n"), /^HTTP\/1.1 101/);
    await until(() => graceful.stats.disowned === 1, "a disowned socket");
    assert.equal(graceful.stats.total, 1);
    const stats = await graceful.shutdown({ timeout: 5000 });
    assert.equal(stats.disowned, 1);
    assert.equal(stats.total, 1);
    // Still open and working after the shutdown.
    await client.write(bytes("still there"));
    assert.equal(await readUntil(client, "still there"), "still there");
  } finally {
    client.close();
  }
  await until(() => graceful.stats.disowned === 0, "the upgraded socket's close");
  assert.equal(graceful.stats.closed, 1);
  await closed;
});

test("gracefulHttp() leaves upgrade requests alone while nobody listens for upgrades", async () => {
  let graceful!: GracefulHttp;
  const { server, port, closed } = await serve(
    (_req, res) => res.end("plain"),
    (s) => (graceful = gracefulHttp(s)),
  );
  const onUpgrade = (_req: IncomingMessage, socket: Socket) => socket.destroy();
  server.on("upgrade", onUpgrade);
  server.removeListener("upgrade", onUpgrade);
  assert.equal(server.listenerCount("upgrade"), 0);
  const client = await connect({ hostname: HOST, port });
  try {
    await client.write(
      bytes(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n",
      ),
    );
    const reply = await readUntil(client, "plain");
    assert.match(reply, /^HTTP\/1.1 200/);
  } finally {
    client.close();
  }
  await shutdownAndWait(graceful, closed);
});

test("gracefulHttp() works with node:https: shutdown completes the request in flight", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = createHttpsServer({ key, cert }, (req, res) => {
    if (req.url === "/slow") released.then(() => res.end("secure slow"));
    else res.end("secure");
  });
  const graceful = gracefulHttp(server);
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const idleAgent = new HttpsAgent({ keepAlive: true, ca });
  const busyAgent = new HttpsAgent({ keepAlive: true, ca });
  const fetchOne = (path: string, agent: HttpsAgent) =>
    new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest({ host: HOST, port, path, agent, ca }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      });
      req.on("error", reject);
      req.end();
    });
  try {
    assert.equal((await fetchOne("/", idleAgent)).body, "secure");
    const slow = fetchOne("/slow", busyAgent);
    await until(() => graceful.stats.inUse === 1, "the request in flight");
    assert.equal(graceful.stats.total, 2, "one socket per TLS connection, counted once");
    const shutdown = graceful.shutdown({ timeout: 5000 });
    await until(() => graceful.stats.idle === 0, "the idle TLS socket closed");
    release();
    assert.deepEqual(await slow, { status: 200, connection: "close", body: "secure slow" });
    const stats = await shutdown;
    assert.equal(stats.total, 0);
    assert.equal(stats.accepted, 2);
    assert.equal(stats.served, 2);
    await closed;
  } finally {
    idleAgent.destroy();
    busyAgent.destroy();
  }
});

test("gracefulHttp() validates its arguments", () => {
  assert.throws(() => gracefulHttp({} as unknown as Server), TypeError);
  assert.throws(() => gracefulHttp(null as unknown as Server), TypeError);
  const server = createServer();
  assert.throws(() => gracefulHttp(server, { timeout: -5 }), RangeError);
  const graceful = gracefulHttp(server);
  assert.throws(() => graceful.handleSignals({ signals: [] }), TypeError);
  assert.throws(() => graceful.handleSignals({ timeout: NaN }), RangeError);
  const off = graceful.handleSignals();
  off();
  off(); // idempotent
});

test("GracefulHttp.handleSignals(): SIGTERM drains the request in flight, then the process exits", async () => {
  const child = startFixture("graceful_http_server");
  try {
    const ready = watch(child, /^READY \d+/);
    const requested = watch(child, /^REQUEST \/slow/);
    const signalled = watch(child, /^SIGNAL SIGTERM false/);
    const over = watch(child, /^DONE /);
    const port = Number((await ready).split(" ")[1]);
    const agent = new Agent({ keepAlive: true });
    try {
      const slow = get(port, "/slow", agent);
      await requested;
      process.kill(child.pid, "SIGTERM");
      await signalled;
      assert.deepEqual(await slow, { status: 200, connection: "close", body: "slow done" });
      const done = JSON.parse((await over).slice(5));
      assert.equal(done.signal, "SIGTERM");
      assert.equal(done.forced, false);
      assert.equal(done.cut, 0);
      assert.equal(done.stats.served, 1);
      assert.equal(done.stats.total, 0);
      assert.equal(await child.exited, 0);
    } finally {
      agent.destroy();
    }
  } finally {
    child.kill("SIGKILL");
  }
});

test("GracefulHttp.handleSignals(): a second signal forces the shutdown", async () => {
  const child = startFixture("graceful_http_server");
  try {
    const ready = watch(child, /^READY \d+/);
    const requested = watch(child, /^REQUEST \/hang/);
    const first = watch(child, /^SIGNAL SIGINT false/);
    const second = watch(child, /^SIGNAL SIGTERM true/);
    const over = watch(child, /^DONE /);
    const port = Number((await ready).split(" ")[1]);
    const agent = new Agent({ keepAlive: true });
    try {
      const hung = get(port, "/hang", agent).then(
        () => assert.fail("the hung request should be cut"),
        (err: Error) => err,
      );
      await requested;
      // By pid: Deno's ChildProcess.kill() sends only the first signal.
      process.kill(child.pid, "SIGINT");
      await first;
      process.kill(child.pid, "SIGTERM");
      await second;
      const done = JSON.parse((await over).slice(5));
      assert.equal(done.signal, "SIGINT");
      assert.equal(done.forced, true);
      assert.equal(done.cut, 1);
      assert.equal(done.stats.total, 0);
      assert.ok((await hung) instanceof Error);
      assert.equal(await child.exited, 0);
    } finally {
      agent.destroy();
    }
  } finally {
    child.kill("SIGKILL");
  }
});
