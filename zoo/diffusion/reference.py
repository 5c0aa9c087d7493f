"""DDIM, DDPM and DPM-Solver++(2M) samplers written with numpy and onnxruntime only: the specification other
runtimes can follow.

It reads an exported DDPM artifact's ``schedule.json`` (T, schedule, prediction type, betas,
cumulative alphas) and runs its ``denoiser.onnx`` (inputs ``x_t`` float32 ``(N, H, W, C)`` and
``t`` int32 ``(N,)``; output ``prediction``). From the same initial noise it reproduces, within
1e-3, what the TensorFlow sampler of :mod:`zoo.diffusion.samplers` and the SavedModel ``generate``
signature return.

A class-conditional artifact (family ``guided_ddpm``) has a third denoiser input, ``label`` int32 ``(N,)``: class
ids in ``[0, num_classes)``, and ``num_classes`` itself, the null label, for the unconditional model. Its
``schedule.json`` says so under ``guidance`` (``num_classes``, ``null_label``, the default ``scale``). Classifier-free
guidance (Ho & Salimans 2022) replaces the prediction at every step with ``uncond + scale * (cond - uncond)``, ``cond``
given the labels and ``uncond`` the null label, both from one network call on the batch stacked twice; scale 0 is
the unconditional model and 1 the conditional one, each one plain call, as in the TensorFlow sampler.

This file imports neither TensorFlow nor the rest of genzoo, so it can be copied out and run
on its own::

    python reference.py exported/ddpm-fashion-mnist --steps 50 -n 16 -o samples.npy

(``python -m zoo.diffusion.reference`` works too, but importing the ``zoo`` package loads TensorFlow.)
:mod:`zoo.diffusion.samplers` builds its own per-step tables with the functions here, so both samplers do
the same float64 arithmetic; they differ only in what runs the network and the loop.

DDIM (Song et al. 2021) with ``eta`` and its update written on the predicted ``x0``: with
``ab`` the cumulative alphas, a step from ``t`` to ``s`` is
``x_s = sqrt(ab_s) x0 + sqrt(1 - ab_s - sigma^2) eps + sigma z`` where
``sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s)`` and ``eps`` is recomputed
from ``x_t`` and the (possibly clipped) ``x0``, as in Dhariwal & Nichol's code; that keeps
``eta = 1`` over all T steps exactly the DDPM posterior step, clipping included. After the
last step ``ab_s = 1``: the output is the predicted ``x0``.

DPM-Solver++(2M), the multistep second-order solver of the diffusion ODE in data-prediction form (Lu et al. 2022,
"DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models", Algorithm 2), visits the DDIM
timesteps ``t_0 > ... > t_{M-1}`` and then the clean image. With ``alpha = sqrt(ab)``, ``sigma = sqrt(1 - ab)``,
``lambda = log(alpha / sigma)``, ``x0_i`` the (possibly clipped) predicted ``x0`` at ``t_i`` and a step from
``t = t_i`` to ``s = t_{i+1}`` of ``h_i = lambda_s - lambda_t``:

* first order (step 0, with no earlier prediction): ``x_s = (sigma_s / sigma_t) x_t + alpha_s (1 - e^{-h_i}) x0_i``,
  which is DDIM with ``eta = 0`` term for term;
* second order (the steps after): the same with ``D_i = (1 + 1 / (2 r_i)) x0_i - (1 / (2 r_i)) x0_{i-1}``
  in place of ``x0_i``, where ``r_i = h_{i-1} / h_i``;
* the final steps are first order by default, as in the reference implementations' ``lower_order_final``: the last
  step, to ``ab = 1`` (``sigma = 0``, ``h`` infinite), returns ``x0_{M-1}`` like DDIM's last step, and a step into
  ``t = 0`` (``linspace`` spacing, or all T steps) is first order too. ``t = 0`` is the paper's nearly clean end of
  the grid; with ``linspace`` at 10 to 50 steps the ``h`` into it is 3.3-4.9 times the step before, and the
  extrapolation ``1 / (2 r)`` there overshoots: with the exact denoiser of Gaussian data, second order into
  ``t = 0`` widened the samples' spread by up to 36% (linear and cosine schedules, 10 to 50 steps).
  ``lower_order_final = False`` keeps the second order into ``t = 0``: whether that overshoot helps is a property
  of the trained model, so a recipe chooses it by measurement (the guided ddpm-cfg-fashion-mnist: FID 0.47 against
  0.72 with it first order, at 15 ``linspace`` steps; the unconditional ddpm-fashion-mnist: 1.37 against 1.08).

So a step is ``x_s = c_x0 x0_i + c_xt x_t + c_prev x0_{i-1}``, three per-step float64 tables. The samplers only
see one prediction per step: the guided one plugs in unchanged, and the data-prediction form is the one the paper
recommends for guided sampling.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPACINGS = ("linspace", "trailing")
PREDICTION_TYPES = ("epsilon", "v")
VARIANCES = ("fixed_small", "fixed_large")
SAMPLERS = ("ddim", "ddpm", "dpmpp_2m")
SOLVER_ORDERS = (1, 2)


def ddim_timesteps(num_timesteps: int, steps: int, spacing: str = "trailing") -> np.ndarray:
    """The ``steps`` timesteps a sampler visits, descending, in ``[0, num_timesteps)``.

    ``linspace`` spreads them evenly from T-1 down to 0; ``trailing`` ends them at T-1 and
    spaces them by T/steps below it (Lin et al. 2024), so few-step samplers start from pure noise
    and skip the nearly-clean end. With ``steps = T`` both visit every timestep.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"timestep spacing must be one of {', '.join(SPACINGS)}, got {spacing!r}")
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be in [1, {num_timesteps}] (the schedule's T), got {steps}")
    if spacing == "linspace":
        found = np.round(np.linspace(num_timesteps - 1, 0, steps))
    else:
        found = np.round(num_timesteps - np.arange(steps) * (num_timesteps / steps)) - 1
    found = found.astype(np.int64)
    if len(np.unique(found)) != steps:  # cannot happen for steps <= T, but the loop relies on it
        raise ValueError(f"{steps} {spacing} steps over T = {num_timesteps} repeat a timestep")
    return found


def ddim_coefficients(alphas_cumprod, timesteps, eta: float = 0.0) -> dict[str, np.ndarray]:
    """Per-step float64 tables for ``x_prev = c_x0 * x0 + c_xt * x_t + sigma * z``.

    Also ``sqrt_ab`` and ``sqrt_one_minus_ab`` at each step's ``t``, which turn the network's
    prediction into ``x0``. ``timesteps`` come from :func:`ddim_timesteps`.
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0 (0 is deterministic DDIM, 1 the DDPM posterior), got {eta}")
    ab = np.asarray(alphas_cumprod, np.float64)
    t = np.asarray(timesteps, np.int64)
    ab_t = ab[t]
    ab_prev = np.append(ab[t[1:]], 1.0)  # the step after the last is the clean image
    sigma = eta * np.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * np.sqrt(1.0 - ab_t / ab_prev)
    direction = np.sqrt(np.maximum(1.0 - ab_prev - sigma**2, 0.0))  # the coefficient of eps
    sqrt_one_minus_ab = np.sqrt(1.0 - ab_t)
    # eps = (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t), folded into the x0 and x_t coefficients
    return {"timesteps": t, "sqrt_ab": np.sqrt(ab_t), "sqrt_one_minus_ab": sqrt_one_minus_ab,
            "c_x0": np.sqrt(ab_prev) - direction * np.sqrt(ab_t) / sqrt_one_minus_ab,
            "c_xt": direction / sqrt_one_minus_ab, "sigma": sigma}


def dpmpp_2m_coefficients(alphas_cumprod, timesteps, order: int = 2, lower_order_final: bool = True) -> dict[str, np.ndarray]:
    """Per-step float64 tables of DPM-Solver++(2M) for ``x_next = c_x0 * x0 + c_xt * x_t + c_prev * x0_prev``.

    ``x0_prev`` is the predicted ``x0`` of the step before (unused at step 0, whose ``c_prev`` is 0); ``sigma`` is
    all zeros (the solver is deterministic), ``sqrt_ab`` and ``sqrt_one_minus_ab`` are as in
    :func:`ddim_coefficients`. ``order = 1`` drops the second-order correction everywhere: DPM-Solver++(1), which
    is DDIM with ``eta = 0``; ``lower_order_final = False`` takes the step into ``t = 0`` at second order too.
    ``timesteps`` come from :func:`ddim_timesteps`; see the module's docstring.
    """
    if order not in SOLVER_ORDERS:
        raise ValueError(f"the DPM-Solver++ order must be one of {', '.join(map(str, SOLVER_ORDERS))}, got {order!r}")
    ab = np.asarray(alphas_cumprod, np.float64)
    t = np.asarray(timesteps, np.int64)
    ab_t = ab[t]
    alpha, sigma = np.sqrt(ab_t), np.sqrt(1.0 - ab_t)
    lam = np.log(alpha) - np.log(sigma)
    n = len(t)
    c_x0, c_xt, c_prev = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n - 1):  # from t_i to t_{i+1}
        h = lam[i + 1] - lam[i]
        first = alpha[i + 1] * -np.expm1(-h)  # alpha_s (1 - e^{-h})
        c_xt[i] = sigma[i + 1] / sigma[i]
        if order == 2 and i > 0 and (t[i + 1] != 0 or not lower_order_final):  # first order at step 0 (and into t = 0)
            half_over_r = 0.5 * h / (lam[i] - lam[i - 1])  # 1 / (2 r_i), r_i = h_{i-1} / h_i
            c_x0[i], c_prev[i] = first * (1.0 + half_over_r), -first * half_over_r
        else:
            c_x0[i] = first
    c_x0[n - 1] = 1.0  # to the clean image (sigma = 0): x0 itself
    return {"timesteps": t, "sqrt_ab": alpha, "sqrt_one_minus_ab": sigma, "c_x0": c_x0, "c_xt": c_xt,
            "c_prev": c_prev, "sigma": np.zeros(n)}


def ddpm_coefficients(betas, alphas_cumprod, variance: str = "fixed_small") -> dict[str, np.ndarray]:
    """Per-step float64 tables of DDPM ancestral sampling (Ho et al. 2020) over every t, T-1 down to 0.

    The posterior ``q(x_{t-1} | x_t, x_0)`` has mean ``c_x0 x0 + c_xt x_t`` (their eqs. 6-7); its noise is the
    posterior variance (``fixed_small``) or beta_t (``fixed_large``), and none at t = 0, so the last step returns
    the posterior mean, which is the predicted x0 there.
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {', '.join(VARIANCES)}, got {variance!r}")
    betas = np.asarray(betas, np.float64)
    ab = np.asarray(alphas_cumprod, np.float64)
    ab_prev = np.append(1.0, ab[:-1])
    t = np.arange(len(betas) - 1, -1, -1)
    var = (betas * (1.0 - ab_prev) / (1.0 - ab)) if variance == "fixed_small" else betas
    sigma = np.sqrt(var[t])
    sigma[t == 0] = 0.0
    return {"timesteps": t, "sqrt_ab": np.sqrt(ab[t]), "sqrt_one_minus_ab": np.sqrt(1.0 - ab[t]),
            "c_x0": (betas * np.sqrt(ab_prev) / (1.0 - ab))[t],
            "c_xt": ((1.0 - ab_prev) * np.sqrt(1.0 - betas) / (1.0 - ab))[t], "sigma": sigma}


def predicted_x0(prediction, x_t, sqrt_ab, sqrt_one_minus_ab, prediction_type: str):
    """``x0`` from the network's prediction of ``eps`` (Ho et al. 2020) or ``v`` (Salimans & Ho 2022).

    Written with arithmetic operators only, so it serves numpy arrays and TensorFlow tensors alike.
    """
    if prediction_type == "epsilon":  # x_t = sqrt(ab) x0 + sqrt(1 - ab) eps
        return (x_t - sqrt_one_minus_ab * prediction) / sqrt_ab
    if prediction_type == "v":  # v = sqrt(ab) eps - sqrt(1 - ab) x0
        return sqrt_ab * x_t - sqrt_one_minus_ab * prediction
    raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")


def load_schedule(folder) -> dict:
    """``schedule.json`` of an artifact folder, with ``betas`` and ``alphas_cumprod`` as float64 arrays."""
    path = Path(folder) / "schedule.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass the folder of an exported ddpm artifact")
    schedule = json.loads(path.read_text())
    for key in ("betas", "alphas_cumprod"):
        schedule[key] = np.asarray(schedule[key], np.float64)
    return schedule


