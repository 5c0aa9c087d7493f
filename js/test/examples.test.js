/**
 * Every endpoint of every shipped artifact reproduces the outputs Keras gave for its examples.npz inputs: the ONNX
 * files within 1e-4, and the endpoints this package composes from them (a VAE's generate through the fitted prior,
 * reconstruct, a diffusion model's 50-step DDIM generate) as well.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadModel } from "../src/node.js";
import { EXPORTED, maxAbsDiff, shippedModels } from "./helpers.js";

const ONNX_TOLERANCE = 1e-4;
const SAMPLER_TOLERANCE = 1e-3; // 50 network calls, each within float32 rounding of TensorFlow's

for (const entry of shippedModels()) {
  test(`${entry.name}: every endpoint matches examples.npz`, async () => {
    const model = await loadModel(join(EXPORTED, entry.path));
    const examples = await model.examples();
    assert.deepEqual(Object.keys(examples).sort(), model.metadata.endpoints.map((e) => e.name).sort());
    for (const [name, { inputs, outputs }] of Object.entries(examples)) {
      let got;
      try {
        got = await model.run(name, inputs);
      } catch (error) {
        // a SavedModel-only endpoint (a DB-VAE's reconstruct) is refused by name, never guessed at
        if (!model.endpoint(name).onnx && /runs only in the SavedModel/.test(error.message)) continue;
        throw error;
      }
      const tolerance = model.can("samplers") && name === "generate" ? SAMPLER_TOLERANCE : ONNX_TOLERANCE;
      for (const [output, expected] of Object.entries(outputs)) {
        assert.deepEqual(got[output].dims, expected.dims, `${name}.${output} shape`);
        const diff = maxAbsDiff(got[output].data, expected.data);
        assert.ok(diff <= tolerance, `${entry.name} ${name}.${output}: max |JS - Keras| = ${diff} > ${tolerance}`);
      }
    }
    await model.release();
  });
}

test("the index lists every artifact folder, each with its capabilities", async () => {
  const models = shippedModels();
  assert.ok(models.length >= 12);
  for (const entry of models) {
    const model = await loadModel(join(EXPORTED, entry.path));
    assert.deepEqual([...model.capabilities].sort(), [...entry.capabilities].sort());
    assert.equal(model.numClasses, entry.labels?.num_classes ?? 0);
  }
});

test("the fp16 and int8 variants load by name and stay within the difference their metadata records", async () => {
  const withVariants = shippedModels().filter((entry) => entry.variants.length);
  assert.ok(withVariants.length >= 1, "no shipped artifact has variants: run `zoo variants NAME`");
  for (const entry of withVariants) {
    const recorded = (await loadModel(join(EXPORTED, entry.path))).metadata.variants.files;
    for (const variant of entry.variants) {
      const model = await loadModel(join(EXPORTED, entry.path), { variant });
      const examples = await model.examples();
      for (const [name, { inputs, outputs }] of Object.entries(examples)) {
        const file = model.endpoint(name).onnx;
        if (!file || !recorded[file]?.[variant]?.file) continue;
        assert.equal(model.onnxFile(name), recorded[file][variant].file);
        const got = await model.run(name, inputs);
        for (const [output, expected] of Object.entries(outputs)) {
          const diff = maxAbsDiff(got[output].data, expected.data);
          const limit = recorded[file][variant].max_abs_diff + 1e-4;
          assert.ok(diff <= limit, `${entry.name} ${variant} ${name}.${output}: ${diff} > ${limit}`);
        }
      }
      await model.release();
    }
  }
});
