"""Training: the runner behind ``zoo train`` (``loop``), its checkpoints and its callbacks."""

from zoo.train.checkpoints import checkpoints, latest_checkpoint
from zoo.train.loop import RunResult, build_model, restore, train

__all__ = ["RunResult", "build_model", "checkpoints", "latest_checkpoint", "restore", "train"]
