/** Assertion helpers shared by tests: errors are checked by code, never by message text. */
import assert from "node:assert/strict";
import { FerryError, RegistryError } from "../../lib/errors.ts";

/** Asserts that `p` rejects with a FerryError of `code` (and optional extra checks). */
export async function rejectsWithCode(p: Promise<unknown>, code: string, check?: (e: FerryError) => void): Promise<FerryError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FerryError, `expected a FerryError ${code}, got ${caught === undefined ? "success" : String(caught)}`);
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  check?.(caught);
  return caught;
}

/** Asserts a RegistryError with this HTTP status and (optionally) OCI code. */
export async function rejectsWithRegistryError(p: Promise<unknown>, status: number, ociCode?: string): Promise<RegistryError> {
  const e = await rejectsWithCode(p, "REGISTRY");
  assert.ok(e instanceof RegistryError);
  assert.equal(e.status, status, e.message);
  if (ociCode) assert.ok(e.hasCode(ociCode), `expected OCI code ${ociCode}, got ${JSON.stringify(e.ociCodes)}`);
  return e;
}
