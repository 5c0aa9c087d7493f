"""Recipes: every shipped recipe validates; mistakes are named with the key, the file and the fix."""

import tomllib
from pathlib import Path

import pytest

from zoo.config import load_recipe, recipe_from_dict
from zoo.errors import RecipeError

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


def _raw(name="ae_fashion_mnist"):
    return tomllib.loads((RECIPES[0].parent / f"{name}.toml").read_text())


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipes_validate_and_round_trip(path, tmp_path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem.replace("_", "-")
    written = recipe.write(tmp_path / "resolved.toml")
    again = load_recipe(written)
    assert again.to_dict() == recipe.to_dict()


def test_overrides_are_typed_and_validated():
    recipe = load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml",
                         overrides=["train.epochs=1", "optimizer.learning_rate=5e-4", "data.file=my.npz",
                                    "train.jit_compile=true", "train.deterministic=false"])
    assert recipe.train.epochs == 1 and recipe.optimizer["default"].learning_rate == 5e-4
    assert recipe.data.file == "my.npz" and recipe.train.jit_compile is True
    with pytest.raises(RecipeError, match="'epochs' in \\[train\\].*below its minimum 1"):
        load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml", overrides=["train.epochs=0"])
    with pytest.raises(RecipeError, match="did you mean 'train'"):
        load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml", overrides=["trian.epochs=1"])
    with pytest.raises(RecipeError, match="section.key=value"):
        load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml", overrides=["epochs"])


@pytest.mark.parametrize("section,key,value,message", [
    ("model", "laten_dim", 8, r"unknown key 'laten_dim' in \[model\] of recipe my\.toml; did you mean 'latent_dim'\?"),
    ("train", "precision", "mixed_bf16", r"'precision' .* is 'mixed_bf16'; did you mean 'mixed_bfloat16'\? Accepted values"),
    ("train", "batch_size", "64", r"'batch_size' in \[train\] of recipe my\.toml must be an integer, got '64'"),
    ("train", "batch_size", 0, r"below its minimum 1"),
    ("data", "image_size", [28], r"'image_size' .* must be a list of 2 integers"),
    ("data", "channels", 2, r"'channels' .* is 2.*Accepted values: 1, 3"),
    ("model", "family", "autoencodr", r"not a known family; did you mean 'autoencoder'\?"),
    ("export", "formats", ["onnx", "tflite"], r"'formats' .* is 'tflite'"),
])
def test_recipe_mistakes_name_key_file_and_accepted_values(section, key, value, message):
    raw = _raw()
    raw[section][key] = value
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw, source="my.toml")


def test_cross_section_check_and_missing_family():
    raw = _raw()
    raw["data"]["value_range"] = [-1.0, 1.0]
    with pytest.raises(RecipeError, match='needs data.value_range = \\[0.0, 1.0\\]'):
        recipe_from_dict(raw, source="my.toml")
    raw = _raw()
    del raw["model"]["family"]
    with pytest.raises(RecipeError, match="needs family"):
        recipe_from_dict(raw, source="my.toml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nfamily = 'autoencoder'")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)


def test_xla_under_op_determinism_is_refused():
    with pytest.raises(RecipeError, match="jit_compile = true .* needs train.deterministic = false"):
        load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml", overrides=["train.jit_compile=true"])
    recipe = load_recipe(RECIPES[0].parent / "ae_fashion_mnist.toml",
                         overrides=["train.jit_compile=true", "train.deterministic=false"])
    assert recipe.train.jit_compile and not recipe.train.deterministic
