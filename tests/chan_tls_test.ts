// Networked channels over TLS, and the exporter's authentication hook (a
// token, or the client certificate of a mutual TLS listener). Certificates
// are made at run time (openssl).
import assert from "node:assert/strict";
import {
  type Authenticate,
  ChanAuthError,
  Channel,
  ChanProtocolError,
  Dir,
  Exporter,
  Importer,
  type ImporterConnectOptions,
  tokenAuth,
} from "../src/chan/mod.ts";
import type { TlsListenOptions } from "../src/runtime/mod.ts";
import { collect, HOST, nextError, portOf, test } from "./_harness.ts";
import { haveOpenssl, testCerts } from "./_tls_certs.ts";

const NO_OPENSSL = haveOpenssl() ? false : "needs the openssl command (not found on this machine)";
const t = (name: string, fn: () => Promise<void>) => test(name, fn, { skip: NO_OPENSSL });

/** An exporter serving TLS on a free port, exporting "nums" (0..9, then closed). */
async function tlsExporter(
  authenticate?: Authenticate,
  tls: Partial<TlsListenOptions> = {},
): Promise<{ exporter: Exporter; port: number } & AsyncDisposable> {
  const c = testCerts();
  const exporter = new Exporter({ authenticate });
  const listener = await exporter.listenAndServe({
    hostname: HOST,
    port: 0,
    tls: { ...c.server, ...tls },
  });
  const source = new Channel<number>(10);
  for (let i = 0; i < 10; i++) await source.send(i);
  source.close();
  exporter.export("nums", source, Dir.Send);
  return {
    exporter,
    port: portOf(listener),
    [Symbol.asyncDispose]: () => exporter.close(),
  };
}

async function importNums(options: ImporterConnectOptions): Promise<number[]> {
  await using importer = await Importer.connect(options);
  const sink = new Channel<number>(10);
  await importer.import("nums", sink, Dir.Recv, 10);
  return await collect(sink);
}

const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

t("Importer.connect({ tls }) imports from an exporter listening with tls", async () => {
  await using e = await tlsExporter();
  assert.deepEqual(
    await importNums({ hostname: HOST, port: e.port, tls: { ca: testCerts().ca } }),
    ALL,
  );
});

t("Exporter authenticate: tokenAuth() serves an importer with a known token", async () => {
  await using e = await tlsExporter(tokenAuth(["s3cret"]));
  const got = await importNums({
    hostname: HOST,
    port: e.port,
    tls: { ca: testCerts().ca },
    token: "s3cret",
  });
  assert.deepEqual(got, ALL);
});

t("Exporter authenticate: a wrong token is refused with ChanAuthError on both sides", async () => {
  await using e = await tlsExporter(tokenAuth(["s3cret"]));
  const seen = nextError(e.exporter.errors);
  await assert.rejects(
    Importer.connect({ hostname: HOST, port: e.port, tls: { ca: testCerts().ca }, token: "guess" }),
    (err) =>
      err instanceof ChanAuthError &&
      err.message === "Cannot connect: the exporter refused the importer: unknown token",
  );
  const err = await seen;
  assert.ok(err instanceof ChanAuthError, String(err));
  assert.match(
    err.message,
    /^Cannot serve importer from 127\.0\.0\.1:\d+: refused by authenticate: unknown token$/,
  );
});

t(
  "Exporter authenticate: an importer without a token is refused with a clear error on both sides",
  async () => {
    await using e = await tlsExporter(tokenAuth(["s3cret"]));
    const seen = nextError(e.exporter.errors);
    await assert.rejects(
      Importer.connect({ hostname: HOST, port: e.port, tls: { ca: testCerts().ca } }),
      (err) =>
        err instanceof ChanProtocolError &&
        err.message.includes("authentication refused: a token is required"),
    );
    assert.ok((await seen) instanceof ChanAuthError);
  },
);

t("Exporter authenticate: the client certificate of a mutual TLS listener decides", async () => {
  const c = testCerts();
  const seenCn: string[] = [];
  const byCn: Authenticate = (peer) => {
    const cn = peer.tls?.peerCertificate?.subject.CN ?? "";
    seenCn.push(cn);
    return (peer.tls?.authorized === true && cn === "client1") || `unknown client "${cn}"`;
  };
  await using e = await tlsExporter(byCn, { requestCert: true, ca: c.ca });
  const got = await importNums({ hostname: HOST, port: e.port, tls: { ca: c.ca, ...c.client } });
  assert.deepEqual(got, ALL);
  // A certificate from the same CA, but not one this exporter serves.
  const seen = nextError(e.exporter.errors);
  await assert.rejects(
    Importer.connect({ hostname: HOST, port: e.port, tls: { ca: c.ca, ...c.server } }),
    (err) => err instanceof ChanProtocolError && err.message.includes('unknown client "localhost"'),
  );
  assert.ok((await seen) instanceof ChanAuthError);
  assert.deepEqual(seenCn, ["client1", "localhost"]);
});

t(
  "Importer.connect({ token }) to an exporter without authenticate fails with ChanAuthError",
  async () => {
    await using e = await tlsExporter();
    await assert.rejects(
      Importer.connect({ hostname: HOST, port: e.port, tls: { ca: testCerts().ca }, token: "x" }),
      (err) => err instanceof ChanAuthError && /does not take tokens/.test(err.message),
    );
  },
);

t("Exporter and Importer check the auth options", async () => {
  assert.throws(
    () => new Exporter({ authenticate: "yes" as unknown as Authenticate }),
    TypeError,
  );
  await assert.rejects(Importer.connect({ port: 1, token: "" }), TypeError);
  assert.throws(() => tokenAuth([]), TypeError);
});
