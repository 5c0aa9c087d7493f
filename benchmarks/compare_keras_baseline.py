"""The zoo's default training and sampling paths against plain keras.io-style Keras, side by side in one run.

    python benchmarks/compare_keras_baseline.py                      # every family, about 15 minutes
    python benchmarks/compare_keras_baseline.py --families dcgan,ddpm --passes 5
    python benchmarks/compare_keras_baseline.py --families ddpm-cfg-cifar10,cgan-cifar10,cyclegan-emoji --skip-onnx

For each family with a shipped model (and each colour recipe, named by its model), the recipe's model is trained
two ways on the same batches:

* **zoo**: ``zoo.train.build_model`` and ``fit``, as ``zoo train`` runs it (what ``import zoo``
  sets up, e.g. oneDNN, and the recipe's settings: op determinism, XLA and thread pools where the recipe asks);
* **keras**: the plain ``keras.Model`` subclass of ``benchmarks/keras_baselines.py`` around the same
  networks (equal parameter counts are asserted), with TensorFlow's default settings, float32, no XLA.

Each side runs in worker processes of its own, because settings such as oneDNN and the thread pools are
process-wide and fixed when TensorFlow starts: the baseline's worker imports TensorFlow before anything of
the zoo's, and the zoo has a worker per family. After a warm-up (tracing) the two alternate, ``--passes``
times each, and the median is reported. The same run times DDPM sampling (the zoo's compiled DDIM-50 and
DDPM-1000 graphs against a Python loop of ``model.predict`` in the baseline's worker), each shipped ONNX
file in onnxruntime at batch 1 and 64 against the zoo's Keras call, and the DDPM training step's achieved
GFLOP/s beside a float32 matmul peak measured in each worker. Prints one JSON object, then tables. Inputs
are random tensors of the recipe's shapes, fed from memory to both sides (no data needed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {  # benchmark case -> its recipe: a family's first shipped model, then the colour recipes by model name
    "autoencoder": "ae_fashion_mnist", "vae": "vae_fashion_mnist", "cvae": "cvae_mnist",
    "dcgan": "dcgan_fashion_mnist", "cgan": "cgan_mnist", "wgan_gp": "wgan_gp_fashion_mnist",
    "cyclegan": "cyclegan_sneaker2boot", "ddpm": "ddpm_fashion_mnist",
    "ddpm-cfg-cifar10": "ddpm_cfg_cifar10", "cgan-cifar10": "cgan_cifar10", "cyclegan-emoji": "cyclegan_emoji",
}
DIFFUSION = ("ddpm", "guided_ddpm")
ONNX_ARTIFACTS = ("ae-fashion-mnist", "vae-fashion-mnist", "cvae-mnist", "dcgan-fashion-mnist", "cgan-mnist",
                  "wgan-gp-fashion-mnist", "cyclegan-sneaker2boot", "ddpm-fashion-mnist")


# ================================================================ the workers


class Worker:
    """One side's state in its own process: models built once per family, timed on request."""

    def __init__(self, side: str):
        self.side = side
        import keras
        import numpy as np
        import tensorflow as tf

        self.keras, self.np, self.tf = keras, np, tf
        self.models, self.batches = {}, {}

    # ------------------------------------------------------------ building

    def _recipe(self, case, precision=None):
        from zoo.config import load_recipe

        overrides = [f"train.precision={json.dumps(precision)}"] if precision else []
        return load_recipe(ROOT / "recipes" / f"{RECIPES[case]}.toml", overrides=overrides)

    def _batch(self, recipe, model_two_domains: bool, labelled: bool):
        np = self.np
        shape = (recipe.train.batch_size, *recipe.data.image_size, recipe.data.channels)
        low, high = recipe.data.value_range
        rng = np.random.default_rng(0)
        images = rng.uniform(low, high, shape).astype("float32")
        if model_two_domains:
            return (images, rng.uniform(low, high, shape).astype("float32"))
        if labelled:
            return (images, rng.integers(0, 10, shape[0]).astype("int32"))
        return images

    def build(self, case: str, precision: str | None = None) -> dict:
        """Build a case's model once: the zoo's as the recipe says (``precision`` overriding its train.precision),
        the baseline in float32."""
        if case in self.models:
            return {"parameters": self.models[case][1]}
        from zoo import runtime
        from zoo.models import get_family
        from zoo.train import build_model

        recipe = self._recipe(case, precision if self.side == "zoo" else "float32")
        if self.side == "zoo":
            runtime.configure(recipe.train)
            model = build_model(recipe, steps_per_epoch=1000)
            parameters = int(sum(self.np.prod(v.shape) for v in model.trainable_variables))
        else:
            self.keras.utils.set_random_seed(recipe.train.seed)
            zoo_model = get_family(recipe.family).from_recipe(recipe)  # only for its networks
            model = self._baseline(recipe.family, recipe, zoo_model)
            parameters = int(sum(self.np.prod(v.shape) for v in model.trainable_variables))
        batch = self._batch(recipe, recipe.family == "cyclegan", bool(recipe.data.labels))
        self.models[case] = (model, parameters, recipe)
        self.batches[case] = self.tf.data.Dataset.from_tensors(batch).repeat()
        return {"parameters": parameters, "batch_size": recipe.train.batch_size, "family": recipe.family,
                "precision": recipe.train.precision, "jit_compile": bool(getattr(model, "jit_compile", False))}

    def _baseline(self, family, recipe, zoo_model):
        import keras_baselines as kb

        keras, m = self.keras, recipe.model

        def adam(role="default"):
            o = recipe.optimizer[role]
            return keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon,
                                         **({"clipnorm": o.clipnorm} if o.clipnorm else {}))

        net = kb.keras_layers  # the zoo's networks, with Keras' own layers where the zoo has faster subclasses
        if family == "autoencoder":
            model = kb.Autoencoder(net(zoo_model.encoder), net(zoo_model.decoder))
        elif family in ("vae", "cvae"):
            model = kb.VAE(net(zoo_model.encoder), net(zoo_model.decoder), binarize=m.binarize,
                           conditional=family == "cvae")
        elif family in ("dcgan", "cgan"):
            model = kb.GAN(net(zoo_model.discriminator), net(zoo_model.generator), m.latent_dim,
                           label_smoothing=m.label_smoothing, conditional=family == "cgan")
        elif family == "wgan_gp":
            model = kb.WGANGP(net(zoo_model.discriminator), net(zoo_model.generator), m.latent_dim,
                              discriminator_extra_steps=m.n_critic, gp_weight=m.gp_weight)
        elif family == "cyclegan":
            model = kb.CycleGAN(net(zoo_model.generator_a2b), net(zoo_model.generator_b2a),
                                net(zoo_model.discriminator_a), net(zoo_model.discriminator_b),
                                lambda_cycle=m.cycle_weight, lambda_identity=m.identity_weight)
        elif family in DIFFUSION:
            model = kb.DiffusionModel(net(zoo_model.network), net(zoo_model.ema_network),
                                      zoo_model.noise_schedule.alphas_cumprod, ema=m.ema_decay,
                                      num_classes=getattr(m, "num_classes", 0), cond_drop=getattr(m, "cond_drop", 0.0))
        else:
            raise ValueError(family)
        if family in ("autoencoder", "vae", "cvae", *DIFFUSION):
            model.compile(optimizer=adam(), jit_compile=False)  # Keras' "auto" would be XLA on TensorFlow
        elif family == "cyclegan":
            model.compile(adam("generator"), adam("discriminator"))
        else:
            model.compile(adam("discriminator"), adam("generator"))
        if family == "ddpm" and recipe.name == "ddpm-fashion-mnist":
            self.ddpm_twin = zoo_model  # the sampling comparison's
        return model

    # ------------------------------------------------------------ timing

    def train(self, case: str, steps: int) -> dict:
        """``fit`` over ``steps`` batches, timed from its first step to its last (``on_train_begin`` to
        ``on_train_end``): tearing down the input iterator after that sometimes waits 1.3-5 s here, which a
        real run pays once and a timed pass must not."""
        import keras_baselines as kb

        model, _, recipe = self.models[case]
        clock = kb.Stopwatch()
        model.fit(self.batches[case], epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
        return {"seconds": clock.seconds, "images": steps * recipe.train.batch_size}

    def sample(self, sampler: str, steps: int, batch: int) -> dict:
        np = self.np
        noise = np.random.default_rng(1).standard_normal((batch, 28, 28, 1)).astype("float32")
        began = time.perf_counter()
        if self.side == "zoo":
            model = self.models["ddpm"][0]
            model.generate(noise, steps=None if sampler == "ddpm" else steps, sampler=sampler).numpy()
        else:
            import keras_baselines as kb

            schedule = self.ddpm_twin.noise_schedule
            kb.predict_loop_sampler(self.models["ddpm"][0].ema_network, schedule.alphas_cumprod, steps, noise,
                                    ddpm_betas=schedule.betas if sampler == "ddpm" else None)
        return {"seconds": time.perf_counter() - began, "images": batch}

    def train_flops(self, case: str) -> dict:
        """Forward FLOPs of a diffusion network at the training batch (TensorFlow's profiler), times 3 for a step."""
        tf = self.tf
        model, _, recipe = self.models[case]
        network = model.network
        shape = (recipe.train.batch_size, *recipe.data.image_size, recipe.data.channels)
        specs = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec(shape[:1], tf.int32)]
        if recipe.family == "guided_ddpm":
            specs.append(tf.TensorSpec(shape[:1], tf.int32))
        concrete = tf.function(lambda *inputs: network(list(inputs), training=False)).get_concrete_function(*specs)
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        forward = tf.compat.v1.profiler.profile(graph=concrete.graph, options=options).total_float_ops
        return {"forward_flops": int(forward), "train_step_flops": 3 * int(forward)}

    def matmul_peak(self, n: int = 1024, repeats: int = 20) -> dict:
        tf = self.tf
        a = tf.random.normal((n, n))
        b = tf.random.normal((n, n))

        @tf.function
        def chain(a, b):
            c = a
            for _ in range(repeats):
                c = tf.linalg.matmul(c, b) * 1e-3
            return c

        chain(a, b).numpy()
        best = min(_timed(lambda: chain(a, b).numpy()) for _ in range(5))
        return {"gflops": 2 * n**3 * repeats / best / 1e9, "n": n}

    def onnx(self, name: str, endpoint: str, batch: int, runtime: str) -> dict:
        """Seconds per call of one exported endpoint at ``batch``: in onnxruntime, or the zoo's Keras method."""
        np = self.np
        import onnxruntime as ort

        import zoo
        from zoo.artifact.store import read_metadata, resolve

        key = ("onnx", name)
        if key not in self.models:
            folder = resolve(name)
            self.models[key] = (zoo.load(name), read_metadata(name), folder, {})
        model, metadata, folder, sessions = self.models[key]
        info = next(e for e in metadata["endpoints"] if e["name"] == endpoint)
        rng = np.random.default_rng(0)
        inputs = {}
        for spec in info["inputs"]:
            shape = [batch] + [28 if d is None else d for d in spec["shape"][1:]]
            if spec["kind"] == "label":
                inputs[spec["name"]] = rng.integers(0, model.num_classes, shape).astype("int32")
            elif spec["kind"] == "timestep":
                inputs[spec["name"]] = rng.integers(0, int(spec["value_range"][1]) + 1, shape).astype("int32")
            else:
                inputs[spec["name"]] = rng.standard_normal(shape).astype("float32")
        if runtime == "onnxruntime":
            if endpoint not in sessions:
                sessions[endpoint] = ort.InferenceSession(str(folder / info["onnx"]),
                                                          providers=["CPUExecutionProvider"])
            session = sessions[endpoint]
            call = lambda: session.run(None, inputs)  # noqa: E731
        else:
            args = [inputs[spec["name"]] for spec in info["inputs"]]
            if endpoint in ("a2b", "b2a"):
                call = lambda: np.asarray(model.translate(args[0], endpoint))  # noqa: E731
            else:
                method = getattr(model, endpoint)
                call = lambda: _numpy(method(*args))  # noqa: E731
        call(), call()  # warm-up: traces, allocates
        calls, began = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - began < 0.5:
            call()
            calls += 1
        return {"seconds": (time.perf_counter() - began) / calls}


