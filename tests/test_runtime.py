"""What `import zoo` sets up for the process, and the compiled user API."""

import os
import subprocess
import sys

import numpy as np
import pytest

import zoo  # registers the families (and, first of all, sets oneDNN up)
from zoo.models.autoencoder import Autoencoder
from zoo.models.dcgan import DCGAN
from zoo.models.ddpm import DDPM
from zoo.models.vae import VAE

ONEDNN_ON = "oneDNN custom operations are on"


def _import_in_a_fresh_process(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    clean.update(TF_CPP_MIN_LOG_LEVEL="0", ZOO_TF_LOGS="1", **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, timeout=120)


def test_import_zoo_turns_onednn_on_before_tensorflow_loads():
    done = _import_in_a_fresh_process("import os, zoo; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert ONEDNN_ON in done.stderr  # TensorFlow's own word for it, printed as it loads


def test_a_users_onednn_setting_wins():
    done = _import_in_a_fresh_process("import os, zoo; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])",
                                      TF_ENABLE_ONEDNN_OPTS="0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert ONEDNN_ON not in done.stderr


def test_a_recipe_sizes_the_thread_pools_of_a_new_process():
    code = ("import tensorflow as tf, zoo; from zoo import runtime; from zoo.config import TrainConfig\n"
            "print(runtime.set_threads(TrainConfig(intra_op_threads=1, inter_op_threads=3)),\n"
            "      tf.config.threading.get_intra_op_parallelism_threads(),\n"
            "      tf.config.threading.get_inter_op_parallelism_threads(), float(tf.reduce_sum(tf.ones(3))))")
    done = _import_in_a_fresh_process(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "3", "3.0"]


def test_thread_pools_of_a_started_tensorflow_are_kept_with_a_note(capsys):
    import tensorflow as tf

    from zoo import runtime
    from zoo.config import TrainConfig

    float(tf.reduce_sum(tf.ones(3)))  # TensorFlow has started in this process
    current = tf.config.threading.get_intra_op_parallelism_threads()
    assert runtime.set_threads(TrainConfig(intra_op_threads=current)) is True  # the sizes in force: nothing to do
    other = current + 1
    assert runtime.set_threads(TrainConfig(intra_op_threads=other)) is False
    assert tf.config.threading.get_intra_op_parallelism_threads() == current
    assert f"train.intra_op_threads = {other} not applied" in capsys.readouterr().err


def test_zoo_leaves_the_switch_alone_when_tensorflow_came_first():
    done = _import_in_a_fresh_process("import os, tensorflow, zoo; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"  # setting it now would change nothing, and would misreport


def _models():
    return {
        "autoencoder": Autoencoder(latent_dim=4, filters=(4, 8)),
        "vae": VAE(latent_dim=4, filters=(4, 8)),
        "dcgan": DCGAN(latent_dim=4, generator_filters=(8, 4), discriminator_filters=(4, 8)),
        "ddpm": DDPM(widths=(8, 16), num_res_blocks=1, attention_resolutions=(), norm_groups=4, timesteps=10,
                     sample_steps=2, generate_steps=2),
    }


@pytest.mark.parametrize("family", ["autoencoder", "vae", "dcgan", "ddpm"])
def test_the_compiled_user_api_equals_the_network_and_traces_at_most_twice(family):
    model = _models()[family]
    rng = np.random.default_rng(0)
    for batch in (1, 7, 3, 64):
        images = rng.uniform(0, 1, (batch, 28, 28, 1)).astype("float32")
        z = rng.standard_normal((batch, 4)).astype("float32")
        if family == "autoencoder":
            got, want = model.decode(z), model._to_pixels(model.decoder(z, training=False))
            method = "_decode"
        elif family == "vae":
            got, want = model.encode(images).mean, model.posterior(images).mean()
            method = "_posterior_moments"
        elif family == "dcgan":
            got, want = model.generate(z), model.generator(z, training=False)
            method = "fake"
        else:
            t = rng.integers(0, 10, batch).astype("int32")
            got, want = model.denoise(images, t), model.ema_network([images, t], training=False)
            method = "_denoise"
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)
    # One trace for the first batch size, one relaxed to any batch size: not one per batch size.
    assert model.compiled_method(method).experimental_get_tracing_count() <= 2
