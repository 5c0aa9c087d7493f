/**
 * The Interpolate panel: the images along a path between the latents of two seeds (`model.interpolate`), shown as
 * a strip, and a slider that picks one frame to see larger.
 */
import { $, nextPaint, seconds, setText } from "../lib/dom.js";
import { fillClassSelect, randomSeed, readInteger, readSeed, selectedClass } from "../lib/controls.js";
import { record, runJob, setStatus } from "../lib/jobs.js";
import { clearCanvas, showGrid, showPicture } from "../lib/pictures.js";

export function createInterpolatePanel() {
  const panel = $("interpolate-panel");
  const seedA = $("interp-seed-a"), seedB = $("interp-seed-b"), stepsInput = $("interp-steps"), spherical = $("interp-spherical");
  const classSelect = $("interp-class"), classLabel = $("interp-class-label");
  const strip = $("interp-strip"), caption = $("interp-caption");
  const slider = $("interp-frame"), frameText = $("interp-frame-text"), frameView = $("interp-frame-view");
  let model = null;
  let frames = [];

  $("interp-new-seeds").addEventListener("click", () => {
    seedA.value = String(randomSeed());
    seedB.value = String(randomSeed());
  });
  slider.addEventListener("input", () => showFrame(Number(slider.value)));
  $("interpolate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runJob(interpolate);
  });

  function showFrame(k) {
    const t = frames.length > 1 ? k / (frames.length - 1) : 0;
    const text = `frame ${k + 1} of ${frames.length} (t = ${t.toFixed(2)})`;
    showPicture(frameView, frames[k], { scale: 8 });
    frameView.setAttribute("aria-label", `Interpolation ${text}`);
    setText(frameText, text);
    slider.setAttribute("aria-valuetext", text);
  }

  async function interpolate() {
    const a = readSeed(seedA, "Seed A"), b = readSeed(seedB, "Seed B");
    const steps = readInteger(stepsInput, "Frames", 2, Number(stepsInput.max));
    const options = { spherical: spherical.checked, seed: a };
    const label = selectedClass(classSelect, classLabel);
    if (label !== null) options.label = label;
    setStatus(`Interpolating in ${steps} frames…`);
    await nextPaint();
    const started = performance.now();
    const images = await model.interpolate(model.randomLatents(1, a).data, model.randomLatents(1, b).data, steps, options);
    const elapsed = performance.now() - started;
    frames = model.pixels(images);
    const what = `${steps} frames from seed ${a} to seed ${b}, ${spherical.checked ? "spherical" : "straight"} path` +
      (label !== null ? `, ${classSelect.selectedOptions[0].text}` : "");
    showGrid(strip, frames, { columns: steps, description: `${model.name}: ${what}`, maxWidth: 720 });
    setText(caption, `${what} (${seconds(elapsed)})`);
    slider.max = String(steps - 1);
    slider.value = "0";
    slider.disabled = false;
    showFrame(0);
    setStatus(`Interpolated in ${seconds(elapsed)}; slide to pick a frame.`);
    record("interpolate", model, images, { options: { seedA: a, seedB: b, steps, ...options } });
  }

  return {
    /** Show the panel for models with a latent vector to walk in (VAEs and GANs). */
    use(next) {
      model = next;
      panel.hidden = !(model.endpoints.generate && model.latentDim && !model.can("samplers"));
      if (panel.hidden) return false;
      fillClassSelect(classSelect, classLabel, model, { allowAny: !model.can("conditional") });
      frames = [];
      clearCanvas(strip, "No interpolation yet");
      clearCanvas(frameView, "No frame yet");
      setText(caption, "");
      setText(frameText, "");
      slider.disabled = true;
      return true;
    },
  };
}
