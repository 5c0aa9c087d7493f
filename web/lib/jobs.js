/**
 * One job at a time (onnxruntime-web runs one session call at a time on the page's single thread), its errors on the
 * page, and `window.zooDemo`: the state a person can inspect in the console and the browser test reads.
 */
import { $ } from "./dom.js";

/**
 * `last` is the newest output tensor `{kind, model, data: Float32Array, dims, input?, options}`; `runs` counts the
 * finished jobs; `errors` holds every message shown; `progress` the [done, total] steps of the newest DDIM run.
 */
export const demo = { index: null, model: null, runs: 0, last: null, progress: [], errors: [], busy: false };
globalThis.zooDemo = demo;

/** Thrown to end a job early on the person's request (not an error). */
export class Stopped extends Error {}

/** Record a job's output for inspection and for the browser test. */
export function record(kind, model, output, { input = null, options = {} } = {}) {
  demo.last = { kind, model: model.name, data: output.data, dims: [...output.dims], input, options };
  demo.runs += 1;
}

/** Show an error in the given alert box (the model's, by default): never swallowed, also logged with its stack. */
export function showError(error, box = $("model-error")) {
  const message = error instanceof Error ? error.message || error.name : String(error);
  box.textContent = message;
  box.hidden = false;
  demo.errors.push(message);
  console.error(error);
}

export function clearError(box = $("model-error")) {
  box.hidden = true;
  box.textContent = "";
}

export function setStatus(text) {
  $("model-status").textContent = text;
}

/** Disable every run button and the model list while a job runs, so two never overlap. */
function setBusy(busy) {
  demo.busy = busy;
  $("model").setAttribute("aria-busy", String(busy));
  for (const button of document.querySelectorAll("button.primary, #model-list button")) button.disabled = busy;
}

/** Run `task` unless another job is running; errors go on the page, a Stopped job's message into the status line. */
export async function runJob(task) {
  if (demo.busy) return;
  setBusy(true);
  clearError();
  try {
    await task();
  } catch (error) {
    if (error instanceof Stopped) setStatus(error.message);
    else showError(error);
  } finally {
    setBusy(false);
  }
}
