"""User-facing errors. The CLI prints their message in one line and exits non-zero."""


class ZooError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class RecipeError(ZooError):
    """A recipe file or ``--set`` override is invalid."""


class DataError(ZooError):
    """A dataset is missing, unreadable, or not what the recipe expects."""


class ArtifactError(ZooError):
    """An exported artifact is missing, incomplete, or fails its checksums."""


class InputShapeError(ZooError):
    """An input to a model has the wrong shape or dtype."""


class TrainingError(ZooError):
    """Training cannot go on: a diverged loss, a run folder in the wrong state."""


class ExportError(ZooError):
    """An export failed, e.g. a format disagrees with Keras beyond the tolerance."""


class EvaluationError(ZooError):
    """Metrics cannot be computed: bad feature arrays, a missing feature network, too few images."""
