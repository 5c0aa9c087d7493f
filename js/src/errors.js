/** One error type for everything the package refuses: the message names the problem and the fix. */
export class ZooError extends Error {
  /** @param {string} message @param {{cause?: unknown}} [options] */
  constructor(message, options) {
    super(message, options);
    this.name = "ZooError";
  }
}
