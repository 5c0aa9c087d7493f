/** Putting the package's RGBA pictures on canvases, enlarged with square pixels. */
import { grid } from "../../js/src/web.js";

/** The largest whole enlargement that keeps `width` within `maxWidth` CSS pixels (at least 1). */
function enlargement(width, maxWidth) {
  return Math.max(1, Math.floor(maxWidth / width));
}

/** Draw one RGBA picture `{width, height, data}` at its own size, shown `scale` times larger (or fitted). */
export function showPicture(canvas, picture, { maxWidth = 480, scale } = {}) {
  canvas.width = picture.width;
  canvas.height = picture.height;
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(picture.data), picture.width, picture.height), 0, 0);
  const factor = scale ?? enlargement(picture.width, maxWidth);
  canvas.style.width = `${picture.width * factor}px`; // the height follows (style.css), shrinking on narrow screens
}

/** Tile pictures into a grid of `columns` and draw it; `description` becomes the canvas's accessible name. */
export function showGrid(canvas, pictures, { columns, description, maxWidth = 480 }) {
  showPicture(canvas, grid(pictures, { columns, padding: 2, background: [255, 255, 255, 255] }), { maxWidth });
  canvas.setAttribute("aria-label", description);
}

/** Empty a canvas that showed a previous model's output. */
export function clearCanvas(canvas, description) {
  canvas.width = 0;
  canvas.height = 0;
  canvas.style.width = "";
  canvas.setAttribute("aria-label", description);
}
