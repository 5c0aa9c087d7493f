"""Process-wide settings a run depends on: seeds, determinism, precision policy, distribution strategy."""

from __future__ import annotations

import contextlib
import os
import platform

import keras
import onnx
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.errors import TrainingError
from zoo.version import __version__

_determinism = {"on": False}  # whether configure() turned TensorFlow op determinism on in this process


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision: str) -> str:
    """``auto`` is mixed_float16 on a GPU and float32 elsewhere (mixed precision does not pay on most CPUs)."""
    if precision == "auto":
        return "mixed_float16" if has_gpu() else "float32"
    return precision


def configure(train_cfg) -> str:
    """Seed every generator, switch on op determinism if asked, set the dtype policy; return the policy name."""
    keras.utils.set_random_seed(train_cfg.seed)
    if train_cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
        _determinism["on"] = True
    elif _determinism["on"]:
        # The switch is process-wide, and TensorFlow's public API can turn it on but not off again.
        raise TrainingError("this recipe trains with train.deterministic = false (e.g. for XLA), but a deterministic "
                            "run in this process already switched TensorFlow op determinism on, and it cannot be "
                            "switched off: run this recipe in a new process (each `zoo train` is one)")
    policy = resolve_precision(train_cfg.precision)
    keras.mixed_precision.set_global_policy(policy)
    return policy


@contextlib.contextmanager
def precision(policy: str):
    """Temporarily set the global dtype policy (e.g. to build a float32 copy for export)."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for ``[train] distribution``.

    ``default`` is the no-op strategy of one device; ``mirrored`` replicates the model on every
    local GPU (or the CPU). Losses are averaged over the global batch
    (``tf.nn.compute_average_loss``) in every ``train_step``, so the same code is correct under both.
    Multi-worker training is not offered: Keras 3 ``fit`` under MultiWorkerMirroredStrategy is
    broken (keras-team/keras#20585).
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def hardware() -> dict:
    """What the run ran on, for metadata and model cards."""
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": devices.count("GPU"),
        "system": platform.system(),
    }


def versions() -> dict:
    """The versions a run depends on (the families' densities come from TensorFlow Probability)."""
    return {"genzoo": __version__, "keras": keras.__version__, "tensorflow": tf.__version__,
            "tensorflow_probability": tfp.__version__, "onnx": onnx.__version__, "python": platform.python_version()}