def _numpy(result):
    """Force a result (a tensor, or a tuple of them such as a VAE's posterior) to be computed."""
    if isinstance(result, tuple):
        return [_numpy(r) for r in result if hasattr(r, "numpy")]
    return result.numpy()


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def serve(side: str) -> None:
    """A worker's main loop: one JSON request a line on stdin, one JSON answer a line on the real stdout."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed (TensorFlow, Keras) goes to stderr
    sys.path.insert(0, str(Path(__file__).parent))
    if side == "keras":
        importlib.import_module("tensorflow")  # first: TensorFlow's own defaults, before zoo is imported
    importlib.import_module("zoo")  # registers the families; in the zoo's worker, sets oneDNN up first

    worker = Worker(side)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = getattr(worker, request.pop("op"))(**request)
        except Exception as exc:  # reported to the driver, which stops the run
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


# ================================================================ the driver


class Side:
    """A worker process. Its log (TensorFlow's, at INFO level) goes to a file, read for whether oneDNN is on."""

    def __init__(self, side: str, onednn: str = "default"):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "ZOO_TF_LOGS": "1"}
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)  # default: what TensorFlow (keras) or import zoo (zoo) chooses
        if onednn != "default":
            env["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn == "on" else "0"
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{side}-", suffix=".log")
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", side], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, env=env, text=True, cwd=ROOT)

    def onednn(self) -> bool:
        """Whether TensorFlow said, as it was imported, that its oneDNN operations are on."""
        return "oneDNN custom operations are on" in Path(self.log.name).read_text()

    def ask(self, op: str, **kwargs) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or '{"error": "the worker died"}')
        if "error" in answer:
            tail = Path(self.log.name).read_text().strip().splitlines()[-5:]
            raise SystemExit(f"{op} {kwargs}: {answer['error']}\n" + "\n".join(tail))
        return answer

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def alternate(zoo: Side, keras: Side, passes: int, op: str, **kwargs) -> dict:
    """``passes`` timings of each side, alternating; images per second from the median seconds."""
    times = {"zoo": [], "keras": []}
    for _ in range(passes):
        for name, side in (("zoo", zoo), ("keras", keras)):
            answer = side.ask(op, **kwargs)
            times[name].append(answer["seconds"])
    images = answer["images"]
    out = {name: {"median_seconds": statistics.median(t), "images_per_second": images / statistics.median(t),
                  "seconds": [round(s, 3) for s in t]} for name, t in times.items()}
    out["speedup"] = out["zoo"]["images_per_second"] / out["keras"]["images_per_second"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("zoo", "keras"), help=argparse.SUPPRESS)
    parser.add_argument("--families", default=",".join(RECIPES), help="comma-separated cases (default: all)")
    parser.add_argument("--passes", type=int, default=3, help="alternating timed passes per side (median reported)")
    parser.add_argument("--seconds", type=float, default=6.0, help="about how long one training pass takes")
    parser.add_argument("--sample-batch", type=int, default=8, help="images per DDPM sampling call")
    parser.add_argument("--skip-sampling", action="store_true")
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--keras-onednn", choices=("default", "off", "on"), default="default",
                        help="oneDNN in the baseline's worker: TensorFlow's default for this CPU (on with AVX-512, "
                             "off without), or forced; 'off' shows what a CPU without AVX-512 gets by default")
    parser.add_argument("--zoo-precision", choices=("float32", "mixed_bfloat16"),
                        help="the zoo side's train.precision (default: each recipe's; the baseline is float32)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if args.worker:
        return serve(args.worker)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(RECIPES))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; choose from {', '.join(RECIPES)}")
    if args.passes < 3:
        raise SystemExit("--passes must be at least 3 (the median of alternating passes)")

    import platform

    # The zoo gets a worker per case: a recipe's settings such as its thread pools are process-wide and fixed
    # when TensorFlow starts. The baseline keeps TensorFlow's defaults, so one worker serves every case.
    zoos, keras = {}, Side("keras", args.keras_onednn)
    result = {"benchmark": "compare_keras_baseline", "date": time.strftime("%Y-%m-%d"),
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                          "system": platform.system()},
              "cpu": cpu_model(), "keras_onednn_setting": args.keras_onednn, "passes": args.passes,
              "zoo_precision": args.zoo_precision or "the recipe's", "train": {}, "sampling": {}, "onnx": [],
              "flops": {}}
    try:
        for family in families:
            zoo = zoos[family] = Side("zoo")
            z, k = zoo.ask("build", case=family, precision=args.zoo_precision), keras.ask("build", case=family)
            if z["parameters"] != k["parameters"]:
                raise SystemExit(f"{family}: the zoo model has {z['parameters']:,} trainable parameters and the "
                                 f"baseline {k['parameters']:,}; the architectures differ")
            result["onednn"] = {"zoo": zoo.onednn(), "keras": keras.onednn()}
            for side in (zoo, keras):
                side.ask("train", case=family, steps=2)  # trace
            rate = 3 / keras.ask("train", case=family, steps=3)["seconds"]
            zoo.ask("train", case=family, steps=3)
            steps = max(3, round(rate * args.seconds))
            row = alternate(zoo, keras, args.passes, "train", case=family, steps=steps)
            row.update(recipe=RECIPES[family], batch_size=z["batch_size"], parameters=z["parameters"], steps=steps,
                       zoo_jit_compile=z["jit_compile"], zoo_precision=z["precision"])
            result["train"][family] = row
            print(f"# {family}: {row['speedup']:.2f}x", file=sys.stderr)
            if z["family"] in DIFFUSION:
                flops = zoo.ask("train_flops", case=family)
                peaks = {"zoo": zoo.ask("matmul_peak")["gflops"], "keras": keras.ask("matmul_peak")["gflops"]}
                achieved = {name: flops["train_step_flops"] * row[name]["images_per_second"] / row["batch_size"] / 1e9
                            for name in ("zoo", "keras")}
                result["flops"][family] = {
                    **flops, "achieved_gflops": achieved, "matmul_peak_gflops": peaks,
                    "fraction_of_peak": {n: achieved[n] / max(peaks.values()) for n in achieved},
                    "note": "train step = 3 x forward FLOPs; peak = the faster worker's 1024^3 float32 matmul"}
        if "ddpm" in families and not args.skip_sampling:
            zoo = zoos["ddpm"]
            for sampler, steps in (("ddim", 50), ("ddpm", 1000)):
                for side in (zoo, keras):
                    side.ask("sample", sampler=sampler, steps=steps, batch=2)  # trace and compile
                result["sampling"][f"{sampler}_{steps}"] = alternate(zoo, keras, args.passes, "sample",
                                                                     sampler=sampler, steps=steps, batch=args.sample_batch)
        if not args.skip_onnx:
            zoo = zoos.setdefault("onnx", Side("zoo"))
            for name in ONNX_ARTIFACTS:
                metadata = json.loads((ROOT / "exported" / name / "metadata.json").read_text())
                for endpoint in [e for e in metadata["endpoints"] if e.get("onnx")]:
                    for batch in (1, 64):
                        times = {"onnxruntime": [], "keras": []}
                        for _ in range(args.passes):
                            for rt in times:
                                times[rt].append(zoo.ask("onnx", name=name, endpoint=endpoint["name"], batch=batch,
                                                         runtime=rt)["seconds"])
                        ms = {rt: 1000 * statistics.median(t) for rt, t in times.items()}
                        result["onnx"].append({"artifact": name, "file": endpoint["onnx"], "batch": batch,
                                               "onnxruntime_ms": ms["onnxruntime"], "keras_ms": ms["keras"],
                                               "keras_over_onnx": ms["keras"] / ms["onnxruntime"]})
    finally:
        for side in (*zoos.values(), keras):
            side.close()

    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print_tables(result)


