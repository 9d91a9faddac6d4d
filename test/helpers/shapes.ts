/** Every image shape the copy engine must carry byte for byte, built with the generator. */
import { DOCKER_FOREIGN_LAYER, OCI_EMPTY, OCI_LAYER_GZIP } from "../../lib/oci/media-types.ts";
import { bytesBlob, configBlob, imageIndex, imageManifest, type ManifestSpec, randomBlob, randomImage, randomIndex } from "./images.ts";

export interface Shape {
  name: string;
  image: ManifestSpec;
  /**
   * Why skopeo cannot re-verify this shape's blobs (it still checks the raw manifest bytes):
   * skopeo 1.9 refuses nested indexes, and fetches foreign layers from their (unreachable) URLs.
   */
  skopeoCannot?: string;
}

export function shapes(seed = "shape"): Shape[] {
  const amd = { os: "linux", architecture: "amd64" };
  const dupLayer = randomBlob(20_000, `${seed}/dup`);
  const emptyLayer = bytesBlob(Buffer.alloc(0), OCI_LAYER_GZIP);
  const foreign = { ...randomBlob(5_000, `${seed}/foreign`, DOCKER_FOREIGN_LAYER), urls: ["https://mcr.example.invalid/layer.tar.gz"], external: true };
  const inner = randomIndex({ platforms: 2, seed: `${seed}/inner` });
  return [
    { name: "OCI index with buildx attestations", image: randomIndex({ platforms: 3, layers: 2, layerSize: 30_000, attestations: true, seed: `${seed}/att` }) },
    { name: "Docker manifest list", image: randomIndex({ platforms: 2, layers: 2, layerSize: 30_000, format: "docker", seed: `${seed}/docker` }) },
    { name: "single OCI manifest", image: randomImage({ layers: 3, layerSize: 40_000, seed: `${seed}/single` }) },
    { name: "single Docker manifest", image: randomImage({ layers: 2, layerSize: 40_000, format: "docker", seed: `${seed}/single-docker` }) },
    {
      name: "nested index",
      image: imageIndex({
        entries: [
          { manifest: inner },
          {
            manifest: randomImage({ platform: { os: "linux", architecture: "riscv64" }, seed: `${seed}/rv` }),
            platform: { os: "linux", architecture: "riscv64" },
          },
        ],
      }),
      skopeoCannot: "skopeo 1.9 refuses an index nested in an index",
    },
    {
      name: "artifact with unknown artifactType and media types",
      image: imageManifest({
        artifactType: "application/vnd.example.sbom.v1",
        config: bytesBlob(Buffer.from("{}"), OCI_EMPTY),
        layers: [
          bytesBlob(Buffer.from('{"bom":"x"}'), "application/vnd.example.sbom.layer.v1+json"),
          randomBlob(3000, `${seed}/opaque`, "application/x-totally-unknown"),
        ],
        annotations: { "org.opencontainers.image.created": "2026-11-22T00:00:00Z" },
      }),
    },
    {
      name: "annotations and unusual JSON formatting",
      image: imageManifest({
        config: configBlob(amd, "oci", `${seed}/fmt`, 1),
        layers: [randomBlob(10_000, `${seed}/fmt/0`)],
        annotations: { "z.last": "1", "a.first": "2" },
        serialise: (o) => `\n\n  ${JSON.stringify(o, null, "\t").replace(/": /g, '":   ')}  \n`,
      }),
    },
    {
      name: "the same layer twice, and an empty layer",
      image: imageManifest({ config: configBlob(amd, "oci", `${seed}/dup`, 3), layers: [dupLayer, emptyLayer, dupLayer] }),
    },
    {
      name: "foreign layer with urls",
      image: imageManifest({
        format: "docker",
        config: configBlob({ os: "windows", architecture: "amd64" }, "docker", `${seed}/win`, 2),
        layers: [foreign, randomBlob(8_000, `${seed}/win/1`, "application/vnd.docker.image.rootfs.diff.tar.gzip")],
      }),
      skopeoCannot: "skopeo's dir: copy downloads foreign layers from their URLs, unreachable here",
    },
    {
      name: "OCI config with an unknown config media type",
      image: imageManifest({
        config: bytesBlob(Buffer.from('{"weird":true}'), "application/vnd.example.config.v7+json"),
        layers: [randomBlob(1000, `${seed}/cfg`)],
      }),
    },
  ];
}
