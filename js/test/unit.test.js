/** The pieces without a model: seeded draws, pixels both ways, grids, .npy parsing, PNG encoding. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import { ZooError, categorical, encodePNG, fromRGBA, grid, parseNpy, standardNormal, toRGBA } from "../src/node.js";

test("seeded normal draws repeat, differ across seeds and look standard", () => {
  const a = standardNormal(20001, 5), b = standardNormal(20001, 5), c = standardNormal(20001, 6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const variance = a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
  const picks = categorical(10000, 3, 1, [0.7, 0.2, 0.1]);
  const share = [0, 1, 2].map((k) => picks.filter((v) => v === k).length / picks.length);
  assert.ok(Math.abs(share[0] - 0.7) < 0.03 && Math.abs(share[2] - 0.1) < 0.02, `shares ${share}`);
});

test("pixels follow the metadata's post-processing, and back", () => {
  const images = { data: Float32Array.from([-1, 0, 1, 2]), dims: [1, 2, 2, 1] };
  const [picture] = toRGBA(images, [-1, 1]);
  assert.deepEqual(Array.from(picture.data.filter((_, i) => i % 4 === 0)), [0, 128, 255, 255]); // round(0.5 * 255) = 128, clipped above
  assert.equal(picture.data[3], 255);
  const back = fromRGBA([picture], { channels: 1, valueRange: [-1, 1] });
  assert.deepEqual(back.dims, [1, 2, 2, 1]);
  assert.ok(Math.abs(back.data[1] - 0.00392) < 1e-4 && back.data[0] === -1 && back.data[3] === 1);
  assert.throws(() => toRGBA({ data: new Float32Array(8), dims: [1, 2, 2, 2] }), ZooError);
  assert.throws(() => fromRGBA([picture, { width: 3, height: 2, data: new Uint8ClampedArray(24) }]), /picture 1 is 3x2, the first is 2x2/);
});

test("transparent pixels are composited on the background, as in Python", () => {
  // one pixel: red, half transparent; one fully transparent black; one opaque green
  const picture = { width: 3, height: 1, data: new Uint8ClampedArray([255, 0, 0, 128, 0, 0, 0, 0, 0, 255, 0, 255]) };
  const white = fromRGBA([picture], { channels: 3, valueRange: [0, 1] });
  const a = 128 / 255;
  const expected = [1, 1 - a, 1 - a, 1, 1, 1, 0, 1, 0];
  white.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `value ${i}: ${v}, expected ${expected[i]}`));
  const black = fromRGBA([picture], { channels: 3, valueRange: [0, 1], background: 0 });
  assert.deepEqual(Array.from(black.data.slice(3, 6)), [0, 0, 0]);
  assert.throws(() => fromRGBA([picture], { background: Number.NaN }), /background must be a level in \[0, 255\]/);
});

test("a grid places each picture and pads with the background", () => {
  const pictures = toRGBA({ data: new Float32Array(5 * 4).fill(0), dims: [5, 2, 2, 1] }); // black 2x2 pictures
  const sheet = grid(pictures, { columns: 3, padding: 1 });
  assert.equal(sheet.width, 3 * 2 + 4);
  assert.equal(sheet.height, 2 * 2 + 3);
  assert.equal(sheet.data[0], 255); // padding is white
  assert.equal(sheet.data[(1 * sheet.width + 1) * 4], 0); // the first picture's first pixel
  const png = PNG.sync.read(Buffer.from(encodePNG(sheet)));
  assert.equal(png.width, sheet.width);
  assert.deepEqual(new Uint8Array(png.data), new Uint8Array(sheet.data.buffer));
});

test(".npy parsing reads the header and refuses what it cannot read", () => {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const padded = header.padEnd(117, " ") + "\n"; // numpy pads the header so the data starts at a multiple of 64
  const bytes = new Uint8Array(10 + padded.length + 24);
  bytes.set([0x93, ..."NUMPY"].map((c) => (typeof c === "string" ? c.charCodeAt(0) : c)), 0);
  bytes.set([1, 0, padded.length & 255, padded.length >> 8], 6);
  bytes.set(new TextEncoder().encode(padded), 10);
  new Float32Array(bytes.buffer, 10 + padded.length, 6).set([1, 2, 3, 4, 5, 6]);
  const array = parseNpy(bytes);
  assert.deepEqual(array.dims, [2, 3]);
  assert.deepEqual(Array.from(array.data), [1, 2, 3, 4, 5, 6]);
  bytes.set(new TextEncoder().encode("'<c8'"), 10 + header.indexOf("'<f4'"));
  assert.throws(() => parseNpy(bytes), /dtype <c8 is not supported/);
  assert.throws(() => parseNpy(new Uint8Array(20)), /not a .npy array/);
});
