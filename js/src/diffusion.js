/**
 * The reverse process of denoising diffusion, from an artifact's `schedule.json`: DDPM ancestral sampling
 * (Ho et al. 2020), DDIM (Song et al. 2021, any step count, eta, linspace or trailing spacing) and DPM-Solver++(2M)
 * (Lu et al. 2022, deterministic, DDIM's timesteps; good images in fewer steps).
 *
 * This is the JavaScript twin of the numpy reference sampler (`zoo/diffusion/reference.py`): the per-step tables are
 * the same float64 arithmetic, written `x_prev = c_x0 * x0 + c_xt * x_t + sigma * z` (plus `c_prev * x0_prev`, the
 * previous step's predicted x0, for DPM-Solver++), and the network is any async
 * `denoise(x_t, t) -> prediction` (here an ONNX session). Fed the same initial and per-step noise, it returns the
 * reference's images within float32 rounding.
 *
 * A class-conditional model (family guided_ddpm: its denoiser takes a `label`, and `schedule.json` has a `guidance`
 * section) samples with classifier-free guidance (Ho & Salimans 2022): `guidedDenoiser` turns the labelled network
 * into the one prediction a step needs, `uncond + scale * (cond - uncond)`, both halves from one batched call.
 */
import { ZooError } from "./errors.js";

export const SPACINGS = ["linspace", "trailing"];
export const VARIANCES = ["fixed_small", "fixed_large"];
export const PREDICTION_TYPES = ["epsilon", "v"];
export const SAMPLERS = ["ddim", "ddpm", "dpmpp_2m"];

/** numpy's np.round: halves go to the even neighbour. */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The `steps` timesteps a DDIM sampler visits, descending, in [0, T): see reference.ddim_timesteps. */
export function ddimTimesteps(numTimesteps, steps, spacing = "trailing") {
  if (!SPACINGS.includes(spacing)) throw new ZooError(`timestep spacing must be one of ${SPACINGS.join(", ")}, got ${JSON.stringify(spacing)}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > numTimesteps) {
    throw new ZooError(`steps must be an integer in [1, ${numTimesteps}] (the schedule's T), got ${steps}`);
  }
  const out = new Int32Array(steps);
  if (spacing === "linspace") {
    // numpy's linspace: start + i * step, with the last value set to stop exactly
    const step = steps > 1 ? -(numTimesteps - 1) / (steps - 1) : 0;
    for (let i = 0; i < steps; i++) out[i] = roundHalfEven(i === steps - 1 && steps > 1 ? 0 : numTimesteps - 1 + i * step);
  } else {
    for (let i = 0; i < steps; i++) out[i] = roundHalfEven(numTimesteps - i * (numTimesteps / steps)) - 1;
  }
  if (new Set(out).size !== steps) throw new ZooError(`${steps} ${spacing} steps over T = ${numTimesteps} repeat a timestep`);
  return out;
}

/** Per-step float64 tables of DDIM with `eta` (0 deterministic, 1 the DDPM posterior variance). */
export function ddimCoefficients(alphasCumprod, timesteps, eta = 0) {
  if (!(eta >= 0)) throw new ZooError(`eta must be >= 0 (0 is deterministic DDIM, 1 the DDPM posterior), got ${eta}`);
  const n = timesteps.length;
  const table = emptyTable(timesteps);
  for (let i = 0; i < n; i++) {
    const abT = alphasCumprod[timesteps[i]];
    const abPrev = i + 1 < n ? alphasCumprod[timesteps[i + 1]] : 1.0; // the step after the last is the clean image
    const sigma = eta * Math.sqrt((1 - abPrev) / (1 - abT)) * Math.sqrt(1 - abT / abPrev);
    const direction = Math.sqrt(Math.max(1 - abPrev - sigma ** 2, 0));
    const sqrtOneMinusAb = Math.sqrt(1 - abT);
    table.sqrtAb[i] = Math.sqrt(abT);
    table.sqrtOneMinusAb[i] = sqrtOneMinusAb;
    table.cX0[i] = Math.sqrt(abPrev) - (direction * Math.sqrt(abT)) / sqrtOneMinusAb;
    table.cXt[i] = direction / sqrtOneMinusAb;
    table.sigma[i] = sigma;
  }
  return table;
}

/**
 * Per-step float64 tables of DPM-Solver++(2M) in data-prediction form: see reference.dpmpp_2m_coefficients, whose
 * docstring has the update equations. Step 0 is first order (DDIM with eta 0), the steps after it second order except
 * a step into t = 0 (unless `lowerOrderFinal` is false), and the last one (to the clean image) returns the predicted
 * x0. `order = 1` is DDIM with eta 0 throughout.
 */
export function dpmpp2mCoefficients(alphasCumprod, timesteps, order = 2, lowerOrderFinal = true) {
  if (order !== 1 && order !== 2) throw new ZooError(`the DPM-Solver++ order must be 1 or 2, got ${order}`);
  const n = timesteps.length;
  const table = emptyTable(timesteps);
  table.cPrev = new Float64Array(n);
  const lambda = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ab = alphasCumprod[timesteps[i]];
    table.sqrtAb[i] = Math.sqrt(ab);
    table.sqrtOneMinusAb[i] = Math.sqrt(1 - ab);
    lambda[i] = Math.log(table.sqrtAb[i]) - Math.log(table.sqrtOneMinusAb[i]); // log(alpha / sigma)
  }
  for (let i = 0; i + 1 < n; i++) {
    const h = lambda[i + 1] - lambda[i];
    const first = table.sqrtAb[i + 1] * -Math.expm1(-h); // alpha_s (1 - e^{-h})
    table.cXt[i] = table.sqrtOneMinusAb[i + 1] / table.sqrtOneMinusAb[i];
    if (order === 2 && i > 0 && (timesteps[i + 1] !== 0 || !lowerOrderFinal)) { // first order at step 0 (and into t = 0)
      const halfOverR = (0.5 * h) / (lambda[i] - lambda[i - 1]); // 1 / (2 r), r = h_prev / h
      table.cX0[i] = first * (1 + halfOverR);
      table.cPrev[i] = -first * halfOverR;
    } else {
      table.cX0[i] = first;
    }
  }
  table.cX0[n - 1] = 1; // to the clean image (sigma = 0): x0 itself
  return table;
}

