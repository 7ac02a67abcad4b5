// Tests of @netkit/netkit/http: serve() with fetch and node-style handlers on
// netkit listeners (listen(), listenBuffer(), graceful wrap()), keep-alive,
// pipelining, bodies both ways, limits, timeouts, upgrades and shutdown.
// Clients speak raw HTTP/1.1 over netkit conns (tests/_http_client.ts) so
// every byte and every close is seen.
import assert from "node:assert/strict";
import { DrainTimeoutError, type HttpServer, serve, type ServeOptions } from "../src/http/mod.ts";
import { listenBuffer } from "../src/listenbuffer/mod.ts";
import { wrap } from "../src/graceful/mod.ts";
import { type Conn, listen, type Listener } from "../src/runtime/mod.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { adapters, bytes, delay, HOST, portOf, test, text, until } from "./_harness.ts";
import { RawClient, textOf } from "./_http_client.ts";

/** Serves on a fresh loopback listener. */
async function start(
  options: Omit<ServeOptions, "listener">,
): Promise<{ server: HttpServer; port: number }> {
  const listener = await listen({ hostname: HOST, port: 0 });
  const server = serve({ ...options, listener } as ServeOptions);
  return { server, port: portOf(listener) };
}

/** A body of `n` bytes with a pattern, to check byte for byte. */
function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 10)) & 255;
  return b;
}

const hello = () => new Response("hello");

