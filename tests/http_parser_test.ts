// netkit's own HTTP/1.1 parser (src/runtime/_http_parser.ts) and the engine
// built on it (_http_own.ts: the default on Bun), forced here on every
// runtime and adapter: framing, refusals, pipelining, bodies, upgrades.
import assert from "node:assert/strict";
import { CHUNKED, ChunkedDecoder, HttpParseError, parseHead } from "../src/runtime/_http_parser.ts";
import { createHttpEngine } from "../src/runtime/_internal.ts";
import type { HttpSocket } from "../src/runtime/types.ts";
import { type Conn, connect, listen } from "../src/runtime/mod.ts";
import { bytes, forEachAdapter, HOST, portOf, readAll, test, text } from "./_harness.ts";

function refused(head: string, status: number): void {
  assert.throws(
    () => parseHead(head),
    (err: unknown) => err instanceof HttpParseError && err.status === status,
    head,
  );
}

test("parseHead reads a request line and fields as node:http does", () => {
  const h = parseHead(
    "POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n" +
      "Set-Cookie: a\r\nSet-Cookie: b\r\nCookie: c=1\r\nCookie: d=2\r\nUser-Agent: u1\r\n" +
      "X-Pad:  \t v \t\r\nX-Obs: caf\xe9\tau lait\r\nuser-agent: u2",
  );
  assert.equal(h.method, "POST");
  assert.equal(h.url, "/a?b=1");
  assert.equal(h.versionMinor, 1);
  assert.equal(h.bodyLength, 3);
  assert.equal(h.keepAlive, true);
  assert.equal(h.upgrade, false);
  assert.deepEqual(h.headers, {
    host: "x",
    "content-length": "3",
    "x-a": "1, 2",
    "set-cookie": ["a", "b"],
    cookie: "c=1; d=2",
    "x-pad": "v",
    "x-obs": "caf\xe9\tau lait",
    "user-agent": "u1",
  });
  assert.deepEqual(h.rawHeaders.slice(0, 4), ["Host", "x", "Content-Length", "3"]);
});

