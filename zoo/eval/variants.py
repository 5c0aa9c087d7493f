"""FID of an artifact's ONNX files beside their smaller variants (:mod:`zoo.artifact.variants`).

Every file of a group (the float32 ONNX file and its float16 and int8 copies) is fed the same inputs, drawn the way
the zoo samples, and its images are scored against the same test images through the zoo's feature network, with the
Frechet distance ``zoo eval`` uses (:class:`~zoo.eval.evaluator.Evaluator`, :func:`zoo.eval.metrics.frechet_distance`):

* a GAN's ``generator.onnx``: z ~ N(0, I), and for a conditional one every class equally often;
* a VAE's ``decoder.onnx``: z from the prior, N(0, I) or the class Gaussians of ``prior.json`` (a CVAE's labels in
  turn, a VAE's classes by their weights);
* an autoencoder's ``decoder.onnx``: the float32 encoder's codes of the test images (the FID of reconstructions);
* a diffusion model's ``denoiser.onnx``: 50 DDIM steps (eta 0) of :mod:`zoo.diffusion.reference` from the same noise;
* a CycleGAN's ``generator_a2b.onnx`` and ``generator_b2a.onnx``: the source domain's test images, translated, against
  the target domain's.

Encoders and classifiers put out codes and probabilities, not images: FID does not apply to them.
"""

from __future__ import annotations

import json

import numpy as np

from zoo import data
from zoo.artifact.variants import onnx_endpoints, run, session
from zoo.config import load_recipe
from zoo.diffusion.reference import ReferenceSampler
from zoo.errors import EvaluationError
from zoo.eval import metrics as M
from zoo.eval.evaluator import Evaluator
from zoo.models import Capability, families

SAMPLES = 2_000  # images per file: enough to tell a variant's FID from float32's, affordable on 2 cores
DIFFUSION_SAMPLES = 500  # a diffusion model's images take DIFFUSION_STEPS network runs each
DIFFUSION_STEPS = 50


def default_samples(meta: dict) -> int:
    """The default image count of a model's variant FIDs: fewer for a diffusion model."""
    cls = families().get(meta.get("family", ""))
    return DIFFUSION_SAMPLES if cls and cls.can(Capability.SAMPLERS) else SAMPLES


def fid_scorer(n: int | None = None, *, data_dir=None, seed: int = 0, batch_size: int = 250, progress: bool = False):
    """A scorer for :func:`zoo.artifact.variants.build_variants`: ``n`` images per file (default
    :func:`default_samples`), capped by the test split."""
    if n is not None and n < 4:
        raise EvaluationError(f"the variants' FID needs at least 4 images per file, got {n}")
    return VariantFID(n, data_dir=data_dir, seed=seed, batch_size=batch_size, progress=progress)


