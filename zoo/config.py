"""Recipes: the whole truth of a run, read from TOML into typed, validated dataclasses.

A recipe has a top-level ``name`` and ``description`` and the sections ``[model]``,
``[data]``, ``[optimizer]``, ``[train]`` and ``[export]``. ``[model]`` names a
``family``; the family's own config dataclass validates the rest of that section.
Families trained with several optimizers (GANs) name one sub-table per role,
``[optimizer.generator]`` and ``[optimizer.discriminator]``.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from zoo.errors import RecipeError

SECTIONS = ("model", "data", "optimizer", "train", "export")
TOP_LEVEL_KEYS = ("name", "description") + SECTIONS


def spec(default, *, help: str = "", choices=None, min=None, max=None):
    """A dataclass field with the documentation and bounds the validator checks."""
    meta = {"help": help, "choices": choices, "min": min, "max": max}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for a sequence default")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DomainConfig:
    """One of the two image domains of an unpaired translation recipe (``[data.domain_a]``, ``[data.domain_b]``).

    Each field left empty is taken from ``[data]``; a domain is a file or folder of its own, a class subset of
    the dataset, or other splits of it (tensorflow-datasets' ``cycle_gan/horse2zebra`` has trainA, trainB, ...).
    """

    file: str = spec("", help="this domain's .npz or folder of images (else data.file / data.dataset)")
    classes: tuple[int, ...] = spec((), help="this domain's labels in the dataset (else data.classes)")
    split: str = spec("", help="split to train on (else data.split)")
    eval_split: str = spec("", help="split for validation, previews and examples (else data.eval_split)")

    @property
    def is_set(self) -> bool:
        return bool(self.file or self.classes or self.split or self.eval_split)


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are shaped for the model."""

    dataset: str = spec("fashion_mnist", help="tensorflow-datasets name; also the stem of a local <dataset>.npz")
    file: str = spec("", help="local .npz (keras.datasets layout) or folder of images; relative names are looked up in the data dirs")
    split: str = spec("train", help="split to train on")
    eval_split: str = spec("test", help="split for validation, previews and examples")
    classes: tuple[int, ...] = spec((), help="keep only these labels (empty keeps all)")
    image_size: tuple[int, int] = spec((28, 28), help="(height, width) the model sees")
    channels: int = spec(1, help="1 for grey, 3 for RGB", choices=(1, 3))
    value_range: tuple[float, float] = spec((0.0, 1.0), help="pixel range the model sees", choices=((0.0, 1.0), (-1.0, 1.0)))
    resize: str = spec("bilinear", help="how images reach image_size", choices=("bilinear", "nearest", "pad"))
    labels: bool = spec(False, help="yield (images, labels) instead of images")
    shuffle_buffer: int = spec(10_000, help="tf.data shuffle buffer for streamed sources", min=1)
    max_examples: int = spec(0, help="use at most this many examples per split (0 = all)", min=0)
    load_size: tuple[int, ...] = spec((), help="training augmentation: resize to this (height, width), then crop "
                                      "image_size back at random (CycleGAN's 286 -> 256); empty = off", min=1)
    random_flip: bool = spec(False, help="training augmentation: flip each image left-right with probability 0.5")
    domain_a: DomainConfig = spec(DomainConfig(), help="domain A of a two-domain (translation) recipe")
    domain_b: DomainConfig = spec(DomainConfig(), help="domain B of a two-domain (translation) recipe")

    def __post_init__(self):
        if self.load_size:
            if len(self.load_size) != 2:
                raise ValueError(f"load_size must be [height, width] or empty, got {list(self.load_size)}")
            if any(load < size for load, size in zip(self.load_size, self.image_size)):
                raise ValueError(f"load_size {list(self.load_size)} must be at least image_size "
                                 f"{list(self.image_size)}: images are resized up to it and cropped back")
        if self.domain_a.is_set != self.domain_b.is_set:
            raise ValueError("set both [data.domain_a] and [data.domain_b], or neither")

    @property
    def two_domains(self) -> bool:
        return self.domain_a.is_set


@dataclass(frozen=True)
class OptimizerConfig:
    """A Keras optimizer by name and its hyperparameters."""

    name: str = spec("adam", choices=("adam", "adamw", "sgd", "rmsprop"))
    learning_rate: float = spec(1e-3, min=0.0)
    beta_1: float = spec(0.9, help="Adam/AdamW first-moment decay", min=0.0, max=1.0)
    beta_2: float = spec(0.999, help="Adam/AdamW second-moment decay", min=0.0, max=1.0)
    epsilon: float = spec(1e-7, min=0.0)
    momentum: float = spec(0.0, help="SGD/RMSprop momentum", min=0.0, max=1.0)
    weight_decay: float = spec(0.0, help="decoupled weight decay (AdamW)", min=0.0)
    clipnorm: float = spec(0.0, help="clip each gradient to this norm (0 = off)", min=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: length, batch, numerics, reproducibility and checkpoints."""

    epochs: int = spec(10, min=1)
    steps_per_epoch: int = spec(0, help="cap on steps per epoch (0 = one pass over the split)", min=0)
    validation_steps: int = spec(0, help="cap on validation batches per epoch (0 = whole eval split)", min=0)
    batch_size: int = spec(128, min=1)
    precision: str = spec("float32", choices=("float32", "mixed_bfloat16", "mixed_float16", "auto"),
                          help="auto = mixed_float16 on a GPU, float32 otherwise")
    jit_compile: bool = spec(False, help="compile train_step with XLA")
    seed: int = spec(0, min=0)
    deterministic: bool = spec(True, help="tf.config.experimental.enable_op_determinism")
    checkpoint_every: int = spec(1, help="epochs between checkpoints", min=1)
    keep_checkpoints: int = spec(3, help="how many recent checkpoints to keep", min=1)
    distribution: str = spec("default", choices=("default", "mirrored"),
                             help="tf.distribute strategy: the default one, or MirroredStrategy over local devices")


@dataclass(frozen=True)
class ExportConfig:
    """What an artifact holds and how strictly other formats must agree with Keras."""

    formats: tuple[str, ...] = spec(("keras", "saved_model", "onnx"), choices=("keras", "saved_model", "onnx"))
    opset: int = spec(17, min=13, max=21)
    num_examples: int = spec(16, help="example inputs stored in examples.npz", min=1, max=256)
    tolerance: float = spec(1e-4, help="largest max-abs difference from Keras an export may have", min=0.0)


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. ``model`` is the family's own config dataclass."""

    name: str
    description: str
    model: Any
    data: DataConfig
    optimizer: dict[str, OptimizerConfig]
    train: TrainConfig
    export: ExportConfig
    source: str = ""

    @property
    def family(self) -> str:
        return self.model.family

    def to_dict(self) -> dict:
        out = {"name": self.name, "description": self.description, "model": _plain(self.model)}
        out["data"] = _plain(self.data)
        if list(self.optimizer) == ["default"]:
            out["optimizer"] = _plain(self.optimizer["default"])
        else:
            out["optimizer"] = {role: _plain(cfg) for role, cfg in self.optimizer.items()}
        out["train"] = _plain(self.train)
        out["export"] = _plain(self.export)
        return out

    def to_toml(self) -> str:
        header = f"# Resolved recipe (every default filled in), from {self.source or 'code'}.\n"
        return header + tomli_w.dumps(self.to_dict())

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_toml())
        return path

    def replace(self, **sections) -> "Recipe":
        return dataclasses.replace(self, **sections)


def _plain(obj) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = _plain(value)
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


# ---------------------------------------------------------------- validation


def _type_name(tp, plural: bool = False) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0], plural=True)}"
        return f"a list of {len(args)} " + "/".join(sorted({_type_name(a, plural=True) for a in args}))
    names = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
             str: ("a string", "strings")}
    return names[tp][plural] if tp in names else str(tp)


