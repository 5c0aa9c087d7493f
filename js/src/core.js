/**
 * An exported genzoo artifact, opened with onnxruntime: the runtime-independent half of the package.
 *
 * `openModel` reads `metadata.json` (endpoints with named, shaped, typed inputs and outputs, the family's declared
 * capabilities, the sha256 of every file), opens each endpoint's ONNX file on first use and checks it against its
 * checksum. Endpoints that the SavedModel serves as a composition of ONNX parts (a VAE's `generate` through the fitted
 * prior, `reconstruct` as encode then decode, a diffusion model's `generate` as its DDIM steps, for a class-conditional
 * one with labels at the default guidance scale) are composed here the same way, so every endpoint of the metadata
 * runs. `node.js` and `web.js` bind it to onnxruntime-node and -web.
 */
import { checkGuidance, guidedDenoiser, reverseProcess, readSchedule } from "./diffusion.js";
import { ZooError } from "./errors.js";
import { fromRGBA, toRGBA } from "./images.js";

/** The 0..255 level a transparent pixel shows, by the recipe's data.background (zoo/config.py's BACKGROUNDS). */
const BACKGROUNDS = { white: 255, black: 0 };
import { parseNpz } from "./npy.js";
import { categorical, standardNormal } from "./random.js";

const TYPED = { float32: Float32Array, int32: Int32Array };
const VARIANTS = ["fp16", "int8"];

/** The shape of a tensor as text, e.g. (N, 28, 28, 1). */
const shapeText = (dims) => `(${dims.map((d) => (d === null || d === undefined ? "N" : d)).join(", ")})`;
const product = (dims) => dims.reduce((a, b) => a * b, 1);

async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new ZooError("checking an artifact's files needs crypto.subtle, which browsers offer only on secure origins (https, http://localhost, http://127.0.0.1): serve the page from one of those, or load with {verify: false}");
  }
  const digest = await subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Open an artifact.
 * @param {object} binding `{ort, io, sessionOptions}`: the onnxruntime module, and `io.readBytes(relativePath)`
 *   returning a Uint8Array (or throwing with `code === "ENOENT"` when the file is missing), `io.where` for messages.
 * @param {{variant?: "fp16"|"int8", verify?: boolean}} [options]
 */
export async function openModel({ ort, io, sessionOptions = {} }, { variant = null, verify = true } = {}) {
  if (variant !== null && !VARIANTS.includes(variant)) {
    throw new ZooError(`variant must be one of ${VARIANTS.join(", ")} (or null for float32), got ${JSON.stringify(variant)}`);
  }
  const readText = async (file) => new TextDecoder().decode(await read(io, file));
  let metadata;
  try {
    metadata = JSON.parse(await readText("metadata.json"));
  } catch (error) {
    if (error instanceof ZooError) throw new ZooError(`${io.where} is not a genzoo artifact: ${error.message}; pass the folder of an exported model (e.g. exported/dcgan-fashion-mnist)`, { cause: error });
    throw new ZooError(`${io.where}/metadata.json is not valid JSON (${error.message}); re-export the artifact`, { cause: error });
  }
  for (const key of ["name", "family", "endpoints", "files", "capabilities"]) {
    if (!(key in metadata)) {
      throw new ZooError(`${io.where}/metadata.json has no "${key}": the artifact predates this package; update it with \`zoo index\` or re-export it`);
    }
  }
  const model = new ZooModel({ ort, io, sessionOptions, metadata, variant, verify });
  const extras = metadata.extra_files ?? [];
  if (extras.includes("prior.json")) model.prior = JSON.parse(new TextDecoder().decode(await model.file("prior.json")));
  if (extras.includes("schedule.json")) {
    model.schedule = readSchedule(JSON.parse(new TextDecoder().decode(await model.file("schedule.json"))), `${io.where}/schedule.json`);
    checkGuidanceDeclared(model, io.where);
  }
  return model;
}

