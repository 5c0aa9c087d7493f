"""The training loop for MultiWorkerMirroredStrategy, where Keras' ``fit`` breaks.

Keras 3 ``fit`` under MultiWorkerMirroredStrategy fails on TensorFlow >= 2.16 (keras-team/keras#20585:
"Invalid reduction dimension 0 for input with 0 dimensions", in its reduction of the step's metrics). This loop
drives the family's own ``train_step`` and ``test_step`` with ``strategy.run``, reduces their metrics across
replicas with ``strategy.reduce``, and calls the same Keras callbacks (progress bar, checkpoints, CSV and
TensorBoard logs) at the same points as ``fit``, so a run reads, checkpoints and resumes the same either way.
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from zoo.data import distribute
from zoo.errors import TrainingError

# What a collective op raises when a peer worker is gone (killed, crashed, unreachable).
LOST_PEER = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
             tf.errors.AbortedError, tf.errors.InternalError)


def check_same_start(strategy, epoch: int) -> None:
    """Refuse to start unless every worker resumes from the same epoch (``--out`` is one folder all of them read)."""
    @tf.function
    def every_epoch():
        return strategy.gather(strategy.run(lambda: tf.constant([epoch], tf.int64)), axis=0)

    epochs = every_epoch().numpy()
    low, high = int(epochs.min()), int(epochs.max())
    if low != high:
        raise TrainingError(f"the workers would start from different epochs ({low} on one, {high} on another): "
                            "every worker must read the same --out folder (a volume shared by all machines). Check "
                            "that it is mounted at the same path everywhere, then restart every worker with --resume")


def _step_function(strategy, step):
    """``iterator -> reduced metrics`` of one ``step`` on every replica, compiled once."""

    @tf.function
    def run(iterator):
        outputs = strategy.run(step, args=(next(iterator),))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for name, value in outputs.items()}

    return run


def _evaluate(model, strategy, dataset) -> dict:
    """The model's ``test_step`` metrics over ``dataset``, reduced across replicas."""
    model.reset_metrics()
    step = _step_function(strategy, model.test_step)
    logs, iterator = {}, iter(strategy.experimental_distribute_dataset(dataset))
    while True:
        try:
            logs = step(iterator)
        except (StopIteration, tf.errors.OutOfRangeError):
            break
    return {name: float(value) for name, value in logs.items()}


def fit(model, strategy, dataset, *, epochs: int, initial_epoch: int, steps_per_epoch: int, validation_data=None,
        callbacks=(), verbose=1, batch_parts: int = 1):
    """``model.fit`` over a strategy's replicas with a loop of ``strategy.run``; returns the History callback."""
    history = keras.callbacks.History()
    callbacks = keras.callbacks.CallbackList(list(callbacks) + [history], add_progbar=verbose != 0, model=model,
                                             verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    train_step = _step_function(strategy, tf.function(model.train_step, jit_compile=bool(model.jit_compile)))
    batches = iter(distribute(dataset, strategy, batch_parts))
    model.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    try:
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            for step in range(steps_per_epoch):
                callbacks.on_train_batch_begin(step)
                logs = train_step(batches)
                callbacks.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            logs = {name: float(value) for name, value in logs.items()}
            if validation_data is not None:
                validation = _evaluate(model, strategy, validation_data)
                logs.update({f"val_{name}": value for name, value in validation.items()})
            callbacks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    except LOST_PEER as exc:
        reason = re.sub(r"\{\{[^}]*\}\}\s*", "", str(exc).splitlines()[0])[:200]  # drop TensorFlow's node names
        raise TrainingError(f"a worker of the cluster was lost at epoch {epoch + 1} ({type(exc).__name__}: {reason}); "
                            "restart every worker with --resume to continue from the last checkpoint") from None
    callbacks.on_train_end(logs)
    return history
