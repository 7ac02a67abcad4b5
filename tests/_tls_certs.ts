// Test helper: throwaway certificates made at run time with the `openssl`
// command (OpenSSL 1.1.1 or later): a CA, a server certificate for
// localhost/127.0.0.1/::1, a client certificate, an expired server
// certificate, one for the wrong name, and a client certificate from another
// CA. Made once per process, in a temporary directory removed at once.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** Every certificate the TLS tests use. */
export interface TestCerts {
  /** The test CA's certificate. */
  ca: string;
  /** For localhost, 127.0.0.1 and ::1, signed by `ca`. */
  server: KeyPair;
  /** CN=client1, signed by `ca`. */
  client: KeyPair;
  /** Like `server`, but its validity ended before it began. */
  expired: KeyPair;
  /** For example.com only, signed by `ca`. */
  wrongName: KeyPair;
  /** Another CA's certificate. */
  otherCa: string;
  /** CN=stranger, signed by `otherCa`. */
  strangerClient: KeyPair;
}

let made: TestCerts | undefined;

/** Whether the `openssl` command runs here. */
export function haveOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Makes (once per process) and returns the test certificates. */
export function testCerts(): TestCerts {
  made ??= makeCerts();
  return made;
}

function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "netkit-certs-"));
  const path = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const read = (name: string) => readFileSync(path(name), "utf8");
  const newKey = (name: string) =>
    run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name]);
  const ca = (name: string, cn: string) => {
    newKey(`${name}.key`);
    run([
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]); // deno-fmt-ignore
  };
  const leaf = (name: string, cn: string, san: string | null, caName: string, days: string) => {
    newKey(`${name}.key`);
    run(["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    const ext = [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth,clientAuth",
      ...(san === null ? [] : [`subjectAltName=${san}`]),
    ];
    writeFileSync(path(`${name}.ext`), ext.join("\n") + "\n");
    run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${caName}.pem`,
      "-CAkey",
      `${caName}.key`,
      "-set_serial",
      String(Math.floor(Math.random() * 1e9) + 1),
      "-out",
      `${name}.pem`,
      "-days",
      days,
      "-extfile",
      `${name}.ext`,
    ]); // deno-fmt-ignore
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
  };
  try {
    ca("ca", "netkit test CA");
    ca("other", "netkit other CA");
    const localhost = "DNS:localhost,IP:127.0.0.1,IP:::1";
    return {
      ca: read("ca.pem"),
      server: leaf("server", "localhost", localhost, "ca", "2"),
      client: leaf("client", "client1", null, "ca", "2"),
      // A negative validity: notAfter is a day before notBefore (now).
      expired: leaf("expired", "localhost", localhost, "ca", "-1"),
      wrongName: leaf("wrong", "example.com", "DNS:example.com", "ca", "2"),
      otherCa: read("other.pem"),
      strangerClient: leaf("stranger", "stranger", null, "other", "2"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
