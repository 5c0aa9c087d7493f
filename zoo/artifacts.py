"""Finding, verifying and loading exported artifacts by name or path."""

from __future__ import annotations

import json
import os
from pathlib import Path

from zoo.errors import ArtifactError
from zoo.export import METADATA, sha256


def search_roots() -> list[Path]:
    """Where names are looked up: $ZOO_EXPORTED_DIR entries, ./exported, and the repository's exported/."""
    roots = [Path(p) for p in os.environ.get("ZOO_EXPORTED_DIR", "").split(os.pathsep) if p]
    roots.append(Path.cwd() / "exported")
    roots.append(Path(__file__).resolve().parents[1] / "exported")
    unique = []
    for root in roots:
        if root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


def available() -> dict[str, Path]:
    """Every artifact folder (one holding metadata.json) under the search roots, by name."""
    found = {}
    for root in search_roots():
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / METADATA).is_file() and folder.name not in found:
                    found[folder.name] = folder
    return found


def resolve(name_or_path) -> Path:
    """The artifact folder for a name (under exported/) or a path (the folder or its model.keras)."""
    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".keras":
        path = path.parent
    if path.is_dir():
        if not (path / METADATA).is_file():
            raise ArtifactError(f"{path} is not an exported artifact (no {METADATA}); export one with `zoo export RUN_DIR --out {path}`")
        return path
    known = available()
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    listing = ", ".join(known) or "none"
    raise ArtifactError(f"no exported model named '{name_or_path}' (looked in {', '.join(map(str, search_roots()))}); "
                        f"available: {listing}. Pass a path to an artifact folder, or see `zoo list`")


def read_metadata(name_or_path) -> dict:
    folder = resolve(name_or_path)
    try:
        return json.loads((folder / METADATA).read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{folder / METADATA} is corrupt ({exc}); re-export the model") from None


def verify_checksums(name_or_path) -> Path:
    """Check every file against the sha256 in metadata.json; name the first one that is missing or altered."""
    folder = resolve(name_or_path)
    files = read_metadata(folder).get("files", {})
    if not files:
        raise ArtifactError(f"{folder / METADATA} lists no files to verify; re-export the model")
    for relative, expected in files.items():
        path = folder / relative
        if not path.is_file():
            raise ArtifactError(f"artifact {folder} is incomplete: {relative} is missing; re-export or restore it")
        if sha256(path) != expected:
            raise ArtifactError(f"artifact {folder} is corrupt: {relative} does not match its sha256 in {METADATA}; "
                                "re-export it (`zoo export RUN_DIR --out ...`) or restore it from git")
    return folder


def load_model(name_or_path, *, verify: bool = True):
    """The artifact's Keras model (with optimizer state), after verifying its checksums."""
    import keras

    folder = verify_checksums(name_or_path) if verify else resolve(name_or_path)
    path = folder / "model.keras"
    if not path.is_file():
        raise ArtifactError(f"artifact {folder} has no model.keras (exported without the keras format)")
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # a damaged zip or config surfaces as many exception types
        raise ArtifactError(f"could not load {path}: {type(exc).__name__}: {str(exc)[:200]}; re-export the model") from None


def load_examples(name_or_path) -> dict:
    import numpy as np

    folder = resolve(name_or_path)
    with np.load(folder / "examples.npz", allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def update_artifact(name_or_path, files: dict, metadata: dict) -> Path:
    """Add or replace ``files`` ({relative name: text or bytes}) in an artifact and merge ``metadata`` into its
    metadata.json, recording the new files' sha256 so that :func:`verify_checksums` still passes.

    Every file, metadata.json last, is written under a temporary name and renamed into place.
    """
    folder = resolve(name_or_path)
    meta = read_metadata(folder)
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".zoo-tmp-{path.name}-{os.getpid()}")
        tmp.write_bytes(content.encode() if isinstance(content, str) else content)
        os.replace(tmp, path)
        meta.setdefault("files", {})[Path(relative).as_posix()] = sha256(path)
    meta.update(metadata)
    tmp = folder / f".zoo-tmp-{METADATA}-{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, folder / METADATA)
    return folder
