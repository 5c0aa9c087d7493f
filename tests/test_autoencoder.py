"""The autoencoder family: it learns on real data, under every precision, and round-trips through .keras."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from zoo.config import DataConfig
from zoo.data import example_batch
from zoo.errors import InputShapeError
from zoo.models import Autoencoder


@pytest.fixture(scope="module")
def fashion(data_dir):
    cfg = DataConfig(dataset="fashion_mnist")
    train, _ = example_batch(cfg, 2048, data_dir=data_dir, split="train")
    test, _ = example_batch(cfg, 256, data_dir=data_dir)
    return train, test


def small_model(**kwargs):
    keras.utils.set_random_seed(0)
    return Autoencoder(latent_dim=16, filters=(16, 32), **kwargs)


def test_training_lowers_the_loss_on_fashion_mnist(fashion):
    train, test = fashion
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(test, batch_size=128, verbose=0)
    model.fit(train, batch_size=64, epochs=2, shuffle=False, verbose=0)
    after = model.evaluate(test, batch_size=128, verbose=0)
    assert after < 0.75 * before, (before, after)  # BCE per pixel: ~0.69 untrained, well below 0.5 after 64 steps


@pytest.mark.isolated
@pytest.mark.parametrize("precision,jit", [("mixed_bfloat16", False), ("float32", True), ("mixed_bfloat16", True)])
def test_training_stays_finite_under_mixed_precision_and_xla(fashion, policy, precision, jit):
    policy(precision)
    model = small_model(architecture="conv")
    assert model.encoder.get_layer("encoder_conv0").compute_dtype == ("bfloat16" if precision != "float32" else "float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    assert model.jit_compile is jit  # not silently dropped
    history = model.fit(fashion[0][:1024], batch_size=64, epochs=1, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.69
    out = model.reconstruct(fashion[1][:4])
    assert out.dtype == "float32" and np.all(np.isfinite(out))


def test_dense_architecture_and_mse_in_symmetric_range(fashion):
    model = small_model(architecture="dense", hidden_units=(64,), reconstruction_loss="mse", value_range=(-1.0, 1.0))
    model.compile(optimizer="adam")
    images = fashion[0][:256] * 2 - 1
    model.fit(images, batch_size=64, epochs=1, verbose=0)
    out = model.reconstruct(images[:3]).numpy()
    assert out.shape == (3, 28, 28, 1) and out.min() >= -1 and out.max() <= 1


def test_wrong_input_shapes_raise_clear_errors():
    model = small_model()
    with pytest.raises(InputShapeError, match=r"images must have shape \(batch, 28, 28, 1\), got \(2, 32, 32, 1\)"):
        model.encode(np.zeros((2, 32, 32, 1), "float32"))
    with pytest.raises(InputShapeError, match="uint8"):
        model.encode(np.zeros((2, 28, 28, 1), "uint8"))
    with pytest.raises(InputShapeError, match=r"latent must have shape \(batch, 16\)"):
        model.decode(np.zeros((2, 8), "float32"))
    assert model.encode(np.zeros((2, 28, 28), "float32")).shape == (2, 16)  # grey batch without channel axis


def test_keras_round_trip_in_a_new_process(fashion, tmp_path):
    train, test = fashion
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train[:512], batch_size=64, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    np.savez(tmp_path / "expected.npz", images=test[:7], reconstructions=model.reconstruct(test[:7]).numpy(),
             **{f"opt{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)})
    script = f"""
import json, numpy as np, keras, zoo
model = keras.models.load_model({str(path)!r})
expected = np.load({str(tmp_path / 'expected.npz')!r})
diff = float(np.abs(model.reconstruct(expected['images']).numpy() - expected['reconstructions']).max())
same_opt = all(np.array_equal(v.numpy(), expected[f'opt{{i}}']) for i, v in enumerate(model.optimizer.variables))
before = int(model.optimizer.iterations.numpy())
model.fit(expected['images'], batch_size=7, epochs=1, verbose=0)
print(json.dumps({{"diff": diff, "same_opt": same_opt, "n_opt": len(model.optimizer.variables),
                  "before": before, "after": int(model.optimizer.iterations.numpy()),
                  "class": type(model).__name__}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["class"] == "Autoencoder"
    assert result["diff"] == 0.0
    assert result["same_opt"] and result["n_opt"] == len(model.optimizer.variables)
    assert result["before"] == 8 and result["after"] == 9  # 512 / 64 steps, then one more
