// Types of the genzoo JavaScript package (src/node.js in Node, src/web.js in browsers).

export interface Tensor<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  data: T;
  /** NHWC for images, [N, latentDim] for latents, [N] for labels and timesteps */
  dims: number[];
}
export type Images = Tensor<Float32Array>;
export interface Picture { width: number; height: number; data: Uint8ClampedArray }

export interface TensorInfo {
  name: string;
  shape: (number | null)[];
  dtype: "float32" | "int32";
  kind: "image" | "latent" | "label" | "timestep";
  value_range: [number, number] | null;
  description: string;
  postprocess: string;
}
export interface EndpointInfo { name: string; description: string; onnx: string | null; inputs: TensorInfo[]; outputs: TensorInfo[] }

export type Capability = "sample" | "generate" | "reconstruct" | "encode" | "decode" | "translate" | "likelihood"
  | "interpolate" | "traverse" | "conditional" | "samplers" | "guidance" | "classify";

/** Class ids: one for every image, or one per image (an array or typed array); whole numbers. */
export type Labels = number | ArrayLike<number>;

/** schedule.json's classifier-free guidance of a class-conditional diffusion model (family guided_ddpm). */
export interface GuidanceInfo {
  num_classes: number;
  /** the label of the unconditional model (= num_classes) */
  null_label: number;
  /** the default scale: prediction = uncond + scale * (cond - uncond) */
  scale: number;
  rule: string;
}

export interface SamplerOptions {
  /** dpmpp_2m: DPM-Solver++(2M), deterministic, for few steps */
  sampler?: "ddim" | "ddpm" | "dpmpp_2m";
  /** DDIM and dpmpp_2m steps (DDPM always runs all T) */
  steps?: number;
  /** DDIM only; dpmpp_2m takes 0 */
  eta?: number;
  /** default schedule.json's: timestep_spacing for DDIM, solver_spacing for dpmpp_2m */
  spacing?: "linspace" | "trailing";
  variance?: "fixed_small" | "fixed_large";
  clipX0?: boolean;
  /** dpmpp_2m: its step into t = 0 at first order; default schedule.json's lower_order_final, else true */
  lowerOrderFinal?: boolean;
  /** the z of a stochastic step, N*H*W*C values; seeded by `seed` when omitted */
  stepNoise?: (step: number, count: number) => Float32Array;
  onStep?: (done: number, count: number) => void | Promise<void>;
  /**
   * A class-conditional diffusion model only: the classes to draw (its null label for unconditional images); none
   * cycles through the classes.
   */
  labels?: Labels;
  /**
   * A class-conditional diffusion model only: the guidance scale, >= 0 (0 unconditional, 1 conditional, above 1
   * guided: two predictions per step from one batched call); default schedule.json's.
   */
  guidance?: number;
}
export interface LoadOptions { variant?: "fp16" | "int8" | null; verify?: boolean }

export class ZooError extends Error {}

export class ZooModel {
  readonly name: string;
  readonly family: string;
  readonly metadata: Record<string, any>;
  readonly capabilities: Set<Capability>;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly endpoints: Record<string, EndpointInfo>;
  readonly variant: "fp16" | "int8" | null;
  readonly imageShape: number[];
  readonly latentDim: number | null;
  /** a class-conditional diffusion model's guidance (schedule.json), else null */
  readonly guidance: GuidanceInfo | null;
  can(capability: Capability): boolean;
  run(endpoint: string, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** `label` picks the class of a conditional model (for a diffusion model, the same as `labels`) or a prior component */
  sample(n: number, options?: { seed?: number; label?: Labels } & SamplerOptions): Promise<Images>;
  denoiseLoop(noise: Images, options?: { seed?: number } & SamplerOptions): Promise<Images>;
  randomLatents(n: number, seed?: number): Tensor<Float32Array>;
  interpolate(a: Float32Array, b: Float32Array, steps: number, options?: { spherical?: boolean; label?: number; seed?: number }): Promise<Images>;
  translate(images: Images, direction: "a2b" | "b2a"): Promise<Images>;
  reconstruct(images: Images, options?: { label?: Labels }): Promise<Images>;
  pixels(images: Images, endpoint?: string, output?: string): Picture[];
  imagesFromPixels(pictures: Picture[], endpoint: string): Images;
  examples(): Promise<Record<string, { inputs: Record<string, Tensor>; outputs: Record<string, Tensor> }>>;
  release(): Promise<void>;
}

/** A folder (Node) or URL (browser) of an exported artifact. */
export function loadModel(location: string, options?: LoadOptions): Promise<ZooModel>;
/** Browser only: exported/index.json, written by `zoo index`. */
export function loadIndex(url?: string): Promise<{ models: Record<string, any>[] }>;
/** Node only. */
export function encodePNG(picture: Picture): Uint8Array;
/** Node only: written atomically. */
export function savePNG(path: string, picture: Picture): Promise<void>;

export function toRGBA(images: Images, valueRange?: [number, number]): Picture[];
/** An NHWC batch from RGBA pictures; transparent pixels are composited on `background`, a 0..255 level (default 255, white). */
export function fromRGBA(pictures: Picture[], options?: { channels?: 1 | 3; valueRange?: [number, number]; background?: number }): Images;
export function grid(pictures: Picture[], options?: { columns?: number; padding?: number; background?: number[] }): Picture;
export function standardNormal(count: number, seed?: number): Float32Array;
export function categorical(count: number, k: number, seed?: number, weights?: number[] | null): Int32Array;
export function uniform(seed?: number): () => number;
export function ddimTimesteps(numTimesteps: number, steps: number, spacing?: "linspace" | "trailing"): Int32Array;
export function parseNpy(bytes: Uint8Array, name?: string): Tensor & { type: string };
export function parseNpz(bytes: Uint8Array, name?: string): Record<string, Tensor & { type: string }>;