/** A guided artifact's denoiser takes labels, schedule.json says how to guide, and metadata.json has its classes. */
function checkGuidanceDeclared(model, where) {
  const takesLabel = model.endpoints.denoise?.inputs.some((i) => i.name === "label") ?? false;
  const guidance = model.schedule.guidance;
  if (takesLabel !== (guidance !== null)) {
    throw new ZooError(`${where}: its denoiser ${takesLabel ? "takes" : "takes no"} label but schedule.json ${guidance ? "has" : "has no"} "guidance" section; the files come from different exports: export the artifact again`);
  }
  if (guidance && !(model.can("conditional") && model.numClasses === guidance.num_classes)) {
    throw new ZooError(`${where}: schedule.json guides over ${guidance.num_classes} classes but metadata.json ${model.can("conditional") ? `has ${model.numClasses}` : "is not conditional"}; export the artifact again`);
  }
}

async function read(io, file) {
  try {
    return await io.readBytes(file);
  } catch (error) {
    if (error?.code === "ENOENT" || error?.status === 404) throw new ZooError(`${io.where}/${file} is missing`, { cause: error });
    throw new ZooError(`cannot read ${io.where}/${file}: ${error.message}`, { cause: error });
  }
}

export class ZooModel {
  constructor({ ort, io, sessionOptions, metadata, variant, verify }) {
    this.ort = ort;
    this.io = io;
    this.sessionOptions = sessionOptions;
    this.metadata = metadata;
    this.variant = variant;
    this.verify = verify;
    this.prior = null;
    this.schedule = null;
    this._sessions = new Map();
    /** @type {string} */ this.name = metadata.name;
    /** @type {string} */ this.family = metadata.family;
    /** @type {Set<string>} what the family declares it can do (sample, encode, translate, samplers, ...) */
    this.capabilities = new Set(metadata.capabilities);
    const labels = metadata.labels ?? null;
    /** @type {number} classes a conditional model takes (0 if none) */ this.numClasses = labels?.num_classes ?? 0;
    /** @type {string[]} */ this.classNames = labels?.class_names ?? [];
    this.endpoints = Object.fromEntries(metadata.endpoints.map((e) => [e.name, e]));
  }

  /**
   * `schedule.json`'s classifier-free guidance, `{num_classes, null_label, scale, rule}`, for a class-conditional
   * diffusion model (family guided_ddpm); null otherwise.
   */
  get guidance() {
    return this.schedule?.guidance ?? null;
  }

  /** Whether the family declares `capability` (see zoo.models.base.Capability). */
  can(capability) {
    return this.capabilities.has(capability);
  }

  /** An artifact file's bytes, checked against the sha256 that metadata.json records. */
  async file(name) {
    const bytes = await read(this.io, name);
    const expected = this.metadata.files[name];
    if (this.verify) {
      if (!expected) throw new ZooError(`${this.io.where}/${name} is not listed in metadata.json's checksums; re-export the artifact`);
      if ((await sha256Hex(bytes)) !== expected) {
        throw new ZooError(`${this.io.where}/${name} is corrupt: its sha256 does not match metadata.json; download or export the artifact again`);
      }
    }
    return bytes;
  }

  /** The ONNX file an endpoint runs, in the chosen variant. */
  onnxFile(endpoint) {
    const file = this.endpoint(endpoint).onnx;
    if (!file || !this.variant) return file;
    const name = file.replace(/\.onnx$/, `.${this.variant}.onnx`);
    if (!(name in this.metadata.files)) {
      throw new ZooError(`${this.name} has no ${this.variant} variant of ${file}; make it with \`zoo variants ${this.name}\` or load the float32 model`);
    }
    return name;
  }

  endpoint(name) {
    const endpoint = this.endpoints[name];
    if (!endpoint) throw new ZooError(`${this.name} has no endpoint ${JSON.stringify(name)}; it has ${Object.keys(this.endpoints).join(", ")}`);
    return endpoint;
  }

  async session(file) {
    if (!this._sessions.has(file)) {
      const opening = this.file(file).then((bytes) => this.ort.InferenceSession.create(bytes, this.sessionOptions)).catch((error) => {
        this._sessions.delete(file);
        if (error instanceof ZooError) throw error;
        throw new ZooError(`${this.io.where}/${file} is not a loadable ONNX model (${error.message}); export the artifact again`, { cause: error });
      });
      this._sessions.set(file, opening);
    }
    return this._sessions.get(file);
  }

