/** What a user gets wrong, each answered by one ZooError that names the problem and the fix. */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ZooError, loadModel } from "../src/node.js";
import { EXPORTED } from "./helpers.js";

let folder;
const copy = (name) => {
  const target = join(folder, `${name}-${Math.random().toString(36).slice(2)}`);
  cpSync(join(EXPORTED, name), target, { recursive: true, filter: (src) => !src.includes("saved_model") && !src.endsWith(".keras") });
  return target;
};
const rejects = (promise, pattern) => assert.rejects(promise, (error) => error instanceof ZooError && pattern.test(error.message));
const f32 = (dims, fill = 0) => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims });
const i32 = (values) => ({ data: Int32Array.from(values), dims: [values.length] });

before(() => { folder = mkdtempSync(join(tmpdir(), "genzoo-errors-")); });
after(() => rmSync(folder, { recursive: true, force: true }));

test("a folder that is not an artifact, and a missing ONNX file", async () => {
  await rejects(loadModel(join(folder, "nowhere")), /nowhere is not a genzoo artifact: .*metadata.json is missing; pass the folder of an exported model/);
  const dcgan = copy("dcgan-fashion-mnist");
  unlinkSync(join(dcgan, "generator.onnx"));
  const model = await loadModel(dcgan);
  await rejects(model.sample(2), /generator.onnx is missing/);
});

test("a corrupt ONNX file: caught by its checksum, and by onnxruntime without one", async () => {
  const dcgan = copy("dcgan-fashion-mnist");
  writeFileSync(join(dcgan, "generator.onnx"), "not a model");
  await rejects((await loadModel(dcgan)).sample(2), /generator.onnx is corrupt: its sha256 does not match metadata.json; download or export the artifact again/);
  await rejects((await loadModel(dcgan, { verify: false })).sample(2), /generator.onnx is not a loadable ONNX model .*export the artifact again/);
});

test("corrupt metadata.json, and metadata from before capabilities were declared", async () => {
  const dcgan = copy("dcgan-fashion-mnist");
  writeFileSync(join(dcgan, "metadata.json"), "{ not json");
  await rejects(loadModel(dcgan), /metadata.json is not valid JSON .*re-export the artifact/);
  writeFileSync(join(dcgan, "metadata.json"), JSON.stringify({ name: "x", family: "dcgan", endpoints: [], files: {} }));
  await rejects(loadModel(dcgan), /has no "capabilities": .*zoo index/);
});

test("wrong names, dtypes, shapes and batch sizes", async () => {
  const model = await loadModel(join(EXPORTED, "cgan-mnist"));
  await rejects(model.run("sample", {}), /cgan-mnist has no endpoint "sample"; it has generate/);
  await rejects(model.run("generate", { z: f32([2, 64]) }), /needs input labels \(N\) int32/);
  await rejects(model.run("generate", { z: f32([2, 64]), labels: i32([1, 2]), noise: f32([2]) }), /has no input noise; its inputs are z, labels/);
  await rejects(model.run("generate", { z: f32([2, 32]), labels: i32([1, 2]) }), /input z must be shaped \(N, 64\), got \(2, 32\)/);
  await rejects(model.run("generate", { z: { data: new Float64Array(128), dims: [2, 64] }, labels: i32([1, 2]) }), /input z must be float32 \(Float32Array\), got Float64Array/);
  await rejects(model.run("generate", { z: f32([2, 64]), labels: i32([1, 2, 3]) }), /input labels has batch 3, the other inputs 2/);
  await rejects(model.run("generate", { z: { data: new Float32Array(10), dims: [2, 64] }, labels: i32([1, 2]) }), /has 10 values but dims \(2, 64\) need 128/);
  await rejects(model.run("generate", { z: f32([2, 64]), labels: i32([1, 10]) }), /input labels must be in \[0, 9\], got 10/);
  await rejects(model.sample(2, { label: 12 }), /label 12 is out of range: cgan-mnist has classes 0 to 9/);
});

test("what a family cannot do, and variants that were not made", async () => {
  const dcgan = await loadModel(join(EXPORTED, "dcgan-fashion-mnist"));
  await rejects(dcgan.translate(f32([1, 28, 28, 1]), "a2b"), /dcgan-fashion-mnist \(dcgan\) does not translate/);
  await rejects(dcgan.sample(2, { label: 3 }), /not conditional: it takes no label/);
  await rejects(dcgan.sample(0), /n must be a positive integer, got 0/);
  const classifier = await loadModel(join(EXPORTED, "classifier-mnist"));
  await rejects(classifier.sample(2), /does not sample; it can classify/);
  const cyclegan = await loadModel(join(EXPORTED, "cyclegan-sneaker2boot"));
  await rejects(cyclegan.translate(f32([1, 28, 28, 1]), "b2c"), /direction must be "a2b" or "b2a"/);
  await rejects(loadModel(join(EXPORTED, "dcgan-fashion-mnist"), { variant: "int4" }), /variant must be one of fp16, int8/);
  const ddpm = await loadModel(join(EXPORTED, "ddpm-fashion-mnist"));
  await rejects(ddpm.sample(1, { steps: 0 }), /steps must be an integer in \[1, 1000\]/);
  await rejects(ddpm.sample(1, { sampler: "euler" }), /sampler must be one of ddim, ddpm, dpmpp_2m, got "euler"/);
});
