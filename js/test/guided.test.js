/**
 * Classifier-free guidance on a class-conditional diffusion artifact (family guided_ddpm): the JavaScript samplers
 * with labels and a guidance scale against the numpy reference sampler (zoo/diffusion/reference.py) fed the same
 * noise, within 1e-3; one batched ONNX call per step for a mix, one plain call at scales 0 and 1; the composed
 * `generate` against the outputs Keras stored in examples.npz; and the errors. The artifact is a tiny untrained one
 * made for the test (see helpers.guidedFixture; $GENZOO_GUIDED_FIXTURE names a ready one).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ZooError, loadModel, parseNpz } from "../src/node.js";
import { EXPORTED, ROOT, guidedFixture, maxAbsDiff, python } from "./helpers.js";

const TOLERANCE = 1e-3;
const LABELS = [0, 3, 7, 10]; // 10 is the null label: an unconditional image in a guided batch
const CASES = { // name: [the reference's sample() options, the JavaScript denoiseLoop options]
  ddim8_g2_5: [{ steps: 8, guidance: 2.5 }, { sampler: "ddim", steps: 8, guidance: 2.5 }],
  ddim8_g0: [{ steps: 8, guidance: 0 }, { sampler: "ddim", steps: 8, guidance: 0 }],
  ddim8_g1: [{ steps: 8, guidance: 1 }, { sampler: "ddim", steps: 8, guidance: 1 }],
  ddim8_default: [{ steps: 8 }, { sampler: "ddim", steps: 8 }], // schedule.json's scale, 2
  ddim6_eta_g3: [{ steps: 6, eta: 0.5, guidance: 3, step_noise: "frames" }, { sampler: "ddim", steps: 6, eta: 0.5, guidance: 3 }],
  dpmpp6_g2_5: [{ steps: 6, sampler: "dpmpp_2m", guidance: 2.5 }, { sampler: "dpmpp_2m", steps: 6, guidance: 2.5 }],
  dpmpp8_linspace_g1_5: [{ steps: 8, sampler: "dpmpp_2m", spacing: "linspace", clip_x0: false, guidance: 1.5 },
    { sampler: "dpmpp_2m", steps: 8, spacing: "linspace", clipX0: false, guidance: 1.5 }],
  ddpm_g2: [{ sampler: "ddpm", guidance: 2, step_noise: "frames" }, { sampler: "ddpm", guidance: 2 }],
};
let fixture, folder, reference, model;

before(async () => {
  fixture = guidedFixture();
  folder = mkdtempSync(join(tmpdir(), "genzoo-guided-reference-"));
  const script = `
import json, runpy, numpy as np
module = runpy.run_path(${JSON.stringify(join(ROOT, "zoo", "diffusion", "reference.py"))})
sampler = module["ReferenceSampler"](${JSON.stringify(fixture.dir)})
rng = np.random.default_rng(5)
noise = rng.standard_normal((4, 28, 28, 1)).astype(np.float32)
frames = rng.standard_normal((100, 4, 28, 28, 1)).astype(np.float32)
labels = np.array(${JSON.stringify(LABELS)})
out = {"noise": noise, "frames": frames, "cycled": sampler.sample(noise, steps=5)}  # no labels: each class in turn
for name, options in json.loads(${JSON.stringify(JSON.stringify(Object.fromEntries(Object.entries(CASES).map(([k, v]) => [k, v[0]]))))}).items():
    if options.pop("step_noise", None):
        options["step_noise"] = lambda i, shape: frames[i]
    out[name] = sampler.sample(noise, labels=labels, **options)
np.savez(${JSON.stringify(join(folder, "reference.npz"))}, **out)
`;
  execFileSync(python(), ["-c", script], { stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 });
  reference = parseNpz(new Uint8Array(readFileSync(join(folder, "reference.npz"))));
  model = await loadModel(fixture.dir);
});

after(async () => {
  await model?.release();
  if (folder) rmSync(folder, { recursive: true, force: true });
  fixture?.remove();
});

const frame = (i) => reference.frames.data.subarray(i * 4 * 784, (i + 1) * 4 * 784);
const rejects = (promise, pattern) => assert.rejects(promise, (error) => error instanceof ZooError && pattern.test(error.message));

test("the artifact declares its guidance: schedule.json's section, metadata.json's classes", () => {
  assert.deepEqual({ ...model.guidance, rule: undefined }, { num_classes: 10, null_label: 10, scale: 2, rule: undefined });
  assert.ok(model.can("conditional") && model.can("samplers"));
  assert.equal(model.numClasses, 10);
  assert.deepEqual(model.endpoint("denoise").inputs.map((i) => i.name), ["x_t", "t", "label"]);
});

for (const [name, [, options]] of Object.entries(CASES)) {
  test(`${name}: the guided sampler reproduces the numpy reference`, async (t) => {
    const stepNoise = options.eta || options.sampler === "ddpm" ? frame : undefined;
    const images = await model.denoiseLoop(reference.noise, { ...options, labels: LABELS, stepNoise });
    const diff = maxAbsDiff(images.data, reference[name].data);
    t.diagnostic(`max |JS - numpy| = ${diff.toExponential(1)}`);
    assert.ok(diff <= TOLERANCE, `${name}: max |JS - numpy| = ${diff}`);
  });
}

test("without labels each image takes the next class, as in numpy and TensorFlow; one id or a typed array works", async () => {
  const cycled = await model.denoiseLoop(reference.noise, { sampler: "ddim", steps: 5 });
  assert.ok(maxAbsDiff(cycled.data, reference.cycled.data) <= TOLERANCE);
  const explicit = await model.denoiseLoop(reference.noise, { sampler: "ddim", steps: 5, labels: Int32Array.from([0, 1, 2, 3]) });
  assert.equal(maxAbsDiff(cycled.data, explicit.data), 0);
  const sevens = await model.denoiseLoop(reference.noise, { sampler: "ddim", steps: 3, labels: 7 });
  assert.equal(maxAbsDiff(sevens.data, (await model.denoiseLoop(reference.noise, { sampler: "ddim", steps: 3, labels: [7, 7, 7, 7] })).data), 0);
});

test("the comparisons have teeth: each scale gives other images, and the null label is the unconditional image", () => {
  const differ = (a, b) => maxAbsDiff(reference[a].data, reference[b].data);
  for (const [a, b] of [["ddim8_g2_5", "ddim8_g0"], ["ddim8_g2_5", "ddim8_g1"], ["ddim8_g0", "ddim8_g1"], ["ddim8_g2_5", "ddim8_default"]]) {
    assert.ok(differ(a, b) > 1e-2, `${a} and ${b} differ by only ${differ(a, b)}`);
  }
  const last = (name) => reference[name].data.subarray(3 * 784);
  assert.ok(maxAbsDiff(last("ddim8_g2_5"), last("ddim8_g0")) <= 1e-5, "the null label's image does not depend on the scale");
});

test("a mix is one batched ONNX call per step (labels, then the null label); scales 0 and 1 one plain call", async () => {
  const session = await model.session(model.onnxFile("denoise"));
  const calls = [];
  const run = session.run.bind(session);
  session.run = (feeds, ...rest) => {
    calls.push({ batch: feeds.x_t.dims[0], labels: Array.from(feeds.label.data) });
    return run(feeds, ...rest);
  };
  try {
    const noise = { data: reference.noise.data.subarray(0, 3 * 784), dims: [3, 28, 28, 1] };
    await model.denoiseLoop(noise, { sampler: "ddim", steps: 2, labels: [1, 2, 3], guidance: 2.5 });
    assert.deepEqual(calls, [1, 2].map(() => ({ batch: 6, labels: [1, 2, 3, 10, 10, 10] })));
    for (const [guidance, labels] of [[0, [10, 10, 10]], [1, [1, 2, 3]]]) {
      calls.length = 0;
      await model.denoiseLoop(noise, { sampler: "dpmpp_2m", steps: 2, labels: [1, 2, 3], guidance });
      assert.deepEqual(calls, [1, 2].map(() => ({ batch: 3, labels })));
    }
  } finally {
    delete session.run;
  }
});

test("the composed generate (labels in, generate_steps DDIM steps at the default scale) matches Keras' examples", async (t) => {
  const { inputs, outputs } = (await model.examples()).generate;
  assert.deepEqual(Object.keys(inputs).sort(), ["label", "noise"]);
  const { images } = await model.run("generate", inputs);
  const diff = maxAbsDiff(images.data, outputs.images.data);
  t.diagnostic(`max |JS - Keras| = ${diff.toExponential(1)}`);
  assert.ok(diff <= TOLERANCE, `generate: max |JS - Keras| = ${diff}`);
  const { inputs: denoiseInputs, outputs: denoiseOutputs } = (await model.examples()).denoise;
  assert.ok(maxAbsDiff((await model.run("denoise", denoiseInputs)).prediction.data, denoiseOutputs.prediction.data) <= 1e-4);
});

test("sample() takes label (or labels) and guidance, seeded like every model", async () => {
  const drawn = await model.sample(4, { seed: 9, label: [1, 2, 3, 4], guidance: 3, steps: 3 });
  const again = await model.sample(4, { seed: 9, labels: [1, 2, 3, 4], guidance: 3, steps: 3 });
  assert.deepEqual(drawn.dims, [4, 28, 28, 1]);
  assert.equal(maxAbsDiff(drawn.data, again.data), 0);
  await rejects(model.sample(4, { label: 1, labels: [1, 2, 3, 4] }), /give label or labels, not both/);
});

test("bad labels and scales, and labels or guidance for an unconditional model, are named", async () => {
  const noise = { data: new Float32Array(2 * 784), dims: [2, 28, 28, 1] };
  const classes = "tiny-guided-ddpm has classes 0 to 9, and 10, the null label \\(unconditional\\)";
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: 11 }), new RegExp(`label 11 is out of range: ${classes}`));
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: [0, -1] }), /label -1 is out of range/);
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: [0.5, 1] }), new RegExp(`labels must be whole class ids, got 0.5 \\(at 0\\): ${classes}`));
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: Float32Array.from([1, NaN]) }), /labels must be whole class ids, got NaN \(at 1\)/);
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: ["1", 2] }), /labels must be whole class ids, got "1" \(at 0\)/);
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: "shoes" }), /a label must be a class id or an array of them/);
  await rejects(model.denoiseLoop(noise, { steps: 2, labels: [1, 2, 3] }), /2 samples need 2 labels \(or one for all\), got 3/);
  for (const guidance of [-0.5, NaN, Infinity, "2"]) {
    await rejects(model.denoiseLoop(noise, { steps: 2, labels: 1, guidance }), /guidance must be a number >= 0 \(0 unconditional, 1 conditional, above 1 guided\)/);
  }
  await rejects(model.run("generate", { noise, label: { data: Int32Array.from([1, 11]), dims: [2] } }), /input label must be in \[0, 10\], got 11/);

  const ddpm = await loadModel(join(EXPORTED, "ddpm-fashion-mnist"));
  await rejects(ddpm.denoiseLoop(noise, { steps: 2, labels: [1, 2] }), /ddpm-fashion-mnist is not conditional: it takes no label/);
  await rejects(ddpm.sample(1, { steps: 2, label: 3 }), /ddpm-fashion-mnist is not conditional: it takes no label/);
  await rejects(ddpm.sample(1, { steps: 2, guidance: 2 }), /ddpm-fashion-mnist is an unconditional diffusion model: guidance needs a class-conditional one/);
  assert.equal(ddpm.guidance, null);
  await ddpm.release();
});
