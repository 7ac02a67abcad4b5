// TLS in the runtime layer: listen({ tls }) and connect({ tls }) give plain
// netkit Listeners and Conns. Certificates are made at run time (openssl).
// TLS goes through node:tls on every adapter but Bun's, whose listen({ tls })
// serves with Bun's own TLS where it can: there each test runs on both adapters.
import assert from "node:assert/strict";
import {
  type Conn,
  connect,
  ConnectionRefusedError,
  listen,
  type Listener,
  ListenerClosedError,
  NetError,
  runtime,
  startTls,
  startTlsServer,
  type TlsConnectOptions,
  TlsHandshakeError,
  type TlsListenOptions,
} from "../src/runtime/mod.ts";
import { os } from "../src/runtime/_internal.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { wrap } from "../src/graceful/mod.ts";
import { listenBuffer } from "../src/listenbuffer/mod.ts";
import { createPoller, Event, handleListener, handleRead } from "../src/poll/mod.ts";
import {
  adapters,
  bytes,
  delay,
  HOST,
  portOf,
  readAll,
  readExactly,
  test,
  text,
} from "./_harness.ts";
import { haveOpenssl, testCerts } from "./_tls_certs.ts";
import { serve } from "../src/http/mod.ts";
import { RawClient, textOf } from "./_http_client.ts";

// Deno's node:tls ends the server's handshake before the client has checked
// the server's certificate, and ends a refused client's conn without an alert.
const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno === "object";
const NO_OPENSSL = haveOpenssl() ? false : "needs the openssl command (not found on this machine)";
const PATHS = runtime.name === "bun" ? adapters : [adapters[0]];
const t = (name: string, fn: () => Promise<void>) => {
  for (const adapter of PATHS) {
    const title = PATHS.length > 1 ? `${name} [${adapter} adapter]` : name;
    test(title, async () => {
      const before = useRuntime(adapter);
      try {
        await fn();
      } finally {
        useRuntime(before);
      }
    }, { skip: NO_OPENSSL });
  }
};

function serverTls(extra: Partial<TlsListenOptions> = {}): TlsListenOptions {
  const c = testCerts();
  return { cert: c.server.cert, key: c.server.key, ...extra };
}

function clientTls(extra: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return { ca: testCerts().ca, ...extra };
}

/** Echoes one conn until EOF, then half-closes back. */
async function echo(conn: Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    await conn.write(buf.slice(0, n));
  }
  await conn.closeWrite();
}

/** One client round trip through an echo listener; true if the echo came back. */
async function roundTrip(listener: Listener, tls: TlsConnectOptions): Promise<boolean> {
  const accepted = listener.accept();
  await using client = await connect({ hostname: HOST, port: portOf(listener), tls });
  await using conn = await accepted;
  const served = echo(conn);
  await client.write(bytes("ping"));
  await client.closeWrite();
  const got = text(await readAll(client));
  await served;
  return got === "ping";
}

t("listen({ tls }) and connect({ tls }) echo with half-close", async () => {
  await using listener = await listen({
    hostname: HOST,
    port: 0,
    tls: serverTls({ alpn: ["http/1.1"] }),
  });
  const accepted = listener.accept();
  await using client = await connect({
    hostname: HOST,
    port: portOf(listener),
    tls: clientTls({ alpn: ["http/1.1"] }),
  });
  await using conn = await accepted;
  const served = echo(conn);
  const payload = new Uint8Array(256 * 1024).map((_, i) => i % 251);
  const writing = (async () => {
    await client.write(payload);
    await client.closeWrite();
  })();
  const back = await readAll(client);
  await writing;
  await served;
  assert.deepEqual(back, payload);
  assert.equal(client.tls?.protocol, "TLSv1.3");
  assert.equal(client.tls?.alpnProtocol, "http/1.1");
  assert.equal(conn.tls?.alpnProtocol, "http/1.1");
  assert.equal(client.tls?.authorized, true);
  assert.equal(client.tls?.peerCertificate?.subject.CN, "localhost");
  assert.match(
    client.tls?.peerCertificate?.fingerprint256 ?? "",
    /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
  );
  assert.ok((client.tls?.peerCertificate?.raw.byteLength ?? 0) > 100);
  assert.equal(conn.tls?.peerCertificate, undefined);
});