class VariantFID:
    def __init__(self, n, *, data_dir, seed, batch_size, progress):
        self.n, self.data_dir, self.seed, self.batch_size, self.progress = n, data_dir, seed, batch_size, progress

    def __call__(self, folder, meta: dict, onnx_file: str, paths: dict) -> dict:
        endpoint = onnx_endpoints(meta)[onnx_file]
        cls = families().get(meta.get("family", ""))
        can = cls.capabilities if cls else frozenset()
        kinds = {t["kind"] for t in endpoint["inputs"]}
        makes_images = any(t.get("kind") == "image" for t in endpoint["outputs"])
        recipe = load_recipe(folder / "recipe.toml")
        ev = Evaluator(None, recipe, num_samples=self.n or default_samples(meta), data_dir=self.data_dir,
                       seed=self.seed, batch_size=self.batch_size, progress=self.progress)
        if Capability.SAMPLERS in can and "timestep" in kinds:
            return self._diffusion(ev, folder, endpoint, paths)
        if Capability.TRANSLATE in can and makes_images:
            return self._translation(ev, endpoint, paths)
        if makes_images and Capability.SAMPLE in can:
            return self._generator(ev, folder, meta, endpoint, paths)
        if makes_images and Capability.RECONSTRUCT in can:
            return self._reconstruction(ev, folder, meta, endpoint, paths)
        outputs = ", ".join(t["name"] for t in endpoint["outputs"])
        return {"not_applicable": f"{onnx_file} puts out {outputs}, not images: FID does not apply (size, "
                                  "difference and latency only)"}

    # ------------------------------------------------------------ what each file is fed

    def _test(self, ev: Evaluator, cfg=None):
        cfg = cfg or ev.recipe.data
        n = ev.count(data.load_split(cfg, cfg.eval_split, ev.data_dir).size)
        images, _, description = ev.real_images(cfg, cfg.eval_split, n, ev.seed)
        return images, description

    def _scores(self, ev: Evaluator, paths: dict, feeds, reference, cfg=None, runner=None) -> dict:
        """Each file's images from the same ``feeds`` (a list of input batches) scored against ``reference`` images."""
        real, _ = ev.embed(reference, "test images", cfg)
        scores = {}
        for label, path in paths.items():
            images = runner(path, feeds, label) if runner else self._run_all(path, feeds, label, ev)
            features, _ = ev.embed(images, f"images of the {label} file", cfg)
            scores[label] = M.frechet_distance(real, features)
        return scores

    def _run_all(self, path, feeds, label, ev: Evaluator) -> np.ndarray:
        sess = session(path)
        name = sess.get_outputs()[0].name
        report = ev.progress(f"running the {label} file")
        out, done, total = [], 0, sum(len(next(iter(f.values()))) for f in feeds)
        for feed in feeds:
            out.append(np.asarray(run(sess, feed)[name], "float32"))
            done += len(out[-1])
            if report:
                report(done, total)
        return np.concatenate(out)

    def _chunks(self, inputs: dict, ev: Evaluator) -> list[dict]:
        n = len(next(iter(inputs.values())))
        return [{k: v[start:start + ev.batch_size] for k, v in inputs.items()} for start in range(0, n, ev.batch_size)]

    def _result(self, ev: Evaluator, n: int, inputs: str, reference: str, scores: dict) -> dict:
        return {"n": int(n), "inputs": inputs, "reference": reference, "features": ev.network.name, "seed": ev.seed,
                "scores": {label: float(value) for label, value in scores.items()}}

    def _generator(self, ev, folder, meta, endpoint, paths) -> dict:
        test, description = self._test(ev)
        n = len(test)
        rng = np.random.default_rng(ev.seed)
        latent = next(t for t in endpoint["inputs"] if t["kind"] == "latent")
        noise = rng.standard_normal((n, latent["shape"][1])).astype("float32")
        inputs, how = {latent["name"]: noise}, f"{latent['name']} ~ N(0, I)"
        label = next((t for t in endpoint["inputs"] if t["kind"] == "label"), None)
        labels = None
        if label is not None:
            classes = int(meta.get("recipe", {}).get("model", {}).get("num_classes") or 0)
            if classes < 1:
                raise EvaluationError(f"{endpoint['onnx']} takes {label['name']}, and the recipe names no num_classes")
            labels = (np.arange(n) % classes).astype("int32")
            inputs[label["name"]] = labels
            how += f", {label['name']} every class in turn"
        prior = folder / "prior.json"
        if "prior.json" in meta.get("extra_files", []) and prior.is_file():
            fitted = json.loads(prior.read_text())
            if labels is not None:
                components = labels
            else:
                weights = np.asarray(fitted["weights"], "float64")
                components = rng.choice(len(weights), size=n, p=weights / weights.sum())
            loc = np.asarray(fitted["loc"], "float32")
            tril = np.asarray(fitted["scale_tril"], "float32")
            inputs[latent["name"]] = loc[components] + np.einsum("nij,nj->ni", tril[components], noise)
            how = how.replace("~ N(0, I)", "from the class Gaussians of prior.json")
        scores = self._scores(ev, paths, self._chunks(inputs, ev), test)
        return self._result(ev, n, f"{how}, seed {ev.seed}", description, scores)

    def _reconstruction(self, ev, folder, meta, endpoint, paths) -> dict:
        test, description = self._test(ev)
        encoder = next((e for e in meta["endpoints"] if e.get("onnx") and e["name"] == "encode"), None)
        if encoder is None:
            raise EvaluationError(f"{endpoint['onnx']} decodes codes, and the artifact has no encoder.onnx to make them")
        codes = self._run_all(folder / encoder["onnx"], self._chunks({encoder["inputs"][0]["name"]: test}, ev),
                              "float32 encoder", ev)
        latent = endpoint["inputs"][0]["name"]
        scores = self._scores(ev, paths, self._chunks({latent: codes}, ev), test)
        return self._result(ev, len(test), f"the float32 {encoder['onnx']}'s codes of the test images "
                                           "(FID of reconstructions, against their originals)", description, scores)

    def _translation(self, ev, endpoint, paths) -> dict:
        domains = data.domain_configs(ev.recipe.data)
        if domains is None:
            raise EvaluationError("this translation model's recipe has no [data.domain_a] and [data.domain_b]")
        source, target = (0, 1) if endpoint["name"] == "a2b" else (1, 0)
        n = ev.count(*(data.load_split(c, c.eval_split, ev.data_dir).size for c in domains))
        images, _, source_description = ev.real_images(domains[source], domains[source].eval_split, n, ev.seed)
        reference, _, description = ev.real_images(domains[target], domains[target].eval_split, n, ev.seed)
        name = endpoint["inputs"][0]["name"]
        scores = self._scores(ev, paths, self._chunks({name: images}, ev), reference, domains[target])
        return self._result(ev, n, f"domain {'AB'[source]} test images ({source_description}), translated",
                            f"domain {'AB'[target]}: {description}", scores)

    def _diffusion(self, ev, folder, endpoint, paths) -> dict:
        test, description = self._test(ev)
        n = len(test)
        shape = endpoint["inputs"][0]["shape"][1:]
        noise = np.random.default_rng(ev.seed).standard_normal((n, *shape)).astype("float32")
        feeds = [noise[start:start + ev.batch_size] for start in range(0, n, ev.batch_size)]

        def sample(path, batches, label):
            sampler = ReferenceSampler(folder, denoiser=path)
            defaults = sampler.schedule.get("sampler_defaults", {})
            report = ev.progress(f"DDIM-{DIFFUSION_STEPS} with the {label} file")
            out = []
            for batch in batches:
                out.append(sampler.sample(batch, steps=DIFFUSION_STEPS, eta=0.0,
                                          spacing=defaults.get("timestep_spacing", "trailing"),
                                          clip_x0=defaults.get("clip_x0", True)))
                if report:
                    report(sum(len(o) for o in out), n)
            return np.concatenate(out)

        scores = self._scores(ev, paths, feeds, test, runner=sample)
        return self._result(ev, n, f"{DIFFUSION_STEPS} DDIM steps (eta 0, zoo/diffusion/reference.py) from noise ~ "
                                   f"N(0, I), seed {ev.seed}", description, scores)
