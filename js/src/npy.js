/**
 * Reading numpy's `.npy` and `.npz` files (the artifacts' `examples.npz` test vectors).
 *
 * `.npz` is a zip of `.npy` files; fflate unzips it. Only little-endian float32/float64/int32/int64/uint8 C-order
 * arrays are read, which is what the zoo writes; anything else is refused with its dtype named.
 */
import { unzipSync } from "fflate";
import { ZooError } from "./errors.js";

const TYPES = {
  "<f4": [Float32Array, "float32"], "<f8": [Float64Array, "float64"], "<i4": [Int32Array, "int32"],
  "<i8": [BigInt64Array, "int64"], "|u1": [Uint8Array, "uint8"], "<u1": [Uint8Array, "uint8"],
};

/** Parse one `.npy` file: `{data, dims, type}` (int64 comes back as Int32Array when every value fits). */
export function parseNpy(bytes, name = "array") {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== "NUMPY") throw new ZooError(`${name} is not a .npy array (bad magic bytes)`);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shape === undefined) throw new ZooError(`${name}: unreadable .npy header ${header.trim()}`);
  if (!(descr in TYPES)) throw new ZooError(`${name}: dtype ${descr} is not supported (float32, float64, int32, int64, uint8)`);
  if (fortran) throw new ZooError(`${name}: Fortran-ordered arrays are not supported; save it C-ordered`);
  const dims = shape.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const [Type, type] = TYPES[descr];
  const offset = start + headerLength;
  const raw = bytes.slice(offset, bytes.byteLength); // a copy, aligned for the typed array
  let data = new Type(raw.buffer, 0, raw.byteLength / Type.BYTES_PER_ELEMENT);
  if (type === "int64" && data.every((v) => v >= -2147483648n && v <= 2147483647n)) {
    return { data: Int32Array.from(data, Number), dims, type: "int32" };
  }
  return { data, dims, type };
}

/** Parse a `.npz` file: an object of arrays keyed by name (without `.npy`). */
export function parseNpz(bytes, name = "archive.npz") {
  let files;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    throw new ZooError(`${name} is not a readable .npz (zip) file: ${error.message}`, { cause: error });
  }
  const arrays = {};
  for (const [file, content] of Object.entries(files)) {
    if (file.endsWith(".npy")) arrays[file.slice(0, -4)] = parseNpy(content, `${name}/${file}`);
  }
  return arrays;
}