for (const adapter of adapters) {
  const on = `(${adapter} adapter)`;
  const use = () => useRuntime(adapter);

  test(`serve() answers a fetch handler, keep-alive, with exact stats ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: (req) => new Response(`${req.method} ${new URL(req.url).pathname}`),
      });
      const client = await RawClient.open(port);
      for (let i = 0; i < 3; i++) {
        const res = await client.request("GET", `/n${i}`);
        assert.equal(res.status, 200);
        assert.equal(textOf(res.body), `GET /n${i}`);
        assert.equal(res.headers["content-length"], String(`GET /n${i}`.length));
      }
      await until(() => server.stats.idle === 1, "the conn to turn idle");
      assert.deepEqual(server.stats, {
        idle: 1,
        inUse: 0,
        fresh: 0,
        disowned: 0,
        total: 1,
        accepted: 1,
        closed: 0,
        requests: 0,
        served: 3,
      });
      await server.shutdown();
      assert.ok(await client.closedByServer());
      client.close();
      assert.equal(server.stats.closed, 1);
      assert.equal(server.stats.total, 0);
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() gives fetch handlers a real Request: instanceof, headers, json(), clone() ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: async (req, info) => {
          const copy = req.clone();
          const body = await req.json() as { n: number };
          const again = await copy.text();
          return Response.json({
            isRequest: req instanceof Request,
            method: req.method,
            url: req.url,
            custom: req.headers.get("x-custom"),
            n: body.n,
            again,
            aborted: req.signal.aborted,
            remote: info.remoteAddr.transport,
          }, { headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] });
        },
      });
      const client = await RawClient.open(port);
      const res = await client.request("POST", "/p?q=1", {
        headers: { "X-Custom": "yes", "Content-Type": "application/json" },
        body: JSON.stringify({ n: 7 }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(textOf(res.body)), {
        isRequest: true,
        method: "POST",
        url: "http://test/p?q=1",
        custom: "yes",
        n: 7,
        again: '{"n":7}',
        aborted: false,
        remote: "tcp",
      });
      assert.equal(res.headers["set-cookie"], "a=1, b=2");
      client.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() runs a node-style handler ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        handler: (
          req: { url: string },
          res: { setHeader(k: string, v: string): void; end(s: string): void },
        ) => {
          res.setHeader("x-node", "yes");
          res.end(`node ${req.url}`);
        },
      });
      const client = await RawClient.open(port);
      const res = await client.request("GET", "/a?b=1");
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-node"], "yes");
      assert.equal(textOf(res.body), "node /a?b=1");
      client.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() echoes a 1 MiB POST byte for byte, fetch and node-style ${on}`, async () => {
    const before = use();
    try {
      const big = pattern(1024 * 1024);
      const a = await start({
        fetch: async (req) => new Response(new Uint8Array(await req.arrayBuffer())),
      });
      const b = await start({
        handler: (req: AsyncIterable<Uint8Array>, res: { end(b: Uint8Array): void }) => {
          (async () => {
            const parts: Uint8Array[] = [];
            for await (const c of req) parts.push(c);
            const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
            let off = 0;
            for (const p of parts) {
              all.set(p, off);
              off += p.byteLength;
            }
            res.end(all);
          })();
        },
      });
      for (const { port } of [a, b]) {
        const client = await RawClient.open(port);
        const res = await client.request("POST", "/echo", { body: big });
        assert.equal(res.status, 200);
        assert.equal(res.body.byteLength, big.byteLength);
        assert.deepEqual(res.body, big);
        client.close();
      }
      await a.server.shutdown();
      await b.server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() takes a chunked request body and streams a chunked response ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: async (req) => {
          const got = await req.text();
          let i = 0;
          const stream = new ReadableStream<Uint8Array>({
            async pull(c) {
              if (i === 3) return c.close();
              await delay(5);
              c.enqueue(bytes(`${got}-${i++};`));
            },
          });
          return new Response(stream);
        },
      });
      const client = await RawClient.open(port);
      await client.send(
        "POST /s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
      );
      await delay(20);
      await client.send("2\r\nde\r\n0\r\n\r\n");
      const res = await client.response();
      assert.equal(res.status, 200);
      assert.equal(res.headers["transfer-encoding"], "chunked");
      assert.equal(textOf(res.body), "abcde-0;abcde-1;abcde-2;");
      client.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() answers pipelined requests in order ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: async (req) => {
          const path = new URL(req.url).pathname;
          if (path === "/slow") await delay(30);
          return new Response(path);
        },
      });
      const client = await RawClient.open(port);
      await client.send(
        "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\nHEAD /h HTTP/1.1\r\nHost: t\r\n\r\n",
      );
      assert.equal(textOf((await client.response()).body), "/slow");
      assert.equal(textOf((await client.response()).body), "/fast");
      const head = await client.response({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.body.byteLength, 0);
      // Nothing follows the HEAD response's head: the next request's answer comes next.
      assert.equal(textOf((await client.request("GET", "/after")).body), "/after");
      client.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() sends 100 Continue, and 413 for a body over maxBodySize ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        maxBodySize: 1000,
        fetch: async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`),
      });
      const client = await RawClient.open(port);
      await client.send(
        "POST /c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
      );
      const cont = await client.head();
      assert.equal(cont?.status, 100);
      await client.send("12345");
      const res = await client.response();
      assert.equal(textOf(res.body), "got 5");
      client.close();

      // Declared too large: 413 before the body, and the conn closes.
      const big = await RawClient.open(port);
      await big.send(
        "POST /c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
      );
      assert.equal((await big.response()).status, 413);
      assert.ok(await big.closedByServer());
      big.close();

      // Chunked past the limit: 413 too.
      const chunked = await RawClient.open(port);
      await chunked.send(
        `POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n${
          "x".repeat(2000)
        }\r\n0\r\n\r\n`,
      );
      assert.equal((await chunked.response()).status, 413);
      chunked.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() answers 431 to a request head over maxHeaderSize ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({ maxHeaderSize: 2048, fetch: hello });
      const client = await RawClient.open(port);
      await client.send(`GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(4096)}\r\n\r\n`);
      const res = await client.response();
      assert.equal(res.status, 431);
      client.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() closes a slow head (slowloris) and an idle conn after their timeouts ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({ headersTimeout: 200, idleTimeout: 300, fetch: hello });
      const slow = await RawClient.open(port);
      const idle = await RawClient.open(port);
      const t0 = Date.now();
      await slow.send("GET / HTTP/1.1\r\n");
      for (let i = 0; i < 3; i++) {
        await delay(50);
        await slow.send("X-A: b\r\n").catch(() => {});
      }
      assert.ok(await slow.closedByServer());
      assert.ok(await idle.closedByServer());
      // Generous bound: only catches "never closed".
      assert.ok(Date.now() - t0 < 10_000);
      slow.close();
      idle.close();
      await until(() => server.stats.total === 0, "both conns to be closed");
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() turns a thrown error into 500 and onError's Response ${on}`, async () => {
    const before = use();
    try {
      const errors: unknown[] = [];
      const a = await start({
        fetch: () => {
          throw new Error("boom");
        },
        onError: (err) => {
          errors.push(err);
        },
      });
      const b = await start({
        fetch: () => Promise.reject(new Error("teapot")),
        onError: (err, req) =>
          new Response(`${(err as Error).message} at ${new URL(req!.url).pathname}`, {
            status: 418,
          }),
      });
      const c = await start({
        handler: () => {
          throw new Error("node boom");
        },
        onError: (err) => {
          errors.push(err);
        },
      });
      const ca = await RawClient.open(a.port);
      const r1 = await ca.request("GET", "/");
      assert.equal(r1.status, 500);
      // The conn survives for the next request.
      assert.equal((await ca.request("GET", "/")).status, 500);
      const cb = await RawClient.open(b.port);
      const r2 = await cb.request("GET", "/p");
      assert.equal(r2.status, 418);
      assert.equal(textOf(r2.body), "teapot at /p");
      const cc = await RawClient.open(c.port);
      assert.equal((await cc.request("GET", "/")).status, 500);
      assert.equal(errors.length, 3);
      for (const x of [ca, cb, cc]) x.close();
      for (const x of [a, b, c]) await x.server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() aborts request.signal when the client goes away ${on}`, async () => {
    const before = use();
    try {
      let aborted: () => void = () => {};
      const wasAborted = new Promise<void>((r) => aborted = r);
      let started: () => void = () => {};
      const isStarted = new Promise<void>((r) => started = r);
      const { server, port } = await start({
        fetch: (req) =>
          new Promise<Response>((resolve) => {
            req.signal.addEventListener("abort", () => {
              aborted();
              resolve(new Response("late"));
            });
            started();
          }),
      });
      const client = await RawClient.open(port);
      await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      await isStarted;
      client.close();
      await wasAborted;
      await until(() => server.stats.total === 0, "the conn to be closed");
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`HttpServer.shutdown() finishes an in-flight request with Connection: close and closes idle conns at once ${on}`, async () => {
    const before = use();
    try {
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => release = r);
      const { server, port } = await start({
        fetch: async (req) => {
          if (new URL(req.url).pathname === "/slow") await gate;
          return new Response("done");
        },
      });
      const idle = await RawClient.open(port);
      assert.equal((await idle.request("GET", "/")).status, 200);
      const busy = await RawClient.open(port);
      await busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
      await until(() => server.stats.inUse === 1 && server.stats.idle === 1, "one busy, one idle");
      const done = server.shutdown({ timeout: 20_000 });
      assert.equal(server.ready, false);
      // The idle keep-alive conn is closed promptly.
      assert.ok(await idle.closedByServer());
      assert.equal(server.stats.inUse, 1);
      release();
      const res = await busy.response();
      assert.equal(res.status, 200);
      assert.equal(textOf(res.body), "done");
      assert.equal(res.headers["connection"], "close");
      assert.ok(await busy.closedByServer());
      await done;
      assert.equal(server.stats.total, 0);
      assert.equal(server.stats.served, 2);
      idle.close();
      busy.close();
      await server.finished;
    } finally {
      useRuntime(before);
    }
  });

  test(`HttpServer.shutdown() waits for the first request of a fresh conn (grace), answers it with Connection: close, and closes a fresh conn that sends none once its grace ends ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({ fetch: hello, grace: 400, idleTimeout: 20_000 });
      const late = await RawClient.open(port);
      const silent = await RawClient.open(port);
      await until(() => server.stats.fresh === 2, "two fresh conns");
      assert.equal(server.stats.inUse, 2);
      assert.equal(server.stats.idle, 0);
      const done = server.shutdown({ timeout: 20_000 });
      await delay(100);
      // Neither is cut: the request of one is still on its way.
      assert.equal(server.stats.total, 2);
      const res = await late.request("GET", "/");
      assert.equal(res.status, 200);
      assert.equal(res.headers["connection"], "close");
      assert.ok(await late.closedByServer());
      // The silent one is closed once its grace has passed.
      assert.ok(await silent.closedByServer());
      await done;
      assert.equal(server.stats.total, 0);
      assert.equal(server.stats.fresh, 0);
      assert.equal(server.stats.served, 1);
      late.close();
      silent.close();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() with grace 0: a conn with no request is idle, closed at once by a shutdown ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({ fetch: hello, grace: 0 });
      const client = await RawClient.open(port);
      await until(() => server.stats.idle === 1, "the conn to be accepted, idle");
      assert.equal(server.stats.fresh, 0);
      await server.shutdown({ timeout: 20_000 });
      assert.ok(await client.closedByServer());
      assert.equal(server.stats.total, 0);
      client.close();
    } finally {
      useRuntime(before);
    }
  });

  test(`HttpServer.shutdown() cuts what outlives its timeout with DrainTimeoutError ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: (req) =>
          new Promise<Response>((resolve) =>
            req.signal.addEventListener("abort", () => resolve(new Response("x")))
          ),
      });
      const client = await RawClient.open(port);
      await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      await until(() => server.stats.inUse === 1, "the request to start");
      await assert.rejects(server.shutdown({ timeout: 100 }), (err: unknown) => {
        assert.ok(err instanceof DrainTimeoutError);
        assert.equal(err.cut, 1);
        return true;
      });
      assert.ok(await client.closedByServer());
      client.close();
      assert.equal(server.stats.total, 0);
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() answers 100 concurrent requests ${on}`, async () => {
    const before = use();
    try {
      const { server, port } = await start({
        fetch: async (req) => {
          await delay(1);
          return new Response(new URL(req.url).pathname);
        },
      });
      const results = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const client = await RawClient.open(port);
          try {
            return textOf((await client.request("GET", `/r${i}`)).body);
          } finally {
            client.close();
          }
        }),
      );
      assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => `/r${i}`));
      await until(() => server.stats.total === 0, "every conn to be closed");
      assert.equal(server.stats.served, 100);
      assert.equal(server.stats.accepted, 100);
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() on listenBuffer() answers requests made before activation ${on}`, async () => {
    const before = use();
    try {
      const ready = new AbortController();
      const listener = await listenBuffer({ hostname: HOST, port: 0 }, ready.signal);
      const server = serve({ listener, fetch: (req) => new Response(new URL(req.url).pathname) });
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => RawClient.open(portOf(listener))),
      );
      const answers = clients.map((c, i) => c.request("GET", `/early${i}`));
      await delay(100);
      assert.equal(server.stats.accepted, 0);
      ready.abort();
      const got = await Promise.all(answers);
      assert.deepEqual(got.map((r) => textOf(r.body)), [0, 1, 2, 3, 4].map((i) => `/early${i}`));
      for (const c of clients) c.close();
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() on graceful wrap() keeps the listener's counts: in use while serving ${on}`, async () => {
    const before = use();
    try {
      const listener = wrap(await listen({ hostname: HOST, port: 0 }));
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => release = r);
      let inHandler: () => void = () => {};
      const entered = new Promise<void>((r) => inHandler = r);
      const server = serve({
        listener,
        fetch: async () => {
          inHandler();
          await gate;
          return new Response("ok");
        },
      });
      const client = await RawClient.open(portOf(listener));
      await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      await entered;
      assert.equal(listener.stats.inUse, 1);
      release();
      assert.equal((await client.response()).status, 200);
      await until(() => listener.stats.idle === 1, "the graceful conn to turn idle");
      client.close();
      await server.shutdown();
      assert.equal(listener.stats.total, 0);
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() hands upgrade requests to onUpgrade, disowned from the counts ${on}`, async () => {
    const before = use();
    try {
      let upgraded: Conn | undefined;
      const { server, port } = await start({
        fetch: hello,
        onUpgrade: (req, conn, head) => {
          upgraded = conn;
          (async () => {
            await conn.write(
              bytes(
                `HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n${
                  req.headers.get("upgrade")
                }:${head.byteLength}:`,
              ),
            );
            const buf = new Uint8Array(64);
            while (true) {
              const n = await conn.read(buf).catch(() => null);
              if (n === null) break;
              await conn.write(buf.slice(0, n));
            }
            conn.close();
          })();
        },
      });
      const client = await RawClient.open(port);
      await client.send(
        "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly",
      );
      const head = await client.head();
      assert.equal(head?.status, 101);
      await until(() => server.stats.disowned === 1, "the conn to be disowned");
      await client.send("-later");
      let got = "";
      while (!got.endsWith("early-later")) {
        const chunk = await client.chunk();
        assert.notEqual(chunk, null);
        got += text(chunk!);
      }
      assert.ok(got.startsWith("echo:"));
      // A shutdown neither waits for nor closes the upgraded conn.
      await server.shutdown({ timeout: 5000 });
      assert.equal(upgraded?.closed, false);
      client.close();
      await until(() => server.stats.disowned === 0, "the upgraded conn to close");
      assert.equal(server.stats.closed, 1);
    } finally {
      useRuntime(before);
    }
  });

  test(`serve() readinessPath answers 503 during drainDelay, after beforeShutdown, while requests still work ${on}`, async () => {
    const before = use();
    try {
      const steps: string[] = [];
      const { server, port } = await start({
        fetch: hello,
        readinessPath: "/ready",
        drainDelay: 300,
        beforeShutdown: () => {
          steps.push("before");
        },
      });
      const client = await RawClient.open(port);
      assert.equal((await client.request("GET", "/ready")).status, 200);
      const done = server.shutdown();
      await delay(50);
      assert.deepEqual(steps, ["before"]);
      const fresh = await RawClient.open(port);
      const ready = await fresh.request("GET", "/ready");
      assert.equal(ready.status, 503);
      assert.equal(ready.headers["connection"], "close");
      const more = await RawClient.open(port);
      assert.equal((await more.request("GET", "/")).status, 200);
      await done;
      for (const c of [client, fresh, more]) c.close();
    } finally {
      useRuntime(before);
    }
  });
}

test("serve() rejects bad options", async () => {
  const listener: Listener = await listen({ hostname: HOST, port: 0 });
  try {
    assert.throws(() => serve({ listener } as ServeOptions), TypeError);
    assert.throws(() => serve({ listener, fetch: hello, handler: () => {} }), TypeError);
    assert.throws(() => serve({ fetch: hello } as unknown as ServeOptions), TypeError);
    assert.throws(() => serve({ listener, fetch: hello, maxBodySize: -1 }), RangeError);
    assert.throws(() => serve({ listener, fetch: hello, idleTimeout: 0 }), RangeError);
    assert.throws(() => serve({ listener, fetch: hello, grace: -1 }), RangeError);
  } finally {
    await listener.close();
  }
});
