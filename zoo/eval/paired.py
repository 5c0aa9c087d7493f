"""Translation against a known answer: for data whose two domains are the same images drawn two ways (the emoji
dataset's designs, paired by code point), each translation is compared with the true counterpart of its input.

CycleGAN papers score translations by realism alone (FID, or a segmentation network on the outputs) because
unpaired data has no answer per image. Paired test rows give one: the L1 distance and the SSIM (Wang et al. 2004) of
a translation to its true counterpart, beside the same figures for the untranslated input, the baseline a useful
translation must beat.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo import catalogue
from zoo.config import DataConfig


def has_ground_truth(domains: tuple[DataConfig, DataConfig]) -> bool:
    """Whether two domains are two designs of a dataset whose designs are paired row by row, on the same splits."""
    a, b = domains
    known = catalogue.dataset(a.dataset)
    return bool(known and known.paired_designs and not a.file and not b.file and a.design != b.design
                and (a.dataset, a.classes, a.split, a.eval_split) == (b.dataset, b.classes, b.split, b.eval_split))


def ground_truth_scores(outputs, truth, value_range, batch_size: int = 256) -> dict:
    """Mean L1 (in units of the 0..1 pixel range) and mean SSIM of ``outputs`` against ``truth``, both
    ``(N, H, W, C)`` in ``value_range``."""
    outputs, truth = np.asarray(outputs, "float32"), np.asarray(truth, "float32")
    if outputs.shape != truth.shape:
        raise ValueError(f"outputs {outputs.shape} and ground truth {truth.shape} differ in shape")
    low, high = value_range
    scale = 1.0 / (high - low)
    ssim = []
    for start in range(0, len(outputs), batch_size):
        x = (outputs[start:start + batch_size] - low) * scale
        y = (truth[start:start + batch_size] - low) * scale
        ssim.append(tf.image.ssim(tf.constant(x), tf.constant(y), max_val=1.0).numpy())
    return {"l1": float(np.mean(np.abs(outputs - truth)) * scale), "ssim": float(np.mean(np.concatenate(ssim)))}
