"""Recipes: the whole truth of a run, read from TOML into typed, validated dataclasses.

A recipe has a top-level ``name`` and ``description`` and the sections ``[model]``,
``[data]``, ``[optimizer]``, ``[train]`` and ``[export]``. ``[model]`` names a
``family``; the family's own config dataclass validates the rest of that section.
Families trained with several optimizers (GANs) name one sub-table per role,
``[optimizer.generator]`` and ``[optimizer.discriminator]``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from zoo import catalogue
from zoo.errors import RecipeError
from zoo.files import write_atomic
from zoo.models import get_family
from zoo.schema import build_dataclass, coerce, deepcopy, plain, spec, unknown_key

AUGMENTATION = ("load_size", "crop_padding", "random_flip", "perturb_rate")  # [data]'s training augmentation
BACKGROUNDS = {"white": 255.0, "black": 0.0}  # data.background: the 0..255 level a transparent pixel shows
SECTIONS = ("model", "data", "optimizer", "train", "export")
TOP_LEVEL_KEYS = ("name", "description") + SECTIONS


def check_design(dataset: str, design: str, file: str = "", key: str = "design") -> None:
    """A catalogued dataset drawn in several designs needs one of them; others take none (a file of the user's may)."""
    known = catalogue.dataset(dataset)
    if file or known is None:
        return
    names = [d.name for d in known.designs]
    if names and design not in names:
        what = f"is '{design}'" if design else "is not set"
        raise ValueError(f"{key} {what}: dataset '{dataset}' is drawn in the designs {', '.join(names)}; "
                         f"set data.{key} to one of them")
    if design and not names:
        raise ValueError(f"{key} = '{design}', but dataset '{dataset}' has no designs; remove data.{key}")


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
    design: str = spec("", help="this domain's design of a dataset drawn in several (else data.design)")

    @property
    def is_set(self) -> bool:
        return bool(self.file or self.classes or self.split or self.eval_split or self.design)


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
    design: str = spec("", help="which drawing of a dataset drawn in several (emoji: google or twitter); "
                                "in an .npz its arrays are <design>_train and <design>_test")
    background: str = spec("white", help="the colour transparent pixels of RGBA images are composited on",
                           choices=tuple(BACKGROUNDS))
    value_range: tuple[float, float] = spec((0.0, 1.0), help="pixel range the model sees", choices=((0.0, 1.0), (-1.0, 1.0)))
    resize: str = spec("bilinear", help="how images reach image_size", choices=("bilinear", "nearest", "pad"))
    labels: bool = spec(False, help="yield (images, labels) instead of images")
    shuffle_buffer: int = spec(10_000, help="tf.data shuffle buffer for streamed sources", min=1)
    max_examples: int = spec(0, help="use at most this many examples per split (0 = all)", min=0)
    load_size: tuple[int, ...] = spec((), help="training augmentation: resize to this (height, width), then crop "
                                      "image_size back at random (CycleGAN's 286 -> 256); empty = off", min=1)
    crop_padding: int = spec(0, min=0, help="training augmentation: pad each side by this many pixels (reflected) "
                                            "and crop image_size back at random, the CIFAR-10 augmentation of He "
                                            "et al. 2016 (4 there); 0 = off")
    random_flip: bool = spec(False, help="training augmentation: flip each image left-right with probability 0.5")
    perturb_rate: float = spec(0.0, min=0.0, max=1.0,
                               help="training augmentation: replace each pixel by a uniform random grey level with "
                                    "this probability (0 = off); 0.1-0.2 trains the background model of a likelihood "
                                    "ratio (Ren et al. 2019)")
    positive_classes: tuple[int, ...] = spec((), min=0, help="a binary task: these labels become 1 and every other "
                                             "label 0 (empty keeps the labels as they are)")
    rare_class: int = spec(-1, min=-1, help="a label kept at rare_keep of its examples in the training split (data.split) "
                                            "and at all of them in the others: a subgroup made rare (-1 = none)")
    rare_keep: float = spec(1.0, min=0.0, max=1.0, help="the share of rare_class's training examples kept, a choice "
                                                        "seeded by rare_seed")
    rare_seed: int = spec(0, min=0, help="which of rare_class's training examples are kept")
    domain_a: DomainConfig = spec(DomainConfig(), help="domain A of a two-domain (translation) recipe")
    domain_b: DomainConfig = spec(DomainConfig(), help="domain B of a two-domain (translation) recipe")

    def __post_init__(self):
        if self.load_size and self.crop_padding:
            raise ValueError("load_size and crop_padding are two ways to crop at random: set one of them")
        if self.load_size:
            if len(self.load_size) != 2:
                raise ValueError(f"load_size must be [height, width] or empty, got {list(self.load_size)}")
            if any(load < size for load, size in zip(self.load_size, self.image_size)):
                raise ValueError(f"load_size {list(self.load_size)} must be at least image_size "
                                 f"{list(self.image_size)}: images are resized up to it and cropped back")
        if len(set(self.positive_classes)) != len(self.positive_classes):
            raise ValueError(f"positive_classes {list(self.positive_classes)} names a label twice; list each once")
        if self.classes and not set(self.positive_classes) <= set(self.classes):
            raise ValueError(f"positive_classes {list(self.positive_classes)} must be among classes {list(self.classes)}, "
                             "the labels kept")
        if self.rare_keep < 1.0 and self.rare_class < 0:
            raise ValueError(f"rare_keep = {self.rare_keep:g} needs rare_class, the label to keep that share of "
                             "(e.g. rare_class = 4)")
        if self.rare_class >= 0 and self.classes and self.rare_class not in self.classes:
            raise ValueError(f"rare_class = {self.rare_class} is not among classes {list(self.classes)}, the labels kept")
        if self.domain_a.is_set != self.domain_b.is_set:
            raise ValueError("set both [data.domain_a] and [data.domain_b], or neither")
        if self.two_domains:
            for key, domain in (("domain_a", self.domain_a), ("domain_b", self.domain_b)):
                check_design(self.dataset, domain.design or self.design, domain.file or self.file, f"{key}.design")
        else:
            check_design(self.dataset, self.design, self.file)

    @property
    def two_domains(self) -> bool:
        return self.domain_a.is_set

    @property
    def augmented(self) -> bool:
        """Whether training images are augmented (:func:`zoo.data.preprocess.augment`)."""
        return any(getattr(self, name) != getattr(DataConfig, name) for name in AUGMENTATION)

    def without_augmentation(self) -> "DataConfig":
        return dataclasses.replace(self, **{name: getattr(DataConfig, name) for name in AUGMENTATION})


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
    intra_op_threads: int = spec(0, min=0, help="threads one TensorFlow op may use (0 = TensorFlow's default, all "
                                                "cores); 1 suits a model of many small ops that can run side by side")
    inter_op_threads: int = spec(0, min=0, help="TensorFlow ops run at once (0 = TensorFlow's default)")
    checkpoint_every: int = spec(1, help="epochs between checkpoints", min=1)
    keep_checkpoints: int = spec(3, help="how many recent checkpoints to keep", min=1)
    distribution: str = spec("default", choices=("default", "mirrored", "multi_worker"),
                             help="tf.distribute strategy: one device; MirroredStrategy over the local GPUs (or "
                                  "logical CPUs); MultiWorkerMirroredStrategy over the processes TF_CONFIG lists")


@dataclass(frozen=True)
class ExportConfig:
    """What an artifact holds and how strictly other formats must agree with Keras."""

    formats: tuple[str, ...] = spec(("keras", "saved_model", "onnx"), choices=("keras", "saved_model", "onnx"))
    opset: int = spec(17, min=13, max=21)
    num_examples: int = spec(16, help="example inputs stored in examples.npz", min=1, max=256)
    tolerance: float = spec(1e-4, help="largest max-abs difference from Keras an export may have", min=0.0)
    variants: tuple[str, ...] = spec(("fp16", "int8"), choices=("fp16", "int8"),
                                     help="smaller copies written beside each ONNX file: float16, dynamic int8 "
                                          "(empty for none); see zoo/artifact/variants.py")
    optimizer_state: bool = spec(True, help="keep the optimizers' state in model.keras, so that training goes on "
                                            "where it stopped; false makes an Adam-trained file about a third as "
                                            "large, and fine-tuning starts the optimizer afresh")
    variant_fid_samples: int = spec(0, min=0, help="images for each variant's FID beside float32's at export (a "
                                                   "diffusion model's are DDIM-50 samples); 0 leaves FID to "
                                                   "`zoo variants NAME`")


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
        out = {"name": self.name, "description": self.description, "model": plain(self.model)}
        out["data"] = plain(self.data)
        if list(self.optimizer) == ["default"]:
            out["optimizer"] = plain(self.optimizer["default"])
        else:
            out["optimizer"] = {role: plain(cfg) for role, cfg in self.optimizer.items()}
        out["train"] = plain(self.train)
        out["export"] = plain(self.export)
        return out

    def to_toml(self) -> str:
        header = f"# Resolved recipe (every default filled in), from {self.source or 'code'}.\n"
        return header + tomli_w.dumps(self.to_dict())

    def write(self, path: str | Path) -> Path:
        return write_atomic(path, self.to_toml())

    def replace(self, **sections) -> "Recipe":
        return dataclasses.replace(self, **sections)


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
            raise unknown_key(path[0], TOP_LEVEL_KEYS, f"--set {text!r}")
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set {text!r}: '{part}' is not a table")
        node[path[-1]] = value
    return raw


def recipe_from_dict(raw: dict, source: str = "", overrides=()) -> Recipe:
    """Validate a raw recipe dict (as read from TOML) into a :class:`Recipe`."""
    raw = apply_overrides(deepcopy(raw), overrides)
    where = f"recipe {source}" if source else "recipe"
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise unknown_key(key, TOP_LEVEL_KEYS, where)
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
                raise unknown_key(key, roles, f"[optimizer] of {where} (family {family_name} takes one table per role)")
        optimizer = {r: build_dataclass(OptimizerConfig, {**defaults.get(r, {}), **opt_raw.get(r, {})},
                                        f"[optimizer.{r}] of {where}") for r in roles}

    recipe = Recipe(
        name=name,
        description=coerce(raw.get("description", ""), str, f"'description' in {where}"),
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


