/**
 * Seeded standard normal draws for latents and noise.
 *
 * The generator is Mulberry32 (a 32-bit state, period 2^32) feeding the Box-Muller transform: small, fast, and the
 * same stream in Node and every browser. It is not numpy's stream: to reproduce a Python result exactly, pass the
 * same arrays (every sampler here takes explicit noise).
 */

/** A function returning uniform floats in (0, 1), seeded by a 32-bit integer. */
export function uniform(seed = 0) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** `count` N(0, 1) draws as a Float32Array, seeded. */
export function standardNormal(count, seed = 0) {
  const next = uniform(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(next()));
    const angle = 2 * Math.PI * next();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** `count` integers in [0, k) with probabilities `weights` (uniform if omitted), seeded. */
export function categorical(count, k, seed = 0, weights = null) {
  const next = uniform(seed ^ 0x9e3779b9);
  const cumulative = [];
  let total = 0;
  for (let i = 0; i < k; i++) cumulative.push((total += weights ? weights[i] : 1));
  const out = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const u = next() * total;
    let i = 0;
    while (i < k - 1 && u >= cumulative[i]) i++;
    out[n] = i;
  }
  return out;
}
