"""The exceptions modelreg raises, every one of them defined here.

Every error a user can cause is a :class:`ModelregError`; the CLI prints its
one-line message and exits 1. Anything else escaping the library is a bug.

    ModelregError
    ├── ManifestError          a registry file is unreadable or breaks its schema
    ├── ValidationFailed       ``validate`` found errors (carries every finding)
    ├── ReferenceSyntaxError   a model reference is malformed
    ├── NotFoundError          a model, version, stage or file does not exist
    ├── ConflictError          the change collides with the registry's state
    │   └── AlreadyExistsError what the change would create (a model) exists already
    ├── GitError               a git command failed
    ├── StorageError           DVC, the cache or the remote failed, or a hash mismatched
    ├── InputError             a command-line input (file, value) is unusable
    ├── MissingExtraError      the command needs an optional part not installed
    ├── ParityError            an ONNX export's outputs differ from torch's beyond tolerance
    └── GitHubError            the GitHub API refused a request, failed or was unreachable

Two internal exceptions live beside the code that raises and catches them and
are part of nothing public: ``serve.tensors.RequestError`` (with its subclass
``serve.app._Busy``: the serving app's HTTP error answers) and
``core.schema.SchemaError`` (a schema uses a keyword the compiler lacks: a modelreg
bug, never a user's error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelreg.core.findings import Finding

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "GitError",
    "GitHubError",
    "InputError",
    "ManifestError",
    "MissingExtraError",
    "ModelregError",
    "NotFoundError",
    "ParityError",
    "ReferenceSyntaxError",
    "StorageError",
    "ValidationFailed",
]


class ModelregError(Exception):
    """Root of every error modelreg raises for bad input or a failed operation."""


class ManifestError(ModelregError):
    """A registry file cannot be read, or its content breaks the schema.

    ``path`` is repo-relative, ``line`` is 1-based (0 when unknown), ``field``
    a dotted path such as ``artifacts[0].md5`` (empty for the whole file).
    """

    def __init__(self, path: str, message: str, *, line: int = 0, field: str = "") -> None:
        self.path = path
        self.line = line
        self.field = field
        self.detail = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class ValidationFailed(ModelregError):
    """``validate`` found at least one error; ``findings`` holds all of them."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        first = errors[0].render() if errors else "no details"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}")


class ReferenceSyntaxError(ModelregError):
    """A model reference (``NAME@stage``, ``models:/NAME/3``...) is malformed."""


class NotFoundError(ModelregError):
    """A model, version, stage pointer or file does not exist."""


class ConflictError(ModelregError):
    """The requested change collides with the registry's current state."""


class AlreadyExistsError(ConflictError):
    """What the change would create (a model, say) exists already."""


class GitError(ModelregError):
    """A git command failed; the message carries git's own explanation."""


class StorageError(ModelregError):
    """DVC, its cache or its remote failed, or an artifact's hash did not match."""


class InputError(ModelregError):
    """An input given on the command line (a file, a value) is unusable."""


class MissingExtraError(ModelregError):
    """The command needs an optional part of modelreg (an extra) that is not installed;
    the message names the extra and the ``pip install`` that adds it."""


class ParityError(ModelregError):
    """The ONNX model does not give torch's answers within the tolerances."""


class GitHubError(ModelregError):
    """The GitHub API refused a request, failed, or could not be reached."""
