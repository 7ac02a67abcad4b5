// Tests of serve()'s fast paths: useLightResponse() (an opt-in light global
// Response, served without making a real one) and serve() accepting on its
// own (on Deno, a node:net listener on a dup of a Deno.listen socket), which
// must keep the listener's semantics: closing the listener stops serving.
import assert from "node:assert/strict";
import { serve, useLightResponse } from "../src/http/mod.ts";
import { connect, listen } from "../src/runtime/mod.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { adapters, delay, HOST, portOf, test } from "./_harness.ts";
import { RawClient, textOf } from "./_http_client.ts";

/** Runs `fn` with the light Response installed, then restores the global. */
async function withLight(fn: () => Promise<void>): Promise<void> {
  const Original = globalThis.Response;
  const restore = useLightResponse();
  try {
    assert.notEqual(globalThis.Response, Original);
    await fn();
  } finally {
    restore();
    assert.equal(globalThis.Response, Original);
  }
}

test("useLightResponse() serves status, headers, the default content-type and the body as given", async () => {
  await withLight(async () => {
    const listener = await listen({ hostname: HOST, port: 0 });
    const server = serve({
      listener,
      fetch: (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/plain") return new Response("héllo");
        if (path === "/bytes") {
          return new Response(new Uint8Array([1, 2, 3]), {
            status: 201,
            statusText: "Made",
            headers: { "X-One": "1", "Content-Type": "application/octet-stream" },
          });
        }
        if (path === "/empty") return new Response(null, { status: 204 });
        if (path === "/json") return Response.json({ a: 1 });
        if (path === "/headers") {
          const h = new Headers({ "x-real": "yes" });
          h.append("set-cookie", "a=1");
          h.append("set-cookie", "b=2");
          return new Response("real headers", { headers: h });
        }
        return new Response("stream", { headers: { "x-before": "read" } });
      },
    });
    const client = await RawClient.open(portOf(listener));
    try {
      let res = await client.request("GET", "/plain");
      assert.equal(res.status, 200);
      assert.equal(textOf(res.body), "héllo");
      assert.equal(res.headers["content-length"], "6");
      assert.equal(res.headers["content-type"], "text/plain;charset=UTF-8");

      res = await client.request("GET", "/bytes");
      assert.equal(res.status, 201);
      assert.deepEqual([...res.body], [1, 2, 3]);
      assert.equal(res.headers["x-one"], "1");
      assert.equal(res.headers["content-type"], "application/octet-stream");
      assert.equal(res.headers["content-length"], "3");

      res = await client.request("HEAD", "/plain");
      assert.equal(res.status, 200);
      assert.equal(res.body.byteLength, 0);
      assert.equal(res.headers["content-length"], "6");

      res = await client.request("GET", "/empty");
      assert.equal(res.status, 204);
      assert.equal(res.body.byteLength, 0);

      res = await client.request("GET", "/json");
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(textOf(res.body)), { a: 1 });
      assert.match(res.headers["content-type"], /^application\/json/);

      res = await client.request("GET", "/headers");
      assert.equal(textOf(res.body), "real headers");
      assert.equal(res.headers["x-real"], "yes");

      res = await client.request("GET", "/other");
      assert.equal(textOf(res.body), "stream");
      assert.equal(res.headers["x-before"], "read");
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});

test("useLightResponse() keeps Response's behaviour: instanceof, getters, body readers, errors", async () => {
  const Original = globalThis.Response;
  await withLight(async () => {
    const light = new Response("abc", { status: 202, headers: { "X-A": "b" } });
    assert.ok(light instanceof Response);
    assert.equal(light.status, 202);
    assert.equal(light.ok, true);
    assert.equal(light.headers.get("x-a"), "b");
    assert.equal(await light.text(), "abc");
    assert.equal(light.bodyUsed, true);
    const copy = new Response("x").clone();
    assert.equal(await copy.text(), "x");
    const stream = new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("s"));
          c.close();
        },
      }),
    );
    assert.equal(await stream.text(), "s");
    // Real responses (as fetch() returns) stay instances of Response too.
    const real = await fetch("data:text/plain,hi");
    assert.ok(real instanceof Response);
    assert.equal(await real.text(), "hi");
    assert.throws(() => new Response("x", { status: 99 }), RangeError);
    // A body with a null-body status: as the runtime's own Response (Bun allows it).
    const threw = (C: typeof Response) => {
      try {
        new C("x", { status: 204 });
        return false;
      } catch (err) {
        return err instanceof TypeError;
      }
    };
    assert.equal(threw(Response), threw(Original));
  });
});

test("useLightResponse() called twice installs once; its second restore does nothing", () => {
  const Original = globalThis.Response;
  const restore = useLightResponse();
  const again = useLightResponse();
  const Light = globalThis.Response;
  again();
  assert.equal(globalThis.Response, Light);
  restore();
  assert.equal(globalThis.Response, Original);
});

for (const adapter of adapters) {
  test(`serve() stops answering new conns once its listener is closed by its owner (${adapter} adapter)`, async () => {
    const before = useRuntime(adapter);
    try {
      const listener = await listen({ hostname: HOST, port: 0 });
      const port = portOf(listener);
      const server = serve({ listener, fetch: () => new Response("ok") });
      const client = await RawClient.open(port);
      assert.equal(textOf((await client.request("GET", "/")).body), "ok");
      client.close();
      await listener.close();
      // Bounded: the server notices within one sweep (at most 250 ms).
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        try {
          const conn = await connect({ hostname: HOST, port });
          conn.close();
          await delay(20);
        } catch {
          refused = true;
        }
      }
      assert.ok(refused, "new conns are refused once the listener is closed");
      await server.shutdown();
    } finally {
      useRuntime(before);
    }
  });
}
