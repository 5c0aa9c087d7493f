/**
 * genzoo for the browser: artifacts fetched from a URL and run with onnxruntime-web (wasm).
 *
 * Single-threaded unless the page is cross-origin isolated (COOP/COEP headers), which wasm threads need and plain
 * static servers don't send. Bare imports ("onnxruntime-web", "fflate") resolve through the page's import map or a
 * bundler.
 */
import * as ort from "onnxruntime-web";
import { openModel } from "./core.js";
import { ZooError } from "./errors.js";

export * from "./shared.js";
export { ort };

if (!globalThis.crossOriginIsolated) ort.env.wasm.numThreads = 1;

/**
 * Open the artifact at `url` (a folder URL, e.g. "exported/dcgan-fashion-mnist/", relative to the page).
 * @param {string} url @param {{variant?: "fp16"|"int8", verify?: boolean}} [options]
 */
export async function loadModel(url, options) {
  if (typeof url !== "string" || !url) throw new ZooError(`loadModel takes an artifact URL, got ${JSON.stringify(url)}`);
  const base = new URL(url.endsWith("/") ? url : `${url}/`, globalThis.location?.href);
  const io = {
    where: url.replace(/\/$/, ""),
    async readBytes(file) {
      const response = await fetch(new URL(file, base));
      if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
      return new Uint8Array(await response.arrayBuffer());
    },
  };
  return openModel({ ort, io, sessionOptions: { executionProviders: ["wasm"] } }, options);
}

/** The zoo's index of shipped models (`exported/index.json`, written by `zoo index`). */
export async function loadIndex(url = "exported/index.json") {
  const response = await fetch(url);
  if (!response.ok) throw new ZooError(`cannot fetch ${url} (HTTP ${response.status}); write it with \`zoo index\``);
  return response.json();
}