  /** Check `inputs` against the endpoint's declaration: names, dtypes, shapes, one batch size, label ranges. */
  validate(name, inputs) {
    const endpoint = this.endpoint(name);
    if (inputs === null || typeof inputs !== "object") throw new ZooError(`${this.name}.${name} takes an object of named inputs`);
    const expected = endpoint.inputs.map((i) => i.name);
    const unknown = Object.keys(inputs).filter((k) => !expected.includes(k));
    if (unknown.length) throw new ZooError(`${this.name}.${name} has no input ${unknown.join(", ")}; its inputs are ${expected.join(", ")}`);
    let batch = null;
    const checked = {};
    for (const info of endpoint.inputs) {
      const tensor = inputs[info.name];
      if (tensor === undefined) throw new ZooError(`${this.name}.${name} needs input ${info.name} ${shapeText(info.shape)} ${info.dtype}`);
      const where = `${this.name}.${name} input ${info.name}`;
      if (!tensor?.data || !Array.isArray(tensor.dims)) throw new ZooError(`${where} must be {data, dims}, e.g. {data: new Float32Array(...), dims: [1, 28, 28, 1]}`);
      const Typed = TYPED[info.dtype];
      if (!(tensor.data instanceof Typed)) {
        throw new ZooError(`${where} must be ${info.dtype} (${Typed.name}), got ${tensor.data.constructor.name}`);
      }
      const { dims } = tensor;
      const fits = dims.length === info.shape.length && info.shape.every((d, k) => d === null || d === dims[k]) && dims.every((d) => Number.isInteger(d) && d >= 0);
      if (!fits) throw new ZooError(`${where} must be shaped ${shapeText(info.shape)}, got ${shapeText(dims)}`);
      if (product(dims) !== tensor.data.length) throw new ZooError(`${where} has ${tensor.data.length} values but dims ${shapeText(dims)} need ${product(dims)}`);
      if (batch !== null && dims[0] !== batch) throw new ZooError(`${where} has batch ${dims[0]}, the other inputs ${batch}: give every input the same batch`);
      batch = dims[0];
      const range = this.inputRange(name, info);
      if (range) {
        const bad = tensor.data.find((v) => v < range[0] || v > range[1]);
        if (bad !== undefined) throw new ZooError(`${where} must be in [${range[0]}, ${range[1]}], got ${bad}`);
      }
      checked[info.name] = tensor;
    }
    return checked;
  }

  /** The inclusive range of an int32 input (class ids, a prior component, a timestep), or null. */
  inputRange(name, info) {
    if (info.dtype !== "int32") return null;
    if (info.value_range) return info.value_range;
    if (info.kind === "label") {
      const k = info.name === "component" ? this.prior?.classes : this.numClasses;
      return k ? [0, k - 1] : null;
    }
    return null;
  }

  /**
   * Run one endpoint: `inputs` maps each input name to `{data, dims}` (Float32Array / Int32Array), outputs come
   * back the same way. ONNX endpoints run their file; the others are composed from them as the SavedModel does.
   */
  async run(name, inputs) {
    const endpoint = this.endpoint(name);
    const checked = this.validate(name, inputs);
    if (endpoint.onnx) {
      const session = await this.session(this.onnxFile(name));
      const feeds = Object.fromEntries(Object.entries(checked).map(([k, t]) => [k, new this.ort.Tensor(endpoint.inputs.find((i) => i.name === k).dtype, t.data, t.dims)]));
      const results = await session.run(feeds);
      return Object.fromEntries(endpoint.outputs.map((o) => {
        const t = results[o.name];
        if (!t) throw new ZooError(`${this.onnxFile(name)} has no output ${o.name}; export the artifact again`);
        return [o.name, { data: t.data, dims: Array.from(t.dims, Number) }];
      }));
    }
    const composite = COMPOSITES[name]?.(this);
    if (!composite) throw new ZooError(`${this.name}.${name} runs only in the SavedModel (it has no ONNX file and no JavaScript equivalent)`);
    return composite(checked);
  }

