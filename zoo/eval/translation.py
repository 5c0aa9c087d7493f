"""The ``translation`` evaluation (CycleGAN): the cycle-reconstruction L1 on both domains' test images, the sample
metrics of each direction's translations against the target domain's test images, and, where the two domains are
paired designs of one dataset, each translation against its true counterpart (:mod:`zoo.eval.paired`)."""

from __future__ import annotations

import numpy as np

from zoo import data
from zoo.eval.evaluator import Evaluator
from zoo.eval.paired import ground_truth_scores, has_ground_truth
from zoo.errors import EvaluationError


def evaluate_translation(ev: Evaluator) -> dict:
    domains = data.domain_configs(ev.recipe.data)
    if domains is None:
        raise EvaluationError("this translation model's recipe has no [data.domain_a] and [data.domain_b]")
    sizes = [data.load_split(c, split, ev.data_dir).size for c in domains for split in (c.eval_split, c.split)]
    n = ev.count(*sizes)
    tests = [ev.real_images(c, c.eval_split, n, ev.seed) for c in domains]
    embedded = [ev.embed(images, f"domain {name} {c.eval_split} images", c)
                for (images, _, _), name, c in zip(tests, "AB", domains)]
    rows, floors, cycle, headline, truth = [], [], {}, {}, {}
    paired = has_ground_truth(domains)
    if paired and tests[0][1] is not None and not np.array_equal(tests[0][1], tests[1][1]):
        raise EvaluationError("the two domains' test images are not paired row by row (their labels differ)")
    for source, target, direction, reverse in ((0, 1, "a2b", "b2a"), (1, 0, "b2a", "a2b")):
        images = tests[source][0]
        report = ev.progress(f"translating {direction} and back")
        translated, back = [], []
        for start in range(0, n, ev.batch_size):
            out = np.asarray(ev.model.translate(images[start:start + ev.batch_size], direction), "float32")
            translated.append(out)
            back.append(np.asarray(ev.model.translate(out, reverse), "float32"))
            if report:
                report(min(start + ev.batch_size, n), n)
        translated, back = np.concatenate(translated), np.concatenate(back)
        name = "AB"[source]
        cycle[f"cycle_l1_{name.lower()}"] = float(np.mean(np.abs(back - images)))
        features, probabilities = ev.embed(translated, f"{direction} translations", domains[target])
        rows.append(ev.compare(f"{direction}: translated {name}", f"domain {'AB'[target]} {domains[target].eval_split}",
                               *embedded[target], features, probabilities))
        headline[f"fid_{direction}"] = rows[-1]["fid"]
        if paired:  # the same seed and count drew the same rows of both designs: tests[target] is the answer
            answer = tests[target][0]
            value_range = ev.recipe.data.value_range
            truth[direction] = {"translated": ground_truth_scores(translated, answer, value_range),
                                "untranslated": ground_truth_scores(images, answer, value_range)}
            headline[f"l1_{direction}"] = truth[direction]["translated"]["l1"]
            headline[f"ssim_{direction}"] = truth[direction]["translated"]["ssim"]
    for index, c in enumerate(domains):
        name = "AB"[index]
        floors.append(ev.floor(f"real floor {name} ({c.split} vs {c.eval_split})", c, n, *embedded[index],
                               f"domain {name} {c.eval_split}"))
    headline["fid_floor_b"], headline["fid_floor_a"] = floors[1]["fid"], floors[0]["fid"]
    headline.update(cycle)
    cycle["value_range"] = list(ev.recipe.data.value_range)
    result = {"num_samples": n, "reference": "; ".join(t[2] for t in tests), "cycle": cycle,
              "rows": rows + floors, "headline": headline}
    if paired:
        result["ground_truth"] = truth
    return result
