/**
 * Between model tensors and pixels: the post-processing an artifact's metadata gives for image outputs
 * (`pixels = round(clip((x - lo) / (hi - lo), 0, 1) * 255)` for a value range [lo, hi]) and its inverse for inputs.
 * Images are NHWC float32 `{data, dims}`; pixels are RGBA `{width, height, data: Uint8ClampedArray}` as a canvas's
 * ImageData holds them, so they go straight to `putImageData` or to a PNG encoder.
 */
import { ZooError } from "./errors.js";

/** One RGBA picture per image of an NHWC batch, scaled from `valueRange`. Grey images fill R, G and B. */
export function toRGBA(images, valueRange = [0, 1]) {
  const [n, height, width, channels] = images.dims;
  if (images.dims.length !== 4 || ![1, 3].includes(channels)) {
    throw new ZooError(`toRGBA needs images shaped (N, H, W, 1 or 3), got (${images.dims.join(", ")})`);
  }
  const [lo, hi] = valueRange;
  const pixels = [];
  for (let k = 0; k < n; k++) {
    const data = new Uint8ClampedArray(width * height * 4);
    const base = k * height * width * channels;
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) {
        const value = images.data[base + p * channels + (channels === 1 ? 0 : c)];
        data[p * 4 + c] = Math.round(Math.min(1, Math.max(0, (value - lo) / (hi - lo))) * 255);
      }
      data[p * 4 + 3] = 255;
    }
    pixels.push({ width, height, data });
  }
  return pixels;
}

/** Tile RGBA pictures of one size into a grid of `columns`, `padding` pixels apart on `background` (RGBA). */
export function grid(pictures, { columns = Math.ceil(Math.sqrt(pictures.length)), padding = 2, background = [255, 255, 255, 255] } = {}) {
  if (!pictures.length) throw new ZooError("grid needs at least one picture");
  const { width, height } = pictures[0];
  const rows = Math.ceil(pictures.length / columns);
  const W = columns * width + (columns + 1) * padding, H = rows * height + (rows + 1) * padding;
  const data = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set(background, i * 4);
  pictures.forEach((picture, k) => {
    const x0 = padding + (k % columns) * (width + padding), y0 = padding + Math.floor(k / columns) * (height + padding);
    for (let y = 0; y < height; y++) {
      data.set(picture.data.subarray(y * width * 4, (y + 1) * width * 4), ((y0 + y) * W + x0) * 4);
    }
  });
  return { width: W, height: H, data };
}

/**
 * An NHWC float32 batch from RGBA pictures already at the model's size, scaled into `valueRange`. Transparent pixels
 * are composited on `background` (a 0..255 level, white by default), as the zoo's Python preprocessing does. Grey
 * models take the luma (ITU-R 601, as PIL's "L" and TensorFlow's rgb_to_grayscale do).
 */
export function fromRGBA(pictures, { channels = 1, valueRange = [0, 1], background = 255 } = {}) {
  if (!pictures.length) throw new ZooError("fromRGBA needs at least one picture");
  if (!Number.isFinite(background) || background < 0 || background > 255) {
    throw new ZooError(`background must be a level in [0, 255], got ${background}`);
  }
  const { width, height } = pictures[0];
  const [lo, hi] = valueRange;
  const data = new Float32Array(pictures.length * width * height * channels);
  pictures.forEach((picture, k) => {
    if (picture.width !== width || picture.height !== height) {
      throw new ZooError(`picture ${k} is ${picture.width}x${picture.height}, the first is ${width}x${height}: resize them to one size`);
    }
    for (let p = 0; p < width * height; p++) {
      const alpha = picture.data[p * 4 + 3] / 255;
      const [r, g, b] = [0, 1, 2].map((c) => picture.data[p * 4 + c] * alpha + background * (1 - alpha));
      const out = (k * width * height + p) * channels;
      if (channels === 1) data[out] = lo + ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * (hi - lo);
      else for (let c = 0; c < 3; c++) data[out + c] = lo + ([r, g, b][c] / 255) * (hi - lo);
    }
  });
  return { data, dims: [pictures.length, height, width, channels] };
}