t("a TLS conn keeps deadlines: a read past its deadline rejects with TimeoutError", async () => {
  await using listener = await listen({ hostname: HOST, port: 0, tls: serverTls() });
  const accepted = listener.accept();
  await using client = await connect({ hostname: HOST, port: portOf(listener), tls: clientTls() });
  await using conn = await accepted;
  client.setReadDeadline(Date.now() + 50);
  await assert.rejects(client.read(new Uint8Array(8)), { name: "TimeoutError" });
  client.setReadDeadline(null);
  await conn.write(bytes("late"));
  assert.equal(text(await readExactly(client, 4)), "late");
});

t(
  "serve() answers HTTPS on a TLS listener: keep-alive, a POST body, the client's address",
  async () => {
    const listener = await listen({ hostname: HOST, port: 0, tls: serverTls() });
    const server = serve({
      listener,
      fetch: async (req, info) =>
        new Response(
          `${req.method} ${new URL(req.url).pathname} ${await req.text()} ${
            info.remoteAddr.transport === "tcp" ? info.remoteAddr.hostname : "?"
          }`,
        ),
    });
    try {
      const client = new RawClient(
        await connect({ hostname: HOST, port: portOf(listener), tls: clientTls() }),
      );
      const a = await client.request("GET", "/a");
      assert.equal(a.status, 200);
      assert.equal(textOf(a.body), `GET /a  ${HOST}`);
      const b = await client.request("POST", "/b", { body: bytes("secret") });
      assert.equal(textOf(b.body), `POST /b secret ${HOST}`);
      assert.equal(server.stats.total, 1);
      client.close();
    } finally {
      await server.shutdown();
    }
  },
);

t("a plain conn has no tls info", async () => {
  await using listener = await listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  await using client = await connect({ hostname: HOST, port: portOf(listener) });
  await using conn = await accepted;
  assert.equal(client.tls, undefined);
  assert.equal(conn.tls, undefined);
});

