/**
 * The Translate panel (CycleGAN): a picture drawn, opened from a file or taken from the artifact's test images, at
 * the model's input size, translated to the other domain with `model.translate(images, "a2b" | "b2a")`.
 */
import { toRGBA } from "../../js/src/web.js";
import { $, nextPaint, seconds, setText } from "../lib/dom.js";
import { createDrawPad } from "../lib/drawpad.js";
import { record, runJob, setStatus } from "../lib/jobs.js";
import { clearCanvas, showPicture } from "../lib/pictures.js";

export function createTranslatePanel() {
  const panel = $("translate-panel"), form = $("translate-form");
  const pad = createDrawPad($("draw-pad"));
  const exampleSelect = $("pad-example"), upload = $("pad-upload");
  const output = $("translate-output"), caption = $("translate-caption");
  let model = null;
  let examples = null;

  const direction = () => form.elements.direction.value;
  /** What a direction does, in the metadata's words, e.g. "domain A → domain B". */
  const describe = (way) => model.endpoint(way).description.replace("->", "→");
  /** The endpoint's image input: its name and value range. */
  const imageInput = (endpoint) => model.endpoint(endpoint).inputs.find((input) => input.kind === "image");

  /** The artifact's test images of the chosen direction's source domain, as `{data, dims}`. */
  function testImages() {
    const stored = examples?.[direction()]?.inputs[imageInput(direction()).name];
    return stored ? { data: stored.data, dims: stored.dims } : null;
  }

  function fillExamples() {
    const images = testImages();
    exampleSelect.replaceChildren(...Array.from({ length: images?.dims[0] ?? 0 }, (_, k) => new Option(String(k + 1), String(k))));
    $("pad-use-example").disabled = exampleSelect.disabled = !images;
  }

  function useExample() {
    const images = testImages();
    const k = Number(exampleSelect.value);
    const size = images.dims.slice(1).reduce((a, b) => a * b, 1);
    const one = { data: images.data.subarray(k * size, (k + 1) * size), dims: [1, ...images.dims.slice(1)] };
    pad.putPicture(toRGBA(one, imageInput(direction()).value_range ?? [0, 1])[0]);
    setStatus(`Test image ${k + 1} of ${images.dims[0]} (${describe(direction())}) is on the canvas.`);
  }

  for (const radio of form.elements.direction) radio.addEventListener("change", fillExamples);
  $("pad-clear").addEventListener("click", () => pad.clear());
  $("pad-invert").addEventListener("click", () => pad.invert());
  $("pad-use-example").addEventListener("click", () => runJob(async () => useExample()));
  upload.addEventListener("change", () => {
    const [file] = upload.files;
    if (!file) return;
    runJob(async () => {
      try {
        await pad.openFile(file);
      } catch (error) {
        throw new Error(`cannot read ${file.name} as a picture (${error.message}); open a PNG, JPEG, GIF or WebP file`, { cause: error });
      } finally {
        upload.value = ""; // opening the same file again fires "change" again
      }
      setStatus(`${file.name} is on the canvas, fitted inside ${pad.picture().width}x${pad.picture().height} pixels.`);
    });
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    runJob(translate);
  });

  async function translate() {
    const way = direction();
    const images = model.imagesFromPixels([pad.picture()], way);
    setStatus("Translating…");
    await nextPaint();
    const started = performance.now();
    const translated = await model.translate(images, way);
    const elapsed = performance.now() - started;
    const description = describe(way);
    showPicture(output, model.pixels(translated, way)[0], { scale: 256 / translated.dims[2] });
    output.setAttribute("aria-label", `The picture translated, ${description}`);
    setText(caption, `${description} (${seconds(elapsed)})`);
    setStatus(`Translated in ${seconds(elapsed)}.`);
    record("translate", model, translated, { input: images, options: { direction: way } });
  }

  return {
    /** Show the panel for CycleGANs: the canvas at the training size, their test images loaded. */
    async use(next) {
      model = next;
      panel.hidden = !model.can("translate");
      if (panel.hidden) return false;
      examples = await model.examples();
      const [height, width] = model.metadata.recipe?.data?.image_size ?? testImages()?.dims.slice(1) ?? [32, 32];
      pad.resize(height, width);
      for (const way of ["a2b", "b2a"]) $(`direction-${way}`).textContent = describe(way);
      const domains = model.metadata.dataset?.train;
      setText($("translate-domains"), typeof domains === "string" ? `Trained on ${domains}.` : "");
      fillExamples();
      if (testImages()) useExample();
      clearCanvas(output, "No translation yet");
      setText(caption, "");
      return true;
    },
  };
}
