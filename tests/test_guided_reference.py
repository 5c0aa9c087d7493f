"""The numpy/onnxruntime reference sampler on a class-conditional (guided_ddpm) artifact: with labels and a guidance
scale it reproduces the TensorFlow sampler (DDIM, DPM-Solver++(2M), DDPM) and the SavedModel's guided ``generate``
without importing TensorFlow, and it names what is wrong with bad labels and scales."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import zoo
from conftest import ROOT, tiny_guided_artifact_recipe
from zoo.config import load_recipe
from zoo.diffusion import SamplerSettings
from zoo.diffusion.reference import ReferenceSampler, main
from zoo.train import train

REFERENCE = ROOT / "zoo" / "diffusion" / "reference.py"

TINY_RECIPE = tiny_guided_artifact_recipe("tiny-guided-reference")

LABELS = np.array([0, 3, 7, 10], "int32")  # 10: the null label, an unconditional image in a guided batch


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("guided-reference")
    (folder / "tiny.toml").write_text(TINY_RECIPE)
    return train(load_recipe(folder / "tiny.toml"), folder / "run", data_dir=data_dir, verbose=0).export_dir


def test_schedule_json_declares_the_guidance_the_reference_reads(artifact):
    schedule = json.loads((artifact / "schedule.json").read_text())
    assert schedule["guidance"]["num_classes"] == 10 and schedule["guidance"]["null_label"] == 10
    assert schedule["guidance"]["scale"] == 2.0
    sampler = ReferenceSampler(artifact)
    assert (sampler.conditional, sampler.num_classes, sampler.null_label) == (True, 10, 10)
    assert sampler.image_shape == (28, 28, 1)
    # the sampler defaults of schedule.json: DDIM's spacing, DPM-Solver++'s own spacing and final order
    assert sampler.defaults("ddim") == ("trailing", True) and sampler.defaults("dpmpp_2m") == ("trailing", True)


def test_reference_sampler_with_labels_and_guidance_reproduces_tensorflow_without_it(artifact, tmp_path):
    model = zoo.load(artifact, verify=False)
    noise = np.random.default_rng(1).standard_normal((4, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    # the TensorFlow sampler's per-step noise (stateless, keyed to (seed, step + 1)), fed to the reference's DDPM
    np.save(tmp_path / "steps.npy", np.stack([tf.random.stateless_normal(noise.shape, seed=[7, i + 1]).numpy()
                                              for i in range(100)]))
    cases = {  # name: the reference's sample() options
        "ddim8_g2.5": dict(steps=8, guidance=2.5),
        "ddim8_g0": dict(steps=8, guidance=0.0),
        "ddim8_g1": dict(steps=8, guidance=1.0),
        "ddim8_default": dict(steps=8),  # schedule.json's scale, 2.0
        "ddim12_linspace_g4": dict(steps=12, spacing="linspace", clip_x0=False, guidance=4.0),
        "dpmpp6_g2.5": dict(steps=6, sampler="dpmpp_2m", guidance=2.5),
        "dpmpp6_g1": dict(steps=6, sampler="dpmpp_2m", guidance=1.0),
        "dpmpp10_linspace_g3": dict(steps=10, spacing="linspace", clip_x0=False, sampler="dpmpp_2m", guidance=3.0),
        "dpmpp10_linspace_2nd_g3": dict(steps=10, spacing="linspace", clip_x0=False, sampler="dpmpp_2m", guidance=3.0,
                                        lower_order_final=False),
    }
    # The reference runs as a standalone file: not even the zoo package (which imports TensorFlow) is loaded.
    script = f"""
import runpy, sys, numpy as np
module = runpy.run_path({str(REFERENCE)!r})
sampler = module["ReferenceSampler"]({str(artifact)!r})
noise, labels = np.load({str(tmp_path / "noise.npy")!r}), np.array({LABELS.tolist()!r})
for name, options in {cases!r}.items():
    np.save({str(tmp_path)!r} + "/" + name + ".npy", sampler.sample(noise, labels=labels, **options))
np.save({str(tmp_path / "cycled.npy")!r}, sampler.sample(noise, steps=5))  # no labels: each class in turn
steps = np.load({str(tmp_path / "steps.npy")!r})
np.save({str(tmp_path / "ddpm.npy")!r}, sampler.sample(noise, sampler="ddpm", labels=labels, guidance=2.5,
                                                      step_noise=lambda i, shape: steps[i]))