/** Per-step float64 tables of DDPM ancestral sampling over every t, T-1 down to 0 (no noise at t = 0). */
export function ddpmCoefficients(betas, alphasCumprod, variance = "fixed_small") {
  if (!VARIANCES.includes(variance)) throw new ZooError(`variance must be one of ${VARIANCES.join(", ")}, got ${JSON.stringify(variance)}`);
  const T = betas.length;
  const timesteps = Int32Array.from({ length: T }, (_, i) => T - 1 - i);
  const table = emptyTable(timesteps);
  timesteps.forEach((t, i) => {
    const ab = alphasCumprod[t];
    const abPrev = t > 0 ? alphasCumprod[t - 1] : 1.0;
    const beta = betas[t];
    const posteriorVariance = (beta * (1 - abPrev)) / (1 - ab);
    table.sqrtAb[i] = Math.sqrt(ab);
    table.sqrtOneMinusAb[i] = Math.sqrt(1 - ab);
    table.cX0[i] = (beta * Math.sqrt(abPrev)) / (1 - ab);
    table.cXt[i] = ((1 - abPrev) * Math.sqrt(1 - beta)) / (1 - ab);
    table.sigma[i] = t === 0 ? 0 : Math.sqrt(variance === "fixed_small" ? posteriorVariance : beta);
  });
  return table;
}

function emptyTable(timesteps) {
  const n = timesteps.length;
  return { timesteps: Int32Array.from(timesteps), sqrtAb: new Float64Array(n), sqrtOneMinusAb: new Float64Array(n),
    cX0: new Float64Array(n), cXt: new Float64Array(n), sigma: new Float64Array(n) };
}

/** Validate a parsed `schedule.json` and return it with typed arrays (and its `guidance` section checked, if any). */
export function readSchedule(schedule, where = "schedule.json") {
  for (const key of ["num_timesteps", "prediction_type", "betas", "alphas_cumprod"]) {
    if (!(key in schedule)) throw new ZooError(`${where} has no "${key}"; re-export the artifact with zoo export`);
  }
  if (!PREDICTION_TYPES.includes(schedule.prediction_type)) {
    throw new ZooError(`${where}: prediction_type must be one of ${PREDICTION_TYPES.join(", ")}, got ${schedule.prediction_type}`);
  }
  const guidance = schedule.guidance ?? null;
  if (guidance !== null) {
    const { num_classes: k, null_label: nullLabel, scale } = guidance;
    if (!(Number.isInteger(k) && k >= 1 && Number.isInteger(nullLabel) && Number.isFinite(scale) && scale >= 0)) {
      throw new ZooError(`${where}: "guidance" needs num_classes and null_label (integers) and a scale >= 0, got ${JSON.stringify({ num_classes: k, null_label: nullLabel, scale })}; re-export the artifact`);
    }
  }
  return { ...schedule, guidance, betas: Float64Array.from(schedule.betas), alphas_cumprod: Float64Array.from(schedule.alphas_cumprod) };
}

/** A guidance scale: `guidance`, or the default when undefined/null; a finite number >= 0, else a ZooError. */
export function checkGuidance(guidance, fallback) {
  const scale = guidance ?? fallback;
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale < 0) {
    throw new ZooError(`guidance must be a number >= 0 (0 unconditional, 1 conditional, above 1 guided), got ${typeof guidance === "number" ? guidance : JSON.stringify(guidance)}`);
  }
  return scale;
}

/**
 * Classifier-free guidance: the one prediction per step that `reverseProcess` takes, from a labelled network.
 *
 * At scale 0 it is the unconditional prediction (every label the null label), at 1 the conditional one, each one
 * plain call; otherwise `uncond + scale * (cond - uncond)` in float32, with the batch stacked twice (the labels, then
 * the null label) in one call, as the TensorFlow sampler and the numpy reference do.
 *
 * @param {(x: Float32Array, t: number, labels: Int32Array) => Promise<Float32Array>} denoise the network on
 *   `labels.length` images
 * @param {{labels: Int32Array, nullLabel: number, guidance: number}} options
 * @returns {(x: Float32Array, t: number) => Promise<Float32Array>}
 */
