"""Process-wide settings a run depends on: seeds, determinism, precision policy, distribution strategy."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys

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


def set_threads(train_cfg) -> bool:
    """Size TensorFlow's thread pools as the recipe asks (``train.intra_op_threads``, ``train.inter_op_threads``).

    TensorFlow fixes them when it first runs an op, so ``zoo train`` calls this first. In a process where
    TensorFlow has already started with other sizes (a notebook, a test session) they are a speed setting
    only: this says so on stderr and returns False, and training goes on with the sizes in force.
    """
    threading = tf.config.threading
    wanted = {"intra_op_threads": (train_cfg.intra_op_threads, threading.get_intra_op_parallelism_threads,
                                   threading.set_intra_op_parallelism_threads),
              "inter_op_threads": (train_cfg.inter_op_threads, threading.get_inter_op_parallelism_threads,
                                   threading.set_inter_op_parallelism_threads)}
    applied = True
    for key, (size, current, apply) in wanted.items():
        if size and size != current():
            try:
                apply(size)
            except RuntimeError:
                print(f"zoo: train.{key} = {size} not applied: TensorFlow already started in this process with "
                      f"{current() or 'its default'}; it changes speed only (a new `zoo train` process applies it)",
                      file=sys.stderr)
                applied = False
    return applied


def configure(train_cfg) -> str:
    """Size the thread pools, seed every generator, switch on op determinism if asked, set the dtype policy;
    return the policy name."""
    set_threads(train_cfg)
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


STRATEGIES = ("default", "mirrored", "multi_worker")


def split_cpu(devices: int) -> None:
    """Make the CPU appear as ``devices`` logical devices, so that ``mirrored`` can replicate over them.

    On a machine without GPUs this is how data parallelism is tried (and tested) before a real run on
    several GPUs; it divides the same cores, so it shows correctness, not speed. TensorFlow fixes its
    devices when it first uses them: call this before anything runs on TensorFlow.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(int(devices))]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == len(wanted):
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        raise TrainingError(f"cannot split the CPU into {devices} devices: TensorFlow has already started in this "
                            "process; pass --cpu-devices to a new `zoo train` process") from None


def cluster() -> dict:
    """The parsed ``TF_CONFIG`` of a multi-worker run, checked: ``{"cluster": {...}, "task": {"type", "index"}}``."""
    raw = os.environ.get("TF_CONFIG", "")
    fix = ('set TF_CONFIG on every worker, e.g. \'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
           '"task": {"type": "worker", "index": 0}}\' (see the README, "Training on a cluster")')
    if not raw.strip():
        raise TrainingError(f"multi_worker training needs the TF_CONFIG environment variable: {fix}")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({exc.msg} at character {exc.pos}): {fix}") from None
    workers = (config.get("cluster") or {}).get("worker") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(workers, list) or not workers or not all(isinstance(w, str) and ":" in w for w in workers):
        raise TrainingError(f"TF_CONFIG has no cluster.worker list of host:port addresses: {fix}")
    kinds = set(config["cluster"]) - {"worker", "chief"}
    if kinds:
        raise TrainingError(f"TF_CONFIG names {sorted(kinds)} in its cluster; multi_worker training knows only "
                            f"chief and worker tasks: {fix}")
    known = isinstance(task, dict) and task.get("type") in config["cluster"] and isinstance(task.get("index"), int)
    if not known or not 0 <= task["index"] < len(config["cluster"][task["type"]]):
        raise TrainingError(f"TF_CONFIG's task {task!r} is not one of its cluster's tasks: give each worker its own "
                            f"type and index; {fix}")
    return config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for ``[train] distribution`` (or ``zoo train --strategy``).

    ``default`` is the no-op strategy of one device. ``mirrored`` replicates the model on every local GPU, or
    on every logical CPU device when there is no GPU (:func:`split_cpu`). ``multi_worker`` is
    MultiWorkerMirroredStrategy over the processes (on one machine or many) that ``TF_CONFIG`` lists. Every
    ``train_step`` averages its losses over the global batch (``tf.nn.compute_average_loss``) and draws its
    noise for the global batch (:func:`zoo.models.base.replica_rows`), so a run trains the same under all three.
    """
    if name not in STRATEGIES:
        raise TrainingError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name not in _strategies:  # one per process: a second instance's collectives collide with the first's
        _strategies[name] = _new_strategy(name)
    return _strategies[name]


_strategies: dict[str, tf.distribute.Strategy] = {}


def _new_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        cluster()
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as exc:
            raise TrainingError(f"cannot start multi_worker training: {str(exc).splitlines()[0]}; each worker must "
                                "be a new `zoo train` process with its own TF_CONFIG") from None
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes what a run leaves (checkpoints, logs, export): the chief, or worker 0 of a
    cluster without one, or the only process of a single-machine run."""
    resolver = strategy.cluster_resolver  # only multi-worker strategies have one
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


def xla_allowed(strategy: tf.distribute.Strategy) -> bool:
    """XLA fails in ``fit`` under MirroredStrategy over CPU devices (keras-team/keras#19005)."""
    return strategy.num_replicas_in_sync == 1 or has_gpu()


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