  /** The shape of one image, [H, W, C], from the first image-valued output. */
  get imageShape() {
    for (const e of this.metadata.endpoints) for (const o of e.outputs) if (o.kind === "image") return o.shape.slice(1);
    throw new ZooError(`${this.name} has no image output`);
  }

  /** The size of a latent code (the first latent input of `generate`, else of `decode`), or null. */
  get latentDim() {
    const endpoint = this.endpoints.generate ?? this.endpoints.decode;
    const latent = endpoint?.inputs.find((i) => i.kind === "latent" && i.shape.length === 2);
    return latent ? latent.shape[1] : null;
  }

  /** The value range of an endpoint's image output (the metadata's post-processing), default the first output. */
  outputRange(endpointName, output) {
    const outputs = this.endpoint(endpointName).outputs;
    const info = output ? outputs.find((o) => o.name === output) : outputs[0];
    return info?.value_range ?? [0, 1];
  }

  /** RGBA pictures of an image output, post-processed as the metadata says. */
  pixels(images, endpointName = "generate", output) {
    return toRGBA(images, this.outputRange(endpointName, output));
  }

  /** An image input batch from RGBA pictures at the model's size, for `endpointName`'s image input. */
  imagesFromPixels(pictures, endpointName) {
    const info = this.endpoint(endpointName).inputs.find((i) => i.kind === "image");
    if (!info) throw new ZooError(`${this.name}.${endpointName} takes no images`);
    const [height, width, channels] = info.shape.slice(1);
    const wrong = pictures.find((p) => (height && p.height !== height) || (width && p.width !== width));
    if (wrong) throw new ZooError(`${this.name}.${endpointName} takes ${width}x${height} pictures, got ${wrong.width}x${wrong.height}: resize first`);
    const background = BACKGROUNDS[this.metadata.recipe?.data?.background ?? "white"] ?? 255;
    return fromRGBA(pictures, { channels, valueRange: info.value_range ?? [0, 1], background });
  }

  /**
   * Labels as an Int32Array of n: a number (or an array of one) repeats, an array (or typed array) of n is taken as
   * is, none cycles through the classes. Each must be a whole class id; `allowNull` also takes a guided model's null label (unconditional).
   */
  labels(n, label, { allowNull = false } = {}) {
    if (!this.can("conditional")) {
      if (label !== undefined && label !== null) throw new ZooError(`${this.name} is not conditional: it takes no label`);
      return null;
    }
    if (label === undefined || label === null) return Int32Array.from({ length: n }, (_, i) => i % this.numClasses);
    let values;
    if (typeof label === "number") values = new Array(n).fill(label);
    else if (typeof label === "object" && typeof label.length === "number") values = Array.from(label);
    else throw new ZooError(`a label must be a class id or an array of them (one per image), got ${JSON.stringify(label)}`);
    if (values.length === 1 && n > 1) values = new Array(n).fill(values[0]);
    if (values.length !== n) throw new ZooError(`${n} samples need ${n} labels (or one for all), got ${values.length}`);
    const nullLabel = allowNull ? this.guidance?.null_label : undefined;
    const classes = `${this.name} has classes 0 to ${this.numClasses - 1}${nullLabel !== undefined ? `, and ${nullLabel}, the null label (unconditional)` : ""}`;
    const at = values.findIndex((v) => !(Number.isInteger(v) && ((v >= 0 && v < this.numClasses) || v === nullLabel)));
    if (at >= 0) {
      const bad = values[at];
      if (Number.isInteger(bad)) throw new ZooError(`label ${bad} is out of range: ${classes}`);
      throw new ZooError(`labels must be whole class ids, got ${typeof bad === "number" ? bad : JSON.stringify(bad) ?? String(bad)} (at ${at}): ${classes}`);
    }
    return Int32Array.from(values);
  }

