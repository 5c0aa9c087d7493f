"""What the zoo knows about the public datasets its recipes name, in one place: title, source, licence, class
names, the feature network ``zoo eval`` scores them with, the ground-truth factors of variation of synthetic data,
how its pixels are stored, the designs a dataset is drawn in, the attribution its licence asks cards to print, and a
note on the local copies the shipped models were trained on (``../shared/data``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Design:
    """One of the drawings of a dataset that exists in several (emoji: Google's Noto and Twitter's Twemoji)."""

    name: str  # data.design
    title: str
    licence: str
    attribution: str  # what a card of a model trained on it prints


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
    local_file: str = ""  # the local copy's file name in the data dirs ("" = <name>.npz, the keras.datasets layout)
    attribution: str = ""  # the credit a card prints for the data (its licence may ask for it)
    designs: tuple[Design, ...] = ()  # drawings to choose from with data.design; each has its own licence
    paired_designs: bool = False  # row i of every design is the same item: translations have a ground truth
    tfds: bool = True  # whether tensorflow-datasets has it under ``name`` (the fallback for users with internet)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def local_name(self) -> str:
        return self.local_file or f"{self.name}.npz"

    def design(self, name: str) -> Design | None:
        return next((d for d in self.designs if d.name == name), None)

    def terms(self, design: str = "") -> tuple[str, str, str]:
        """(title, licence, attribution) of the data, or of one of its designs."""
        chosen = self.design(design)
        if chosen is None:
            return self.title, self.licence, self.attribution
        return f"{self.title}, {chosen.title}", chosen.licence, chosen.attribution


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
    Dataset("cifar10", "CIFAR-10",
            "Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images, "
            "https://www.cs.toronto.edu/~kriz/cifar.html",
            "no licence stated by its authors; cite the technical report",
            ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            "classifier-cifar10",
            local="`cifar10-jpeg.tar.gz` is CIFAR-10 re-encoded as JPEG (quality 75, 4:2:0 chroma subsampling): "
                  "lossy, so figures measured on it are not figures on CIFAR-10 itself.",
            local_file="cifar10-jpeg.tar.gz",
            attribution="CIFAR-10 by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton: A. Krizhevsky, Learning "
                        "Multiple Layers of Features from Tiny Images, technical report, University of Toronto, 2009."),
    Dataset("emoji", "Emoji, paired by code point",
            "the 64x64 PNGs of iamcal/emoji-data (npm emoji-datasource-google and emoji-datasource-twitter 16.0.0)",
            "per design: Apache-2.0 (Noto) or CC BY 4.0 (Twemoji)",
            ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
             "Activities", "Objects", "Symbols", "Flags", "Component"),
            "classifier-cifar10",  # no emoji classifier: FIDs through the colour network of CIFAR-10
            local="`emoji64.npz` holds 3,786 emoji, 3,388 train and 398 test; the test split holds every variant "
                  "(skin tones) of about one base emoji in ten, so no emoji is in both splits.",
            local_file="emoji64.npz", tfds=False, paired_designs=True,
            designs=(Design("google", "Google Noto Emoji", "Apache-2.0",
                            "Noto Emoji, Copyright Google Inc., Apache License 2.0, "
                            "https://github.com/googlefonts/noto-emoji"),
                     Design("twitter", "Twitter Twemoji", "CC BY 4.0",
                            "Twemoji graphics Copyright Twitter, Inc. and other contributors, licensed under CC BY 4.0, "
                            "https://creativecommons.org/licenses/by/4.0/ (https://github.com/twitter/twemoji)"))),
    Dataset("dsprites", "dSprites",
            "DeepMind (Matthey, Higgins, Hassabis & Lerchner 2017), https://github.com/deepmind/dsprites-dataset",
            "Apache-2.0", ("square", "ellipse", "heart"), "",
            factors=("shape", "scale", "orientation", "x_position", "y_position"), pixel_scale=255),
)}
PROJECT_LICENCE = "Apache-2.0"


def dataset(name: str) -> Dataset | None:
    """The catalogue entry of a dataset name, or None for data the zoo does not know (a user's own files)."""
    return DATASETS.get(name)
