// The registry-bound limit for the bench: a minimal raw client that makes only the requests any
// correct copy needs, at ferry's concurrency (8 blobs at once), with none of ferry's checks:
// GET each manifest and blob from the source, one monolithic upload (POST, then PUT ?digest= with
// the body) per blob and a PUT per manifest at the destination. Plain HTTP, no auth, no retries, no
// verification: it is a yardstick, not a tool. Plain JavaScript so it starts as fast as Node does.
//
// Usage: node bench/limit.mjs SRC_HOST/REPO:TAG DST_HOST/REPO:TAG
import { pathToFileURL } from "node:url";
import { Agent, request } from "undici";

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const JOBS = 8;
const agent = new Agent({ connections: 32, pipelining: 1 });

function split(ref) {
  const slash = ref.indexOf("/");
  const colon = ref.lastIndexOf(":");
  return { host: ref.slice(0, slash), repo: ref.slice(slash + 1, colon), tag: ref.slice(colon + 1) };
}

async function ok(res, what) {
  if (res.statusCode >= 300) {
    const text = await res.body.text();
    throw new Error(`${what}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  }
  return res;
}

async function getManifest(src, ref) {
  const res = await ok(
    await request(`http://${src.host}/v2/${src.repo}/manifests/${ref}`, { dispatcher: agent, headers: { accept: ACCEPT } }),
    `GET manifest ${ref}`,
  );
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { bytes, mediaType: String(res.headers["content-type"]), json: JSON.parse(bytes.toString("utf8")) };
}

async function putManifest(dst, ref, m) {
  const res = await request(`http://${dst.host}/v2/${dst.repo}/manifests/${ref}`, {
    dispatcher: agent,
    method: "PUT",
    headers: { "content-type": m.mediaType },
    body: m.bytes,
  });
  await ok(res, `PUT manifest ${ref}`);
  await res.body.dump();
}

async function copyBlob(src, dst, desc) {
  // distribution 2.8 ignores a body on POST ?digest=: a monolithic upload is POST, then PUT with the body.
  const post = await ok(await request(`http://${dst.host}/v2/${dst.repo}/blobs/uploads/`, { dispatcher: agent, method: "POST" }), `POST upload ${desc.digest}`);
  await post.body.dump();
  const location = new URL(String(post.headers.location), `http://${dst.host}`);
  location.searchParams.set("digest", desc.digest);
  const get = await ok(await request(`http://${src.host}/v2/${src.repo}/blobs/${desc.digest}`, { dispatcher: agent }), `GET blob ${desc.digest}`);
  const put = await request(location, {
    dispatcher: agent,
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "content-length": String(desc.size) },
    body: get.body,
  });
  await ok(put, `PUT blob ${desc.digest}`);
  await put.body.dump();
}

/** Copies SRC_HOST/REPO:TAG to DST_HOST/REPO:TAG with only the necessary requests. */
export async function copyImage(srcRef, dstRef) {
  const src = split(srcRef);
  const dst = split(dstRef);
  const root = await getManifest(src, src.tag);
  const children = root.json.manifests ? await Promise.all(root.json.manifests.map((d) => getManifest(src, d.digest).then((m) => ({ d, m })))) : [];
  const images = children.length ? children.map((c) => c.m) : [root];
  const blobs = new Map();
  for (const m of images) for (const b of [m.json.config, ...(m.json.layers ?? [])]) if (b) blobs.set(b.digest, b);
  const queue = [...blobs.values()];
  await Promise.all(
    Array.from({ length: JOBS }, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) await copyBlob(src, dst, b);
    }),
  );
  await Promise.all(children.map((c) => putManifest(dst, c.d.digest, c.m)));
  await putManifest(dst, dst.tag, root);
}

/** Closes the connection pool (a process that imported {@link copyImage} calls it when done). */
export const close = () => agent.close();

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  copyImage(process.argv[2], process.argv[3])
    .then(close)
    .catch((e) => {
      process.stderr.write(`limit: ${e.message}\n`);
      process.exit(1);
    });
}