  /** Seeded N(0, I) latents for `generate`, `{data, dims: [n, latentDim]}`. */
  randomLatents(n, seed = 0) {
    const dim = this.latentDim;
    if (!dim) throw new ZooError(`${this.name} has no latent vector (family ${this.family})`);
    return { data: standardNormal(n * dim, seed), dims: [n, dim] };
  }

  /** The inputs of `generate` for latents `z` (Float32 {data, dims}): labels for conditional models, prior components. */
  generateInputs(z, { label, seed = 0 } = {}) {
    const n = z.dims[0];
    const inputs = {};
    const takesComponent = this.endpoint("generate").inputs.some((i) => i.name === "component");
    if (label !== undefined && label !== null && !this.can("conditional") && !takesComponent) {
      throw new ZooError(`${this.name} is not conditional: it takes no label`);
    }
    for (const info of this.endpoint("generate").inputs) {
      if (info.kind === "latent") inputs[info.name] = z;
      else if (info.name === "component") {
        const components = label === undefined || label === null ? categorical(n, this.prior.classes, seed, this.prior.weights) : Int32Array.from(typeof label === "number" ? new Array(n).fill(label) : label);
        inputs.component = { data: components, dims: [n] };
      } else if (info.kind === "label") inputs[info.name] = { data: this.labels(n, label), dims: [n] };
    }
    return inputs;
  }

  /**
   * `n` new images `{data, dims}` in the model's output range.
   * @param {number} n
   * @param {{seed?: number, label?: number|ArrayLike<number>, sampler?: "ddim"|"ddpm"|"dpmpp_2m", steps?: number,
   *   eta?: number, guidance?: number, onStep?: (done: number, count: number) => void}} [options] `label` picks the
   *   class of a conditional model or the prior component of a VAE with a fitted prior (`labels` is the same for a
   *   diffusion model); the sampler options and `guidance` are for diffusion models (see denoiseLoop).
   */
  async sample(n, { seed = 0, label, ...samplerOptions } = {}) {
    if (!this.can("sample")) throw new ZooError(`${this.name} (${this.family}) does not sample; it can ${[...this.capabilities].join(", ")}`);
    if (!(Number.isInteger(n) && n >= 1)) throw new ZooError(`n must be a positive integer, got ${n}`);
    if (this.can("samplers")) {
      const { labels = label, ...options } = samplerOptions;
      if (label != null && samplerOptions.labels != null) throw new ZooError("give label or labels, not both (they are the same option)");
      const shape = this.imageShape;
      const noise = { data: standardNormal(n * product(shape), seed), dims: [n, ...shape] };
      return this.denoiseLoop(noise, { seed, labels, ...options });
    }
    const z = this.randomLatents(n, seed);
    return (await this.run("generate", this.generateInputs(z, { label, seed }))).images;
  }

