"""The artifact folder format: finding artifacts by name or path, their checksums, verifying and loading them.

An artifact is a folder holding ``metadata.json``, which lists the sha256 of every other file; names are looked
up in the zoo directories (:func:`search_roots`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from zoo.errors import ArtifactError
from zoo.files import sha256, write_atomic

METADATA = "metadata.json"
ZOO_DIR_VARIABLE = "ZOO_EXPORTED_DIR"


def file_checksums(folder) -> dict[str, str]:
    """sha256 of every file below ``folder`` except metadata.json, by relative POSIX path."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != METADATA}


def checkout_exported() -> Path | None:
    """The ``exported/`` folder of the source checkout this package runs from, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    return root / "exported" if (root / "pyproject.toml").is_file() and (root / "exported").is_dir() else None


def search_roots(zoo_dir=None) -> list[Path]:
    """Where names are looked up, in order: ``zoo_dir`` (``--zoo-dir``), each entry of $ZOO_EXPORTED_DIR,
    ./exported, and the source checkout's exported/ (when zoo runs from one)."""
    roots = [Path(zoo_dir).expanduser()] if zoo_dir else []
    roots += [Path(p).expanduser() for p in os.environ.get(ZOO_DIR_VARIABLE, "").split(os.pathsep) if p]
    roots.append(Path.cwd() / "exported")
    if checkout_exported():
        roots.append(checkout_exported())
    unique = []
    for root in roots:
        if root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


def available(zoo_dir=None) -> dict[str, Path]:
    """Every artifact folder (one holding metadata.json) under the search roots, by name."""
    found = {}
    for root in search_roots(zoo_dir):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / METADATA).is_file() and folder.name not in found:
                    found[folder.name] = folder
    return listing_order(found)


def listing_order(folders: dict[str, Path]) -> dict[str, Path]:
    """Artifacts in the order users see them (``zoo list``, the README's table, ``index.json`` and so the web demo):
    colour models first, then grey ones, each by name."""
    def key(item):
        name, folder = item
        try:
            channels = read_metadata(folder).get("recipe", {}).get("data", {}).get("channels", 1)
        except ArtifactError:  # listed all the same; opening it will say what is wrong
            channels = 1
        return (channels == 1, name)

    return dict(sorted(folders.items(), key=key))


def resolve(name_or_path, zoo_dir=None) -> Path:
    """The artifact folder for a name (under exported/) or a path (the folder or its model.keras)."""
    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".keras":
        path = path.parent
    if path.is_dir():
        if not (path / METADATA).is_file():
            raise ArtifactError(f"{path} is not an exported artifact (no {METADATA}); export one with `zoo export RUN_DIR --out {path}`")
        return path
    known = available(zoo_dir)
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    listing = ", ".join(known) or "none"
    raise ArtifactError(f"no exported model named '{name_or_path}' (looked in "
                        f"{', '.join(map(str, search_roots(zoo_dir)))}); available: {listing}. Pass a path to an "
                        f"artifact folder, --zoo-dir DIR or ${ZOO_DIR_VARIABLE}, or see `zoo list`")


def read_metadata(name_or_path) -> dict:
    folder = resolve(name_or_path)
    try:
        return json.loads((folder / METADATA).read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{folder / METADATA} is corrupt ({exc}); re-export the model") from None


def check_files(name_or_path) -> dict[str, str]:
    """Each file metadata.json lists, checked against its sha256: ``ok``, ``missing`` or ``altered``
    (by relative path); files in the folder that metadata.json does not list are ``unlisted``."""
    folder = resolve(name_or_path)
    files = read_metadata(folder).get("files", {})
    if not files:
        raise ArtifactError(f"{folder / METADATA} lists no files to verify; re-export the model")
    report = {relative: ("missing" if not (folder / relative).is_file()
                         else "ok" if sha256(folder / relative) == expected else "altered")
              for relative, expected in files.items()}
    for relative in file_checksums(folder):
        report.setdefault(relative, "unlisted")
    return report


def verify_checksums(name_or_path) -> Path:
    """Check every file against the sha256 in metadata.json; name the first one that is missing or altered."""
    folder = resolve(name_or_path)
    for relative, status in check_files(folder).items():
        if status == "missing":
            raise ArtifactError(f"artifact {folder} is incomplete: {relative} is missing; re-export or restore it")
        if status == "altered":
            raise ArtifactError(f"artifact {folder} is corrupt: {relative} does not match its sha256 in {METADATA}; "
                                "re-export it (`zoo export RUN_DIR --out ...`) or restore it from git")
    return folder


def load_model(name_or_path, *, verify: bool = True, zoo_dir=None):
    """The artifact's Keras model (with optimizer state), after verifying its checksums."""
    folder = resolve(name_or_path, zoo_dir)
    if verify:
        verify_checksums(folder)
    path = folder / "model.keras"
    if not path.is_file():
        raise ArtifactError(f"artifact {folder} has no model.keras (exported without the keras format)")
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # a damaged zip or config surfaces as many exception types
        raise ArtifactError(f"could not load {path}: {type(exc).__name__}: {str(exc)[:200]}; re-export the model") from None


def load_examples(name_or_path) -> dict:
    folder = resolve(name_or_path)
    with np.load(folder / "examples.npz", allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def update_artifact(name_or_path, files: dict, metadata: dict, remove=()) -> Path:
    """Add or replace ``files`` ({relative name: text or bytes}) in an artifact and merge ``metadata`` into its
    metadata.json, recording the new files' sha256 so that :func:`verify_checksums` still passes; the files named
    in ``remove`` leave the list and the folder.

    Every file, metadata.json last, is written under a unique temporary name and renamed into place; removed
    files are deleted after metadata.json no longer lists them.
    """
    folder = resolve(name_or_path)
    meta = read_metadata(folder)
    for relative, content in files.items():
        path = write_atomic(folder / relative, content)
        meta.setdefault("files", {})[Path(relative).as_posix()] = sha256(path)
    gone = [Path(relative).as_posix() for relative in remove if Path(relative).as_posix() not in
            {Path(f).as_posix() for f in files}]
    for relative in gone:
        meta.get("files", {}).pop(relative, None)
    meta.update(metadata)
    meta["files"] = dict(sorted(meta.get("files", {}).items()))  # listed in order, as the export writes them
    write_atomic(folder / METADATA, json.dumps(meta, indent=2))
    for relative in gone:
        (folder / relative).unlink(missing_ok=True)
    return folder
