/**
 * The JavaScript samplers against the numpy reference sampler (zoo/diffusion/reference.py, run here with the
 * repository's Python): fed the same initial noise, and the same per-step noise where a step is stochastic, DDIM
 * (deterministic and with eta), DPM-Solver++(2M) and DDPM's 1000 ancestral steps give the same images within 1e-3.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ddimTimesteps, loadModel, parseNpz } from "../src/node.js";
import { EXPORTED, ROOT, maxAbsDiff, python } from "./helpers.js";

const ARTIFACT = join(EXPORTED, "ddpm-fashion-mnist");
const TOLERANCE = 1e-3;
const CASES = [[50, "trailing"], [16, "trailing"], [7, "trailing"], [12, "linspace"], [999, "linspace"], [1000, "trailing"], [3, "linspace"]];
let folder, reference, model;

before(async () => {
  folder = mkdtempSync(join(tmpdir(), "genzoo-reference-"));
  const script = `
import json, runpy, sys, numpy as np
module = runpy.run_path(${JSON.stringify(join(ROOT, "zoo", "diffusion", "reference.py"))})
sampler = module["ReferenceSampler"](${JSON.stringify(ARTIFACT)})
rng = np.random.default_rng(3)
noise = rng.standard_normal((2, 28, 28, 1)).astype(np.float32)
steps = rng.standard_normal((1000, 2, 28, 28, 1)).astype(np.float32)
step_noise = lambda i, shape: steps[i]
out = {"noise": noise, "steps": steps,
       "ddim10": sampler.sample(noise, steps=10),
       "ddim10_eta": sampler.sample(noise, steps=10, eta=0.5, step_noise=step_noise),
       "ddim6_linspace": sampler.sample(noise, steps=6, spacing="linspace", clip_x0=False),
       "dpmpp15": sampler.sample(noise, steps=15, sampler="dpmpp_2m"),
       "dpmpp8_linspace": sampler.sample(noise, steps=8, spacing="linspace", clip_x0=False, sampler="dpmpp_2m"),
       "dpmpp8_linspace_2nd": sampler.sample(noise, steps=8, spacing="linspace", clip_x0=False, sampler="dpmpp_2m",
                                             lower_order_final=False),
       "ddpm": sampler.sample(noise, sampler="ddpm", step_noise=step_noise)}
for steps_, spacing in ${JSON.stringify(CASES)}:
    out[f"t_{steps_}_{spacing}"] = module["ddim_timesteps"](1000, steps_, spacing).astype(np.int32)
np.savez(${JSON.stringify(join(folder, "reference.npz"))}, **out)
`;
  execFileSync(python(), ["-c", script], { stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 });
  reference = parseNpz(new Uint8Array(readFileSync(join(folder, "reference.npz"))));
  model = await loadModel(ARTIFACT);
});

after(async () => {
  await model?.release();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

test("DDIM visits numpy's timesteps, round-half-even included", () => {
  for (const [steps, spacing] of CASES) {
    assert.deepEqual(Array.from(ddimTimesteps(1000, steps, spacing)), Array.from(reference[`t_${steps}_${spacing}`].data), `${steps} ${spacing}`);
  }
});

const frame = (i) => reference.steps.data.subarray(i * 2 * 784, (i + 1) * 2 * 784);

for (const [name, options] of [
  ["ddim10", { sampler: "ddim", steps: 10 }],
  ["ddim10_eta", { sampler: "ddim", steps: 10, eta: 0.5, stepNoise: frame }],
  ["ddim6_linspace", { sampler: "ddim", steps: 6, spacing: "linspace", clipX0: false }],
  ["dpmpp15", { sampler: "dpmpp_2m", steps: 15 }],
  ["dpmpp8_linspace", { sampler: "dpmpp_2m", steps: 8, spacing: "linspace", clipX0: false }],
  ["dpmpp8_linspace_2nd", { sampler: "dpmpp_2m", steps: 8, spacing: "linspace", clipX0: false, lowerOrderFinal: false }],
  ["ddpm", { sampler: "ddpm", stepNoise: frame }],
]) {
  test(`the ${name} sampler reproduces the numpy reference`, async () => {
    let calls = 0;
    const images = await model.denoiseLoop(reference.noise, { ...options, onStep: () => calls++ });
    assert.equal(calls, options.sampler === "ddpm" ? 1000 : options.steps);
    const diff = maxAbsDiff(images.data, reference[name].data);
    assert.ok(diff <= TOLERANCE, `${name}: max |JS - numpy| = ${diff}`);
  });
}

test("the comparisons have teeth: the settings give different images", () => {
  assert.ok(maxAbsDiff(reference.ddim10.data, reference.ddim10_eta.data) > 1e-2);
  assert.ok(maxAbsDiff(reference.ddim10.data, reference.ddpm.data) > 1e-2);
  assert.ok(maxAbsDiff(reference.ddim10.data, reference.dpmpp15.data) > 1e-2);
  assert.ok(maxAbsDiff(reference.dpmpp8_linspace.data, reference.dpmpp8_linspace_2nd.data) > 1e-3);
});

test("dpmpp_2m refuses an eta, and ignores the recipe's DDIM eta", async () => {
  await assert.rejects(model.denoiseLoop(reference.noise, { sampler: "dpmpp_2m", steps: 2, eta: 0.5 }), /eta = 0.5 means nothing to dpmpp_2m/);
  const defaults = model.schedule.sampler_defaults;
  model.schedule.sampler_defaults = { ...defaults, eta: 0.5 }; // as if the recipe's DDIM default were stochastic
  try {
    const images = await model.denoiseLoop(reference.noise, { sampler: "dpmpp_2m", steps: 2 });
    assert.deepEqual(images.dims, reference.noise.dims);
  } finally {
    model.schedule.sampler_defaults = defaults;
  }
});
