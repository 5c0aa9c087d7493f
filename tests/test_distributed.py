"""tf.distribute: every family trains the same on one device, on two mirrored (logical CPU) devices and on two
worker processes; a lost worker stops the job with a clear message, and ``--resume`` finishes it exactly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pytest

from conftest import ROOT, read_h5
from zoo import runtime
from zoo.config import load_recipe
from zoo.train import latest_checkpoint, train

RECIPES = ROOT / "recipes"
TINY_TRAIN = ["train.epochs=1", "train.steps_per_epoch=3", "train.validation_steps=1", "train.batch_size=16",
              "train.jit_compile=false", "train.deterministic=true", "data.max_examples=256", "export.num_examples=4"]
GAN = ["model.latent_dim=8", "model.generator_filters=[16, 8]", "model.discriminator_filters=[8, 16]"]
# family: (shipped recipe, what makes it tiny). Each case keeps what is hard to distribute: BatchNorm (the GANs,
# the classifier), two optimizers, n_critic slices and the gradient penalty, the image pool, weight averages.
CASES = {
    "autoencoder": ("ae_fashion_mnist.toml", ["model.latent_dim=8", "model.filters=[8, 16]"]),
    "vae": ("vae_fashion_mnist.toml", ["model.latent_dim=4", "model.filters=[8, 16]"]),
    "cvae": ("cvae_mnist.toml", ["model.latent_dim=4", "model.filters=[8, 16]"]),
    "dcgan": ("dcgan_fashion_mnist.toml", [*GAN, "model.ema_decay=0.9"]),
    "cgan": ("cgan_mnist.toml", GAN),
    "wgan_gp": ("wgan_gp_fashion_mnist.toml", [*GAN, "model.n_critic=2", "model.ema_decay=0.9"]),
    "cyclegan": ("cyclegan_sneaker2boot.toml", ["model.filters=4", "model.n_res_blocks=1", "model.disc_filters=4",
                                                "model.pool_size=4", "model.decay_epochs=0"]),
    "ddpm": ("ddpm_fashion_mnist.toml", ["model.widths=[8, 16]", "model.attention_resolutions=[14]",
                                         "model.norm_groups=4", "model.timesteps=100", "model.sample_steps=4",
                                         "model.generate_steps=4"]),
    "classifier": ("classifier_mnist.toml", ["model.filters=[8, 16]", "model.feature_dim=16"]),
}


# CycleGAN's generator gradients pass through instance norm of tiny activations (N(0, 0.02) weights), which
# amplifies float round-off. With oneDNN off, its 1- and 2-replica weights agree within 1.8e-6 and its Adam moments
# within 1.3e-5 of their size (test_cyclegan_mirrored_is_exact_without_onednn). With oneDNN on (TensorFlow's default
# on CPUs with AVX-512, and the zoo's everywhere), whose convolutions sum in another order for 8 images than for 16,
# the weights differ by up to 5.9e-4 and the generator's Adam moments by up to 5.1e-2 (2-core AMD EPYC, 2026-12-04):
# Adam's first steps move a weight by about lr = 2e-4 whatever the gradient's size, so round-off that flips a
# near-zero gradient's sign moves it by up to 2 lr. The other families agree within 1e-5 either way.
SLOT_RTOL = {"cyclegan": 1e-1}
WEIGHT_ATOL = {"cyclegan": 1e-3}


def tiny(family, *more):
    recipe, overrides = CASES[family]
    return load_recipe(RECIPES / recipe, overrides=[*TINY_TRAIN, *overrides, *more])


def final_weights(run_dir) -> dict:
    return read_h5(latest_checkpoint(run_dir) / "model.weights.h5")


def assert_same_weights(a: dict, b: dict, atol=1e-5, rtol=1e-5):
    """Weights (and statistics, averages, pools, counters) within ``atol``; optimizer slots, whose second moments
    of large gradients reach 1e3, within ``rtol`` of their size."""
    assert a.keys() == b.keys() and len(a) > 4
    worst, relative = {}, {}
    for key in a:
        x, y = a[key].astype("float64"), b[key].astype("float64")
        if x.size == 0:
            continue
        if key.startswith("optimizer") or "_optimizer/" in key:
            relative[key] = float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1.0)))
        else:
            worst[key] = float(np.max(np.abs(x - y)))
    assert worst and max(worst.values()) <= atol, sorted(worst.items(), key=lambda kv: -kv[1])[:3]
    assert not relative or max(relative.values()) <= rtol, sorted(relative.items(), key=lambda kv: -kv[1])[:3]


@pytest.mark.isolated
@pytest.mark.parametrize("family", sorted(CASES))
def test_mirrored_over_two_devices_trains_as_one_device(family, tmp_path, data_dir):
    """Equal global batch, 3 steps: the weights (and optimizer state, BatchNorm statistics, weight averages,
    image pools, step counters) of a 2-replica MirroredStrategy run agree with a 1-device run within 1e-5."""
    runtime.split_cpu(2)
    assert runtime.make_strategy("mirrored").num_replicas_in_sync == 2
    for strategy in ("default", "mirrored"):
        train(tiny(family, f"train.distribution={json.dumps(strategy)}"), tmp_path / strategy, data_dir=data_dir,
              export=False, verbose=0)
    one, two = final_weights(tmp_path / "default"), final_weights(tmp_path / "mirrored")
    assert_same_weights(one, two, atol=WEIGHT_ATOL.get(family, 1e-5), rtol=SLOT_RTOL.get(family, 1e-5))


@pytest.mark.isolated(env={"TF_ENABLE_ONEDNN_OPTS": "0"})
def test_cyclegan_mirrored_is_exact_without_onednn(tmp_path, data_dir):
    """The looser CycleGAN tolerance above is oneDNN's summation order, not the distribution: without oneDNN, 2
    replicas train as 1 device within 1e-5 (Adam moments within 1e-4 of their size, instance norm's round-off)."""
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    runtime.split_cpu(2)
    for strategy in ("default", "mirrored"):
        train(tiny("cyclegan", f"train.distribution={json.dumps(strategy)}"), tmp_path / strategy, data_dir=data_dir,
              export=False, verbose=0)
    assert_same_weights(final_weights(tmp_path / "default"), final_weights(tmp_path / "mirrored"), atol=1e-5, rtol=1e-4)


@pytest.mark.isolated
def test_a_loss_scale_overflow_on_one_replica_skips_the_step_on_all():
    """Keras's LossScaleOptimizer checks only the first replica's gradients before they are summed; an overflow on
    the second must still skip the step (weights kept, scale halved) on both, and finite steps must apply."""
    import keras
    import tensorflow as tf

    from zoo.models.base import apply_gradients

    runtime.split_cpu(2)
    strategy = runtime.make_strategy("mirrored")
    with strategy.scope():
        weight = keras.Variable(np.ones(3, "float32"), name="w")
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5), initial_scale=4.0)
        optimizer.build([weight])

    @tf.function
    def step(overflow_on_second):
        def replica_fn():
            second = tf.distribute.get_replica_context().replica_id_in_sync_group == 1
            bad = tf.logical_and(second, overflow_on_second)
            gradient = tf.where(bad, tf.fill([3], float("inf")), tf.ones([3])) * optimizer.scale_loss(1.0)
            apply_gradients(optimizer, [gradient], [weight])
        strategy.run(replica_fn)

    step(tf.constant(True))
    np.testing.assert_array_equal(weight.numpy(), np.ones(3))  # skipped, not inf
    assert float(optimizer.dynamic_scale.numpy()) == 2.0
    step(tf.constant(False))  # each replica's gradient is 1 (unscaled), summed over the two: 2
    np.testing.assert_allclose(weight.numpy(), np.ones(3) - 0.5 * 2.0)


