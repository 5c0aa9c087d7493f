"""Training epochs drawn with probabilities the model gives at each epoch's start (DB-VAE's re-sampling).

A run's input pipeline (:func:`zoo.data.train_stream`) is built once for all its epochs and reads ahead of the
training steps (parallel maps, prefetch), so sampling weights kept in a variable would be read for epoch ``e``
before the callback that computes them at the start of epoch ``e`` had run, at a moment that depends on thread
timing. Instead each epoch's draws are handed over through a queue of one (:class:`EpochOrders`): the pipeline's
first read of epoch ``e`` waits until the callback (``zoo.train.callbacks.Resample``) has put that epoch's indices.
The indices depend only on the probabilities and ``(seed, epoch)`` (:func:`epoch_order`), and the probabilities only
on the weights the epoch starts from, so a run resumed at any epoch draws what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

RESAMPLE_SALT = 700_001  # keeps the draws apart from the shuffles and augmentation of the same seed


def epoch_order(probabilities, count: int, seed: int, epoch: int) -> np.ndarray:
    """``count`` example indices drawn with replacement, index ``i`` with probability ``probabilities[i]``, from a
    generator keyed to ``(seed, epoch)`` alone: int64 ``(count,)``."""
    p = np.asarray(probabilities, "float64")
    if p.ndim != 1 or not len(p) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"sampling probabilities must be finite, non-negative and not all 0, one per example; got "
                         f"shape {p.shape}")
    rng = np.random.default_rng([int(seed), RESAMPLE_SALT, int(epoch)])
    return rng.choice(len(p), size=int(count), replace=True, p=p / p.sum()).astype("int64")


class EpochOrders:
    """A queue of one epoch's example indices, from a callback (:meth:`put`, eager) to the pipeline (:meth:`take`,
    an op of its graph that waits for the next :meth:`put`)."""

    def __init__(self):
        self.queue = tf.queue.FIFOQueue(1, tf.int64, name="epoch_orders")

    def put(self, order) -> None:
        self.queue.enqueue(tf.constant(np.asarray(order, "int64")))

    def take(self) -> tf.Tensor:
        return tf.ensure_shape(self.queue.dequeue(), [None])
