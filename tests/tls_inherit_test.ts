// Restarts under load on a TLS listener: the TCP socket is inherited, TLS is
// set up again in each successor, and no client (each one a full TLS
// handshake) fails. Real processes, loopback only, certificates made at run
// time (openssl). Smaller than upgrader_test: a handshake costs CPU.
import assert from "node:assert/strict";
import { test } from "./_harness.ts";
import { haveOpenssl, testCerts } from "./_tls_certs.ts";
import {
  allowLongTests,
  current,
  partners,
  type RestartResult,
  type Rt,
  upgradeUnderLoad,
} from "./fixtures/inherit_helpers.ts";

await allowLongTests();

const UPGRADES = 3;
const CONNS = 150;
const SKIP = haveOpenssl() ? false : "needs the openssl command (not found on this machine)";
// Each generation starts a runtime and every client makes a full handshake:
// on a loaded 2-core machine a run took 40-53 s (Deno, Node), so the
// hang-catching limit is wider than the harness's 60 s.
const LIMIT_MS = 150_000;
if (current === "bun") {
  const bunTest = "bun:test";
  const { setDefaultTimeout } = await import(bunTest) as { setDefaultTimeout(ms: number): void };
  setDefaultTimeout(LIMIT_MS + 10_000);
}

/** Restarts a TLS inherit_server UPGRADES times under TLS load, from runtimes[0] on. */
function restartUnderLoad(runtimes: Rt[]): Promise<RestartResult> {
  const c = testCerts();
  return upgradeUnderLoad(runtimes, {
    upgrades: UPGRADES,
    conns: CONNS,
    serverEnv: { INHERIT_TLS_CERT: c.server.cert, INHERIT_TLS_KEY: c.server.key },
    concurrency: 4,
    loadEnv: { LOAD_TLS_CA: c.ca },
  });
}

test(
  `Upgrader.upgrade() restarts a ${current} TLS server ${UPGRADES} times under load with no failed connection`,
  async () => {
    const r = await restartUnderLoad([current]);
    assert.deepEqual(r.errors, {});
    assert.equal(r.failed, 0);
    assert.equal(r.timedOut, false);
    assert.ok(r.conns >= CONNS, `only ${r.conns} connections`);
    assert.equal(r.upgraded, UPGRADES);
    assert.ok(r.generations > 1);
  },
  { skip: SKIP, limitMs: LIMIT_MS },
);

const partner = partners()[0];
if (partner !== undefined) {
  test(
    `Upgrader.upgrade() hands a TLS server off between ${current} and ${partner} under load with no failed connection`,
    async () => {
      const r = await restartUnderLoad([current, partner]);
      assert.deepEqual(r.errors, {});
      assert.equal(r.failed, 0);
      assert.equal(r.timedOut, false);
      assert.ok(r.conns >= CONNS, `only ${r.conns} connections`);
      assert.equal(r.upgraded, UPGRADES);
    },
    { skip: SKIP, limitMs: LIMIT_MS },
  );
}
