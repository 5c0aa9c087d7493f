"""What the zoo knows about the public datasets its recipes name, in one place: title, source, licence, class
names, the feature network ``zoo eval`` scores them with, the ground-truth factors of variation of synthetic data,
how its pixels are stored, and a note on the local copies the shipped models were trained on (``../shared/data``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str  # the tensorflow-datasets name, also the stem of a local <name>.npz
    title: str
    source: str
    licence: str
    class_names: tuple[str, ...]
    features: str  # the classifier artifact whose features zoo eval uses for this dataset ("" when there is none)
    local: str = ""  # how the local copy in the data dir differs from the official one
    # The ground-truth factors of variation, in the order of tensorflow-datasets' ClassLabel features (named there
    # "label_<factor>"); empty for data without them. The supervised disentanglement metrics (MIG, beta-VAE) need them.
    factors: tuple[str, ...] = ()
    pixel_scale: int = 1  # tensorflow-datasets' pixels times this are 0..255 (dSprites stores 0 and 1)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


DATASETS = {d.name: d for d in (
    Dataset("fashion_mnist", "Fashion-MNIST",
            "Zalando Research (Xiao, Rasul & Vollgraf 2017), https://github.com/zalandoresearch/fashion-mnist", "MIT",
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            "classifier-fashion-mnist",
            local="`fashion_mnist.npz` takes the first 6,000 images of each class as training data and the last "
                  "1,000 as test data: the official split's sizes, not necessarily its images."),
    Dataset("mnist", "MNIST", "LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/", "CC BY-SA 3.0",
            tuple(str(digit) for digit in range(10)), "classifier-mnist",
            local="`mnist10k.npz` is a 10,000-digit subset of MNIST: 9,000 training and 1,000 test digits "
                  "(100 per class), so likelihoods are not those of models trained on all 60,000 digits."),
    Dataset("dsprites", "dSprites",
            "DeepMind (Matthey, Higgins, Hassabis & Lerchner 2017), https://github.com/deepmind/dsprites-dataset",
            "Apache-2.0", ("square", "ellipse", "heart"), "",
            factors=("shape", "scale", "orientation", "x_position", "y_position"), pixel_scale=255),
)}
PROJECT_LICENCE = "Apache-2.0"


def dataset(name: str) -> Dataset | None:
    """The catalogue entry of a dataset name, or None for data the zoo does not know (a user's own files)."""
    return DATASETS.get(name)
