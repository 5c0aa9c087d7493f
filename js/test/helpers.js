/**
 * What the tests share: where the repository's artifacts are, the Python that runs the numpy reference, a tiny
 * class-conditional diffusion artifact, max |a - b|.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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

/**
 * A tiny, untrained guided_ddpm artifact (10 classes, T = 100, guidance 2, generate_steps 8): the folder in
 * $GENZOO_GUIDED_FIXTURE if set, else one that test/make_guided_fixture.py trains for four steps and exports into a
 * temporary folder (about half a minute; it needs the repository's .venv and ../shared/data beside the repository, or
 * $ZOO_TEST_DATA_DIR). Returns `{dir, remove}`; `remove()` deletes what was made here.
 */
export function guidedFixture() {
  if (process.env.GENZOO_GUIDED_FIXTURE) return { dir: resolve(process.env.GENZOO_GUIDED_FIXTURE), remove: () => {} };
  const folder = mkdtempSync(join(tmpdir(), "genzoo-guided-"));
  let out;
  try {
    out = execFileSync(python(), [join(ROOT, "js", "test", "make_guided_fixture.py"), folder],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw new Error(`making the guided fixture failed: ${String(error.stderr ?? error.message).slice(-2000)}`);
  }
  return { dir: out.trim().split("\n").at(-1), remove: () => rmSync(folder, { recursive: true, force: true }) };
}
