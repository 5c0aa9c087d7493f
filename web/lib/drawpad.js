/**
 * A drawing canvas at the model's input size: what it holds is the model's input, pixel for pixel, shown enlarged.
 * White strokes on black, like the training images; pictures opened from a file are fitted inside it.
 */
export function createDrawPad(canvas, { displayWidth = 256 } = {}) {
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let last = null;

  function clear() {
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  /** Set the canvas to the model's input size (pixels), shown `displayWidth` CSS pixels wide, and clear it. */
  function resize(height, width) {
    canvas.width = width;
    canvas.height = height;
    canvas.style.width = `${displayWidth}px`;
    clear();
  }

  /** The pointer's position in canvas pixels. */
  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  }

  function strokeTo([x, y]) {
    context.strokeStyle = "#fff";
    context.lineWidth = Math.max(1, canvas.width / 10);
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last ?? [x, y]));
    context.lineTo(x, y);
    context.stroke();
    last = [x, y];
  }

  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = null;
    strokeTo(point(event));
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last) strokeTo(point(event));
  });
  for (const end of ["pointerup", "pointercancel"]) canvas.addEventListener(end, () => { last = null; });

  return {
    clear,
    resize,
    /** The RGBA picture the canvas holds, `{width, height, data}`. */
    picture() {
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      return { width: image.width, height: image.height, data: image.data };
    },
    /** Put an RGBA picture of the canvas's size. */
    putPicture(picture) {
      if (picture.width !== canvas.width || picture.height !== canvas.height) {
        throw new Error(`the picture is ${picture.width}x${picture.height}, the canvas ${canvas.width}x${canvas.height}`);
      }
      context.putImageData(new ImageData(new Uint8ClampedArray(picture.data), picture.width, picture.height), 0, 0);
    },
    /** Fit an image file inside the canvas (keeping its proportions) on black. */
    async openFile(file) {
      const bitmap = await createImageBitmap(file);
      try {
        const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
        const width = bitmap.width * scale, height = bitmap.height * scale;
        clear();
        context.imageSmoothingQuality = "high";
        context.drawImage(bitmap, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
      } finally {
        bitmap.close();
      }
    },
    /** Swap black and white (for a dark drawing on a light background). */
    invert() {
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < image.data.length; i += 4) for (let c = 0; c < 3; c++) image.data[i + c] = 255 - image.data[i + c];
      context.putImageData(image, 0, 0);
    },
  };
}
