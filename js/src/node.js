/**
 * genzoo for Node: artifacts read from a folder and run with onnxruntime-node, pictures written as PNG.
 *
 *     import { loadModel, savePNG, grid } from "genzoo";
 *     const model = await loadModel("exported/dcgan-fashion-mnist");
 *     const images = await model.sample(16, { seed: 1 });
 *     await savePNG("samples.png", grid(model.pixels(images), { columns: 4 }));
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { PNG } from "pngjs";
import { openModel } from "./core.js";
import { ZooError } from "./errors.js";

export * from "./shared.js";

/**
 * Open the artifact in folder `dir` (e.g. "exported/cvae-mnist").
 * @param {string} dir @param {{variant?: "fp16"|"int8", verify?: boolean}} [options]
 */
export async function loadModel(dir, options) {
  if (typeof dir !== "string" || !dir) throw new ZooError(`loadModel takes an artifact folder, got ${JSON.stringify(dir)}`);
  const root = resolve(dir);
  const io = { where: dir, readBytes: async (file) => new Uint8Array(await readFile(join(root, file))) };
  return openModel({ ort, io, sessionOptions: { executionProviders: ["cpu"] } }, options);
}

/** A PNG file's bytes from an RGBA picture `{width, height, data}`. */
export function encodePNG({ width, height, data }) {
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

/** Write an RGBA picture as a PNG, atomically (a temporary file renamed into place). */
export async function savePNG(path, picture) {
  const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(temporary, encodePNG(picture));
  await rename(temporary, path);
}
