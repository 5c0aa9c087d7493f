"""The key figures `zoo list`, the README's table and the model cards show, from an artifact's metadata."""

from zoo.artifact.card import _data_section
from zoo.artifact.figures import key_metrics


def meta(metrics, n=1000):
    return {"metrics": metrics, "evaluation": {"num_samples": n}}


def test_key_figures_name_the_floor_and_the_count():
    assert key_metrics(meta({"fid": 2.2013, "fid_floor": 0.0150, "iwae_nll_nats": 89.571, "label_accuracy": 0.759})) == [
        "FID 2.20 (floor 0.015, n = 1,000)", "NLL 89.57 nats", "label accuracy 75.9%"]
    assert key_metrics(meta({"test_accuracy": 0.9202, "test_loss": 0.22})) == ["accuracy 92.02%"]
    guided = {"fid_guidance_0": 2.0, "fid_ddim_50": 0.5509, "fid_floor": 0.157, "label_accuracy_guidance_0": 0.09,
              "label_accuracy_ddim_50": 0.962}  # a guided model's rows: the DDIM-50 row at its scale is the headline
    assert key_metrics(meta(guided)) == ["FID ddim 50 0.55 (floor 0.16, n = 1,000)", "label accuracy 96.2%"]


def test_a_grey_level_bernoulli_nll_is_called_a_cross_entropy():
    grey = {**meta({"iwae_nll_nats": 234.92}), "recipe": {"model": {"likelihood": "bernoulli"}}}
    binarized = {**meta({"iwae_nll_nats": 89.57}), "recipe": {"model": {"likelihood": "bernoulli", "binarize": True}}}
    assert key_metrics(grey) == ["NLL 234.92 nats (grey-level cross-entropy)"]
    assert key_metrics(binarized) == ["NLL 89.57 nats"]


def test_each_direction_of_a_translation_has_its_own_floor():
    figures = key_metrics(meta({"fid_a2b": 2.3755, "fid_b2a": 14.38, "fid_floor_a": 0.039, "fid_floor_b": 0.048}))
    assert figures == ["FID a2b 2.38 (floor 0.048, n = 1,000)", "FID b2a 14.4 (floor 0.039, n = 1,000)"]


def test_a_diffusion_model_shows_its_default_sampler_first():
    metrics = {f"fid_ddim_{s}": 10.0 / s for s in (10, 20, 50, 100)} | {"fid_ddpm_1000": 0.05, "fid_floor": 0.015,
                                                                         "fid_floor_ddpm_1000": 0.06}
    assert key_metrics(meta(metrics, n=10_000))[0] == "FID ddim 50 0.20 (floor 0.015, n = 10,000)"


def test_an_unevaluated_model_says_so():
    figures = key_metrics({"training": {"final": {"val_loss": 0.2846}}})
    assert figures == ["val_loss 0.2846 (not evaluated: run `zoo eval`)"]


def test_the_card_says_whether_pixels_were_binarized():
    data = {"data": {"image_size": [28, 28], "channels": 1, "value_range": [0.0, 1.0]}}
    binarized = " ".join(_data_section({}, {**data, "model": {"likelihood": "bernoulli", "binarize": True}}))
    grey = " ".join(_data_section({}, {**data, "model": {"likelihood": "bernoulli", "binarize": False}}))
    normal = " ".join(_data_section({}, {**data, "model": {"likelihood": "normal"}}))
    assert "dynamic binarization" in binarized and "cross-entropies" not in binarized
    assert "dynamic binarization" not in grey and "cross-entropies, not densities" in grey
    assert "binariz" not in normal and "cross-entropies" not in normal
