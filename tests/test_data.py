"""zoo.data: resolving local data, preprocessing, seeded resumable streams, and clear errors."""

import os
import time
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from zoo import data
from zoo.config import DataConfig
from zoo.errors import DataError

FASHION = DataConfig(dataset="fashion_mnist")


def small_npz(path, n_train=40, n_test=10, size=(28, 28), labels=True):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, *size), dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, *size), dtype=np.uint8)}
    if labels:
        arrays["y_train"] = (np.arange(n_train) % 3).astype("uint8")
        arrays["y_test"] = (np.arange(n_test) % 3).astype("uint8")
    np.savez(path, **arrays)
    return arrays


def write_pngs(folder, count, size=(12, 10), mode="L", start=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shape = size if mode == "L" else (*size, 3)
        Image.fromarray(np.full(shape, 20 * (start + i), np.uint8), mode).save(folder / f"img{i}.png")


def batches(dataset):
    return [np.asarray(b) if not isinstance(b, tuple) else tuple(np.asarray(t) for t in b)
            for b in dataset.as_numpy_iterator()]


# ---------------------------------------------------------------- resolution and shapes


def test_data_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    dirs = data.data_dirs(tmp_path / "x")
    assert dirs[:3] == [tmp_path / "x", tmp_path / "a", tmp_path / "b"]
    assert dirs[-1].parts[-2:] == (".zoo", "data")


def test_npz_by_dataset_name(data_dir):
    source = data.load_split(FASHION, "train", data_dir)
    assert source.images.shape == (60000, 28, 28, 1) and source.images.dtype == np.uint8
    assert source.labels.dtype == np.int32 and source.size == 60000 and source.num_classes == 10
    assert "fashion_mnist.npz [train]" in source.description and "60000" in source.description
    assert data.load_split(FASHION, "test", data_dir).size == 10000


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_value_range_and_structure(data_dir, value_range):
    cfg = replace(FASHION, value_range=value_range, max_examples=256)
    dataset, steps = data.train_stream(cfg, 64, seed=0, start_epoch=0, epochs=1, data_dir=data_dir)
    assert steps == 4
    images = batches(dataset)[0]
    assert images.shape == (64, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == pytest.approx(value_range[0]) and images.max() == pytest.approx(value_range[1])

    dataset, _ = data.train_stream(replace(cfg, labels=True), 64, seed=0, start_epoch=0, epochs=1, data_dir=data_dir)
    images, labels = batches(dataset)[0]
    assert images.shape == (64, 28, 28, 1) and labels.shape == (64,) and labels.dtype == np.int32


def test_class_filter(data_dir):
    cfg = replace(FASHION, classes=(7, 9), labels=True)
    source = data.load_split(cfg, "train", data_dir)
    assert source.size == 12000 and set(np.unique(source.labels)) == {7, 9}
    dataset, _ = data.train_stream(cfg, 100, seed=1, start_epoch=0, epochs=1, steps_per_epoch=5, data_dir=data_dir)
    for _, labels in batches(dataset):
        assert set(np.unique(labels)) <= {7, 9}


def test_max_examples(data_dir):
    source = data.load_split(replace(FASHION, max_examples=100), "test", data_dir)
    assert source.size == 100 and source.images.shape[0] == 100 and source.labels.shape == (100,)


def test_preprocess_shapes():
    grey = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    padded = data.preprocess(grey, replace(FASHION, image_size=(32, 32), resize="pad")).numpy()
    assert padded.shape == (3, 32, 32, 1)
    np.testing.assert_allclose(padded[:, 2:30, 2:30, 0], grey / 255.0, atol=1e-6)
    assert (padded[:, :2] == 0).all() and (padded[:, :, 30:] == 0).all()
    assert data.preprocess(grey, replace(FASHION, image_size=(32, 40))).shape == (3, 32, 40, 1)
    nearest = data.preprocess(grey, replace(FASHION, image_size=(56, 56), resize="nearest")).numpy()
    assert set(np.unique(nearest * 255).round().astype(int)) <= set(np.unique(grey))
    rgb = data.preprocess(grey, replace(FASHION, channels=3)).numpy()
    assert rgb.shape == (3, 28, 28, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    back = data.preprocess(rgb * 255.0, FASHION).numpy()
    assert back.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(back[..., 0], grey / 255.0, atol=1e-2)


def test_train_stream_channels_and_pad(data_dir):
    cfg = replace(FASHION, image_size=(32, 32), resize="pad", channels=3, max_examples=64)
    dataset, steps = data.train_stream(cfg, 32, seed=0, start_epoch=0, epochs=1, data_dir=data_dir)
    assert [b.shape for b in batches(dataset)] == [(32, 32, 32, 3)] * steps


# ---------------------------------------------------------------- seeded, resumable streams


def test_train_stream_epochs_and_resume(tmp_path):
    small_npz(tmp_path / "tiny.npz", n_train=50)
    cfg = DataConfig(dataset="tiny", labels=True)
    full, steps = data.train_stream(cfg, 8, seed=5, start_epoch=0, epochs=3, data_dir=tmp_path)
    assert steps == 6  # 50 // 8 full batches; the remainder is dropped
    full = batches(full)
    assert len(full) == steps * 3
    resumed, _ = data.train_stream(cfg, 8, seed=5, start_epoch=1, epochs=3, data_dir=tmp_path)
    resumed = batches(resumed)
    assert len(resumed) == steps * 2
    for a, b in zip(full[steps:], resumed):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    epoch0 = np.concatenate([b[0] for b in full[:steps]])
    epoch1 = np.concatenate([b[0] for b in full[steps:2 * steps]])
    assert not np.array_equal(epoch0, epoch1)
    other_seed, _ = data.train_stream(cfg, 8, seed=6, start_epoch=0, epochs=1, data_dir=tmp_path)
    assert not np.array_equal(np.concatenate([b[0] for b in batches(other_seed)]), epoch0)
    # each epoch is a permutation: no example repeats within it
    assert len({x.tobytes() for x in epoch0}) == steps * 8


def test_train_stream_steps_cap_and_too_small(tmp_path):
    small_npz(tmp_path / "tiny.npz", n_train=50)
    cfg = DataConfig(dataset="tiny")
    dataset, steps = data.train_stream(cfg, 8, seed=0, start_epoch=2, epochs=4, steps_per_epoch=2, data_dir=tmp_path)
    assert steps == 2 and len(batches(dataset)) == 4
    _, steps = data.train_stream(cfg, 8, seed=0, start_epoch=0, epochs=1, steps_per_epoch=100, data_dir=tmp_path)
    assert steps == 6
    with pytest.raises(DataError, match="fewer examples than one batch"):
        data.train_stream(cfg, 64, seed=0, start_epoch=0, epochs=1, data_dir=tmp_path)


def test_eval_dataset_and_example_batch(tmp_path):
    arrays = small_npz(tmp_path / "tiny.npz", n_test=10)
    cfg = DataConfig(dataset="tiny", labels=True)
    sizes = [images.shape[0] for images, _ in batches(data.eval_dataset(cfg, 4, data_dir=tmp_path))]
    assert sizes == [4, 4, 2]
    assert len(batches(data.eval_dataset(cfg, 4, steps=2, data_dir=tmp_path))) == 2
    first = batches(data.eval_dataset(replace(cfg, labels=False), 4, data_dir=tmp_path))[0]
    assert first.shape == (4, 28, 28, 1)

    images, labels = data.example_batch(cfg, 5, data_dir=tmp_path)
    again, _ = data.example_batch(cfg, 5, data_dir=tmp_path)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32 and np.array_equal(images, again)
    np.testing.assert_allclose(images[..., 0], arrays["x_test"][:5] / 255.0, atol=1e-6)
    assert labels.dtype == np.int32 and list(labels) == list(arrays["y_test"][:5])
    train_images, _ = data.example_batch(cfg, 3, data_dir=tmp_path, split="train")
    np.testing.assert_allclose(train_images[..., 0], arrays["x_train"][:3] / 255.0, atol=1e-6)
    small_npz(tmp_path / "nolabels.npz", labels=False)
    assert data.example_batch(DataConfig(dataset="nolabels"), 2, data_dir=tmp_path)[1] is None


# ---------------------------------------------------------------- folders and read_images


def test_folder_with_class_subfolders(tmp_path):
    write_pngs(tmp_path / "imgs" / "cat", 3)
    write_pngs(tmp_path / "imgs" / "dog", 2, start=5)
    cfg = DataConfig(file=str(tmp_path / "imgs"), image_size=(12, 10), labels=True)
    source = data.load_split(cfg, "anything", None)
    assert source.images.shape == (5, 12, 10, 1) and source.num_classes == 2
    assert sorted(source.labels.tolist()) == [0, 0, 0, 1, 1]
    assert set(source.images[source.labels == 1].reshape(2, -1)[:, 0]) == {100, 120}
    images, labels = batches(data.eval_dataset(cfg, 8))[0]
    assert images.shape == (5, 12, 10, 1) and sorted(labels.tolist()) == [0, 0, 0, 1, 1]


def test_flat_folder_by_name_in_data_dir(tmp_path):
    write_pngs(tmp_path / "flat", 4, mode="RGB")
    cfg = DataConfig(file="flat", image_size=(16, 16), channels=3)
    source = data.load_split(cfg, "train", tmp_path)
    assert source.labels is None and source.images.shape == (4, 12, 10, 3)
    images, labels = data.example_batch(cfg, 4, data_dir=tmp_path)
    assert images.shape == (4, 16, 16, 3) and labels is None
    with pytest.raises(DataError, match="no labels"):
        data.train_stream(replace(cfg, labels=True), 2, seed=0, start_epoch=0, epochs=1, data_dir=tmp_path)
    with pytest.raises(DataError, match="needs labels"):
        data.load_split(replace(cfg, classes=(1,)), "train", tmp_path)


def test_read_images(tmp_path):
    cfg = DataConfig(image_size=(28, 28))
    write_pngs(tmp_path / "folder", 3, size=(28, 28))
    assert data.read_images(tmp_path / "folder", cfg).shape == (3, 28, 28, 1)
    single = data.read_images(tmp_path / "folder" / "img2.png", cfg)
    assert single.shape == (1, 28, 28, 1) and np.allclose(single, 40 / 255.0)
    arrays = small_npz(tmp_path / "a.npz")
    out = data.read_images(tmp_path / "a.npz", replace(cfg, value_range=(-1.0, 1.0)))
    assert out.shape == (10, 28, 28, 1) and out.min() >= -1.0 and out.max() <= 1.0
    np.save(tmp_path / "one.npy", arrays["x_train"][0])
    assert data.read_images(tmp_path / "one.npy", cfg).shape == (1, 28, 28, 1)
    np.savez(tmp_path / "only.npz", pics=arrays["x_train"][:2])
    assert data.read_images(tmp_path / "only.npz", cfg).shape == (2, 28, 28, 1)


def test_read_images_errors(tmp_path):
    cfg = DataConfig()
    with pytest.raises(DataError, match="does not exist"):
        data.read_images(tmp_path / "nope.png", cfg)
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="bad.png is not a readable image"):
        data.read_images(tmp_path / "bad.png", cfg)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        data.read_images(tmp_path / "empty", cfg)


# ---------------------------------------------------------------- errors


def test_missing_file_names_file_and_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        data.load_split(DataConfig(file="missing.npz"), "train", tmp_path / "explicit")
    message = str(info.value)
    assert "missing.npz" in message and str(tmp_path / "explicit") in message and str(tmp_path / "env") in message
    assert "--data-dir" in message and "ZOO_DATA_DIR" in message


def test_corrupt_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(DataError, match="junk.npz is not a readable .npz"):
        data.load_split(DataConfig(file="junk.npz"), "train", tmp_path)
    small_npz(tmp_path / "full.npz", n_train=2000)
    blob = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        data.load_split(DataConfig(file="cut.npz"), "train", tmp_path)
    with zipfile.ZipFile(tmp_path / "partial.npz", "w") as archive:
        with archive.open("x_test.npy", "w") as f:
            np.save(f, np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match="split 'train' is not available in .*partial.npz.*'test'"):
        data.load_split(DataConfig(file="partial.npz"), "train", tmp_path)
    np.savez(tmp_path / "objects.npz", x_train=np.array([object(), 1], dtype=object))
    with pytest.raises(DataError, match="objects.npz"):
        data.load_split(DataConfig(file="objects.npz"), "train", tmp_path)


def test_unknown_split(data_dir):
    with pytest.raises(DataError, match="split 'validation'.*'train'.*'test'"):
        data.load_split(FASHION, "validation", data_dir)


def test_class_absent(data_dir):
    with pytest.raises(DataError, match=r"\[12\].*0\.\.9"):
        data.load_split(replace(FASHION, classes=(1, 12)), "train", data_dir)


def test_missing_tfds_dataset_offline_is_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        data.load_split(DataConfig(dataset="cifar10"), "train", tmp_path)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "cifar10.npz" in message and str(tmp_path) in message and "--data-dir" in message


def test_unknown_tfds_name_hints(tmp_path):
    with pytest.raises(DataError, match="did you mean 'fashion_mnist'"):
        data.load_split(DataConfig(dataset="fashon_mnist"), "train", tmp_path)


# ---------------------------------------------------------------- streamed tensorflow-datasets sources


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A tiny dataset prepared with tensorflow-datasets into a temporary folder (no network)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    folder = tmp_path_factory.mktemp("tfds")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 12, 12, 1), dtype=np.uint8)
    labels = np.arange(30) % 3

    def split(n):
        return tf.data.Dataset.from_tensor_slices({"image": images[:n], "label": labels[:n]})

    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(12, 12, 1)),
                                           "label": tfds.features.ClassLabel(num_classes=3)})
    builder = tfds.dataset_builders.TfDataBuilder(name="zoo_tiny_test", version="1.0.0", data_dir=str(folder),
                                                  split_datasets={"train": split(30), "test": split(10)},
                                                  features=features)
    builder.download_and_prepare()
    return folder