t("connect({ tls }) refuses a certificate for the wrong name with TlsHandshakeError", async () => {
  const c = testCerts();
  const errors: Error[] = [];
  await using listener = await listen({
    hostname: HOST,
    port: 0,
    tls: { ...c.wrongName, onHandshakeError: (err) => errors.push(err) },
  });
  let firstRead: unknown = "not accepted";
  const accepting = listener.accept().then(async (conn) => {
    firstRead = await conn.read(new Uint8Array(8)).catch((err) => err);
    conn.close();
  }, () => {});
  const err = await connect({ hostname: HOST, port: portOf(listener), tls: clientTls() }).then(
    () => assert.fail("connected"),
    (err) => err,
  );
  assert.ok(err instanceof TlsHandshakeError, String(err));
  assert.ok(err instanceof NetError);
  assert.equal(err.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  assert.match(err.message, /^Cannot connect to 127\.0\.0\.1:\d+: /);
  if (IS_DENO) {
    // Deno: accept() may hand out the conn; it ends at once, with no data.
    for (let i = 0; i < 100 && firstRead === "not accepted"; i++) await delay(10);
    assert.ok(
      firstRead === "not accepted" || firstRead === null || firstRead instanceof NetError,
      String(firstRead),
    );
  } else {
    await delay(50);
    assert.equal(firstRead, "not accepted", "accept() must not return a failed handshake");
  }
  await listener.close();
  await accepting;
});

t("tls.serverName sets the name checked", async () => {
  const c = testCerts();
  await using listener = await listen({ hostname: HOST, port: 0, tls: c.wrongName });
  assert.ok(await roundTrip(listener, clientTls({ serverName: "example.com" })));
});

t("connect({ tls }) refuses an expired certificate with TlsHandshakeError", async () => {
  await using listener = await listen({ hostname: HOST, port: 0, tls: testCerts().expired });
  await assert.rejects(
    connect({ hostname: HOST, port: portOf(listener), tls: clientTls() }),
    (err) => err instanceof TlsHandshakeError && err.code === "CERT_HAS_EXPIRED",
  );
});

t("connect({ tls }) refuses a server whose CA it does not trust", async () => {
  await using listener = await listen({ hostname: HOST, port: 0, tls: serverTls() });
  await assert.rejects(
    connect({ hostname: HOST, port: portOf(listener), tls: { ca: testCerts().otherCa } }),
    (err) => err instanceof TlsHandshakeError && typeof err.code === "string",
  );
});

t("connect({ tls }) to nobody is ConnectionRefusedError, not a TLS error", async () => {
  const listener = await listen({ hostname: HOST, port: 0 });
  const port = portOf(listener);
  await listener.close();
  await assert.rejects(
    connect({ hostname: HOST, port, tls: clientTls() }),
    (err) => err instanceof ConnectionRefusedError,
  );
});

t("mTLS: a client certificate from the CA is accepted and shown on the conn", async () => {
  const c = testCerts();
  await using listener = await listen({
    hostname: HOST,
    port: 0,
    tls: serverTls({ requestCert: true, ca: c.ca }),
  });
  const accepted = listener.accept();
  await using client = await connect({
    hostname: HOST,
    port: portOf(listener),
    tls: clientTls(c.client),
  });
  await using conn = await accepted;
  assert.equal(conn.tls?.authorized, true);
  assert.equal(conn.tls?.peerCertificate?.subject.CN, "client1");
  assert.equal(conn.tls?.peerCertificate?.issuer.CN, "netkit test CA");
  await client.write(bytes("hi"));
  assert.equal(text(await readExactly(conn, 2)), "hi");
});

/** Connects and reads once: how a TLS 1.3 client learns it was refused. */
async function refusedClient(listener: Listener, tls: TlsConnectOptions): Promise<unknown> {
  try {
    await using client = await connect({ hostname: HOST, port: portOf(listener), tls });
    // TLS 1.3: the server checks the client's certificate after the client is done.
    const n = await client.read(new Uint8Array(8));
    return new Error(`read ${n}`);
  } catch (err) {
    return err;
  }
}

for (
  const [what, pick] of [
    ["no certificate", () => ({})],
    ["a certificate from another CA", () => testCerts().strangerClient],
  ] as const
) {
  t(`mTLS: a client with ${what} is refused on both sides, the listener goes on`, async () => {
    const c = testCerts();
    const errors: Error[] = [];
    await using listener = await listen({
      hostname: HOST,
      port: 0,
      tls: serverTls({ requestCert: true, ca: c.ca, onHandshakeError: (e) => errors.push(e) }),
    });
    const err = await refusedClient(listener, clientTls(pick()));
    // The client hears of it as a TLS alert, or (Deno and Bun always, Node
    // when the hang-up wins the race) as the end of the stream.
    if (err instanceof Error && err.message === "read null") {
      // The server's error below is the clear one.
    } else assert.ok(err instanceof TlsHandshakeError, `client error: ${String(err)}`);
    for (let i = 0; i < 200 && errors.length === 0; i++) await delay(10);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TlsHandshakeError);
    assert.match(errors[0].message, /^Cannot accept: TLS handshake failed: /);
    // Not handed to accept(): the next accepted conn is the good client.
    assert.ok(await roundTrip(listener, clientTls(c.client)));
  });
}

