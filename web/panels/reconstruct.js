/**
 * The Reconstruct panel (autoencoders, VAEs): the artifact's stored test images (`model.examples()`) through the
 * encoder and decoder (`model.reconstruct`), beside the originals. A conditional VAE gets each image's stored label.
 */
import { toRGBA } from "../../js/src/web.js";
import { $, nextPaint, seconds, setText } from "../lib/dom.js";
import { record, runJob, setStatus } from "../lib/jobs.js";
import { clearCanvas, showGrid } from "../lib/pictures.js";

const COLUMNS = 8;

export function createReconstructPanel() {
  const panel = $("reconstruct-panel");
  const inputCanvas = $("reconstruct-input"), output = $("reconstruct-output"), caption = $("reconstruct-caption");
  let model = null;
  let testSet = null;

  $("reconstruct-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runJob(reconstruct);
  });

  async function reconstruct() {
    const { images, labels } = testSet;
    setStatus(`Reconstructing ${images.dims[0]} test images…`);
    await nextPaint();
    const started = performance.now();
    const options = labels ? { label: Array.from(labels.data) } : {};
    const reconstructed = await model.reconstruct(images, options);
    const elapsed = performance.now() - started;
    const what = `Reconstructions${labels ? ", each given its stored label" : ""}`;
    showGrid(output, model.pixels(reconstructed, "reconstruct"), { columns: COLUMNS, description: `${model.name}: ${what.toLowerCase()}`, maxWidth: 500 });
    setText(caption, `${what} (${seconds(elapsed)})`);
    setStatus(`Reconstructed ${images.dims[0]} images in ${seconds(elapsed)}.`);
    record("reconstruct", model, reconstructed, { input: images, options });
  }

  return {
    /** Show the panel for models that reconstruct, with their stored test images. */
    async use(next) {
      model = next;
      panel.hidden = !model.can("reconstruct");
      if (panel.hidden) return false;
      const examples = await model.examples();
      const stored = examples.reconstruct?.inputs ?? examples.encode?.inputs;
      if (!stored?.images) throw new Error(`${model.name}'s examples.npz holds no test images for reconstruct`);
      testSet = { images: { data: stored.images.data, dims: stored.images.dims }, labels: stored.labels ?? null };
      const range = model.endpoint("reconstruct").inputs.find((input) => input.kind === "image").value_range ?? [0, 1];
      const n = testSet.images.dims[0];
      showGrid(inputCanvas, toRGBA(testSet.images, range), { columns: COLUMNS, description: `${n} test images from examples.npz`, maxWidth: 500 });
      clearCanvas(output, "No reconstructions yet");
      setText(caption, "Reconstructions");
      return true;
    },
  };
}