def test_tfds_stream(tfds_dir):
    cfg = DataConfig(dataset="zoo_tiny_test", labels=True, image_size=(16, 16), resize="pad")
    source = data.load_split(cfg, "train", tfds_dir)
    assert source.images is None and source.size == 30 and source.num_classes == 3
    assert source.description.startswith("tfds:zoo_tiny_test [train]")
    full, steps = data.train_stream(cfg, 8, seed=2, start_epoch=0, epochs=2, data_dir=tfds_dir)
    full = batches(full)
    assert steps == 3 and len(full) == 6
    assert full[0][0].shape == (8, 16, 16, 1) and full[0][1].dtype == np.int32
    resumed, _ = data.train_stream(cfg, 8, seed=2, start_epoch=1, epochs=2, data_dir=tfds_dir)
    for a, b in zip(full[steps:], batches(resumed)):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert [x.shape[0] for x, _ in batches(data.eval_dataset(cfg, 4, data_dir=tfds_dir))] == [4, 4, 2]
    images, labels = data.example_batch(cfg, 3, data_dir=tfds_dir)
    assert images.shape == (3, 16, 16, 1) and labels.dtype == np.int32
    filtered = data.load_split(replace(cfg, classes=(1, 2)), "train", tfds_dir)
    assert filtered.size == 20
    assert {int(y) for _, y in filtered.dataset} == {1, 2}
    with pytest.raises(DataError, match="split 'validation'"):
        data.load_split(cfg, "validation", tfds_dir)
    with pytest.raises(DataError, match=r"\[5\]"):
        data.load_split(replace(cfg, classes=(5,)), "train", tfds_dir)


def test_crop_padding_shifts_each_image_within_its_reflected_border():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (64, 8, 8, 3)).astype("float32")
    cfg = DataConfig(image_size=(8, 8), channels=3, crop_padding=2)
    assert cfg.augmented and not cfg.without_augmentation().augmented
    out = data.augment(images, cfg, tf.constant([7, 1], "int64")).numpy()
    np.testing.assert_array_equal(out, data.augment(images, cfg, tf.constant([7, 1], "int64")).numpy())  # seeded
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    offsets = []
    for image, window in zip(padded, out):
        found = [(top, left) for top in range(5) for left in range(5)
                 if np.array_equal(image[top:top + 8, left:left + 8], window)]
        assert found, "not a window of the reflected padding"
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # many places, not one
    with pytest.raises(ValueError, match="load_size and crop_padding"):
        DataConfig(image_size=(8, 8), crop_padding=2, load_size=(10, 10))
