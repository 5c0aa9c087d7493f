"""CycleGAN: the image pool's rule, the learning-rate schedule, the losses, training on real data, saving."""

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import ROOT, run_zoo, zoo_main
from zoo import data, images
from zoo.nets import blocks
from zoo.config import DataConfig, DomainConfig, load_recipe, recipe_from_dict
from zoo.data import example_batch
from zoo.errors import InputShapeError, RecipeError
from zoo.models import CycleGAN
from zoo.models.cyclegan import ConstantThenLinearDecay, ImagePool, cycle_loss
from zoo.train import build_model

TINY = dict(image_shape=(32, 32, 1), filters=4, n_res_blocks=1, disc_filters=4, n_layers=2, pool_size=4)
SNEAKER, ANKLE_BOOT = 7, 9


@pytest.fixture(scope="module")
def domains(data_dir):
    """Eight Fashion-MNIST sneakers (domain A) and eight ankle boots (domain B), padded to 32x32, in [-1, 1]."""
    def batch(label):
        cfg = DataConfig(dataset="fashion_mnist", classes=(label,), image_size=(32, 32), resize="pad",
                         value_range=(-1.0, 1.0))
        return example_batch(cfg, 8, data_dir=data_dir, split="train")[0]
    return batch(SNEAKER), batch(ANKLE_BOOT)


def tiny_model(**overrides):
    model = CycleGAN(**{**TINY, **overrides})
    model.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                  discriminator_optimizer=keras.optimizers.Adam(ConstantThenLinearDecay(2e-4, 4, 1, 1), beta_1=0.5))
    return model


# ---------------------------------------------------------------- the image pool


def marked(values) -> np.ndarray:
    """One 1x1 grey image per value, so each image can be recognized by its pixel."""
    return np.asarray(values, "float32").reshape(-1, 1, 1, 1)


def test_pool_stores_until_full_then_stays_bounded():
    pool = ImagePool(4, (1, 1, 1))
    out = pool.query(marked([1, 2, 3]), tf.constant([0, 0], "int64"))
    np.testing.assert_array_equal(out.numpy(), marked([1, 2, 3]))  # not full: the new fakes pass through
    assert int(pool.count.numpy()) == 3 and list(pool.images.numpy().ravel()[:3]) == [1, 2, 3]
    out = pool.query(marked([4, 5, 6, 7, 8, 9]), tf.constant([0, 1], "int64")).numpy().ravel()
    assert out[0] == 4  # the 4th fills the last place and passes through; then the pool is full
    assert int(pool.count.numpy()) == 4
    stored = set(pool.images.numpy().ravel())
    assert len(stored) == 4 and stored <= set(range(1, 10))
    assert set(out) | stored == set(range(1, 10))  # nothing is lost: each image is stored or returned


def test_pool_is_deterministic_for_a_seed():
    def run(seed):
        pool = ImagePool(3, (1, 1, 1))
        return [pool.query(marked(range(10 * i, 10 * i + 10)), tf.constant([seed, i], "int64")).numpy()
                for i in range(3)]

    np.testing.assert_array_equal(run(7), run(7))
    assert any((a != b).any() for a, b in zip(run(7), run(8)))


def test_pool_replaces_half_the_time_and_returns_the_stored_image():
    pool = ImagePool(50, (1, 1, 1))
    pool.query(marked(range(50)), tf.constant([3, 0], "int64"))  # fill it: images 0..49
    swaps, n = 0, 0
    for step in range(1, 21):
        before = pool.images.numpy().ravel().copy()
        new = np.arange(1000 * step, 1000 * step + 100)
        out = pool.query(marked(new), tf.constant([3, step], "int64")).numpy().ravel()
        after = pool.images.numpy().ravel()
        assert int(pool.count.numpy()) == 50
        returned_stored = out != new
        # Every image returned instead of the new one was in the pool, before or from earlier in this batch.
        assert set(out[returned_stored]) <= set(before) | set(new)
        # The pool holds exactly the images it had plus the swapped-in new ones, minus the ones handed out.
        assert set(after) == (set(before) | set(new[returned_stored])) - set(out[returned_stored])
        swaps, n = swaps + returned_stored.sum(), n + len(new)
    assert abs(swaps / n - 0.5) < 0.05, swaps / n  # 2000 coin flips: 5% is more than four standard deviations


