"""The families by name: what a recipe's ``[model] family`` and a saved model's ``zoo>ClassName`` resolve to."""

from __future__ import annotations

import difflib

import keras

from zoo.errors import RecipeError

_FAMILIES: dict[str, type] = {}


def register_family(cls):
    """Class decorator: make a family known to recipes and serializable as ``zoo>ClassName``."""
    cls = keras.saving.register_keras_serializable(package="zoo")(cls)
    _FAMILIES[cls.family] = cls
    return cls


def get_family(name: str, where: str = "family") -> type:
    if name not in _FAMILIES:
        close = difflib.get_close_matches(name, list(_FAMILIES), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        raise RecipeError(f"{where} is '{name}', which is not a known family{hint} Known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def families() -> dict[str, type]:
    return dict(_FAMILIES)