t("a client that speaks no TLS never reaches accept() and does not stop the listener", async () => {
  const errors: Error[] = [];
  await using listener = await listen({
    hostname: HOST,
    port: 0,
    tls: serverTls({ onHandshakeError: (e) => errors.push(e) }),
  });
  {
    await using plain = await connect({ hostname: HOST, port: portOf(listener) });
    await plain.write(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The server hangs up (perhaps after an alert); any bytes are not an echo.
    try {
      await readAll(plain);
    } catch {
      // A reset is fine too.
    }
  }
  for (let i = 0; i < 200 && errors.length === 0; i++) await delay(10);
  assert.equal(errors.length, 1);
  assert.ok(await roundTrip(listener, clientTls()));
});

t("a client that never finishes its handshake is cut at handshakeTimeout", async () => {
  const errors: Error[] = [];
  await using listener = await listen({
    hostname: HOST,
    port: 0,
    tls: serverTls({ handshakeTimeout: 100, onHandshakeError: (e) => errors.push(e) }),
  });
  await using silent = await connect({ hostname: HOST, port: portOf(listener) });
  const end = await readAll(silent).then((b) => b.byteLength, (err) => err);
  assert.ok(end === 0 || end instanceof NetError, String(end));
  for (let i = 0; i < 200 && errors.length === 0; i++) await delay(10);
  assert.equal(errors.length, 1);
  assert.ok(await roundTrip(listener, clientTls()));
});

// The hand-off drain (src/inherit/) stops the listener accepting, then loops
// `while (pending > 0) await accept()` while the application's own accept()
// may wait too. Served oldest first, the application took the last conn and
// the drain waited for ever: the TLS hand-off hang of issue #12.
t(
  "a stopped TLS listener serves the newest accept() first, so a drain never waits for ever",
  async () => {
    const listener = await listen({ hostname: HOST, port: 0, tls: serverTls() });
    try {
      const older = listener.accept(); // the application's accept loop
      const olderSettled = older.then(() => "conn", (err) => err);
      // A client whose TCP connect is done and whose handshake has not begun.
      await using plain = await connect({ hostname: HOST, port: portOf(listener) });
      for (let i = 0; i < 500 && listener.pending === 0; i++) await delay(10);
      assert.equal(listener.pending, 1);
      assert.equal(os.stopAccepting(listener), true);
      const drained = listener.accept(); // the drain, waiting for that handshake
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("the drain's accept() was never served")),
          20_000,
        );
      });
      const [client, conn] = await Promise.race([
        Promise.all([startTls(plain, clientTls()), drained]),
        hang,
      ]).finally(() => clearTimeout(timer));
      try {
        assert.equal(listener.pending, 0);
        const served = echo(conn);
        await client.write(bytes("ping"));
        await client.closeWrite();
        assert.equal(text(await readAll(client)), "ping");
        await served;
      } finally {
        client.close();
        conn.close();
      }
      await listener.close();
      const err = await olderSettled;
      assert.ok(err instanceof ListenerClosedError, String(err));
    } finally {
      await listener.close();
    }
  },
);

t(
  "a client that never begins its handshake is cut by the default handshakeTimeout (10 s)",
  async () => {
    const errors: Error[] = [];
    await using listener = await listen({
      hostname: HOST,
      port: 0,
      tls: serverTls({ onHandshakeError: (e) => errors.push(e) }),
    });
    await using silent = await connect({ hostname: HOST, port: portOf(listener) });
    // Bounded well past the default: a missing timeout fails here, not at the harness limit.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = await Promise.race([
      readAll(silent).then((b) => b.byteLength, (err) => err),
      new Promise((r) => timer = setTimeout(() => r("still open after 40 s"), 40_000)),
    ]).finally(() => clearTimeout(timer));
    assert.ok(end === 0 || end instanceof NetError, String(end));
    for (let i = 0; i < 200 && errors.length === 0; i++) await delay(10);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TlsHandshakeError);
    assert.ok(await roundTrip(listener, clientTls()));
  },
);

t("listen() and connect() check the tls option", async () => {
  const c = testCerts();
  await assert.rejects(
    listen({ port: 0, tls: { cert: 1 } as unknown as TlsListenOptions }),
    TypeError,
  );
  await assert.rejects(
    listen({ port: 0, tls: { ...c.server, handshakeTimeout: -1 } }),
    RangeError,
  );
  await assert.rejects(
    connect({ port: 1, tls: { cert: c.client.cert } }),
    TypeError,
  );
  await assert.rejects(
    connect({ port: 1, tls: { alpn: "h2" } as unknown as TlsConnectOptions }),
    TypeError,
  );
});

