"""genzoo: deep generative models for Keras 3 on TensorFlow.

``import zoo`` registers every family with Keras, so that
``keras.models.load_model("exported/<name>/model.keras")`` works; ``zoo.load(name)``
does the same after verifying the artifact's checksums.
"""

import os as _os
import sys as _sys

# oneDNN's CPU kernels (convolutions, matmuls, their gradients) are 1.7-2.3x faster for every family here
# (benchmarks/compare_keras_baseline.py), but TensorFlow turns them on by default only on CPUs with AVX-512.
# The switch is read once, when TensorFlow is imported, so it is set here, before that; a user's own
# TF_ENABLE_ONEDNN_OPTS (for example 0, to compare) wins, and so does a TensorFlow imported before zoo. It
# changes float32 rounding, not the maths: exports are still checked against Keras to 1e-4, and runs stay
# bit-exact under op determinism.
if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) kept off stderr.

    Those lines are printed before TF_CPP_MIN_LOG_LEVEL takes effect; set ZOO_TF_LOGS=1 to see them.
    Python exceptions still propagate normally.
    """
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _os.environ.get("ZOO_TF_LOGS"):
        import tensorflow  # noqa: F401
        return
    saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    _os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        _os.dup2(saved, 2)
        _os.close(devnull)
        _os.close(saved)


_import_tensorflow_quietly()

from zoo import models  # noqa: E402  (registers the families)
from zoo.artifact.store import load_model as _load_model  # noqa: E402
from zoo.config import Recipe, load_recipe  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.models import Capability  # noqa: E402
from zoo.version import __version__  # noqa: E402


def load(name_or_path, *, verify: bool = True, zoo_dir=None):
    """Load an exported model by name or path, checking its sha256 sums.

    Names are looked up in ``zoo_dir``, then $ZOO_EXPORTED_DIR, ./exported and the source checkout's exported/.
    """
    return _load_model(name_or_path, verify=verify, zoo_dir=zoo_dir)


from zoo.app import ood  # noqa: E402  (outlier detection with a shipped model; zoo.app has every use case)

__all__ = ["Capability", "Recipe", "ZooError", "load", "load_recipe", "models", "ood", "__version__"]
