"""What another runtime reads to use an artifact without Keras: the family's declared capabilities and its labels in
``metadata.json``, and ``exported/index.json``, the list of shipped models a web page starts from.

The JavaScript package (``js/``) reads ``capabilities`` instead of guessing from the family name, and ``labels``
(class count and names) for conditional models. :func:`runtime_description` gives both for a new export; :func:`write_index`
adds them to artifacts exported before they existed, then writes the index.
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo import catalogue
from zoo.artifact.figures import key_metrics
from zoo.artifact.store import METADATA, listing_order, read_metadata
from zoo.files import write_atomic
from zoo.models import Capability, get_family

INDEX = "index.json"


def runtime_description(family: type, num_classes: int, dataset: str, classes=()) -> dict:
    """The ``capabilities`` and ``labels`` entries of an artifact's metadata.

    ``labels`` is None for an unconditional model; class names come from the recipe's class subset, else the
    catalogue's names for the dataset, else the class ids.
    """
    labels = None
    if family.can(Capability.CONDITIONAL) and num_classes:
        known = catalogue.dataset(dataset)
        if classes and len(classes) == num_classes:
            names = [str(c) for c in classes]
        elif known and known.num_classes == num_classes:
            names = list(known.class_names)
        else:
            names = [str(i) for i in range(num_classes)]
        labels = {"num_classes": int(num_classes), "class_names": names}
    return {"capabilities": sorted(c.value for c in family.capabilities), "labels": labels}


def _describe_folder(folder: Path, meta: dict) -> dict:
    config = json.loads((folder / "config.json").read_text())["config"]
    family = get_family(meta["family"])
    return runtime_description(family, int(config.get("num_classes") or 0), meta["dataset"]["name"], meta["dataset"].get("classes", ()))


def entry(folder: Path, meta: dict, root: Path) -> dict:
    """One model of the index: enough to list it, show its preview and open it."""
    return {"name": meta["name"], "family": meta["family"], "description": meta.get("description", ""),
            "path": folder.relative_to(root).as_posix(), "preview": meta.get("preview"),
            "capabilities": meta["capabilities"], "labels": meta["labels"],
            "dataset": meta["dataset"]["name"], "headline": key_metrics(meta)[:2],
            "endpoints": [{"name": e["name"], "onnx": e["onnx"]} for e in meta["endpoints"]],
            "variants": sorted({kind for per_file in ((meta.get("variants") or {}).get("files") or {}).values()
                                for kind, item in per_file.items()
                                if kind != "float32" and isinstance(item, dict) and "file" in item})}


def write_index(root) -> tuple[Path, list[str]]:
    """Write ``root/index.json`` for every artifact folder under ``root``; fill in ``capabilities`` and ``labels``
    of metadata written before they existed (metadata.json is not among the checksummed files). Returns the index's
    path and the names whose metadata was updated."""
    root = Path(root)
    models, updated = [], []
    for folder in listing_order({p.parent.name: p.parent for p in root.glob(f"*/{METADATA}")}).values():
        meta_path = folder / METADATA
        meta = read_metadata(folder)
        if "capabilities" not in meta or "labels" not in meta:
            meta.update(_describe_folder(folder, meta))
            write_atomic(meta_path, json.dumps(meta, indent=2), what="metadata")
            updated.append(meta["name"])
        models.append(entry(folder, meta, root))
    path = write_atomic(root / INDEX, json.dumps({"models": models}, indent=2) + "\n", what="index")
    return path, updated
