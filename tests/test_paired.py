"""Translation against a known answer (zoo/eval/paired.py): the emoji designs paired row by row, on real images."""

import dataclasses

import numpy as np
import pytest

from zoo import data
from zoo.config import load_recipe
from zoo.eval.evaluator import Evaluator
from zoo.eval.paired import ground_truth_scores, has_ground_truth
from zoo.eval.translation import evaluate_translation

RECIPE = load_recipe("recipes/cyclegan_emoji.toml")


@pytest.fixture(scope="module")
def designs(data_dir):
    a, b = data.domain_configs(RECIPE.data)
    return [data.labelled_images(c, "test", 24, seed=0, data_dir=data_dir)[0] for c in (a, b)]


def test_the_answer_scores_perfectly_and_identity_scores_the_baseline(designs):
    google, twitter = designs
    perfect = ground_truth_scores(twitter, twitter, RECIPE.data.value_range)
    assert perfect["l1"] == 0.0 and perfect["ssim"] == pytest.approx(1.0, abs=1e-6)
    baseline = ground_truth_scores(google, twitter, RECIPE.data.value_range)
    assert 0.02 < baseline["l1"] < 0.5 and 0.1 < baseline["ssim"] < 0.99  # two drawings of the same emoji differ
    halfway = ground_truth_scores((google + twitter) / 2, twitter, RECIPE.data.value_range)
    assert halfway["l1"] == pytest.approx(baseline["l1"] / 2, rel=1e-5) and halfway["ssim"] > baseline["ssim"]
    with pytest.raises(ValueError, match="differ in shape"):
        ground_truth_scores(google[:3], twitter, RECIPE.data.value_range)


def test_only_two_designs_of_paired_data_have_a_ground_truth():
    a, b = data.domain_configs(RECIPE.data)
    assert has_ground_truth((a, b)) and not has_ground_truth((a, a))
    assert not has_ground_truth((a, dataclasses.replace(b, eval_split="train")))
    assert not has_ground_truth((a, dataclasses.replace(b, file="mine.npz")))
    sneakers = data.domain_configs(load_recipe("recipes/cyclegan_sneaker2boot.toml").data)
    assert not has_ground_truth(sneakers)  # two classes of one dataset: no answer per image


class Identity:
    """A translation model that returns its input: the baseline, exactly."""

    def translate(self, images, direction):
        return np.asarray(images)


def test_translating_by_identity_gives_the_untranslated_baseline(data_dir):
    ev = Evaluator(Identity(), RECIPE, features="classifier-mnist", num_samples=32, data_dir=data_dir, batch_size=16)
    report = evaluate_translation(ev)
    assert set(report["ground_truth"]) == {"a2b", "b2a"}
    for direction, scores in report["ground_truth"].items():
        assert scores["translated"] == scores["untranslated"]
        assert report["headline"][f"l1_{direction}"] == scores["untranslated"]["l1"] > 0
    assert report["ground_truth"]["a2b"]["untranslated"]["l1"] == pytest.approx(
        report["ground_truth"]["b2a"]["untranslated"]["l1"])  # |a - b| either way
