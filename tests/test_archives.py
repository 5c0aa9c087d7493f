"""Image archives (zoo/data/archives.py) and the catalogued colour datasets: CIFAR-10's JPEG tar.gz decoded once into
the cache, and the emoji in two designs, composited on white. Real data: a 300-image cut of the CIFAR-10 archive and
the emoji archive in ../shared/data."""

import io
import os
import stat
import tarfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from zoo import catalogue, data
from zoo.config import DataConfig, DomainConfig
from zoo.data import archives
from zoo.errors import DataError

CIFAR = DataConfig(dataset="cifar10", image_size=(32, 32), channels=3, value_range=(-1.0, 1.0), labels=True)
EMOJI = DataConfig(dataset="emoji", design="google", image_size=(64, 64), channels=3, value_range=(0.0, 1.0))


def test_cifar_is_decoded_once_then_read_from_the_cache(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    train = data.load_split(CIFAR, "train", cifar_dir)
    assert train.images.shape == (200, 32, 32, 3) and train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [20] * 10 and train.num_classes == 10
    assert train.description == "cifar10-jpeg.tar.gz [train], 200 images"  # the file's name, no machine path
    assert len(np.unique(train.labels[:20])) > 3  # a fixed shuffle: the first images are of many classes
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("cifar10-jpeg-")

    def no_decoding(path):
        raise AssertionError("decoded again")

    monkeypatch.setattr(archives, "_decode", no_decoding)
    again = data.load_split(CIFAR, "train", cifar_dir)
    assert np.array_equal(again.images, train.images) and np.array_equal(again.labels, train.labels)
    assert data.load_split(CIFAR, "test", cifar_dir).images.shape == (100, 32, 32, 3)
    assert archives.decoded(cifar_dir / "cifar10-jpeg.tar.gz") == (cached[0], False)


def test_the_cache_holds_what_pillow_decodes_in_cifar10s_class_order(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    path, _ = archives.decoded(cifar_dir / "cifar10-jpeg.tar.gz")
    with np.load(path) as arrays:
        assert tuple(arrays["class_names"]) == catalogue.dataset("cifar10").class_names
        images, labels = arrays["x_test"], arrays["y_test"]
    with tarfile.open(cifar_dir / "cifar10-jpeg.tar.gz") as tar:
        member = tar.getmember("test/frog/0000.jpg")
        expected = np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB"))
    frogs = images[labels == 6]
    assert any(np.array_equal(frog, expected) for frog in frogs)


def test_the_archive_folder_is_never_written(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    before = sorted(os.listdir(cifar_dir))
    mode = cifar_dir.stat().st_mode
    cifar_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)  # read-only, as ../shared is in CI
    try:
        assert data.load_split(CIFAR, "test", cifar_dir).size == 100
    finally:
        cifar_dir.chmod(mode)
    assert sorted(os.listdir(cifar_dir)) == before


def test_a_changed_archive_is_decoded_again(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    data.load_split(CIFAR, "test", cifar_dir)
    smaller = tmp_path / "smaller"
    with tarfile.open(cifar_dir / "cifar10-jpeg.tar.gz") as source, \
            tarfile.open(smaller.with_suffix(".tar"), "w") as target:  # an uncompressed tar of the test split only
        for member in source:
            if member.name.startswith("test/") and member.name.endswith(("0000.jpg", "0001.jpg")):
                target.addfile(member, source.extractfile(member))
    own = DataConfig(file=str(smaller.with_suffix(".tar")), channels=3, image_size=(32, 32), labels=True)
    source = data.load_split(own, "test", tmp_path)
    assert source.size == 20 and source.num_classes == 10 and source.description == "smaller.tar [test], 20 images"
    assert len(list((tmp_path / "cache").iterdir())) == 2
    with pytest.raises(DataError, match="split 'train' is not available in smaller.tar.*'test'"):
        data.load_split(own, "train", tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not_an_image"])
def test_a_damaged_archive_gives_one_clear_line(cifar_dir, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad"
    bad.mkdir()
    blob = (cifar_dir / "cifar10-jpeg.tar.gz").read_bytes()
    if damage == "truncated":
        (bad / "cifar10-jpeg.tar.gz").write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        (bad / "cifar10-jpeg.tar.gz").write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        with tarfile.open(bad / "cifar10-jpeg.tar.gz", "w:gz") as tar:
            info = tarfile.TarInfo("train/cat/0000.jpg")
            info.size = 100
            tar.addfile(info, io.BytesIO(b"x" * 100))
    with pytest.raises(DataError) as info:
        data.load_split(CIFAR, "train", bad)
    message = str(info.value)
    assert "\n" not in message and "cifar10-jpeg.tar.gz is damaged" in message and "sha256" in message
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())  # no partial cache


def test_emoji_designs_are_paired_rows_composited_on_white(data_dir):
    google = data.load_split(EMOJI, "test", data_dir)
    twitter = data.load_split(replace(EMOJI, design="twitter"), "test", data_dir)
    assert google.images.shape == twitter.images.shape == (398, 64, 64, 4)
    assert np.array_equal(google.labels, twitter.labels) and google.num_classes == 10
    assert google.description == "emoji64.npz [google test], 398 images"
    seen = data.preprocess(google.images[:8], EMOJI).numpy()
    transparent = google.images[:8, ..., 3] == 0
    assert transparent.any() and np.allclose(seen[transparent], 1.0)  # white where nothing is drawn
    black = data.preprocess(google.images[:8], replace(EMOJI, background="black")).numpy()
    assert np.allclose(black[transparent], 0.0)
    opaque = google.images[:8, ..., 3] == 255
    assert np.allclose(seen[opaque], google.images[:8][opaque][:, :3] / 255.0, atol=1e-6)


def test_emoji_needs_a_known_design(data_dir, tmp_path):
    with pytest.raises(ValueError, match="design is not set.*google, twitter"):
        DataConfig(dataset="emoji")
    with pytest.raises(ValueError, match="design is 'apple'.*google, twitter"):
        DataConfig(dataset="emoji", design="apple")
    with pytest.raises(ValueError, match="has no designs"):
        DataConfig(dataset="cifar10", design="google")
    with pytest.raises(ValueError, match="domain_b.design is not set"):
        DataConfig(dataset="emoji", domain_a=DomainConfig(design="google"), domain_b=DomainConfig(split="train"))
    with pytest.raises(DataError, match="emoji64.npz.*--data-dir"):  # not in tensorflow-datasets: says where to put it
        data.load_split(EMOJI, "train", tmp_path)
    own = DataConfig(file=str(data_dir / "emoji64.npz"), design="apple", channels=3, image_size=(64, 64))
    with pytest.raises(DataError, match="design 'apple' is not in it.*google, twitter"):
        data.load_split(own, "train", data_dir)


def test_catalogue_gives_each_design_its_licence_and_attribution():
    emoji = catalogue.dataset("emoji")
    title, licence, attribution = emoji.terms("twitter")
    assert licence == "CC BY 4.0" and "Twitter, Inc. and other contributors" in attribution and "Twemoji" in title
    assert emoji.terms("google")[1] == "Apache-2.0"
    cifar = catalogue.dataset("cifar10")
    assert cifar.local_name == "cifar10-jpeg.tar.gz" and "Krizhevsky" in cifar.terms()[2]
    assert cifar.features == "classifier-cifar10"


def test_an_archive_named_as_cifar10_must_have_its_classes(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    other = tmp_path / "other"
    other.mkdir()
    with tarfile.open(cifar_dir / "cifar10-jpeg.tar.gz") as source, \
            tarfile.open(other / "cifar10-jpeg.tar.gz", "w:gz") as target:
        for member in source:
            if member.isfile() and "/cat/" in member.name:
                content = source.extractfile(member).read()
                member.name = member.name.replace("/cat/", "/kitten/")
                target.addfile(member, io.BytesIO(content))
    with pytest.raises(DataError, match="class folders .*kitten.*; dataset 'cifar10' has the classes airplane"):
        data.load_split(CIFAR, "train", other)


def test_an_unwritable_cache_is_named_before_any_decoding(cifar_dir, tmp_path, monkeypatch):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(blocked / "cache"))

    def no_decoding(path):
        raise AssertionError("decoded before the cache was checked")

    monkeypatch.setattr(archives, "_decode", no_decoding)
    with pytest.raises(DataError, match="cannot write the decoded cifar10-jpeg.tar.gz to the cache .*ZOO_CACHE_DIR"):
        data.load_split(CIFAR, "test", cifar_dir)