// The wrappers take a TLS listener as any other: it is a plain netkit Listener.

t("listenBuffer({ tls }) holds clients until activation, then hands out TLS conns", async () => {
  const ready = new AbortController();
  await using listener = await listenBuffer(
    { hostname: HOST, port: 0, tls: serverTls() },
    ready.signal,
  );
  // The handshake completes before activation: node:tls accepts eagerly.
  await using client = await connect({ hostname: HOST, port: portOf(listener), tls: clientTls() });
  await client.write(bytes("early"));
  const accepted = listener.accept();
  ready.abort();
  await using conn = await accepted;
  assert.equal(text(await readExactly(conn, 5)), "early");
  assert.equal(conn.tls?.protocol, "TLSv1.3");
});

t("graceful wrap() tracks and drains TLS conns", async () => {
  await using inner = await listen({ hostname: HOST, port: 0, tls: serverTls() });
  const listener = wrap(inner);
  const served = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(64);
        try {
          for (let n; (n = await conn.read(buf)) !== null;) {
            await conn.write(buf.subarray(0, n));
            conn.markIdle();
          }
        } catch {
          // closed by the drain
        }
        conn.close();
      })();
    }
  })();
  await using client = await connect({ hostname: HOST, port: portOf(inner), tls: clientTls() });
  await client.write(bytes("hi"));
  assert.equal(text(await readExactly(client, 2)), "hi");
  await listener.drain({ timeout: 5000 });
  await served;
  assert.equal(listener.stats.accepted, 1);
  assert.equal(listener.stats.closed, 1);
  assert.equal(await client.read(new Uint8Array(8)).catch(() => null), null);
});

t("poll: a TLS listener and conn report readiness", async () => {
  await using listener = await listen({ hostname: HOST, port: 0, tls: serverTls() });
  await using poller = createPoller();
  let onAcceptable!: () => void;
  const acceptable = new Promise<void>((resolve) => onAcceptable = resolve);
  const ldesc = handleListener(listener, Event.Read | Event.OneShot);
  poller.start(ldesc, () => onAcceptable());
  await using client = await connect({ hostname: HOST, port: portOf(listener), tls: clientTls() });
  await acceptable;
  poller.stop(ldesc);
  await using conn = await listener.accept();
  let onReadable!: (ev: number) => void;
  const readable = new Promise<number>((resolve) => onReadable = resolve);
  const desc = handleRead(conn);
  poller.start(desc, (ev) => onReadable(ev));
  await client.write(bytes("ping"));
  assert.ok(((await readable) & Event.Read) !== 0);
  poller.stop(desc);
  assert.equal(text(await readExactly(conn, 4)), "ping");
});

// startTls: TLS begun on an open plain conn (STARTTLS), both sides.

/** A plain client and its accepted conn, after a STARTTLS exchange in clear. */
async function plainPair(listener: Listener): Promise<[Conn, Conn]> {
  const accepted = listener.accept();
  const client = await connect({ hostname: HOST, port: portOf(listener) });
  const conn = await accepted;
  await client.write(bytes("STARTTLS\n"));
  assert.equal(text(await readExactly(conn, 9)), "STARTTLS\n");
  await conn.write(bytes("GO\n"));
  assert.equal(text(await readExactly(client, 3)), "GO\n");
  return [client, conn];
}