def _coerce(value, tp, where: str):
    """Check ``value`` against type ``tp``; return it converted (lists to tuples, ints to floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg, where)
            except RecipeError:
                pass
        raise RecipeError(f"{where} must be one of {typing.get_args(tp)}, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{where} must be {_type_name(tp)}, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise RecipeError(f"{where} must be {_type_name(tp)}, got {len(value)} values: {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported recipe field type {tp!r} at {where}")


def _unknown_key(key: str, accepted, where: str) -> RecipeError:
    close = difflib.get_close_matches(key, list(accepted), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return RecipeError(f"unknown key '{key}' in {where}{hint} Accepted keys: {', '.join(accepted)}")


def build_dataclass(cls, raw: dict, where: str):
    """Validate ``raw`` (a TOML table) into ``cls``: names, types, choices and bounds."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{where} must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise _unknown_key(key, fields, where)
        meta = fields[key].metadata
        label = f"'{key}' in {where}"
        if dataclasses.is_dataclass(hints[key]):  # a sub-table: [data] -> [data.domain_a]
            table = where.replace("]", f".{key}]", 1) if where.startswith("[") else f"[{key}] in {where}"
            values[key] = build_dataclass(hints[key], value, table)
            continue
        value = _coerce(value, hints[key], label)
        choices = meta.get("choices")
        if choices is not None:
            items = value if (isinstance(value, tuple) and choices and not isinstance(choices[0], tuple)) else (value,)
            for item in items:
                if item not in choices:
                    shown = ", ".join(repr(list(c) if isinstance(c, tuple) else c) for c in choices)
                    close = difflib.get_close_matches(str(item), [str(c) for c in choices], n=1)
                    hint = f"; did you mean {close[0]!r}?" if close and close[0] != str(item) else "."
                    raise RecipeError(f"{label} is {item!r}{hint} Accepted values: {shown}")
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if meta.get("min") is not None and item < meta["min"]:
                    raise RecipeError(f"{label} is {item}, below its minimum {meta['min']}")
                if meta.get("max") is not None and item > meta["max"]:
                    raise RecipeError(f"{label} is {item}, above its maximum {meta['max']}")
        values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a family's __post_init__ cross-checks
        raise RecipeError(f"{where}: {exc}") from None