# ---------------------------------------------------------------- two worker processes (MultiWorkerMirroredStrategy)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(family, run_dirs, data_dir, *more, workers: int = 2, flags=()) -> list[subprocess.Popen]:
    """``workers`` local `zoo train --strategy multi_worker` processes on 127.0.0.1, each with its TF_CONFIG
    and its ``--out`` (one folder for all, or one each)."""
    run_dirs = run_dirs if isinstance(run_dirs, list) else [run_dirs] * workers
    recipe, overrides = CASES[family]
    addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    sets = [f"--set={value}" for value in (*TINY_TRAIN, *overrides, *more)]
    procs = []
    for index in range(workers):
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "ZOO_DATA_DIR": str(data_dir),
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "zoo", "train", str(RECIPES / recipe), "--out", str(run_dirs[index]),
                   "--strategy", "multi_worker", "--no-export", *flags, *sets]
        procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def finish(procs, timeout=300) -> list[tuple[int, str]]:
    """Each process's exit code and what it printed to stderr, once all have ended."""
    errors = [p.communicate(timeout=timeout)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errors)]


@pytest.mark.parametrize("family", ["dcgan", "wgan_gp"])
def test_two_worker_processes_train_as_one_process(family, tmp_path, data_dir):
    """Two workers on 127.0.0.1 (MultiWorkerMirroredStrategy, zoo's own loop) end with the weights of one process
    (Keras fit on one device) at equal global batch; only the chief (worker 0) writes to the run folder."""
    train(tiny(family, "train.epochs=2"), tmp_path / "one", data_dir=data_dir, export=False, verbose=0)
    results = finish(start_workers(family, [tmp_path / "two", tmp_path / "worker1"], data_dir, "train.epochs=2"))
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    assert all("training on 2 replicas (multi_worker" in err for _, err in results)
    assert not (tmp_path / "worker1").exists()  # the other worker writes nowhere
    assert sorted(c.name for c in (tmp_path / "two" / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
    assert_same_weights(final_weights(tmp_path / "one"), final_weights(tmp_path / "two"))


def test_a_killed_worker_stops_the_job_and_resume_finishes_it_exactly(tmp_path, data_dir):
    """kill -9 one of two workers mid-run: the chief stops with one clear line (no traceback) and keeps its whole
    checkpoints; both restarted with --resume end with the weights of an uninterrupted two-worker run. (Against
    one device, 24 GAN steps let float round-off grow to 1e-4; the 6 steps above stay within 1e-5.)"""
    longer = ("train.epochs=4", "train.steps_per_epoch=6")
    workers = start_workers("dcgan", tmp_path / "run", data_dir, *longer)
    deadline = time.time() + 240
    while not (tmp_path / "run" / "checkpoints" / "epoch-0001").exists():
        assert time.time() < deadline and workers[0].poll() is None, finish(workers)
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)
    (chief_code, chief_err), _ = finish(workers, timeout=120)
    assert chief_code == 1 and "Traceback" not in chief_err
    assert "zoo: error: a worker of the cluster was lost at epoch" in chief_err and "--resume" in chief_err
    left = latest_checkpoint(tmp_path / "run")
    assert left is not None and int(left.name.split("-")[1]) < 4  # stopped before the end, with whole checkpoints

    results = finish(start_workers("dcgan", tmp_path / "run", data_dir, *longer, flags=["--resume"]))
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    assert latest_checkpoint(tmp_path / "run").name == "epoch-0004"
    results = finish(start_workers("dcgan", tmp_path / "straight", data_dir, *longer))
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    assert_same_weights(final_weights(tmp_path / "straight"), final_weights(tmp_path / "run"), atol=0.0, rtol=0.0)


def test_workers_that_see_different_checkpoints_refuse_to_start(tmp_path, data_dir):
    """A worker whose --out is not the chief's (no shared volume) would resume from another epoch: both refuse."""
    finish(start_workers("dcgan", tmp_path / "run", data_dir))  # one epoch, checkpoint epoch-0001
    results = finish(start_workers("dcgan", [tmp_path / "run", tmp_path / "elsewhere"], data_dir, "train.epochs=2",
                                   flags=["--resume"]))
    for code, err in results:
        assert code == 1 and "Traceback" not in err
        assert "the workers would start from different epochs (0 on one, 1 on another)" in err
    assert latest_checkpoint(tmp_path / "run").name == "epoch-0001" and not (tmp_path / "elsewhere").exists()


# ---------------------------------------------------------------- the GPU smoke test, as a dry run on CPU devices


def test_the_gpu_smoke_script_dry_runs_its_code_path_on_cpu_devices(data_dir):
    """benchmarks/gpu_smoke.sh --cpu: MirroredStrategy over 2 logical CPUs, float32 and mixed_float16, the export
    of the mixed run (float32 model.keras, parity within tolerance), img/s of both; .ci/run runs every family."""
    env = {**os.environ, "ZOO_DATA_DIR": str(data_dir)}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_smoke.sh"), "--cpu", "--families", "dcgan"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert row["family"] == "dcgan" and row["replicas"] == 2 and row["steps"] == 3
    assert row["trained_precision"] == "mixed_float16" and row["model_keras_dtype"]["config"]["name"] == "float32"
    assert row["parity_ok"] and row["parity_max_abs_diff"] <= 1e-4
    assert row["float32_img_s"] > 0 and row["mixed_float16_img_s"] > 0 and row["mixed_speedup"] > 0
    assert "dcgan" in done.stderr and "parity" in done.stderr  # the table

    refused = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_smoke.sh"), "--families", "gan"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "unknown families ['gan']" in refused.stderr


# ---------------------------------------------------------------- what the command line refuses


@pytest.mark.parametrize("tf_config,message", [
    (None, "multi_worker training needs the TF_CONFIG environment variable"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "no cluster.worker list"),
    ('{"cluster": {"worker": ["127.0.0.1:1"], "ps": ["h:2"]}, "task": {"type": "worker", "index": 0}}',
     "knows only chief and worker tasks"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}', "is not one of its cluster"),
])
def test_a_bad_tf_config_is_refused_before_anything_is_written(tf_config, message, tiny_recipe, tmp_path):
    from conftest import zoo_main

    env = {"TF_CONFIG": tf_config} if tf_config else {}
    with mock.patch.dict(os.environ, env):
        if tf_config is None:
            os.environ.pop("TF_CONFIG", None)
        done = zoo_main("train", tiny_recipe, "--strategy", "multi_worker", "--out", tmp_path / "run")
    assert done.returncode == 1 and message in done.stderr and "README" in done.stderr
    assert not (tmp_path / "run").exists()


def test_cpu_devices_must_be_positive_and_set_before_tensorflow_starts(tiny_recipe, tmp_path):
    from conftest import zoo_main

    import tensorflow as tf

    tf.constant(1.0)  # TensorFlow has started in this process
    done = zoo_main("train", tiny_recipe, "--cpu-devices", "-1", "--out", tmp_path / "a")
    assert done.returncode == 1 and "--cpu-devices" in done.stderr
    done = zoo_main("train", tiny_recipe, "--cpu-devices", "3", "--strategy", "mirrored", "--out", tmp_path / "b")
    assert done.returncode == 1 and "TensorFlow has already started" in done.stderr and "new `zoo train`" in done.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    done = zoo_main("train", tiny_recipe, "--strategy", "gpus", "--out", tmp_path / "c")
    assert done.returncode == 2 and "invalid choice: 'gpus'" in done.stderr


@pytest.mark.isolated
def test_xla_under_mirrored_cpu_devices_is_switched_off_in_one_line(tmp_path, data_dir, capsys):
    """keras-team/keras#19005: XLA fails under MirroredStrategy over CPU devices; the run says so and trains."""
    runtime.split_cpu(2)
    recipe = tiny("autoencoder", "train.distribution='mirrored'", "train.jit_compile=true", "train.deterministic=false")
    result = train(recipe, tmp_path / "run", data_dir=data_dir, export=False, verbose=0)
    err = capsys.readouterr().err
    assert "zoo: XLA is off: it fails under mirrored on CPU devices (keras-team/keras#19005)" in err
    assert result.epochs == 1 and np.isfinite(result.history[-1]["loss"])
    assert load_recipe(tmp_path / "run" / "recipe.toml").train.jit_compile  # the recipe stays what the user wrote
