"""Datasets: where images come from (``sources``), what a model sees (``preprocess``), seeded resumable
``tf.data`` pipelines (``pipeline``) and epochs re-sampled by the model (``resampling``), binary tasks with a rare
subgroup (``task``), and the files a user hands to the CLI (``inputs``)."""

from zoo.data.inputs import read_images, read_named_images
from zoo.data.pipeline import (describe, distribute, domain_configs, eval_dataset, example_batch, factor_images,
                               labelled_images, train_stream)
from zoo.data.preprocess import augment, preprocess
from zoo.data.resampling import EpochOrders, epoch_order
from zoo.data.sources import Source, data_dirs, load_split

__all__ = ["EpochOrders", "Source", "augment", "data_dirs", "describe", "distribute", "domain_configs", "epoch_order",
           "eval_dataset", "example_batch", "factor_images", "labelled_images", "load_split", "preprocess", "read_images",
           "read_named_images", "train_stream"]
