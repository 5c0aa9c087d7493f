/**
 * The Sample panel: a grid of new images from a seed, for a class of a conditional model; for a diffusion model,
 * DDIM with a chosen number of steps, a progress bar and a Stop button, and for a class-conditional one (schedule.json
 * declares its guidance) the class picker and a classifier-free guidance slider.
 */
import { $, nextPaint, seconds, setText } from "../lib/dom.js";
import { conditioning, fillClassSelect, randomSeed, readInteger, readSeed, selectedClass } from "../lib/controls.js";
import { demo, record, runJob, setStatus, Stopped } from "../lib/jobs.js";
import { clearCanvas, showGrid } from "../lib/pictures.js";

export function createSamplePanel() {
  const panel = $("sample-panel");
  const count = $("sample-count"), seed = $("sample-seed"), classSelect = $("sample-class"), classLabel = $("sample-class-label");
  const ddim = $("ddim-controls"), steps = $("ddim-steps"), stepsValue = $("ddim-steps-value"), eta = $("ddim-eta");
  const guidanceControls = $("guidance-controls"), guidance = $("ddim-guidance"), guidanceValue = $("ddim-guidance-value");
  const stop = $("sample-stop"), progressRow = $("sample-progress-row"), progress = $("sample-progress"), progressText = $("sample-progress-text");
  const output = $("sample-output"), caption = $("sample-caption");
  let model = null;
  let stopRequested = false;

  steps.addEventListener("input", () => setText(stepsValue, steps.value));
  guidance.addEventListener("input", () => setText(guidanceValue, guidance.value));
  $("sample-new-seed").addEventListener("click", () => { seed.value = String(randomSeed()); });
  stop.addEventListener("click", () => { stopRequested = true; stop.disabled = true; });
  $("sample-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runJob(draw);
  });

  function showProgress(done, total) {
    progress.max = total;
    progress.value = done;
    setText(progressText, `step ${done} of ${total}`);
  }

  async function draw() {
    const n = Number(count.value);
    const options = { seed: readSeed(seed) };
    const label = selectedClass(classSelect, classLabel);
    if (label !== null) options.label = label;
    const diffusion = model.can("samplers");
    if (diffusion) {
      options.sampler = "ddim";
      options.steps = readInteger(steps, "Steps", 1, Number(steps.max));
      const etaValue = Number(eta.value);
      if (!(eta.value.trim() !== "" && etaValue >= 0 && etaValue <= 1)) throw new Error(`eta must be a number from 0 to 1, got ${JSON.stringify(eta.value)}`);
      options.eta = etaValue;
      if (model.guidance) options.guidance = Number(guidance.value);
      demo.progress = [];
      stopRequested = false;
      stop.disabled = false;
      showProgress(0, options.steps);
      options.onStep = async (done, total) => {
        demo.progress.push([done, total]);
        showProgress(done, total);
        if (stopRequested && done < total) throw new Stopped(`Stopped after ${done} of ${total} DDIM steps`);
        await nextPaint();
      };
    }
    const guided = options.guidance !== undefined ? ` at guidance ${options.guidance}` : "";
    setStatus(diffusion ? `Denoising ${n} images in ${options.steps} DDIM steps${guided}…` : `Drawing ${n} images…`);
    await nextPaint();
    const started = performance.now();
    let images;
    try {
      images = await model.sample(n, options);
    } finally {
      stop.disabled = true;
    }
    const elapsed = performance.now() - started;
    const eachClass = model.can("conditional") && label === null;
    const columns = eachClass ? Math.min(model.numClasses, n) : Math.ceil(Math.sqrt(n));
    const what = [`${n} samples`, `seed ${options.seed}`];
    if (label !== null) what.push(`${conditioning(model).word.toLowerCase()} ${classSelect.selectedOptions[0].text}`);
    else if (eachClass) what.push("one class per column");
    if (diffusion) what.push(`DDIM, ${options.steps} steps, eta ${options.eta}${options.guidance !== undefined ? `, guidance ${options.guidance}` : ""}`);
    showGrid(output, model.pixels(images), { columns, description: `${model.name}: ${what.join(", ")}` });
    setText(caption, `${what.join(", ")} (${seconds(elapsed)})`);
    setStatus(`Drew ${n} images in ${seconds(elapsed)}.`);
    const { onStep, ...shown } = options;
    record("sample", model, images, { options: { n, ...shown } });
  }

  return {
    /** Show the panel for models that sample; returns whether it is shown. */
    use(next) {
      model = next;
      panel.hidden = !model.can("sample");
      if (panel.hidden) return false;
      fillClassSelect(classSelect, classLabel, model, { allowAny: true });
      const diffusion = model.can("samplers");
      ddim.hidden = stop.hidden = progressRow.hidden = !diffusion;
      guidanceControls.hidden = !model.guidance;
      if (model.guidance) { // the slider spans 0 to 5, or up to the model's default if that is higher
        const { scale } = model.guidance;
        guidance.max = String(Math.max(5, scale));
        guidance.step = Math.abs(scale * 10 - Math.round(scale * 10)) < 1e-9 ? "0.1" : "any"; // never snap the default
        guidance.value = String(scale);
        setText(guidanceValue, guidance.value);
      }
      count.value = diffusion ? "4" : "16"; // DDIM runs the network once per step: start small
      $("sample-run").textContent = diffusion ? "Run DDIM" : "Draw samples";
      showProgress(0, 1);
      setText(progressText, "");
      clearCanvas(output, "No samples yet");
      setText(caption, "");
      return true;
    },
  };
}