test("parseHead: keep-alive, upgrade, Expect and chunked framing", () => {
  assert.equal(parseHead("GET / HTTP/1.0").keepAlive, false);
  assert.equal(parseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive").keepAlive, true);
  assert.equal(parseHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close").keepAlive, false);
  assert.equal(
    parseHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: ws").upgrade,
    true,
  );
  assert.equal(parseHead("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: ws").upgrade, false);
  assert.equal(parseHead("CONNECT h:443 HTTP/1.1\r\nHost: h:443").upgrade, true);
  assert.equal(
    parseHead("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue").expect,
    "100-continue",
  );
  assert.equal(
    parseHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked").bodyLength,
    CHUNKED,
  );
});

test("parseHead refuses what would smuggle or is not HTTP/1.x", () => {
  const H = "GET / HTTP/1.1\r\nHost: h\r\n";
  refused(`${H}Content-Length: 1\r\nTransfer-Encoding: chunked`, 400);
  refused(`${H}Transfer-Encoding: chunked, gzip`, 400);
  refused(`${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked`, 400);
  refused(`${H}Content-Length: 1\r\nContent-Length: 2`, 400);
  refused(`${H}Content-Length: 5\r\nContent-Length: 5`, 400);
  refused(`${H}Content-Length: -1`, 400);
  refused(`${H}Content-Length: 1x`, 400);
  refused(`${H}A: 1\r\n folded`, 400);
  refused(`${H}A : 1`, 400);
  refused(`${H}A: 1\r2`, 400);
  refused(`${H}A: 1\x002`, 400);
  refused(`${H}A: 1\x1b2`, 400);
  refused(`${H}: 1`, 400);
  refused(`${H}Host: h2`, 400);
  refused("GET / HTTP/1.1\r\nX: no host", 400);
  refused("GET /\x01 HTTP/1.1\r\nHost: h", 400);
  refused("GET old HTTP/1.1\r\nHost: h", 400);
  refused("GET * HTTP/1.1\r\nHost: h", 400);
  refused("GET h:443 HTTP/1.1\r\nHost: h", 400);
  refused("GET /  HTTP/1.1\r\nHost: h", 400);
  refused("GET / FTP/1.1\r\nHost: h", 400);
  refused("G(T / HTTP/1.1\r\nHost: h", 400);
  refused("GET / HTTP/2.0", 505);
  refused("GET / HTTP/1.2", 505);
});

test("ChunkedDecoder gives the same body and trailers however the bytes are split", () => {
  const wire = bytes(
    "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: 9\r\nX-Sum: 8\r\n\r\nNEXT",
  );
  for (let cut = 0; cut <= wire.byteLength; cut++) {
    const d = new ChunkedDecoder();
    const out: number[] = [];
    const onData = (b: Uint8Array) => out.push(...b);
    // Feeds the first `cut` bytes, then (as a buffer would) the unconsumed rest and the remainder.
    const stop = d.feed(wire.subarray(0, cut), 0, onData);
    let tail: Uint8Array;
    if (d.done) {
      tail = wire.subarray(stop);
    } else {
      const rest = new Uint8Array([...wire.subarray(stop, cut), ...wire.subarray(cut)]);
      tail = rest.subarray(d.feed(rest, 0, onData));
    }
    assert.equal(d.done, true, `cut ${cut}`);
    assert.equal(text(new Uint8Array(out)), "hello 0123456789", `cut ${cut}`);
    assert.equal(text(tail), "NEXT", `cut ${cut}`);
    assert.deepEqual(d.rawTrailers, ["X-Sum", "9", "X-Sum", "8"]);
    assert.deepEqual(d.trailers, { "x-sum": "9, 8" });
  }
});

test("ChunkedDecoder refuses a bad size, a missing CRLF and a bare LF", () => {
  for (const bad of ["z\r\n", "5\r\nhelloXY", "5\nhello\r\n", "\r\n", "5 x\r\n"]) {
    assert.throws(
      () => new ChunkedDecoder().feed(bytes(bad), 0, () => {}),
      HttpParseError,
      JSON.stringify(bad),
    );
  }
});

// deno-lint-ignore no-explicit-any
type Any = any;

/** A server on the own engine: `onRequest` answers; everything closes at `close()`. */
async function ownServer(
  onRequest: (req: Any, res: Any) => void,
  extra: { onUpgrade?: (req: Any, socket: HttpSocket, head: Uint8Array) => void } = {},
) {
  const engine = createHttpEngine({
    parser: "netkit",
    maxHeaderSize: 1024,
    onRequest,
    onCheckContinue: (req, res: Any) => {
      res.writeContinue();
      onRequest(req, res);
    },
    onUpgrade: extra.onUpgrade,
  });
  const listener = await listen({ hostname: HOST, port: 0 });
  const sockets = new Set<HttpSocket>();
  const accepting = (async () => {
    while (true) {
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const socket: HttpSocket = engine.serve(conn, {
        onRead: () => {},
        onClose: () => sockets.delete(socket),
      });
      sockets.add(socket);
    }
  })();
  return {
    port: portOf(listener),
    async close() {
      await listener.close();
      await accepting;
      for (const s of sockets) s.destroy();
    },
  };
}

/** Sends `wire`, half-closes, and reads all the server sends until it closes. */
async function exchange(port: number, wire: string | Uint8Array, half = false): Promise<string> {
  const conn = await connect({ hostname: HOST, port });
  try {
    await conn.write(typeof wire === "string" ? bytes(wire) : wire);
    if (half) await conn.closeWrite();
    return text(await readAll(conn));
  } finally {
    conn.close();
  }
}

const echo = (req: Any, res: Any) => {
  const parts: Uint8Array[] = [];
  req.on("data", (c: Uint8Array) => parts.push(c));
  req.on("end", () => {
    const body = parts.map((p) => text(p)).join("");
    const trailer = req.trailers?.["x-t"];
    res.setHeader("content-type", "text/plain");
    if (req.headers["connection"] === "close") res.setHeader("connection", "close");
    res.end(`${req.method} ${req.url} ${body}${trailer ? ` t=${trailer}` : ""}`);
  });
};

forEachAdapter((t) => {
  t("the own engine answers pipelined requests in order, with bodies", async () => {
    const s = await ownServer(echo);
    try {
      const got = await exchange(
        s.port,
        "\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
          "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
          "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "2\r\nxy\r\n1;e=1\r\nz\r\n0\r\nX-T: 7\r\n\r\n" +
          "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      const bodies = got.split(/HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n/).filter((b) => b !== "");
      assert.deepEqual(bodies, ["GET /1 ", "POST /2 abc", "POST /3 xyz t=7", "GET /4 "]);
      assert.match(got, /Connection: keep-alive/);
    } finally {
      await s.close();
    }
  });

  t("the own engine reads a head and body that come a few bytes at a time", async () => {
    const s = await ownServer(echo);
    try {
      const conn = await connect({ hostname: HOST, port: s.port });
      const wire = bytes(
        "\r\nPOST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody",
      );
      for (let i = 0; i < wire.byteLength; i += 3) {
        await conn.write(wire.subarray(i, i + 3));
        await new Promise((r) => setTimeout(r, 1));
      }
      const got = text(await readAll(conn));
      conn.close();
      assert.match(got, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nPOST \/slow body$/);
    } finally {
      await s.close();
    }
  });

  t("the own engine refuses bad heads with 400, 431 and 505, then closes", async () => {
    const s = await ownServer(echo);
    try {
      assert.match(await exchange(s.port, "GET / HTTP/1.1\r\nA : b\r\n\r\n"), /^HTTP\/1\.1 400 /);
      assert.match(
        await exchange(s.port, `GET / HTTP/1.1\r\nX: ${"a".repeat(2000)}\r\n\r\n`),
        /^HTTP\/1\.1 431 /,
      );
      assert.match(
        await exchange(s.port, `GET / HTTP/1.1\r\nX: ${"a".repeat(2000)}`),
        /^HTTP\/1\.1 431 /,
      );
      assert.match(await exchange(s.port, "GET / HTTP/3.0\r\n\r\n"), /^HTTP\/1\.1 505 /);
      assert.match(
        await exchange(
          s.port,
          "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        /^HTTP\/1\.1 400 /,
      );
      // A good request, then a bad one: the first is answered, the second refused.
      const two = await exchange(s.port, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nBAD\r\n\r\n");
      assert.match(two, /^HTTP\/1\.1 200 OK[^]*GET \/ok HTTP\/1\.1 400 /);
    } finally {
      await s.close();
    }
  });

  t("the own engine: HTTP/1.0, HEAD, Expect (100-continue and 417)", async () => {
    const s = await ownServer(echo);
    try {
      const one = await exchange(s.port, "GET /old HTTP/1.0\r\n\r\n");
      assert.match(one, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(one, /GET \/old $/);
      const head = await exchange(
        s.port,
        "HEAD /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(head.endsWith("\r\n\r\n"), head);
      const cont = await exchange(
        s.port,
        "PUT /c HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
      );
      assert.match(cont, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[^]*PUT \/c hi$/);
      const other = await exchange(
        s.port,
        "GET /e HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n",
        true,
      );
      assert.match(other, /^HTTP\/1\.1 417 /);
    } finally {
      await s.close();
    }
  });

  t("the own engine hands an upgrade its head bytes, then the rest of the conn", async () => {
    let upgraded: Conn | undefined;
    const s = await ownServer(echo, {
      onUpgrade: (_req, socket, head) => {
        const conn = socket.detach(head);
        upgraded = conn;
        (async () => {
          const buf = new Uint8Array(64);
          await conn.write(bytes("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
          while (true) {
            const n = await conn.read(buf).catch(() => null);
            if (n === null) break;
            await conn.write(buf.subarray(0, n));
          }
          conn.close();
        })();
      },
    });
    try {
      const conn = await connect({ hostname: HOST, port: s.port });
      await conn.write(
        bytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nHEAD"),
      );
      await new Promise((r) => setTimeout(r, 20));
      await conn.write(bytes("+MORE"));
      await conn.closeWrite();
      const got = text(await readAll(conn));
      conn.close();
      assert.equal(got, "HTTP/1.1 101 Switching Protocols\r\n\r\nHEAD+MORE");
      assert.ok(upgraded !== undefined);
    } finally {
      await s.close();
    }
  });

  t("the own engine aborts a request whose client goes away mid-body", async () => {
    let aborted = false;
    let resolve!: () => void;
    const seen = new Promise<void>((r) => resolve = r);
    const s = await ownServer((req: Any) => {
      req.on("aborted", () => {
        aborted = true;
        resolve();
      });
      req.resume();
    });
    try {
      const conn = await connect({ hostname: HOST, port: s.port });
      await conn.write(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc"));
      await new Promise((r) => setTimeout(r, 20));
      conn.close();
      await seen;
      assert.equal(aborted, true);
    } finally {
      await s.close();
    }
  });
});
