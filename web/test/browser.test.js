/**
 * The web demo in a real browser: Debian's chromium, headless, driven by playwright-core, against the repository
 * root served on 127.0.0.1. Each output the page computes (window.zooDemo.last) must equal what the Node package
 * (js/src/node.js, onnxruntime-node) computes from the same seeds and inputs, within 1e-4; every control is used;
 * screenshots go to web/test/screenshots/ (git-ignored).
 *
 *     node --test web/test/          # from the repository root
 *
 * Needs `apt-get install chromium` (or CHROMIUM_PATH=/path/to/chrome) and `cd js && npm ci` with playwright-core.
 *
 * The guidance controls are checked on the class-conditional diffusion model of exported/ (family guided_ddpm) if one
 * ships, else on a tiny untrained one that js/test/make_guided_fixture.py makes (about half a minute; the
 * repository's .venv and ../shared/data, as for the Node tests; $GENZOO_GUIDED_FIXTURE names a ready one), which the
 * page then sees in its index through request routing: the repository is not touched.
 */
import assert from "node:assert/strict";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { encodePNG, grid, loadModel, toRGBA } from "../../js/src/node.js";
import { guidedFixture } from "../../js/test/helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const SCREENSHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOLERANCE = 1e-4;
const WAIT = { timeout: 60_000 };

/** playwright-core from the JavaScript package's node_modules (a devDependency there). */
function playwright() {
  try {
    return createRequire(join(ROOT, "js", "package.json"))("playwright-core");
  } catch (error) {
    throw new Error(`the browser test needs playwright-core in js/node_modules: run \`cd js && npm ci\` (${error.message})`);
  }
}

// ---- a static server for the repository root, with the MIME types modules and WebAssembly need ----

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm", ".png": "image/png",
  ".onnx": "application/octet-stream", ".npz": "application/octet-stream", ".md": "text/markdown; charset=utf-8",
};

async function serve(root) {
  const server = createServer(async (request, response) => {
    const fail = (status) => response.writeHead(status, { "content-type": "text/plain" }).end(String(status));
    try {
      const { pathname } = new URL(request.url, "http://127.0.0.1");
      let path = normalize(join(root, decodeURIComponent(pathname)));
      if (path !== root && !path.startsWith(root + sep)) return fail(403);
      let info = await stat(path).catch(() => null);
      if (info?.isDirectory()) {
        if (!pathname.endsWith("/")) return response.writeHead(301, { location: `${pathname}/` }).end();
        path = join(path, "index.html");
        info = await stat(path).catch(() => null);
      }
      if (!info?.isFile()) return fail(404);
      response.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "content-length": info.size });
      createReadStream(path).pipe(response);
    } catch {
      fail(500);
    }
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

// ---- comparing with the Node package ----

const nodeModels = new Map();
/** Artifact folders that are not exported/<name> (the guided fixture). */
const folders = new Map();
/** The artifact opened with the Node package (onnxruntime-node), once. */
function nodeModel(name) {
  if (!nodeModels.has(name)) nodeModels.set(name, loadModel(folders.get(name) ?? join(ROOT, "exported", name)));
  return nodeModels.get(name);
}

/**
 * The class-conditional diffusion model to test the guidance controls on: the first guided_ddpm of exported/index.json,
 * else the tiny fixture, with the index entry the page is to see for it (null for a shipped one).
 */
function guidedModel() {
  const index = JSON.parse(readFileSync(join(ROOT, "exported", "index.json"), "utf8"));
  const shipped = index.models.find((entry) => entry.family === "guided_ddpm");
  if (shipped) return { name: shipped.name, entry: null, fixture: null };
  const fixture = guidedFixture();
  const meta = JSON.parse(readFileSync(join(fixture.dir, "metadata.json"), "utf8"));
  const entry = { name: meta.name, family: meta.family, description: "a tiny untrained guided_ddpm made for this test",
    path: meta.name, preview: meta.preview, capabilities: meta.capabilities, labels: meta.labels, dataset: meta.dataset.name,
    headline: [], endpoints: meta.endpoints.map((e) => ({ name: e.name, onnx: e.onnx })), variants: [] };
  folders.set(meta.name, fixture.dir);
  return { name: meta.name, entry, fixture };
}

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, "the two outputs differ in length");
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Assert the page's tensor equals the Node package's, shape and values (within TOLERANCE). */
function assertSameTensor(page, node, what) {
  assert.deepEqual(page.dims, node.dims, `${what}: shapes differ`);
  const diff = maxAbsDiff(page.data, node.data);
  assert.ok(diff <= TOLERANCE, `${what}: max abs diff ${diff} from the Node package (tolerance ${TOLERANCE})`);
  return diff;
}