class ReferenceSampler:
    """DDIM, DPM-Solver++(2M) and DDPM over an artifact's ``denoiser.onnx`` (or another file with its inputs and
    outputs, such as its ``denoiser.fp16.onnx`` variant: ``denoiser``, a path or a name in the folder), driven by its
    ``schedule.json``; with classifier-free guidance when the denoiser takes labels."""

    def __init__(self, folder, providers=("CPUExecutionProvider",), denoiser="denoiser.onnx"):
        import onnxruntime

        self.folder = Path(folder)
        self.schedule = load_schedule(self.folder)
        self.session = onnxruntime.InferenceSession(str(self.folder / denoiser), providers=list(providers))
        self.output = self.session.get_outputs()[0].name
        inputs = [i.name for i in self.session.get_inputs()]
        self.image_shape = tuple(self.session.get_inputs()[inputs.index("x_t")].shape[1:])
        #: ``schedule.json``'s ``guidance`` section (num_classes, null_label, scale), or None: unconditional
        self.guidance = self.schedule.get("guidance")
        if ("label" in inputs) != (self.guidance is not None):
            has = "takes" if "label" in inputs else "takes no"
            says = "has" if self.guidance is not None else "has no"
            raise ValueError(f"{self.folder}: {denoiser} {has} label input but schedule.json {says} guidance section; "
                             "the two belong to different exports: export the artifact again")

    @property
    def conditional(self) -> bool:
        """Whether the denoiser takes class labels (a guided artifact)."""
        return self.guidance is not None

    @property
    def num_classes(self) -> int:
        """Classes of a guided artifact (0 if unconditional); label ``num_classes`` is the null label."""
        return int(self.guidance["num_classes"]) if self.conditional else 0

    @property
    def null_label(self) -> int | None:
        """The label of the unconditional model, or None for an unconditional artifact."""
        return int(self.guidance["null_label"]) if self.conditional else None

    def check_labels(self, labels, n: int) -> np.ndarray | None:
        """``labels`` (one id or ``n``, the null label allowed) as int32 ``(n,)``; ``None`` for an unconditional
        artifact, which takes none."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{self.folder} is an unconditional diffusion model: it takes no labels")
            return None
        k = self.num_classes
        allowed = f"class ids in [0, {k}), or {self.null_label}, the null label (unconditional)"
        values = np.asarray(labels)
        if values.dtype.kind not in "iu" and not (values.dtype.kind == "f" and np.all(np.isfinite(values))
                                                   and np.all(values == np.round(values))):
            raise ValueError(f"labels must be {allowed}; got {values.dtype} values {values.ravel()[:4].tolist()}")
        if values.ndim > 1 or values.size not in (1, n):
            raise ValueError(f"labels must be one id or {n} ids (one per image), got shape {values.shape}")
        values = np.broadcast_to(values.astype(np.int64).ravel(), (n,))
        bad = values[(values < 0) | ((values >= k) & (values != self.null_label))]
        if len(bad):
            raise ValueError(f"labels must be {allowed}; got {bad[0]}")
        return values.astype(np.int32)

    def check_guidance(self, guidance) -> float:
        """The guidance scale to sample at: ``guidance``, else ``schedule.json``'s default."""
        if not self.conditional:
            if guidance is not None:
                raise ValueError(f"{self.folder} is an unconditional diffusion model: guidance needs a class-conditional "
                                 "(guided_ddpm) artifact")
            return 0.0
        try:
            scale = float(self.guidance["scale"] if guidance is None else guidance)
        except (TypeError, ValueError):
            scale = float("nan")
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"guidance must be a scale >= 0 (0 unconditional, 1 conditional, > 1 guided), got {guidance}")
        return scale

    def denoise(self, x_t: np.ndarray, t: int, labels=None) -> np.ndarray:
        """The network's prediction for a batch at one timestep; for a guided artifact given ``labels`` (one id or one
        per image; ``None`` is the null label, the unconditional model)."""
        n = len(x_t)
        feeds = {"x_t": np.asarray(x_t, np.float32), "t": np.full((n,), t, np.int32)}
        if self.conditional:
            feeds["label"] = np.full((n,), self.null_label, np.int32) if labels is None else self.check_labels(labels, n)
        elif labels is not None:
            self.check_labels(labels, n)  # raises: an unconditional artifact takes no labels
        return self.session.run([self.output], feeds)[0]

    def guided_denoise(self, x_t: np.ndarray, t: int, labels, guidance: float) -> np.ndarray:
        """``uncond + guidance * (cond - uncond)`` in float32, both predictions from one call on the batch stacked
        twice; at guidance 0 and 1 the one prediction needed. ``labels`` are int32 ``(N,)`` (see :meth:`check_labels`)."""
        if guidance == 0.0:
            return self.denoise(x_t, t, None)
        if guidance == 1.0:
            return self.denoise(x_t, t, labels)
        n = len(x_t)
        both = self.denoise(np.concatenate([x_t, x_t]), t,
                            np.concatenate([labels, np.full((n,), self.null_label, np.int32)]))
        conditional, unconditional = both[:n], both[n:]
        return unconditional + np.float32(guidance) * (conditional - unconditional)

    def sample(self, noise, steps: int = 50, eta: float = 0.0, spacing: str = "trailing", clip_x0: bool = True,
               rng: np.random.Generator | None = None, sampler: str = "ddim", variance: str = "fixed_small",
               step_noise=None, labels=None, guidance: float | None = None,
               lower_order_final: bool = True) -> np.ndarray:
        """Images in [-1, 1] from initial ``noise`` ``(N, H, W, C)``: DDIM over ``steps`` (with ``eta``),
        DPM-Solver++(2M) over ``steps`` (``sampler="dpmpp_2m"``; deterministic, ``eta`` must be 0), or DDPM
        ancestral sampling over all T steps (``steps``, ``eta`` and ``spacing`` unused). ``lower_order_final`` is
        DPM-Solver++'s: whether its step into ``t = 0`` is first order.

        A stochastic step's noise is ``step_noise(i, shape)`` if given, else drawn from ``rng`` (numpy): only
        ``eta = 0`` reproduces the TensorFlow sampler exactly; stochastic runs agree in distribution, and feeding
        the same ``step_noise`` to another implementation (the JavaScript package) reproduces its images.

        A guided artifact draws the classes ``labels`` (one id or one per image, the null label allowed; ``None``
        cycles through the classes, as the TensorFlow ``generate`` does) at guidance scale ``guidance`` (default
        ``schedule.json``'s); an unconditional artifact takes neither.
        """
        x = np.asarray(noise, np.float32)
        n = len(x)
        if self.conditional and labels is None:
            labels = np.arange(n) % self.num_classes
        labels, scale = self.check_labels(labels, n), self.check_guidance(guidance)
        table = self.table(sampler, steps, eta, spacing, variance, lower_order_final)
        rng = rng or np.random.default_rng(0)
        step_noise = step_noise or (lambda i, shape: rng.standard_normal(shape))
        x0_prev = np.zeros_like(x)
        for i, t in enumerate(table["timesteps"]):
            prediction = self.guided_denoise(x, int(t), labels, scale) if self.conditional else self.denoise(x, int(t))
            x0 = predicted_x0(prediction, x, np.float32(table["sqrt_ab"][i]),
                              np.float32(table["sqrt_one_minus_ab"][i]), self.schedule["prediction_type"])
            if clip_x0:
                x0 = np.clip(x0, -1.0, 1.0)
            x_next = np.float32(table["c_x0"][i]) * x0 + np.float32(table["c_xt"][i]) * x
            if "c_prev" in table:  # a multistep solver: the previous step's x0 too
                x_next = x_next + np.float32(table["c_prev"][i]) * x0_prev
            if table["sigma"][i] > 0:
                x_next = x_next + np.float32(table["sigma"][i]) * np.asarray(step_noise(i, x.shape), np.float32)
            x, x0_prev = x_next, x0
        return x

    def defaults(self, sampler: str = "ddim") -> tuple[str, bool]:
        """The artifact's timestep spacing for ``sampler`` and DPM-Solver++'s ``lower_order_final`` (schedule.json's
        ``sampler_defaults``; artifacts written before a key existed get the value they were sampled with)."""
        found = self.schedule.get("sampler_defaults", {})
        spacing = found.get("timestep_spacing", "trailing")
        if sampler == "dpmpp_2m":
            spacing = found.get("solver_spacing", spacing)
        return spacing, bool(found.get("lower_order_final", True))

    def table(self, sampler: str = "ddim", steps: int = 50, eta: float = 0.0, spacing: str = "trailing",
              variance: str = "fixed_small", lower_order_final: bool = True) -> dict[str, np.ndarray]:
        """The per-step tables :meth:`sample` runs (see the ``*_coefficients`` functions)."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        if sampler == "ddpm":
            return ddpm_coefficients(self.schedule["betas"], self.schedule["alphas_cumprod"], variance)
        timesteps = ddim_timesteps(self.schedule["num_timesteps"], steps, spacing)
        if sampler == "dpmpp_2m":
            if eta != 0:
                raise ValueError(f"eta = {eta} means nothing to dpmpp_2m, a deterministic ODE solver: leave it at 0 "
                                 "(or use ddim for a stochastic sampler)")
            return dpmpp_2m_coefficients(self.schedule["alphas_cumprod"], timesteps, lower_order_final=lower_order_final)
        return ddim_coefficients(self.schedule["alphas_cumprod"], timesteps, eta)


def parse_labels(text: str) -> list[int]:
    """``--label``: one class id, or ids separated by commas (one per image, or repeated over them)."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--label takes class ids such as 3 or 0,1,2, got {text!r}") from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="DDIM, DPM-Solver++(2M) or DDPM samples from an exported ddpm or "
                                                 "guided_ddpm artifact (numpy + onnxruntime)")
    parser.add_argument("artifact", help="the artifact folder (holding schedule.json and denoiser.onnx)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="ddim", help="ddpm runs all T steps")
    parser.add_argument("--steps", type=int, default=50, help="ddim and dpmpp_2m steps")
    parser.add_argument("--eta", type=float, default=0.0)
    parser.add_argument("--spacing", choices=SPACINGS, default=None,
                        help="which timesteps ddim and dpmpp_2m visit (default: the artifact's, from schedule.json)")
    parser.add_argument("--lower-order-final", choices=("true", "false"), default=None,
                        help="dpmpp_2m: whether its step into t = 0 is first order (default: the artifact's, else true)")
    parser.add_argument("-n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=parse_labels, default=None,
                        help="guided_ddpm: the class id (or ids, comma-separated, repeated over the images) to draw; "
                             "num_classes is the null label; default: each class in turn")
    parser.add_argument("--guidance", type=float, default=None,
                        help="guided_ddpm: the guidance scale, 0 unconditional, 1 conditional, > 1 guided "
                             "(default: schedule.json's)")
    parser.add_argument("-o", "--output", default="samples.npy", help=".npy of images in [-1, 1], (N, H, W, C)")
    args = parser.parse_args(argv)
    sampler = ReferenceSampler(args.artifact)
    labels = None
    if args.label is not None:
        labels = np.resize(args.label, args.n) if len(args.label) > 1 else args.label[0]
    try:
        rng = np.random.default_rng(args.seed)
        noise = rng.standard_normal((args.n, *sampler.image_shape)).astype(np.float32)
        spacing, lower_order_final = sampler.defaults(args.sampler)
        images = sampler.sample(noise, args.steps, args.eta, args.spacing or spacing, rng=rng, sampler=args.sampler,
                                labels=labels, guidance=args.guidance,
                                lower_order_final=lower_order_final if args.lower_order_final is None
                                else args.lower_order_final == "true")
    except ValueError as exc:
        parser.error(str(exc))
    np.save(args.output, images)
    steps = sampler.schedule["num_timesteps"] if args.sampler == "ddpm" else args.steps
    guided = f", guidance {sampler.check_guidance(args.guidance):g}" if sampler.conditional else ""
    print(f"wrote {args.output}: {args.n} samples, {steps} {args.sampler} steps{guided}")


if __name__ == "__main__":
    main()
