"""Every family trains on colour: RGB images (a 300-image cut of the real CIFAR-10 archive) and RGBA images (the
emoji, composited on white; each diffusion family takes one of the two), through the real data pipeline and train
step, with finite losses; colour artifacts
export with every format matching Keras, and their cards credit the data."""

import math

import numpy as np
import pytest
import tensorflow as tf

import zoo

from test_distributed import CASES, RECIPES, TINY_TRAIN
from zoo.artifact.store import read_metadata
from zoo.config import load_recipe
from zoo.train import train

EXTRA = {  # families the distribution test has no case for, and what makes them tiny
    "guided_ddpm": ("ddpm_cfg_fashion_mnist.toml", CASES["ddpm"][1]),
    "dbvae": ("dbvae_fashion_mnist.toml", ["model.latent_dim=4", "model.filters=[8, 16]", "data.rare_class=-1",
                                           "data.rare_keep=1.0", "data.positive_classes=[0, 1]"]),
}
FAMILIES = {**CASES, **EXTRA}
COLOUR = ['data.file=""', "data.image_size=[32, 32]", "data.channels=3", 'data.resize="bilinear"', "data.classes=[]"]
DATA = {  # (overrides, the translation domains' overrides)
    "rgb": (['data.dataset="cifar10"'], ["data.domain_a.classes=[1]", "data.domain_b.classes=[9]"]),
    "rgba": (['data.dataset="emoji"', 'data.design="google"'],
             ['data.domain_a.design="google"', 'data.domain_b.design="twitter"', 'data.design=""']),
}


# Each diffusion family takes one of the two paths (their tracing costs about 15 s a run); the others take both.
PATHS = [(family, pixels) for family in sorted(FAMILIES) for pixels in sorted(DATA)
         if (family, pixels) not in (("ddpm", "rgb"), ("guided_ddpm", "rgba"))]


@pytest.mark.parametrize("family,pixels", PATHS)
def test_every_family_trains_on_rgb_and_rgba_images(family, pixels, tmp_path, data_dir, cifar_dir):
    recipe_file, tiny = FAMILIES[family]
    dataset, domains = DATA[pixels]
    overrides = [*TINY_TRAIN, "train.steps_per_epoch=2", *tiny, *COLOUR, *dataset]
    if family == "cyclegan":
        overrides += ["data.domain_a.classes=[]", "data.domain_b.classes=[]", *domains]
    if family in ("ddpm", "guided_ddpm"):
        overrides.append("model.attention_resolutions=[16]")
    recipe = load_recipe(RECIPES / recipe_file, overrides=overrides)
    result = train(recipe, tmp_path / "run", data_dir=cifar_dir if pixels == "rgb" else data_dir, export=False,
                   verbose=0)
    last = result.history[-1]
    losses = {k: v for k, v in last.items() if "loss" in k}
    assert losses and all(math.isfinite(v) for v in losses.values()), last


EXPORTS = {  # family -> the data its tiny colour artifact is trained on (tests/test_guided_reference.py exports a
    "cgan": "rgb",  # guided DDPM; the export path does not depend on the channels)
    "cyclegan": "rgba",
}


@pytest.mark.parametrize("family", sorted(EXPORTS))
def test_colour_artifacts_match_keras_in_every_format_and_credit_their_data(family, tmp_path, data_dir, cifar_dir):
    pixels = EXPORTS[family]
    recipe_file, tiny = FAMILIES[family]
    dataset, domains = DATA[pixels]
    overrides = [*TINY_TRAIN, "train.steps_per_epoch=2", *tiny, *COLOUR, *dataset,
                 'export.formats=["keras", "saved_model", "onnx"]', "export.variants=[]"]
    if family == "cyclegan":
        overrides += ["data.domain_a.classes=[]", "data.domain_b.classes=[]", *domains]
    if family == "cgan":  # shipped as the colour models are: model.keras without the optimizers' state
        overrides.append("export.optimizer_state=false")
    recipe = load_recipe(RECIPES / recipe_file, overrides=overrides)
    result = train(recipe, tmp_path / "run", data_dir=cifar_dir if pixels == "rgb" else data_dir, verbose=0)
    if family == "cgan":
        loaded = zoo.load(result.export_dir)
        assert not loaded.compiled and loaded.sample(2, labels=[3, 5]).shape == (2, 32, 32, 3)
        loaded.compile_from_recipe(recipe)  # how a user fine-tunes it: the recipe's optimizers, started afresh
        images = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
        history = loaded.fit(tf.data.Dataset.from_tensors((images, np.arange(16, dtype="int32") % 10)), epochs=1,
                             verbose=0, shuffle=False)
        assert all(math.isfinite(v[-1]) for k, v in history.history.items() if "loss" in k)
    meta = read_metadata(result.export_dir)
    assert meta["parity"]["max_abs_diff"] <= recipe.export.tolerance
    assert set(meta["parity"]["by_format"]) == {"keras", "saved_model", "onnx"}
    shapes = [t["shape"] for e in meta["endpoints"] for t in e["inputs"] + e["outputs"] if t.get("kind") == "image"]
    assert shapes and all(shape[-1] == 3 and set(shape[1:3]) <= {32, None} for shape in shapes)
    card = (result.export_dir / "README.md").read_text()
    if pixels == "rgb":
        assert "CIFAR-10" in card and "Krizhevsky" in card and "JPEG" in card  # the lossy local copy is named
    else:
        assert "Twemoji graphics Copyright Twitter, Inc. and other contributors, licensed under CC BY 4.0" in card
        assert "Noto Emoji" in card and "Apache-2.0" in card