const timings = [];
const diffs = [];

describe("web demo in headless chromium", { timeout: 360_000 }, () => {
  let server, browser, page, guided;
  const pageErrors = [];
  const consoleErrors = [];

  before(async () => {
    const { chromium } = playwright();
    await stat(CHROMIUM).catch(() => {
      throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
    });
    await mkdir(SCREENSHOTS, { recursive: true });
    guided = guidedModel();
    server = await serve(ROOT);
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    if (guided.entry) { // the fixture joins the page's index, its files served from its temporary folder
      console.log(`no guided_ddpm in exported/: the guidance controls are tested on ${guided.fixture.dir}`);
      await page.route("**/exported/index.json", async (route) => {
        const index = await (await route.fetch()).json();
        await route.fulfill({ json: { ...index, models: [...index.models, guided.entry] } });
      });
      await page.route(`**/exported/${guided.entry.path}/**`, (route) => {
        const file = decodeURIComponent(new URL(route.request().url()).pathname.split(`/exported/${guided.entry.path}/`)[1]);
        const path = normalize(join(guided.fixture.dir, file));
        if (!path.startsWith(guided.fixture.dir + sep)) return route.fulfill({ status: 403, body: "403" });
        return route.fulfill({ path, contentType: TYPES[extname(path)] ?? "application/octet-stream" })
          .catch(() => route.fulfill({ status: 404, body: "404" }));
      });
    }
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
    await page.goto(`${server.url}web/`);
    await page.waitForFunction(() => window.zooDemo?.index || document.querySelector("#page-error:not([hidden])"), null, WAIT);
    assert.equal(await page.locator("#page-error").isHidden(), true, await page.locator("#page-error").textContent());
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const model of nodeModels.values()) await (await model).release();
    guided?.fixture?.remove();
    if (timings.length) console.log(`timings: ${timings.map(([what, ms]) => `${what} ${ms} ms`).join(", ")}`);
    if (diffs.length) console.log(`max abs diffs from Node: ${diffs.map(([what, d]) => `${what} ${d.toExponential(1)}`).join(", ")}`);
  });

  /** Fail with the page's own message when it shows an error. */
  async function pageErrorText(before) {
    const errors = await page.evaluate(() => window.zooDemo.errors);
    return errors.slice(before).join("; ");
  }

  async function timed(what, action) {
    const started = Date.now();
    const result = await action();
    timings.push([what, Date.now() - started]);
    return result;
  }

  /** Click a model in the catalog and wait until it is open (or fail with the page's error). */
  async function open(name) {
    const errorsBefore = (await page.evaluate(() => window.zooDemo.errors.length));
    await timed(`open ${name}`, async () => {
      await page.click(`#model-list [data-model="${name}"]`);
      await page.waitForFunction(([n, e]) => window.zooDemo.model?.name === n || window.zooDemo.errors.length > e, [name, errorsBefore], WAIT);
    });
    const error = await pageErrorText(errorsBefore);
    assert.equal(error, "", `opening ${name} failed on the page: ${error}`);
    assert.equal(await page.getAttribute(`[data-model="${name}"]`, "aria-pressed"), "true");
    assert.match(await page.textContent("#model-status"), /is ready/);
  }

  /** Press a run button, wait for the job to finish, and return the page's newest output as plain arrays. */
  async function run(selector, what) {
    const [runsBefore, errorsBefore] = await page.evaluate(() => [window.zooDemo.runs, window.zooDemo.errors.length]);
    await timed(what, async () => {
      await page.click(selector);
      await page.waitForFunction(([r, e]) => window.zooDemo.runs > r || window.zooDemo.errors.length > e, [runsBefore, errorsBefore], WAIT);
    });
    const error = await pageErrorText(errorsBefore);
    assert.equal(error, "", `${what} failed on the page: ${error}`);
    return page.evaluate(() => {
      const { last } = window.zooDemo;
      const plain = (t) => t && { data: Array.from(t.data), dims: t.dims };
      return { ...last, data: Array.from(last.data), input: plain(last.input) };
    });
  }

  /** A canvas's RGBA pixels as a plain array. */
  const canvasPixels = (selector) => page.$eval(selector, (canvas) => {
    const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    return { width, height, data: Array.from(data) };
  });

  /** The canvas shows exactly these pictures (one grey level of rounding allowed). */
  async function assertCanvasShows(selector, picture, what) {
    const shown = await canvasPixels(selector);
    assert.deepEqual([shown.width, shown.height], [picture.width, picture.height], `${what}: canvas size`);
    assert.ok(maxAbsDiff(shown.data, picture.data) <= 1, `${what}: the canvas does not show the output`);
  }

  const screenshot = (name) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  it("lists every model of exported/index.json, with its preview", async () => {
    const index = await page.evaluate(() => window.zooDemo.index);
    const names = await page.$$eval("#model-list button", (buttons) => buttons.map((b) => b.dataset.model));
    assert.deepEqual(names, index.models.map((m) => m.name));
    await page.waitForFunction(() => [...document.querySelectorAll("#model-list img")].every((img) => img.complete), null, WAIT);
    const broken = await page.$$eval("#model-list img", (imgs) => imgs.filter((img) => !img.naturalWidth).map((img) => img.src));
    assert.deepEqual(broken, [], "previews that did not load");
    await screenshot("01-catalog");
  });

  it("draws a GAN sample grid equal to the Node package's (dcgan-fashion-mnist, seed 7), and New seed", async () => {
    await open("dcgan-fashion-mnist");
    await page.selectOption("#sample-count", "16");
    await page.fill("#sample-seed", "7");
    const out = await run("#sample-run", "dcgan 16 samples");
    const model = await nodeModel("dcgan-fashion-mnist");
    const expected = await model.sample(16, { seed: 7 });
    diffs.push(["dcgan", assertSameTensor(out, expected, "dcgan samples")]);
    await assertCanvasShows("#sample-output", grid(model.pixels(expected), { columns: 4 }), "dcgan grid");
    assert.match(await page.textContent("#sample-caption"), /16 samples, seed 7/);
    await screenshot("02-dcgan-samples");

    await page.click("#sample-new-seed");
    const seed = Number(await page.inputValue("#sample-seed"));
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32, `New seed wrote ${seed}`);
    const again = await run("#sample-run", "dcgan new seed");
    assertSameTensor(again, await model.sample(16, { seed }), `dcgan samples with seed ${seed}`);
  });

  it("draws a chosen class of a conditional model (cgan-mnist, class 3), and every class in turn", async () => {
    await open("cgan-mnist");
    assert.equal(await page.isVisible("#sample-class"), true, "the class picker is shown");
    await page.selectOption("#sample-class", "3");
    await page.fill("#sample-seed", "5");
    const out = await run("#sample-run", "cgan class 3");
    const model = await nodeModel("cgan-mnist");
    const expected = await model.sample(16, { seed: 5, label: 3 });
    diffs.push(["cgan class 3", assertSameTensor(out, expected, "cgan class 3")]);
    assert.equal(out.options.label, 3);
    await screenshot("03-cgan-class-3");

    await page.selectOption("#sample-class", "");
    await page.selectOption("#sample-count", "100");
    const all = await run("#sample-run", "cgan 100, each class");
    const expectedAll = await model.sample(100, { seed: 5 });
    assertSameTensor(all, expectedAll, "cgan every class");
    await assertCanvasShows("#sample-output", grid(model.pixels(expectedAll), { columns: 10 }), "cgan one class per column");
    await screenshot("04-cgan-each-class");
  });

  it("interpolates between two seeds' latents, and the slider shows each frame (cgan-mnist, class 7)", async () => {
    await page.fill("#interp-seed-a", "11");
    await page.fill("#interp-seed-b", "12");
    await page.fill("#interp-steps", "8");
    await page.selectOption("#interp-class", "7");
    const out = await run("#interp-run", "cgan interpolation");
    const model = await nodeModel("cgan-mnist");
    const [a, b] = [model.randomLatents(1, 11).data, model.randomLatents(1, 12).data];
    const expected = await model.interpolate(a, b, 8, { label: 7, spherical: true, seed: 11 });
    diffs.push(["interpolation", assertSameTensor(out, expected, "cgan interpolation")]);

    await page.fill("#interp-frame", "5");
    assert.equal(await page.textContent("#interp-frame-text"), "frame 6 of 8 (t = 0.71)");
    await assertCanvasShows("#interp-frame-view", model.pixels(expected)[5], "frame 6");
    await screenshot("05-cgan-interpolation");

    await page.uncheck("#interp-spherical");
    const straight = await run("#interp-run", "cgan straight interpolation");
    assertSameTensor(straight, await model.interpolate(a, b, 8, { label: 7, spherical: false }), "straight interpolation");
    await page.check("#interp-spherical");
  });

  it("runs DDIM with a steps slider and a progress bar (ddpm-fashion-mnist, 5 steps, n = 4), and Stop", async () => {
    await open("ddpm-fashion-mnist");
    assert.equal(await page.isVisible("#ddim-steps"), true, "the steps slider is shown");
    await page.fill("#ddim-steps", "5");
    assert.equal(await page.textContent("#ddim-steps-value"), "5");
    await page.selectOption("#sample-count", "4");
    await page.fill("#sample-seed", "3");
    const out = await run("#sample-run", "ddim 5 steps n=4");
    const model = await nodeModel("ddpm-fashion-mnist");
    const expected = await model.sample(4, { seed: 3, sampler: "ddim", steps: 5, eta: 0 });
    diffs.push(["ddim", assertSameTensor(out, expected, "DDIM samples")]);
    assert.deepEqual(await page.evaluate(() => window.zooDemo.progress), [[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
    assert.deepEqual(await page.$eval("#sample-progress", (p) => [p.value, p.max]), [5, 5]);
    assert.equal(await page.textContent("#sample-progress-text"), "step 5 of 5");
    await screenshot("06-ddpm-ddim-5-steps");

    await page.fill("#ddim-steps", "100");
    const runsBefore = await page.evaluate(() => window.zooDemo.runs);
    await page.click("#sample-run");
    await page.waitForFunction(() => window.zooDemo.progress.length >= 2, null, WAIT);
    await page.click("#sample-stop");
    await page.waitForFunction(() => !window.zooDemo.busy, null, WAIT);
    assert.match(await page.textContent("#model-status"), /^Stopped after \d+ of 100 DDIM steps$/);
    assert.equal(await page.evaluate(() => window.zooDemo.runs), runsBefore, "a stopped run records no output");
    assert.equal(await page.isHidden("#model-error"), true, "stopping is not an error");
    await page.fill("#ddim-steps", "5");
  });

  it("shows a class picker and a guidance slider for a class-conditional diffusion model, and samples with both", async () => {
    await open(guided.name);
    const model = await nodeModel(guided.name);
    const { scale } = model.guidance;
    assert.equal(await page.isVisible("#sample-class"), true, "the class picker is shown");
    const classes = await page.$$eval("#sample-class option", (options) => options.map((o) => [o.value, o.textContent]));
    assert.deepEqual(classes, [["", "each class in turn"], ...model.classNames.map((name, k) => [String(k), `${k}: ${name}`])]);
    assert.equal(await page.isVisible("#ddim-guidance"), true, "the guidance slider is shown");
    assert.deepEqual(await page.$eval("#ddim-guidance", (s) => [s.min, s.max, Number(s.value)]), ["0", String(Math.max(5, scale)), scale]);
    assert.equal(Number(await page.textContent("#ddim-guidance-value")), scale, "the slider starts at schedule.json's scale");

    const k = Math.min(8, model.numClasses - 1);
    await page.selectOption("#sample-class", String(k));
    await page.fill("#ddim-guidance", "3.5");
    assert.equal(await page.textContent("#ddim-guidance-value"), "3.5");
    await page.fill("#ddim-steps", "5");
    await page.selectOption("#sample-count", "4");
    await page.fill("#sample-seed", "3");
    const out = await run("#sample-run", `guided ddim class ${k}, guidance 3.5`);
    const expected = await model.sample(4, { seed: 3, sampler: "ddim", steps: 5, eta: 0, label: k, guidance: 3.5 });
    diffs.push(["guided ddim", assertSameTensor(out, expected, "guided DDIM samples")]);
    assert.equal(out.options.guidance, 3.5);
    assert.equal(out.options.label, k);
    assert.ok((await page.textContent("#sample-caption")).includes(`class ${k}: ${model.classNames[k]}, DDIM, 5 steps, eta 0, guidance 3.5`));
    await assertCanvasShows("#sample-output", grid(model.pixels(expected), { columns: 2 }), "guided grid");
    await screenshot("06b-guided-ddim");

    // guidance 0 ignores the class: each class in turn then gives the unconditional model's images
    await page.fill("#ddim-guidance", "0");
    await page.selectOption("#sample-class", "");
    const unguided = await run("#sample-run", "guided ddim guidance 0");
    const expectedUnguided = await model.sample(4, { seed: 3, sampler: "ddim", steps: 5, eta: 0, guidance: 0 });
    assertSameTensor(unguided, expectedUnguided, "guidance 0 samples");
    assert.ok(maxAbsDiff(unguided.data, out.data) > 1e-2, "guidance and class change the images");
    assert.match(await page.textContent("#sample-caption"), /one class per column, DDIM, 5 steps, eta 0, guidance 0/);

    await open("ddpm-fashion-mnist"); // an unconditional diffusion model: neither control
    assert.equal(await page.isHidden("#guidance-controls"), true, "no guidance slider for an unconditional model");
    assert.equal(await page.isHidden("#sample-class-label"), true, "no class picker for an unconditional model");
  });

  it("translates an uploaded picture and a drawn one with CycleGAN (cyclegan-sneaker2boot)", async () => {
    await open("cyclegan-sneaker2boot");
    const model = await nodeModel("cyclegan-sneaker2boot");
    const examples = await model.examples();
    const sneakers = examples.a2b.inputs.images_a;
    const size = sneakers.dims.slice(1).reduce((x, y) => x * y, 1);
    const sneaker = toRGBA({ data: sneakers.data.subarray(size, 2 * size), dims: [1, ...sneakers.dims.slice(1)] }, [-1, 1])[0];

    // an uploaded PNG: the page's input and output equal the Node package's on the same pixels
    await page.check('input[name="direction"][value="a2b"]');
    await page.setInputFiles("#pad-upload", { name: "sneaker.png", mimeType: "image/png", buffer: Buffer.from(encodePNG(sneaker)) });
    await page.waitForFunction(() => /sneaker\.png is on the canvas/.test(document.querySelector("#model-status").textContent), null, WAIT);
    await assertCanvasShows("#draw-pad", sneaker, "the uploaded picture on the canvas");
    const out = await run("#translate-run", "cyclegan a2b upload");
    const input = model.imagesFromPixels([sneaker], "a2b");
    assert.equal(maxAbsDiff(out.input.data, input.data), 0, "the page's input is the PNG's pixels");
    const expected = await model.translate(input, "a2b");
    diffs.push(["cyclegan upload", assertSameTensor(out, expected, "CycleGAN a2b of the upload")]);
    await screenshot("07-cyclegan-upload-a2b");

    // the canvas controls: Clear, Invert, a test image
    await page.click("#pad-clear");
    assert.ok((await canvasPixels("#draw-pad")).data.every((v, i) => (i % 4 === 3 ? v === 255 : v === 0)), "Clear makes the canvas black");
    await page.click("#pad-invert");
    assert.ok((await canvasPixels("#draw-pad")).data.every((v) => v === 255), "Invert makes the black canvas white");
    await page.check('input[name="direction"][value="b2a"]');
    await page.selectOption("#pad-example", { value: "2" }); // labels count from 1
    await page.click("#pad-use-example");
    const boots = examples.b2a.inputs.images_b;
    await assertCanvasShows("#draw-pad", toRGBA({ data: boots.data.subarray(2 * size, 3 * size), dims: [1, ...boots.dims.slice(1)] }, [-1, 1])[0], "test image 3");

    // a drawing made with the mouse, translated b2a
    await page.click("#pad-clear");
    const box = await page.locator("#draw-pad").boundingBox();
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
    const stroke = async (from, to) => {
      await page.mouse.move(...at(...from));
      await page.mouse.down();
      await page.mouse.move(...at(...to), { steps: 6 });
      await page.mouse.up();
    };
    // a filled ankle boot: the shaft, then the foot, in horizontal strokes
    for (let y = 0.2; y <= 0.62; y += 0.06) await stroke([0.42, y], [0.64, y]);
    for (let y = 0.58; y <= 0.78; y += 0.05) await stroke([0.2 + (0.78 - y), y], [0.66, y]);
    const drawn = await run("#translate-run", "cyclegan b2a drawing");
    const ink = drawn.input.data.filter((v) => v > 0).length;
    assert.ok(ink > 20, `the drawing reached the model (${ink} bright pixels)`);
    const expectedDrawn = await model.translate({ data: Float32Array.from(drawn.input.data), dims: drawn.input.dims }, "b2a");
    diffs.push(["cyclegan drawing", assertSameTensor(drawn, expectedDrawn, "CycleGAN b2a of the drawing")]);
    assert.equal(drawn.options.direction, "b2a");
    await screenshot("08-cyclegan-drawing-b2a");
  });

  it("reconstructs the stored test images (ae-fashion-mnist; cvae-mnist with its labels)", async () => {
    for (const name of ["ae-fashion-mnist", "cvae-mnist"]) {
      await open(name);
      const out = await run("#reconstruct-run", `${name} reconstruct`);
      const model = await nodeModel(name);
      const { images, labels } = (await model.examples()).reconstruct.inputs;
      const expected = await model.reconstruct({ data: images.data, dims: images.dims }, labels ? { label: Array.from(labels.data) } : {});
      assert.equal(maxAbsDiff(out.input.data, images.data), 0, `${name}: the page reconstructs the stored test images`);
      diffs.push([`${name} reconstruct`, assertSameTensor(out, expected, `${name} reconstructions`)]);
      await screenshot(`09-${name}-reconstruct`);
    }
  });

  it("draws a chosen component of a VAE's class-Gaussian prior, and interpolates through the mixture (vae-fashion-mnist)", async () => {
    await open("vae-fashion-mnist");
    assert.equal(await page.textContent("#sample-class-label .class-word"), "Prior component");
    await page.selectOption("#sample-class", "2");
    await page.selectOption("#sample-count", "16");
    await page.fill("#sample-seed", "4");
    const out = await run("#sample-run", "vae prior component 2");
    const model = await nodeModel("vae-fashion-mnist");
    diffs.push(["vae component", assertSameTensor(out, await model.sample(16, { seed: 4, label: 2 }), "vae-fashion-mnist component 2")]);
    await page.fill("#interp-seed-a", "1");
    await page.fill("#interp-seed-b", "2");
    await page.selectOption("#interp-class", "");
    const path = await run("#interp-run", "vae interpolation");
    const expected = await model.interpolate(model.randomLatents(1, 1).data, model.randomLatents(1, 2).data, 8, { seed: 1 });
    diffs.push(["vae interpolation", assertSameTensor(path, expected, "vae-fashion-mnist interpolation")]);
    await screenshot("11-vae-fashion-mnist");
  });

  it("opens every other model with the panels its capabilities call for", async () => {
    for (const name of ["beta-vae-fashion-mnist", "vae-mnist-binarized"]) {
      await open(name);
      const model = await nodeModel(name);
      await page.fill("#sample-seed", "0");
      assertSameTensor(await run("#sample-run", `${name} samples`), await model.sample(16, { seed: 0 }), `${name} samples`);
      const { images } = (await model.examples()).reconstruct.inputs;
      assertSameTensor(await run("#reconstruct-run", `${name} reconstruct`), await model.reconstruct({ data: images.data, dims: images.dims }), `${name} reconstructions`);
      assert.equal(await page.isVisible("#interpolate-panel"), true, `${name} interpolates`);
    }
    for (const name of ["classifier-mnist", "classifier-fashion-mnist"]) {
      await open(name);
      assert.equal(await page.isVisible("#nothing-panel"), true, `${name} says it has no demo`);
      const shown = await page.$$eval("#model .panel:not([hidden])", (panels) => panels.map((p) => p.id));
      assert.deepEqual(shown, ["nothing-panel"]);
    }
    await screenshot("12-classifier");
  });

  it("shows a model that fails to load on the page, and loads it on a retry (wgan-gp-fashion-mnist)", async () => {
    const corrupt = "**/exported/wgan-gp-fashion-mnist/generator.onnx";
    await page.route(corrupt, (route) => route.fulfill({ status: 200, contentType: "application/octet-stream", body: "not an onnx file" }));
    const errorsBefore = await page.evaluate(() => window.zooDemo.errors.length);
    await page.click('#model-list [data-model="wgan-gp-fashion-mnist"]');
    await page.waitForFunction((e) => window.zooDemo.errors.length > e, errorsBefore, WAIT);
    assert.equal(await page.isVisible("#model-error"), true);
    assert.match(await page.textContent("#model-error"), /generator\.onnx is corrupt: its sha256 does not match metadata\.json/);
    assert.match(await page.textContent("#model-status"), /could not be loaded/);
    assert.equal(await page.isHidden("#sample-panel"), true, "no panel for a model that did not load");
    await screenshot("10-load-error");

    await page.unroute(corrupt);
    await open("wgan-gp-fashion-mnist");
    assert.equal(await page.isHidden("#model-error"), true, "the retry clears the error");
    await page.fill("#sample-seed", "0");
    const out = await run("#sample-run", "wgan-gp 16 samples");
    diffs.push(["wgan-gp", assertSameTensor(out, await (await nodeModel("wgan-gp-fashion-mnist")).sample(16, { seed: 0 }), "wgan-gp samples")]);
  });

  it("says on the page why it cannot start: no index, no package, opened as a file", async () => {
    const cases = [
      ["**/exported/index.json", `${server.url}web/`, /index\.json \(HTTP 404\)/],
      ["**/onnxruntime-web/dist/*", `${server.url}web/`, /did not load .* `cd js && npm ci`/],
      [null, new URL("../index.html", import.meta.url).href, /opened as a file/],
    ];
    for (const [missing, url, message] of cases) {
      const other = await browser.newPage();
      try {
        if (missing) await other.route(missing, (route) => route.fulfill({ status: 404, body: "gone" }));
        await other.goto(url);
        await other.waitForSelector("#page-error:not([hidden])", WAIT);
        assert.match(await other.textContent("#page-error"), message);
      } finally {
        await other.close();
      }
    }
  });

  it("raised no uncaught errors in the page, and logged none but the corrupt file's", () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(consoleErrors.filter((text) => !/generator\.onnx is corrupt/.test(text)), []);
  });
});
