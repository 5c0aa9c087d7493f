/** What the tests share: where the repository's artifacts are, the Python that runs the numpy reference, max |a - b|. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const EXPORTED = join(ROOT, "exported");

/** The shipped models, as `zoo index` lists them in exported/index.json. */
export function shippedModels() {
  return JSON.parse(readFileSync(join(EXPORTED, "index.json"), "utf8")).models;
}

/** The Python with numpy and onnxruntime: $GENZOO_PYTHON, else the repository's .venv (which .ci/run creates). */
export function python() {
  const found = process.env.GENZOO_PYTHON ?? join(ROOT, ".venv", "bin", "python");
  if (!existsSync(found)) {
    throw new Error(`no Python at ${found}: create the venv (python3 -m venv .venv && .venv/bin/pip install -e '.[test]') or set GENZOO_PYTHON`);
  }
  return found;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