  /**
   * The reverse diffusion process from `noise` `{data, dims: [N, H, W, C]}` through the denoiser's ONNX file.
   *
   * A class-conditional model (`guidance` not null) draws the classes `labels` (one id, or one per image; the null
   * label gives an unconditional image; none cycles through the classes) with classifier-free guidance at scale
   * `guidance` (default schedule.json's): `uncond + guidance * (cond - uncond)` at every step, both predictions from
   * one batched ONNX call (0 and 1 need one prediction, so one plain call).
   * @param {{sampler?: "ddim"|"ddpm"|"dpmpp_2m", steps?: number, eta?: number, spacing?: string,
   *   lowerOrderFinal?: boolean, seed?: number,
   *   labels?: number|ArrayLike<number>, guidance?: number,
   *   stepNoise?: (step: number, count: number) => Float32Array, onStep?: Function}} [options] defaults from
   *   schedule.json (the recipe's DDIM eta does not apply to dpmpp_2m, which is deterministic); a stochastic
   *   sampler's per-step noise is seeded by `seed` unless `stepNoise` gives it.
   */
  async denoiseLoop(noise, { seed = 0, stepNoise, labels, guidance, ...options } = {}) {
    if (!this.can("samplers") || !this.schedule) throw new ZooError(`${this.name} is not a diffusion model`);
    const n = Array.isArray(noise?.dims) ? noise.dims[0] : 0;
    const guide = this.guidance;
    let labelIds = null, scale = null;
    if (guide) {
      labelIds = this.labels(n, labels, { allowNull: true });
      scale = checkGuidance(guidance, guide.scale);
    } else {
      if (labels != null) throw new ZooError(`${this.name} is not conditional: it takes no label`);
      if (guidance != null) throw new ZooError(`${this.name} is an unconditional diffusion model: guidance needs a class-conditional one (family guided_ddpm)`);
    }
    const t = { data: new Int32Array(n), dims: [n] };
    this.validate("denoise", guide ? { x_t: noise, t, label: { data: labelIds, dims: [n] } } : { x_t: noise, t });
    const defaults = this.schedule.sampler_defaults ?? {};
    const settings = { sampler: defaults.sampler, steps: defaults.steps, eta: defaults.eta, variance: defaults.variance,
      clipX0: defaults.clip_x0, lowerOrderFinal: defaults.lower_order_final ?? true, ...options };
    const solver = settings.sampler === "dpmpp_2m"; // its own spacing (artifacts before solver_spacing: DDIM's)
    if (options.spacing === undefined) settings.spacing = (solver ? defaults.solver_spacing : undefined) ?? defaults.timestep_spacing;
    if (solver && options.eta === undefined) settings.eta = 0;
    const session = await this.session(this.onnxFile("denoise"));
    const imageDims = noise.dims.slice(1), perImage = product(imageDims);
    const network = async (x, step, ids) => { // the denoiser on x.length / perImage images at timestep `step`
      const m = x.length / perImage;
      const feeds = { x_t: new this.ort.Tensor("float32", x, [m, ...imageDims]), t: new this.ort.Tensor("int32", new Int32Array(m).fill(step), [m]) };
      if (ids) feeds.label = new this.ort.Tensor("int32", ids, [m]);
      return (await session.run(feeds)).prediction.data;
    };
    const denoise = guide ? guidedDenoiser(network, { labels: labelIds, nullLabel: guide.null_label, guidance: scale })
      : (x, step) => network(x, step, null);
    const data = await reverseProcess(noise.data, { ...settings, denoise, schedule: this.schedule,
      stepNoise: stepNoise ?? ((i) => standardNormal(noise.data.length, (seed * 7919 + i + 1) >>> 0)) });
    return { data, dims: [...noise.dims] };
  }

