"""Exported artifacts: the folder format and its checksums (``store``), the export that writes one (``export``),
and the model card rendered from its metadata (``card``, with ``figures`` for how its numbers are shown)."""

from zoo.artifact.store import (METADATA, available, check_files, load_examples, load_model, read_metadata, resolve,
                                search_roots, update_artifact, verify_checksums)

__all__ = ["METADATA", "available", "check_files", "load_examples", "load_model", "read_metadata", "resolve",
           "search_roots", "update_artifact", "verify_checksums"]
