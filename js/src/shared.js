/** What the Node and browser entry points both export. */
export { ZooModel } from "./core.js";
export { ddimCoefficients, ddimTimesteps, ddpmCoefficients, dpmpp2mCoefficients, reverseProcess } from "./diffusion.js";
export { ZooError } from "./errors.js";
export { fromRGBA, grid, toRGBA } from "./images.js";
export { parseNpy, parseNpz } from "./npy.js";
export { categorical, standardNormal, uniform } from "./random.js";