  /**
   * Images along a path between latents `a` and `b` (Float32Arrays of latentDim), `steps` of them, through
   * `generate`. Spherical by default (White 2016): Gaussian latents concentrate near a sphere, and a straight line
   * between two of them passes through codes of unusually small norm.
   */
  async interpolate(a, b, steps, { spherical = true, label, seed = 0 } = {}) {
    const dim = this.latentDim;
    if (!this.endpoints.generate || !dim) throw new ZooError(`${this.name} (${this.family}) has no latent space to interpolate in`);
    if (!(Number.isInteger(steps) && steps >= 2)) throw new ZooError(`steps must be an integer >= 2, got ${steps}`);
    for (const [name, v] of [["a", a], ["b", b]]) {
      if (!v || v.length !== dim) throw new ZooError(`${name} must hold ${dim} numbers (the latent size), got ${v?.length}`);
    }
    const dot = a.reduce((s, x, i) => s + x * b[i], 0);
    const norms = Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / norms)));
    const z = new Float32Array(steps * dim);
    for (let k = 0; k < steps; k++) {
      const s = k / (steps - 1);
      const [wa, wb] = spherical && omega > 1e-6 ? [Math.sin((1 - s) * omega) / Math.sin(omega), Math.sin(s * omega) / Math.sin(omega)] : [1 - s, s];
      for (let i = 0; i < dim; i++) z[k * dim + i] = wa * a[i] + wb * b[i];
    }
    const fixed = label ?? (this.endpoint("generate").inputs.some((i) => i.name === "component") ? categorical(1, this.prior.classes, seed, this.prior.weights)[0] : undefined);
    return (await this.run("generate", this.generateInputs({ data: z, dims: [steps, dim] }, { label: fixed ?? (this.can("conditional") ? 0 : undefined) }))).images;
  }

  /** Images of the other domain: `direction` is "a2b" or "b2a" (CycleGAN). */
  async translate(images, direction) {
    if (!this.can("translate")) throw new ZooError(`${this.name} (${this.family}) does not translate`);
    if (!["a2b", "b2a"].includes(direction)) throw new ZooError(`direction must be "a2b" or "b2a", got ${JSON.stringify(direction)}`);
    const endpoint = this.endpoint(direction);
    const out = await this.run(direction, { [endpoint.inputs[0].name]: images });
    return out[endpoint.outputs[0].name];
  }

  /** Images through the bottleneck (encode, then decode the code or posterior mean). */
  async reconstruct(images, { label } = {}) {
    if (!this.can("reconstruct")) throw new ZooError(`${this.name} (${this.family}) does not reconstruct`);
    const inputs = { images };
    if (this.can("conditional")) inputs.labels = { data: this.labels(images.dims[0], label), dims: [images.dims[0]] };
    return (await this.run("reconstruct", inputs)).images;
  }

  /** The artifact's test vectors: `{endpoint: {inputs: {name: tensor}, outputs: {name: tensor}}}`. */
  async examples() {
    const arrays = parseNpz(await this.file(this.metadata.examples.file), `${this.io.where}/${this.metadata.examples.file}`);
    return Object.fromEntries(Object.entries(this.metadata.examples.keys).map(([endpoint, keys]) => [endpoint, {
      inputs: Object.fromEntries(keys.inputs.map((k) => [k, arrays[k]])),
      outputs: Object.fromEntries(Object.entries(keys.outputs).map(([k, key]) => [k, arrays[key]])),
    }]));
  }

  /** Close every open ONNX session. */
  async release() {
    for (const opening of this._sessions.values()) await (await opening.catch(() => null))?.release?.();
    this._sessions.clear();
  }
}

/** Endpoints the SavedModel serves that ONNX holds in parts: composed here from those parts. */
const COMPOSITES = {
  generate(model) {
    if (model.can("samplers")) {
      const steps = model.schedule?.sampler_defaults?.generate_steps ?? 50;
      // a guided model's labels (the null label allowed), at schedule.json's guidance scale as in the SavedModel
      return async ({ noise, label }) => ({ images: await model.denoiseLoop(noise, { sampler: "ddim", steps, eta: 0, labels: label?.data }) });
    }
    if (!model.can("decode")) return null;
    return async (inputs) => {
      const decodeInfo = model.endpoint("decode").inputs;
      const latentName = decodeInfo.find((i) => i.kind === "latent").name;
      const z = inputs[model.endpoint("generate").inputs.find((i) => i.kind === "latent").name];
      const feeds = { [latentName]: model.prior ? throughPrior(model.prior, z, inputs.component ?? inputs.labels) : z };
      if (inputs.labels) feeds.labels = inputs.labels;
      return model.run("decode", feeds);
    };
  },
  reconstruct(model) {
    if (!(model.can("encode") && model.can("decode"))) return null;
    return async (inputs) => {
      const code = Object.values(await model.run("encode", inputs))[0]; // the code, or the posterior mean
      const latentName = model.endpoint("decode").inputs.find((i) => i.kind === "latent").name;
      return model.run("decode", inputs.labels ? { [latentName]: code, labels: inputs.labels } : { [latentName]: code });
    };
  },
};

/** z = loc[k] + scale_tril[k] @ noise, per row, with k the row's component (prior.json's class Gaussians). */
function throughPrior(prior, noise, components) {
  const [n, d] = noise.dims;
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const k = components.data[r];
    const loc = prior.loc[k], L = prior.scale_tril[k];
    for (let i = 0; i < d; i++) {
      let v = loc[i];
      for (let j = 0; j <= i; j++) v += L[i][j] * noise.data[r * d + j];
      out[r * d + i] = v;
    }
  }
  return { data: out, dims: [n, d] };
}