t(
  "startTls() and startTlsServer() upgrade an open plain conn after a STARTTLS exchange",
  async () => {
    const c = testCerts();
    await using listener = await listen({ hostname: HOST, port: 0 });
    const [plainClient, plainConn] = await plainPair(listener);
    const [client, conn] = await Promise.all([
      startTls(plainClient, { ca: c.ca, alpn: ["smtp"] }),
      startTlsServer(plainConn, { cert: c.server.cert, key: c.server.key, alpn: ["smtp"] }),
    ]);
    await using _client = client;
    await using _conn = conn;
    assert.equal(client.tls?.protocol, "TLSv1.3");
    assert.equal(client.tls?.alpnProtocol, "smtp");
    assert.equal(client.tls?.authorized, true);
    assert.equal(client.tls?.peerCertificate?.subject.CN, "localhost");
    assert.equal(conn.tls?.alpnProtocol, "smtp");
    assert.deepEqual(client.remoteAddr, plainClient.remoteAddr);
    assert.deepEqual(conn.localAddr, plainConn.localAddr);
    const served = echo(conn).catch(() => {});
    const payload = new Uint8Array(128 * 1024).map((_, i) => i % 253);
    const writing = client.write(payload);
    const got = await readExactly(client, payload.byteLength);
    await writing;
    assert.deepEqual(got, payload);
    client.close();
    await served;
    conn.close();
    assert.ok(plainClient.closed);
    assert.ok(plainConn.closed);
  },
);

test(
  "startTls() conns half-close (skipped on Bun: Bun 1.4's node:tls over a Duplex drops what arrives after its own close_notify)",
  async () => {
    const c = testCerts();
    await using listener = await listen({ hostname: HOST, port: 0 });
    const [plainClient, plainConn] = await plainPair(listener);
    const [client, conn] = await Promise.all([
      startTls(plainClient, { ca: c.ca }),
      startTlsServer(plainConn, { cert: c.server.cert, key: c.server.key }),
    ]);
    await using _client = client;
    await using _conn = conn;
    const served = echo(conn);
    const payload = new Uint8Array(64 * 1024).map((_, i) => i % 241);
    const writing = (async () => {
      await client.write(payload);
      await client.closeWrite();
    })();
    const got = await readAll(client);
    await writing;
    await served;
    assert.deepEqual(got, payload);
  },
  { skip: NO_OPENSSL || (runtime.name === "bun" ? "Bun 1.4 drops it" : false) },
);

t(
  "startTls() refuses a server it does not trust with TlsHandshakeError and closes the conn",
  async () => {
    const c = testCerts();
    await using listener = await listen({ hostname: HOST, port: 0 });
    const [plainClient, plainConn] = await plainPair(listener);
    const server = startTlsServer(plainConn, {
      cert: c.server.cert,
      key: c.server.key,
      handshakeTimeout: 1000,
    });
    await assert.rejects(
      startTls(plainClient, { ca: c.otherCa, serverName: "localhost" }),
      (err) => err instanceof TlsHandshakeError && typeof err.code === "string",
    );
    await server.then((conn) => conn.close(), () => {});
    assert.ok(plainClient.closed);
    plainConn.close();
  },
);

t(
  "startTlsServer() cuts a client that never begins its handshake at handshakeTimeout",
  async () => {
    const c = testCerts();
    await using listener = await listen({ hostname: HOST, port: 0 });
    const [plainClient, plainConn] = await plainPair(listener);
    await using _client = plainClient;
    await assert.rejects(
      startTlsServer(plainConn, { cert: c.server.cert, key: c.server.key, handshakeTimeout: 100 }),
      TlsHandshakeError,
    );
    assert.ok(plainConn.closed);
  },
);

t("startTls() and startTlsServer() check their arguments", async () => {
  const c = testCerts();
  await assert.rejects(startTls(null as unknown as Conn), TypeError);
  await using listener = await listen({ hostname: HOST, port: 0 });
  const [plainClient, plainConn] = await plainPair(listener);
  await using _client = plainClient;
  await using _conn = plainConn;
  await assert.rejects(
    startTls(plainClient, { alpn: "h2" } as unknown as TlsConnectOptions),
    TypeError,
  );
  await assert.rejects(
    startTlsServer(plainConn, { cert: c.server.cert, key: 1 } as unknown as TlsListenOptions),
    TypeError,
  );
  const aborted = AbortSignal.abort();
  await assert.rejects(startTls(plainClient, { signal: aborted }), (err) => err === aborted.reason);
});