def cpu_model() -> dict:
    """The CPU's name and the vector extensions that decide TensorFlow's defaults (Linux; else what is known)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": "unknown", "flags": []}
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
    return {"model": name, "flags": [f for f in wanted if f in flags]}


def print_tables(result: dict) -> None:
    cpu = result["cpu"]
    print(f"\nTraining, img/s (median of {result['passes']} alternating passes; {result['date']}, "
          f"{cpu['model']} ({', '.join(cpu['flags'])}), {result['machine']['cpu_count']} cores; oneDNN: "
          f"zoo {'on' if result['onednn']['zoo'] else 'off'}, keras {'on' if result['onednn']['keras'] else 'off'})")
    print("| family | recipe | batch | parameters | zoo precision | keras img/s | zoo img/s | zoo / keras |")
    print("|---|---|---|---|---|---|---|---|")
    for family, r in result["train"].items():
        print(f"| {family} | {r['recipe']} | {r['batch_size']} | {r['parameters']:,} | {r.get('zoo_precision', '')} | "
              f"{r['keras']['images_per_second']:,.0f} | {r['zoo']['images_per_second']:,.0f} | {r['speedup']:.2f}x |")
    for case, f in result["flops"].items():
        print(f"\n{case} train step: {f['train_step_flops'] / 1e9:.2f} GFLOP; achieved zoo "
              f"{f['achieved_gflops']['zoo']:.1f} GFLOP/s ({100 * f['fraction_of_peak']['zoo']:.0f}% of peak), keras "
              f"{f['achieved_gflops']['keras']:.1f} ({100 * f['fraction_of_peak']['keras']:.0f}%); float32 matmul peak "
              f"zoo worker {f['matmul_peak_gflops']['zoo']:.1f}, keras worker {f['matmul_peak_gflops']['keras']:.1f} GFLOP/s")
    if result["sampling"]:
        print("\nDDPM sampling, img/s: the zoo's compiled sampler against a Python loop of model.predict")
        print("| sampler | keras img/s | zoo img/s | zoo / keras |")
        print("|---|---|---|---|")
        for name, r in result["sampling"].items():
            print(f"| {name} | {r['keras']['images_per_second']:.2f} | {r['zoo']['images_per_second']:.2f} | {r['speedup']:.2f}x |")
    if result["onnx"]:
        print("\nExported ONNX files in onnxruntime against the zoo's Keras call, ms per call")
        print("| artifact | file | batch | onnxruntime ms | keras ms | keras / onnxruntime |")
        print("|---|---|---|---|---|---|")
        for r in result["onnx"]:
            print(f"| {r['artifact']} | {r['file']} | {r['batch']} | {r['onnxruntime_ms']:.2f} | {r['keras_ms']:.2f} | "
                  f"{r['keras_over_onnx']:.2f} |")


if __name__ == "__main__":
    main()