assert not any(name.split(".")[0] in ("tensorflow", "keras", "zoo") for name in sys.modules), "TensorFlow was imported"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    reference = {name: np.load(tmp_path / f"{name}.npy") for name in [*cases, "cycled", "ddpm"]}

    tensorflow = {name: model.generate(noise, LABELS, options.get("guidance"), options["steps"],
                                       options.get("sampler", "ddim"), 0.0).numpy()
                  for name, options in cases.items() if "spacing" not in options}
    # the compiled samplers directly, for the settings generate() does not take (spacing, clipping)
    linspace = SamplerSettings("ddim", 12, 0.0, "linspace", clip_x0=False)
    tensorflow["ddim12_linspace_g4"] = model.sampler_function(linspace, guided=True)(
        noise, tf.constant(0), tf.constant(LABELS), tf.constant(4.0)).numpy()
    solver = SamplerSettings("dpmpp_2m", 10, 0.0, "linspace", clip_x0=False)
    tensorflow["dpmpp10_linspace_g3"] = model.sampler_function(solver, guided=True)(
        noise, tf.constant(0), tf.constant(LABELS), tf.constant(3.0)).numpy()
    second = SamplerSettings("dpmpp_2m", 10, 0.0, "linspace", clip_x0=False, lower_order_final=False)
    tensorflow["dpmpp10_linspace_2nd_g3"] = model.sampler_function(second, guided=True)(
        noise, tf.constant(0), tf.constant(LABELS), tf.constant(3.0)).numpy()
    tensorflow["cycled"] = model.generate(noise, steps=5).numpy()
    tensorflow["ddpm"] = model.sampler_function(SamplerSettings("ddpm"), guided=True)(
        noise, tf.constant(7), tf.constant(LABELS), tf.constant(2.5)).numpy()

    worst = {}
    for name, images in reference.items():
        worst[name] = float(np.abs(images - tensorflow[name]).max())
        np.testing.assert_allclose(images, tensorflow[name], atol=1e-3, rtol=0, err_msg=name)
    print("max |numpy - TensorFlow|:", ", ".join(f"{name} {d:.1e}" for name, d in worst.items()))

    # the SavedModel's generate runs generate_steps (8) DDIM steps at the recipe's scale (2.0) in the graph
    generate = tf.saved_model.load(str(artifact / "saved_model")).signatures["generate"]
    served = generate(noise=tf.constant(noise), label=tf.constant(LABELS))["images"].numpy()
    np.testing.assert_allclose(served, reference["ddim8_default"], atol=1e-3, rtol=0)

    # the comparisons have teeth: each scale gives other images, and the null label is the unconditional image
    differ = lambda a, b: np.abs(reference[a] - reference[b]).max()  # noqa: E731
    assert min(differ("ddim8_g2.5", "ddim8_g0"), differ("ddim8_g2.5", "ddim8_g1"), differ("ddim8_g0", "ddim8_g1"),
               differ("ddim8_g2.5", "ddim8_default"), differ("dpmpp6_g2.5", "dpmpp6_g1")) > 1e-2
    assert differ("dpmpp10_linspace_g3", "dpmpp10_linspace_2nd_g3") > 1e-3
    for name in ("ddim8_g2.5", "ddim8_g1"):
        np.testing.assert_allclose(reference[name][3], reference["ddim8_g0"][3], atol=1e-5)


def test_a_mix_is_one_batched_call_and_the_shortcuts_one_plain_call(artifact):
    sampler = ReferenceSampler(artifact)
    calls = []
    run = sampler.session.run
    sampler.session.run = lambda outputs, feeds: calls.append(feeds) or run(outputs, feeds)
    noise = np.random.default_rng(2).standard_normal((3, 28, 28, 1)).astype("float32")
    sampler.sample(noise, steps=2, labels=[1, 2, 3], guidance=2.5)
    assert len(calls) == 2 and all(len(feeds["x_t"]) == 6 for feeds in calls)
    np.testing.assert_array_equal(calls[0]["label"], [1, 2, 3, 10, 10, 10])
    np.testing.assert_array_equal(calls[0]["x_t"][:3], calls[0]["x_t"][3:])
    for scale, labels in ((0.0, [10, 10, 10]), (1.0, [1, 2, 3])):
        calls.clear()
        sampler.sample(noise, steps=2, labels=[1, 2, 3], guidance=scale)
        assert len(calls) == 2 and all(len(feeds["x_t"]) == 3 for feeds in calls)
        np.testing.assert_array_equal(calls[0]["label"], labels)
    # denoise() alone: the null label unless labels are given; one id repeats
    calls.clear()
    sampler.denoise(noise, 50)
    sampler.denoise(noise, 50, labels=4)
    np.testing.assert_array_equal(calls[0]["label"], [10, 10, 10])
    np.testing.assert_array_equal(calls[1]["label"], [4, 4, 4])


