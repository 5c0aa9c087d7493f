/** Reading and filling form controls: seeds, whole numbers, class pickers. */

const MAX_SEED = 2 ** 32 - 1;

/** An input's whole number in [min, max], or an error naming the field and the range. */
export function readInteger(input, name, min, max) {
  const text = input.value.trim();
  const value = Number(text);
  if (text === "" || !Number.isInteger(value) || value < min || value > max) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(input.value)}`);
  }
  input.removeAttribute("aria-invalid");
  return value;
}

/** A seed: a 32-bit unsigned integer, the state of the package's seeded generator. */
export function readSeed(input, name = "Seed") {
  return readInteger(input, name, 0, MAX_SEED);
}

/** A fresh random seed, to write into a seed field (so it is shown and can be typed again later). */
export function randomSeed() {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * What a model can be conditioned on, or null: a conditional model's classes, or the components of a VAE's fitted
 * class-Gaussian prior (`prior.json`), which the package takes through the same `label` option.
 */
export function conditioning(model) {
  if (model.can("conditional")) {
    const names = model.classNames.length ? model.classNames : Array.from({ length: model.numClasses }, (_, k) => String(k));
    return { word: "Class", names, any: "each class in turn" };
  }
  const takesComponent = model.endpoints.generate?.inputs.some((input) => input.name === "component");
  if (takesComponent && model.prior) {
    const names = Array.from({ length: model.prior.classes }, (_, k) => String(k));
    return { word: "Prior component", names, any: "drawn from the mixture" };
  }
  return null;
}

/**
 * Show and fill a class picker for `model`, or hide it. The "any" option (value "") comes first when `allowAny`.
 * @param {HTMLSelectElement} select @param {HTMLElement} label the picker's <label>, hidden for unconditional models
 */
export function fillClassSelect(select, label, model, { allowAny }) {
  const condition = conditioning(model);
  label.hidden = !condition;
  select.replaceChildren();
  if (!condition) return;
  label.querySelector(".class-word").textContent = condition.word;
  if (allowAny) select.append(new Option(condition.any, ""));
  condition.names.forEach((name, k) => select.append(new Option(name === String(k) ? name : `${k}: ${name}`, String(k))));
}

/** The chosen class id, or null for "any" or an unconditional model. */
export function selectedClass(select, label) {
  if (label.hidden || select.value === "") return null;
  return Number(select.value);
}