# ---------------------------------------------------------------- loading


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` from the command line; the value is read as TOML, else as a string."""
    if "=" not in text:
        raise RecipeError(f"--set {text!r} must look like section.key=value, e.g. train.epochs=1")
    dotted, raw_value = text.split("=", 1)
    path = [p.strip() for p in dotted.strip().split(".") if p.strip()]
    if len(path) < 2 and path[:1] not in (["name"], ["description"]):
        raise RecipeError(f"--set {text!r}: name a section and a key, e.g. train.epochs=1")
    try:
        value = tomllib.loads(f"v = {raw_value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw_value.strip()
    return path, value


def apply_overrides(raw: dict, overrides) -> dict:
    for text in overrides or ():
        path, value = parse_override(text)
        if path[0] not in TOP_LEVEL_KEYS:
            raise _unknown_key(path[0], TOP_LEVEL_KEYS, f"--set {text!r}")
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set {text!r}: '{part}' is not a table")
        node[path[-1]] = value
    return raw


def recipe_from_dict(raw: dict, source: str = "", overrides=()) -> Recipe:
    """Validate a raw recipe dict (as read from TOML) into a :class:`Recipe`."""
    from zoo.models import get_family  # late import: the families import this module

    raw = apply_overrides(_deepcopy(raw), overrides)
    where = f"recipe {source}" if source else "recipe"
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown_key(key, TOP_LEVEL_KEYS, where)
    name = raw.get("name") or (Path(source).stem.replace("_", "-") if source else "")
    if not isinstance(name, str) or not name:
        raise RecipeError(f"{where} needs a top-level name = \"...\"")
    model_raw = dict(raw.get("model", {}))
    family_name = model_raw.get("family")
    if not family_name:
        raise RecipeError(f"[model] in {where} needs family = \"...\"")
    family = get_family(family_name, where=f"'family' in [model] of {where}")
    model_cfg = build_dataclass(family.config_class, model_raw, f"[model] of {where}")

    roles, defaults = family.optimizer_roles, family.optimizer_defaults  # the papers' settings, per role
    opt_raw = raw.get("optimizer", {})
    if roles == ("default",):
        optimizer = {"default": build_dataclass(OptimizerConfig, {**defaults.get("default", {}), **opt_raw},
                                                f"[optimizer] of {where}")}
    else:
        for key in opt_raw:
            if key not in roles:
                raise _unknown_key(key, roles, f"[optimizer] of {where} (family {family_name} takes one table per role)")
        optimizer = {r: build_dataclass(OptimizerConfig, {**defaults.get(r, {}), **opt_raw.get(r, {})},
                                        f"[optimizer.{r}] of {where}") for r in roles}

    recipe = Recipe(
        name=name,
        description=_coerce(raw.get("description", ""), str, f"'description' in {where}"),
        model=model_cfg,
        data=build_dataclass(DataConfig, raw.get("data", {}), f"[data] of {where}"),
        optimizer=optimizer,
        train=build_dataclass(TrainConfig, raw.get("train", {}), f"[train] of {where}"),
        export=build_dataclass(ExportConfig, raw.get("export", {}), f"[export] of {where}"),
        source=str(source),
    )
    if recipe.train.jit_compile and recipe.train.deterministic:
        raise RecipeError(f"train.jit_compile = true in {where} needs train.deterministic = false: Keras turns XLA off "
                          "under TensorFlow op determinism (set deterministic = false to train with XLA)")
    if recipe.data.two_domains and not family.two_domains:
        raise RecipeError(f"[data.domain_a] and [data.domain_b] in {where} are for two-domain families (cyclegan); "
                          f"family {family_name} trains on one set of images: remove them")
    if family.two_domains and not recipe.data.two_domains:
        raise RecipeError(f"family {family_name} in {where} learns between two domains: add [data.domain_a] and "
                          "[data.domain_b] tables (e.g. classes = [7] and classes = [9], or file = a folder each; "
                          "`zoo train` also takes --domain-a DIR --domain-b DIR)")
    family.check_recipe(recipe)
    return recipe


def load_recipe(path: str | Path, overrides=()) -> Recipe:
    """Read and validate a recipe file; ``overrides`` are ``section.key=value`` strings."""
    path = Path(path)
    if not path.is_file():
        hint = ""
        candidate = Path("recipes") / f"{path.stem}.toml"
        if not path.suffix and candidate.is_file():
            hint = f"; did you mean {candidate}?"
        raise RecipeError(f"recipe file {path} does not exist{hint}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {path} is not valid TOML: {exc}") from None
    return recipe_from_dict(raw, source=str(path), overrides=overrides)


def _deepcopy(raw):
    if isinstance(raw, dict):
        return {k: _deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deepcopy(v) for v in raw]
    return raw
