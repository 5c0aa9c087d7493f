"""Datasets: where images come from (``sources``), what a model sees (``preprocess``), seeded resumable
``tf.data`` pipelines (``pipeline``), and the files a user hands to the CLI (``inputs``)."""

from zoo.data.inputs import read_images, read_named_images
from zoo.data.pipeline import (describe, distribute, domain_configs, eval_dataset, example_batch, factor_images,
                               labelled_images, train_stream)
from zoo.data.preprocess import augment, preprocess
from zoo.data.sources import Source, data_dirs, load_split

__all__ = ["Source", "augment", "data_dirs", "describe", "distribute", "domain_configs", "eval_dataset", "example_batch",
           "factor_images", "labelled_images", "load_split", "preprocess", "read_images", "read_named_images",
           "train_stream"]
