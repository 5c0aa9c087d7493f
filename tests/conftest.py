"""Shared test fixtures. Tests use only local data: ../shared/data beside the repo, or arrays made here."""

import atexit
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Never reach for the network in tests: a missing dataset must fail at once.
os.environ["ZOO_OFFLINE"] = "1"
# Decoded archives go to a folder of this test run, never to the user's ~/.cache/zoo.
os.environ["ZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="zoo-test-cache-")
atexit.register(shutil.rmtree, os.environ["ZOO_CACHE_DIR"], True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _shared_data() -> Path:
    env = os.environ.get("ZOO_TEST_DATA_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _shared_data()
    if not (path / "fashion_mnist.npz").is_file():
        pytest.fail(f"test data not found: expected {path}/fashion_mnist.npz (set ZOO_TEST_DATA_DIR)")
    return path


CIFAR_ARCHIVE = "cifar10-jpeg.tar.gz"


def cifar_subset(folder: Path, train_per_class: int = 20, test_per_class: int = 10) -> Path:
    """A copy of the real CIFAR-10 archive's layout holding its first images of each class and split (200 + 100 by
    default), written as ``folder/cifar10-jpeg.tar.gz``; returns ``folder``. Only file names are read, no image decoded."""
    keep = {"train": train_per_class, "test": test_per_class}
    taken: dict[tuple[str, str], int] = {}
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(_shared_data() / CIFAR_ARCHIVE) as source, \
            tarfile.open(folder / CIFAR_ARCHIVE, "w:gz") as target:
        for member in source:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3:
                continue
            key = (parts[0], parts[1])
            if taken.get(key, 0) < keep[parts[0]]:
                taken[key] = taken.get(key, 0) + 1
                target.addfile(member, source.extractfile(member))
    return folder


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory) -> Path:
    """A data dir with a 300-image CIFAR-10 archive (20 training and 10 test images a class), cut from the real one."""
    return cifar_subset(tmp_path_factory.mktemp("cifar"))


TINY_RECIPE = """
name = "tiny-ae"
description = "A tiny autoencoder for tests."

[model]
family = "autoencoder"
latent_dim = 8
filters = [8, 16]

[data]
dataset = "fashion_mnist"
max_examples = 512

[optimizer]
learning_rate = 2e-3

[train]
epochs = 3
steps_per_epoch = 4
validation_steps = 2
batch_size = 32
seed = 0  # the shipped recipes use 0; tf.data once failed on a symbolic seed with global seed 0

[export]
num_examples = 4
"""


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    """A recipe file for a tiny autoencoder that trains in seconds on 512 real images."""
    path = tmp_path / "tiny_ae.toml"
    path.write_text(TINY_RECIPE)
    return path


def run_zoo(*args, env=None, timeout=600):
    """Run the real `zoo` command line in a new process; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "zoo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


def zoo_main(*args, env=None):
    """Run the `zoo` command line in this process, as `run_zoo` does in a new one (without its TensorFlow
    start-up of several seconds): a CompletedProcess with the exit code and what was printed."""
    from zoo.cli import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return subprocess.CompletedProcess(["zoo", *map(str, args)], code, out.getvalue(), err.getvalue())


ISOLATED = "ZOO_ISOLATED_TEST"


def pytest_configure(config):
    config.addinivalue_line("markers", "isolated: run in a fresh Python process (e.g. XLA training: TensorFlow's op "
                                       "determinism, once a test switches it on, cannot be switched off in-process); "
                                       "isolated(env={...}) also sets environment variables such as TF_ENABLE_ONEDNN_OPTS")


def pytest_pyfunc_call(pyfuncitem):
    """Run an ``isolated`` test in a fresh interpreter and report its outcome as this test's."""
    marker = pyfuncitem.get_closest_marker("isolated")
    if marker is None or os.environ.get(ISOLATED):
        return None
    env = {**os.environ, **marker.kwargs.get("env", {}), ISOLATED: "1"}  # isolated(env={...}) sets process-wide options
    child = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", "--no-header",
                            "--durations=0", pyfuncitem.nodeid], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    if child.returncode != 0:
        pytest.fail(f"{pyfuncitem.nodeid} failed in its own process:\n{child.stdout[-6000:]}{child.stderr[-2000:]}",
                    pytrace=False)
    return True


@pytest.fixture
def policy():
    """Set a global Keras dtype policy for one test (call it with a name); float32 is restored after."""
    import keras

    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


def read_h5(path) -> dict:
    """Every dataset of an HDF5 file (e.g. a checkpoint's model.weights.h5), by its path inside the file."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def resumed_and_straight(folder, recipe_text: str, data_dir, *, export_first: bool = False):
    """Train a tiny recipe of two or more epochs twice: one epoch then ``--resume`` to the end in
    ``folder/resumed`` (exporting after the first epoch, or else at the end), and straight through in
    ``folder/straight`` without export. Returns the first and the resumed ``RunResult``."""
    from zoo.config import load_recipe
    from zoo.train import train

    (folder / "tiny.toml").write_text(recipe_text)
    recipe = load_recipe(folder / "tiny.toml")
    first = train(load_recipe(folder / "tiny.toml", overrides=["train.epochs=1"]), folder / "resumed",
                  data_dir=data_dir, export=export_first, verbose=0)
    resumed = train(recipe, folder / "resumed", data_dir=data_dir, resume=True, export=not export_first, verbose=0)
    train(recipe, folder / "straight", data_dir=data_dir, export=False, verbose=0)
    return first, resumed


def tiny_run(*, steps_per_epoch: int, batch_size: int, validation_steps: int = 1) -> str:
    """The ``[train]`` and ``[export]`` tables of a tiny two-epoch test recipe."""
    return (f"[train]\nepochs = 2\nsteps_per_epoch = {steps_per_epoch}\nvalidation_steps = {validation_steps}\n"
            f"batch_size = {batch_size}\n[export]\nnum_examples = 4\n")


def tiny_ddpm_recipe(name: str, *, guided: bool = False, max_examples: int = 256) -> str:
    """The ``[model]``, ``[data]`` and ``[optimizer]`` tables of a tiny DDPM test recipe (a 10-class guided_ddpm with
    ``guided``, guidance 2.0): T = 100, 5 sampling steps, 8 in ``generate``. Add ``[train]`` and ``[export]``."""
    family = ('family = "guided_ddpm"\nnum_classes = 10\ncond_drop = 0.25\nguidance = 2.0\n' if guided
              else 'family = "ddpm"\n')
    return (f'name = "{name}"\n[model]\n{family}widths = [8, 16]\nnum_res_blocks = 1\nattention_resolutions = [14]\n'
            'norm_groups = 4\nschedule = "cosine"\nprediction_type = "v"\ntimesteps = 100\nsample_steps = 5\n'
            'generate_steps = 8\n[data]\ndataset = "fashion_mnist"\nvalue_range = [-1.0, 1.0]\n'
            + ("labels = true\n" if guided else "") + f"max_examples = {max_examples}\n[optimizer]\nlearning_rate = 3e-3\n")


def tiny_guided_artifact_recipe(name: str, formats=None) -> str:
    """A tiny guided_ddpm trained one epoch of four steps on 128 images and exported without variants: untrained, but
    its label embedding has moved off its zero start, so conditional and unconditional predictions differ."""
    export = f"formats = {list(formats)!r}\n".replace("'", '"') if formats else ""
    return (tiny_ddpm_recipe(name, guided=True, max_examples=128)
            + "[train]\nepochs = 1\nsteps_per_epoch = 4\nvalidation_steps = 1\nbatch_size = 16\n"
            + f"[export]\n{export}num_examples = 4\nvariants = []\n")