export function guidedDenoiser(denoise, { labels, nullLabel, guidance }) {
  const n = labels.length;
  if (guidance === 0) {
    const nulls = new Int32Array(n).fill(nullLabel);
    return (x, t) => denoise(x, t, nulls);
  }
  if (guidance === 1) return (x, t) => denoise(x, t, labels);
  const both = new Int32Array(2 * n);
  both.set(labels);
  both.fill(nullLabel, n);
  const scale = Math.fround(guidance);
  return async (x, t) => {
    const stacked = new Float32Array(2 * x.length);
    stacked.set(x);
    stacked.set(x, x.length);
    const out = await denoise(stacked, t, both);
    const m = x.length;
    const mixed = new Float32Array(m);
    for (let j = 0; j < m; j++) mixed[j] = out[m + j] + Math.fround(scale * Math.fround(out[j] - out[m + j]));
    return mixed;
  };
}

/**
 * Run the reverse process from `noise` (a Float32Array of N*H*W*C values).
 *
 * @param {object} options
 * @param {(x: Float32Array, t: number) => Promise<Float32Array>} options.denoise the network at one timestep
 * @param {object} options.schedule from readSchedule
 * @param {"ddim"|"ddpm"|"dpmpp_2m"} [options.sampler] @param {number} [options.steps] DDIM and DPM-Solver++ steps
 *   (DDPM runs all T)
 * @param {number} [options.eta] DDIM only (dpmpp_2m is deterministic: 0) @param {string} [options.spacing]
 * @param {boolean} [options.lowerOrderFinal] dpmpp_2m: its step into t = 0 at first order (the default)
 * @param {string} [options.variance]
 * @param {boolean} [options.clipX0] clip the predicted x0 to [-1, 1] (the zoo's default)
 * @param {(step: number, count: number) => Float32Array} [options.stepNoise] the z of a stochastic step
 * @param {(done: number, count: number) => (void|Promise<void>)} [options.onStep] progress after each step
 * @returns {Promise<Float32Array>} images in [-1, 1]
 */
export async function reverseProcess(noise, { denoise, schedule, sampler = "ddim", steps = 50, eta = 0, spacing = "trailing",
  variance = "fixed_small", clipX0 = true, lowerOrderFinal = true, stepNoise, onStep }) {
  let table;
  if (sampler === "ddpm") table = ddpmCoefficients(schedule.betas, schedule.alphas_cumprod, variance);
  else if (sampler === "ddim") table = ddimCoefficients(schedule.alphas_cumprod, ddimTimesteps(schedule.num_timesteps, steps, spacing), eta);
  else if (sampler === "dpmpp_2m") {
    if (eta !== 0) throw new ZooError(`eta = ${eta} means nothing to dpmpp_2m, a deterministic ODE solver: leave it at 0 (or use ddim for a stochastic sampler)`);
    table = dpmpp2mCoefficients(schedule.alphas_cumprod, ddimTimesteps(schedule.num_timesteps, steps, spacing), 2, lowerOrderFinal);
  } else throw new ZooError(`sampler must be one of ${SAMPLERS.join(", ")}, got ${JSON.stringify(sampler)}`);
  const count = table.timesteps.length;
  if (table.sigma.some((s) => s > 0) && !stepNoise) throw new ZooError("a stochastic sampler (ddpm, or ddim with eta > 0) needs stepNoise");
  const v = schedule.prediction_type === "v";
  let x = Float32Array.from(noise);
  let x0Prev = table.cPrev ? new Float32Array(x.length) : null; // the multistep solver's previous x0
  for (let i = 0; i < count; i++) {
    const prediction = await denoise(x, table.timesteps[i]);
    const a = Math.fround(table.sqrtAb[i]), b = Math.fround(table.sqrtOneMinusAb[i]);
    const cX0 = Math.fround(table.cX0[i]), cXt = Math.fround(table.cXt[i]), sigma = Math.fround(table.sigma[i]);
    const cPrev = table.cPrev ? Math.fround(table.cPrev[i]) : 0;
    const z = sigma > 0 ? stepNoise(i, count) : null;
    const next = new Float32Array(x.length);
    const x0s = x0Prev ? new Float32Array(x.length) : null;
    for (let j = 0; j < x.length; j++) {
      let x0 = v ? a * x[j] - b * prediction[j] : (x[j] - b * prediction[j]) / a;
      if (clipX0) x0 = Math.min(1, Math.max(-1, x0));
      next[j] = cX0 * x0 + cXt * x[j] + (x0Prev ? cPrev * x0Prev[j] : 0) + (z ? sigma * z[j] : 0);
      if (x0s) x0s[j] = x0;
    }
    x = next;
    x0Prev = x0s;
    if (onStep) await onStep(i + 1, count);
  }
  return x;
}
