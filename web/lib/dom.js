/** Small DOM helpers shared by the panels. */

/** The element with this id; throws if the page lacks it (a typo, not a user error). */
export function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no element #${id}`);
  return element;
}

/** Replace an element's children with text. */
export function setText(element, text) {
  element.textContent = text;
}

/** Let the browser paint (a progress bar, a status line) before the next synchronous stretch of work. */
export function nextPaint() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A one-line summary of a duration in milliseconds. */
export function seconds(ms) {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