def test_bad_labels_and_scales_are_named(artifact):
    sampler = ReferenceSampler(artifact)
    noise = np.zeros((2, 28, 28, 1), "float32")
    allowed = r"labels must be class ids in \[0, 10\), or 10, the null label \(unconditional\)"
    for labels, message in ((11, allowed + "; got 11"), ([-1, 0], allowed + "; got -1"),
                            ([0.5, 1], allowed + r"; got float64 values \[0.5, 1.0\]"),
                            ([0, 1, 2], r"labels must be one id or 2 ids \(one per image\), got shape \(3,\)")):
        with pytest.raises(ValueError, match=message):
            sampler.sample(noise, steps=2, labels=labels)
    with pytest.raises(ValueError, match=allowed + "; got 12"):
        sampler.denoise(noise, 0, labels=12)
    for guidance in (-0.5, float("nan"), "strong"):
        with pytest.raises(ValueError, match=r"guidance must be a scale >= 0 \(0 unconditional, 1 conditional"):
            sampler.sample(noise, steps=2, labels=0, guidance=guidance)
    np.testing.assert_array_equal(sampler.check_labels(np.float32(3), 2), [3, 3])  # whole floats are ids

    unconditional = ReferenceSampler(ROOT / "exported" / "ddpm-fashion-mnist")
    assert not unconditional.conditional and unconditional.null_label is None
    with pytest.raises(ValueError, match="is an unconditional diffusion model: it takes no labels"):
        unconditional.sample(noise, steps=2, labels=3)
    with pytest.raises(ValueError, match="is an unconditional diffusion model: it takes no labels"):
        unconditional.denoise(noise, 0, labels=3)
    with pytest.raises(ValueError, match="guidance needs a class-conditional"):
        unconditional.sample(noise, steps=2, guidance=2.0)


def test_a_denoiser_and_schedule_from_different_exports_are_refused(artifact, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "denoiser.onnx").write_bytes((artifact / "denoiser.onnx").read_bytes())
    schedule = json.loads((artifact / "schedule.json").read_text())
    del schedule["guidance"]
    (folder / "schedule.json").write_text(json.dumps(schedule))
    with pytest.raises(ValueError, match="denoiser.onnx takes label input but schedule.json has no guidance section"):
        ReferenceSampler(folder)


def test_the_command_line_takes_a_label_and_a_guidance_scale(artifact, tmp_path, capsys):
    main([str(artifact), "--steps", "3", "-n", "2", "--seed", "4", "--label", "5", "--guidance", "1.5",
          "-o", str(tmp_path / "fives.npy")])
    assert "2 samples, 3 ddim steps, guidance 1.5" in capsys.readouterr().out
    noise = np.random.default_rng(4).standard_normal((2, 28, 28, 1)).astype("float32")
    expected = ReferenceSampler(artifact).sample(noise, steps=3, labels=5, guidance=1.5)
    np.testing.assert_array_equal(np.load(tmp_path / "fives.npy"), expected)
    main([str(artifact), "--steps", "2", "-n", "3", "--label", "1,2", "-o", str(tmp_path / "mixed.npy")])
    assert "guidance 2" in capsys.readouterr().out  # schedule.json's scale
    for argv, message in ((["--label", "10,11"], "labels must be class ids in [0, 10)"),
                          (["--guidance", "-1"], "guidance must be a scale >= 0"),
                          (["--label", "shoe"], "--label takes class ids such as 3 or 0,1,2")):
        with pytest.raises(SystemExit) as exit_:
            main([str(artifact), "--steps", "2", "-n", "2", *argv, "-o", str(tmp_path / "bad.npy")])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
