/**
 * genzoo's browser demo: the models of exported/index.json, each opened with the package's browser entry and shown
 * with the panels its capabilities call for. Served from the repository root, so the page is /web/ and the models
 * are under ../exported/.
 */
import { loadIndex, loadModel } from "../js/src/web.js";
import { $, setText } from "./lib/dom.js";
import { clearError, demo, setStatus, showError } from "./lib/jobs.js";
import { createInterpolatePanel } from "./panels/interpolate.js";
import { createReconstructPanel } from "./panels/reconstruct.js";
import { createSamplePanel } from "./panels/sample.js";
import { createTranslatePanel } from "./panels/translate.js";

const EXPORTED = new URL("../exported/", import.meta.url);
const panels = [createSamplePanel(), createInterpolatePanel(), createTranslatePanel(), createReconstructPanel()];
/** Opened models by name: switching back to a model does not fetch and check its files again. */
const opened = new Map();
let opening = null; // the name being opened; a newer choice wins over a slower older one

const pageError = $("page-error");
window.addEventListener("unhandledrejection", (event) => showError(event.reason, pageError));
window.addEventListener("error", (event) => showError(event.error ?? event.message, pageError));

const modelInHash = () => decodeURIComponent(location.hash.slice(1));

function entryUrl(entry, file = "") {
  return new URL(`${entry.path}/${file}`, EXPORTED).href;
}

/** One button per model: its preview, name, family and description. */
function renderCatalog(models) {
  const items = models.map((entry) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "model-button";
    button.dataset.model = entry.name;
    button.setAttribute("aria-pressed", "false");
    const preview = document.createElement("img");
    preview.src = entryUrl(entry, entry.preview);
    preview.alt = "";
    preview.width = preview.height = 56;
    const name = Object.assign(document.createElement("span"), { className: "name", textContent: entry.name });
    const family = Object.assign(document.createElement("span"), { className: "family", textContent: entry.family });
    const description = Object.assign(document.createElement("span"), { className: "description", textContent: entry.description });
    button.append(preview, name, family, description);
    // the hash names the open model, so a link opens it; clicking the open one again retries a failed load
    button.addEventListener("click", () => {
      if (modelInHash() !== entry.name) location.hash = entry.name;
      else if (demo.model?.name !== entry.name) select(entry.name);
    });
    const item = document.createElement("li");
    item.append(button);
    return item;
  });
  $("model-list").replaceChildren(...items);
}

/** The facts of the index entry: headline figures and capabilities. */
function renderHeader(entry) {
  setText($("model-name"), entry.name);
  setText($("model-description"), entry.description);
  const facts = [`family: ${entry.family}`, ...entry.headline, `can: ${entry.capabilities.join(", ")}`];
  if (entry.labels) facts.push(`classes: ${entry.labels.class_names.join(", ")}`);
  $("model-facts").replaceChildren(...facts.map((fact) => Object.assign(document.createElement("li"), { textContent: fact })));
  $("model-card").href = entryUrl(entry, "README.md");
}

/** Fetch an artifact, check its files' sha256 and open every ONNX session now, so a broken file shows at once. */
async function openArtifact(entry) {
  // crypto.subtle (the checksums) exists only in secure contexts: http://127.0.0.1 or localhost, or https
  const verify = globalThis.isSecureContext;
  const model = await loadModel(entryUrl(entry), { verify });
  for (const endpoint of model.metadata.endpoints) if (endpoint.onnx) await model.session(model.onnxFile(endpoint.name));
  return model;
}

async function select(name) {
  const entry = demo.index.models.find((m) => m.name === name);
  if (!entry || demo.busy) return;
  for (const button of document.querySelectorAll("#model-list button")) button.setAttribute("aria-pressed", String(button.dataset.model === name));
  $("model").hidden = false;
  renderHeader(entry);
  // on a narrow screen the model's panels are below the whole list: bring them into view
  if ($("model").getBoundingClientRect().top > window.innerHeight) $("model").scrollIntoView({ block: "start" });
  clearError();
  for (const panel of document.querySelectorAll("#model .panel")) panel.hidden = true;
  opening = name;
  demo.model = null;
  setStatus(`Loading ${name}: fetching its files and checking their checksums…`);
  try {
    if (!opened.has(name)) opened.set(name, openArtifact(entry));
    const model = await opened.get(name).catch((error) => {
      opened.delete(name); // try again on the next click
      throw error;
    });
    if (opening !== name) return;
    let shown = 0;
    for (const panel of panels) {
      shown += (await panel.use(model)) ? 1 : 0;
      if (opening !== name) return;
    }
    if (!shown) {
      setText($("nothing-capabilities"), [...model.capabilities].join(", "));
      $("nothing-panel").hidden = false;
    }
    demo.model = model;
    const checked = globalThis.isSecureContext ? "files checked against metadata.json" : "files NOT checked: open the page from http://127.0.0.1 or localhost to check them";
    setStatus(`${name} is ready (${checked}).`);
  } catch (error) {
    if (opening !== name) return;
    setStatus(`${name} could not be loaded; pick it again to retry.`);
    showError(error);
  }
}

async function main() {
  try {
    demo.index = await loadIndex(new URL("index.json", EXPORTED).href);
  } catch (error) {
    setText($("catalog-status"), "The index of models could not be loaded.");
    showError(error, pageError);
    return;
  }
  renderCatalog(demo.index.models);
  setText($("catalog-status"), `${demo.index.models.length} models. Pick one.`);
  window.addEventListener("hashchange", () => select(modelInHash()));
  if (modelInHash()) await select(modelInHash());
}

main();
