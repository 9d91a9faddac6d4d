/** A test CA and certificates, generated with the openssl CLI at test time. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCa {
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/** Writes ca.pem, server.pem and server.key (SAN IP:127.0.0.1, DNS:localhost) into `dir`. */
export async function createTestCa(dir: string): Promise<TestCa> {
  const f = (n: string) => join(dir, n);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=ferry test CA",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr")]);
  await writeFile(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    f("server.pem"),
    "-extfile",
    f("ext.cnf"),
  ]);
  return { caCert: f("ca.pem"), serverCert: f("server.pem"), serverKey: f("server.key") };
}

/** A self-signed signing key and certificate for the token server (PEM paths). */
export async function createSigningCert(dir: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, "token.key");
  const cert = join(dir, "token.pem");
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ferry test token issuer", "-keyout", key, "-out", cert]);
  return { key, cert };
}