def test_pool_of_size_zero_passes_fakes_through():
    fakes = marked([1, 2])
    np.testing.assert_array_equal(ImagePool(0, (1, 1, 1)).query(fakes, tf.constant([0, 0], "int64")), fakes)


# ---------------------------------------------------------------- the learning rate


def test_learning_rate_is_constant_then_decays_to_zero():
    schedule = ConstantThenLinearDecay(2e-4, steps_per_epoch=10, epochs=100, decay_epochs=100)
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(0) == pytest.approx(2e-4)
    assert rate(100 * 10) == pytest.approx(2e-4)  # the first step of decay
    assert rate(150 * 10) == pytest.approx(1e-4)
    assert rate(200 * 10) == 0.0 and rate(250 * 10) == 0.0
    copy = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(copy, ConstantThenLinearDecay) and copy.get_config() == schedule.get_config()
    assert float(ConstantThenLinearDecay(1e-3, 10, 1, 0)(10**6)) == pytest.approx(1e-3)


# ---------------------------------------------------------------- the networks and losses


def test_networks_take_any_size_divisible_by_four():
    generator = blocks.resnet_generator(3, 4, 1)
    discriminator = blocks.patch_discriminator(3, 4, 3)
    for size in ((32, 32), (20, 44)):
        x = np.random.default_rng(0).uniform(-1, 1, (2, *size, 3)).astype("float32")
        assert generator(x).shape == (2, *size, 3)
        assert discriminator(x).shape == (2, -(-size[0] // 8), -(-size[1] // 8), 1)


def test_patchgan_sees_70x70_patches():
    receptive, jump = 1, 1
    for layer in blocks.patch_discriminator(1, 4, n_layers=3).layers:
        if isinstance(layer, keras.layers.Conv2D):
            receptive, jump = receptive + (layer.kernel_size[0] - 1) * jump, jump * layer.strides[0]
    assert receptive == 70


def test_cycle_loss_is_zero_for_identity_generators(domains):
    a, b = domains
    identity = lambda x, training=False: x  # noqa: E731
    assert np.all(cycle_loss(a, b, b, a, identity, identity).numpy() == 0.0)
    assert np.all(cycle_loss(a, b, b, a, identity, lambda x, training=False: -x).numpy() > 0.0)


def test_one_call_per_generator_gives_the_losses_of_separate_calls(domains):
    """The train step runs each generator once on [its domain; the other domain]: translation and identity
    mapping together. Instance norm is per image, so the losses and gradients are those of separate calls."""
    a, b = (tf.constant(d[:3]) for d in domains)
    model = tiny_model()
    variables = model.role_variables("generator")
    with tf.GradientTape(persistent=True) as tape:
        fake_a, same_a = model._both(model.generator_b2a, b, a)
        fake_b, same_b = model._both(model.generator_a2b, a, b)
        together = model.generator_losses(a, b, fake_a, fake_b, same_a, same_b)
        separate = model.generator_losses(a, b, model.generator_b2a(b, training=True),
                                          model.generator_a2b(a, training=True))
    for name in ("loss", "adversarial", "cycle", "identity"):
        np.testing.assert_allclose(together[name].numpy(), separate[name].numpy(), rtol=1e-5, err_msg=name)
    assert together["identity"].numpy() > 0
    for g1, g2, v in zip(tape.gradient(together["loss"], variables), tape.gradient(separate["loss"], variables),
                         variables):  # a filter gradient sums over the batch, in another order: float rounding
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-4, atol=1e-5 * np.abs(g2.numpy()).max(),
                                   err_msg=v.path)


# ---------------------------------------------------------------- training, saving, translating


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_trains_on_sneakers_and_boots(domains, policy, precision):
    policy(precision)
    model = tiny_model()
    history = model.fit(tf.data.Dataset.from_tensor_slices(domains).batch(4).repeat(), steps_per_epoch=3, epochs=1,
                        verbose=0)
    for name in ("d_loss", "g_loss", "cycle", "identity"):
        assert np.isfinite(history.history[name][-1]), name
    assert int(model.train_steps.numpy()) == 3
    assert int(model.pool_a.count.numpy()) == 4  # 12 fakes went through a pool of 4
    assert np.all(np.isfinite(model.evaluate(*[tf.constant(d) for d in domains], batch_size=4, verbose=0)))


def test_save_and_load_translates_the_same(domains, tmp_path):
    a, b = domains
    model = tiny_model()
    model.fit(tf.data.Dataset.from_tensor_slices(domains).batch(4), epochs=1, verbose=0)
    model.save(tmp_path / "cyclegan.keras")
    loaded = keras.models.load_model(tmp_path / "cyclegan.keras")
    assert isinstance(loaded, CycleGAN) and loaded.get_config() == model.get_config()
    for direction, batch in (("a2b", a), ("b2a", b)):
        np.testing.assert_array_equal(loaded.translate(batch, direction).numpy(),
                                      model.translate(batch, direction).numpy())
    np.testing.assert_array_equal(loaded.pool_b.images.numpy(), model.pool_b.images.numpy())
    assert int(loaded.train_steps.numpy()) == 2
    schedule = keras.optimizers.serialize(loaded.discriminator_optimizer)["config"]["learning_rate"]
    assert schedule["registered_name"] == "zoo>ConstantThenLinearDecay"  # the schedule survives saving
    assert loaded.discriminator_optimizer.iterations.numpy() == model.discriminator_optimizer.iterations.numpy() == 2


def test_translate_a_sneaker(domains):
    model = tiny_model()
    out = model.translate(domains[0][:3], "a2b").numpy()
    assert out.shape == (3, 32, 32, 1) and out.min() >= -1.0 and out.max() <= 1.0
    assert model.translate(domains[1][:2, ..., 0], "b2a").shape == (2, 32, 32, 1)  # grey without a channel axis
    assert [e.name for e in model.endpoints()] == ["a2b", "b2a"]
    with pytest.raises(InputShapeError, match="divisible by 4"):
        model.translate(np.zeros((1, 30, 32, 1), "float32"))
    with pytest.raises(InputShapeError, match="direction"):
        model.translate(domains[0][:1], "a2c")
    with pytest.raises(InputShapeError, match="dtype"):
        model.translate(np.zeros((1, 32, 32, 1), "uint8"))
    with pytest.raises(InputShapeError, match=r"\(batch, height, width, 1\)"):
        model.translate(np.zeros((1, 32, 32, 3), "float32"))


# ---------------------------------------------------------------- two domains, augmentation, the recipe


SNEAKER2BOOT = ROOT / "recipes" / "cyclegan_sneaker2boot.toml"
TINY_WIDTHS = ["model.filters=4", "model.n_res_blocks=1", "model.disc_filters=4", "model.pool_size=4"]


def save_pngs(folder, pixels):
    folder.mkdir(parents=True)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    return folder


def test_recipe_streams_unpaired_sneakers_and_boots(data_dir):
    recipe = load_recipe(SNEAKER2BOOT)
    stream, steps = data.train_stream(recipe.data, 8, seed=0, start_epoch=0, epochs=1, steps_per_epoch=3,
                                      data_dir=data_dir)
    assert steps == 3
    sneakers, boots = (example_batch(d, 2000, data_dir=data_dir, split="train")[0] for d in data.domain_configs(recipe.data))
    for a, b in stream:
        assert a.shape == b.shape == (8, 32, 32, 1) and a.numpy().min() >= -1.0 and a.numpy().max() <= 1.0
    # A is made of sneakers, B of boots: a boot's silhouette reaches higher in the image than a sneaker's.
    rows_used = lambda x: float(np.mean(np.max(x, axis=(2, 3)) > -0.5))  # noqa: E731
    assert rows_used(boots) > rows_used(sneakers) + 0.2
    assert rows_used(b.numpy()) > rows_used(a.numpy())
    images, domains = example_batch(recipe.data, 6, data_dir=data_dir)
    assert list(domains) == [0, 1, 0, 1, 0, 1] and images.shape == (6, 32, 32, 1)
    assert all(isinstance(batch, tuple) and len(batch) == 2 for batch in data.eval_dataset(recipe.data, 8, steps=2,
                                                                                              data_dir=data_dir))


def test_smaller_domain_is_cycled_and_resume_sees_the_same_batches(tmp_path):
    rng = np.random.default_rng(0)
    folder_a = save_pngs(tmp_path / "a", rng.integers(0, 255, (10, 8, 8), dtype="uint8"))
    folder_b = save_pngs(tmp_path / "b", rng.integers(0, 255, (4, 8, 8), dtype="uint8"))
    cfg = DataConfig(image_size=(8, 8), value_range=(-1.0, 1.0), load_size=(10, 12), random_flip=True,
                     domain_a=DomainConfig(file=str(folder_a)), domain_b=DomainConfig(file=str(folder_b)))
    stream, steps = data.train_stream(cfg, 2, seed=3, start_epoch=0, epochs=2)
    assert steps == 5  # one pass over the larger domain
    batches = [(a.numpy(), b.numpy()) for a, b in stream]
    assert len(batches) == 10
    resumed = [(a.numpy(), b.numpy()) for a, b in data.train_stream(cfg, 2, seed=3, start_epoch=1, epochs=2)[0]]
    for (a, b), (ra, rb) in zip(batches[5:], resumed):  # shuffles and augmentation keyed to the epoch and batch
        np.testing.assert_array_equal(a, ra)
        np.testing.assert_array_equal(b, rb)


def test_augmentation_crops_from_the_enlarged_image_and_flips():
    cfg = DataConfig(image_size=(8, 8), load_size=(11, 12), random_flip=True)
    images = np.random.default_rng(1).uniform(0, 1, (64, 8, 8, 1)).astype("float32")
    out = data.augment(images, cfg, tf.constant([5, 0], "int64")).numpy()
    np.testing.assert_array_equal(out, data.augment(images, cfg, tf.constant([5, 0], "int64")).numpy())
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 1.0
    enlarged = tf.image.resize(images, (11, 12)).numpy()
    offsets, flips = set(), 0
    for image, big, in zip(out, enlarged):
        windows = {(top, left, flip) for top in range(4) for left in range(5) for flip in (False, True)
                   if np.allclose((big[:, ::-1] if flip else big)[top:top + 8, left:left + 8], image)}
        assert windows, "every output is a window of the resized image, or of its mirror"
        top, left, flip = sorted(windows)[0]
        offsets.add((top, left))
        flips += flip
    assert len(offsets) > 5 and 10 < flips < 54  # crops vary; about half are flipped
    plain = replace(cfg, load_size=(), random_flip=False)
    np.testing.assert_array_equal(data.augment(images, plain, tf.constant([5, 0], "int64")).numpy(), images)


def test_recipe_checks_name_the_fix():
    raw = tomllib.loads(SNEAKER2BOOT.read_text())
    with pytest.raises(RecipeError, match=r"decay_epochs = 30 .* more than train.epochs = 20"):
        recipe_from_dict(raw, overrides=["model.decay_epochs=30"])
    without = {**raw, "data": {k: v for k, v in raw["data"].items() if not k.startswith("domain")}}
    with pytest.raises(RecipeError, match=r"two domains: add \[data.domain_a\]"):
        recipe_from_dict(without)
    with pytest.raises(RecipeError, match="set both"):
        recipe_from_dict({**raw, "data": {k: v for k, v in raw["data"].items() if k != "domain_b"}})
    with pytest.raises(RecipeError, match="load_size .* at least image_size"):
        recipe_from_dict(raw, overrides=["data.load_size=[30, 30]"])
    with pytest.raises(RecipeError, match=r"unknown key 'clases' in \[data.domain_a\].*did you mean 'classes'"):
        recipe_from_dict(raw, overrides=["data.domain_a.clases=[7]"])
    autoencoder = tomllib.loads(Path(ROOT / "recipes" / "ae_fashion_mnist.toml").read_text())
    with pytest.raises(RecipeError, match="for two-domain families"):
        recipe_from_dict(autoencoder, overrides=["data.domain_a.classes=[7]", "data.domain_b.classes=[9]"])


def test_recipe_learning_rate_decays_over_the_last_epochs():
    recipe = load_recipe(SNEAKER2BOOT, overrides=TINY_WIDTHS)  # 20 epochs, the last 10 decaying
    model = build_model(recipe, steps_per_epoch=100)
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        schedule = optimizer._learning_rate
        assert isinstance(schedule, ConstantThenLinearDecay)
        assert float(schedule(0)) == pytest.approx(2e-4)
        assert float(schedule(1000)) == pytest.approx(2e-4)  # the start of decay, after 10 epochs
        assert float(schedule(1500)) == pytest.approx(1e-4)
        assert float(schedule(2000)) == 0.0  # the end of the run
    with pytest.raises(RecipeError, match="steps per epoch"):
        build_model(recipe)


def test_train_on_two_folders_export_and_translate(tmp_path, data_dir):
    """The user's path: two folders of images, `zoo train --domain-a --domain-b`, the artifact, `zoo translate`."""
    fashion = np.load(data_dir / "fashion_mnist.npz")
    x, y = fashion["x_test"], fashion["y_test"]
    folder_a = save_pngs(tmp_path / "sneakers", x[y == SNEAKER][:24])
    folder_b = save_pngs(tmp_path / "boots", x[y == ANKLE_BOOT][:16])
    run = tmp_path / "run"
    sets = [f"--set={s}" for s in [*TINY_WIDTHS, "train.epochs=2", "model.decay_epochs=1", "train.batch_size=4",
                                   "train.validation_steps=1", "export.num_examples=4"]]
    result = run_zoo("train", SNEAKER2BOOT, "--out", run, "--domain-a", folder_a, "--domain-b", folder_b, *sets)
    assert result.returncode == 0, result.stderr[-3000:]
    history = [line.split(",") for line in (run / "history.csv").read_text().splitlines()]
    assert len(history) == 3 and all(np.isfinite(float(v)) for v in history[-1][1:])
    saved = load_recipe(run / "recipe.toml")
    assert saved.data.domain_a.file == str(folder_a) and saved.data.domain_a.classes == ()  # folders replace classes

    export = run / "export"
    metadata = json.loads((export / "metadata.json").read_text())
    assert metadata["parity"]["max_abs_diff"] <= 1e-4
    sizes = {case for fmt in metadata["parity"]["by_format"].values() for ep in fmt.values() for case in ep}
    assert sizes == {"batch_1_32x32", "batch_7_32x32", "batch_1_48x40", "batch_7_48x40"}  # two image sizes
    assert set(metadata["parity"]["by_format"]["onnx"]) == {"generator_a2b.onnx", "generator_b2a.onnx"}
    assert "domain A: " in metadata["dataset"]["train"] and "24 images" in metadata["dataset"]["train"]

    # ONNX generators take any batch, height and width; examples.npz holds test vectors per direction.
    import onnxruntime as ort
    examples = np.load(export / "examples.npz")
    session = ort.InferenceSession(str(export / "generator_b2a.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"images_b": examples["images_b"]})[0], examples["b2a.images_a"],
                               atol=1e-4)
    assert session.run(None, {"images_b": np.zeros((3, 20, 28, 1), "float32")})[0].shape == (3, 20, 28, 1)

    out = tmp_path / "translated"
    result = zoo_main("translate", export, folder_a, "--direction", "a2b", "-o", out)
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == sorted([f"{i:02d}.png" for i in range(24)] + ["grid.png"])
    sneaker = np.asarray(Image.open(out / "00.png"))
    assert sneaker.shape == (32, 32) and sneaker.dtype == np.uint8  # a translated sneaker: 32x32 grey pixels
    model = keras.models.load_model(export / "model.keras")
    expected = model.translate(data.read_images(folder_a / "00.png", saved.data), "a2b").numpy()[0, ..., 0]
    np.testing.assert_array_equal(sneaker, images.to_uint8(expected, (-1.0, 1.0)))
    assert np.asarray(Image.open(out / "grid.png")).shape[1] > 8 * 32  # inputs beside their translations


def test_256_recipe_shapes(tmp_path):
    """The paper-sized recipe, checked for shapes only: horse2zebra-style folders in, 256x256 RGB out."""
    rng = np.random.default_rng(0)
    folders = []
    for name, count in (("horses", 3), ("zebras", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (300, 280, 3), dtype="uint8")).save(tmp_path / name / f"{i}.jpg")
        folders.append(str(tmp_path / name))
    recipe = load_recipe(ROOT / "recipes" / "cyclegan_256.toml",
                         overrides=[f'data.domain_a.file="{folders[0]}"', f'data.domain_b.file="{folders[1]}"'])
    stream, steps = data.train_stream(recipe.data, recipe.train.batch_size, seed=0, start_epoch=0, epochs=1)
    a, b = next(iter(stream))
    assert steps == 3 and a.shape == b.shape == (1, 256, 256, 3)  # resized, enlarged to 286, cropped back
    model = build_model(recipe, steps_per_epoch=steps)
    # The reference's networks have 11.378M and 2.765M parameters (ours lack the biases instance norm cancels).
    assert model.n_res_blocks == 9 and 11.3e6 < model.generator_a2b.count_params() < 11.4e6
    assert 2.7e6 < model.discriminator_a.count_params() < 2.8e6
    assert model.translate(a, "a2b").shape == (1, 256, 256, 3)
    assert model.discriminator_b(b).shape == (1, 32, 32, 1)  # one score per 70x70 patch
    assert model.generator_optimizer._learning_rate.get_config()["epochs"] == 100  # then 100 decaying


def test_resume_after_a_kill_gives_the_uninterrupted_weights(tmp_path, data_dir):
    """Pools, step counters, schedules and augmentation all continue exactly from a checkpoint."""
    import shutil

    from zoo.train import checkpoints, train

    recipe = load_recipe(SNEAKER2BOOT, overrides=[*TINY_WIDTHS, "train.epochs=2", "model.decay_epochs=1",
                                                  "train.steps_per_epoch=3", "train.batch_size=4",
                                                  "train.validation_steps=1"])
    straight = tmp_path / "straight"
    train(recipe, straight, data_dir=data_dir, export=False, verbose=0)
    first, last = checkpoints(straight)
    resumed = tmp_path / "resumed"  # as if killed during epoch 2: only the first checkpoint exists
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(straight / "recipe.toml", resumed / "recipe.toml")
    shutil.copytree(first, resumed / "checkpoints" / first.name)
    train(recipe, resumed, data_dir=data_dir, resume=True, export=False, verbose=0)
    model_straight, _, _ = restore_from(last)
    model_resumed, _, state = restore_from(checkpoints(resumed)[-1])
    assert state["epoch"] == 2 and int(model_resumed.train_steps.numpy()) == 6
    assert float(model_resumed.generator_optimizer.learning_rate) == 0.0  # the end of the decay
    for a, b in zip(model_straight.weights, model_resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def restore_from(checkpoint):
    from zoo.train import restore

    return restore(checkpoint.parents[1], checkpoint)
