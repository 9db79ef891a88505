"""modelreg's library surface: the verbs the CLI, the workflows and the MLflow plugin call.

    from modelreg.api import Registry, validate

    with Registry.open("path/to/repo") as registry:
        production = registry.resolve("digits-cnn@production").version
    report = validate("path/to/repo", base="origin/main")

Nothing here prints; failures raise :class:`~modelreg.ModelregError` subclasses
whose message is one line naming the file, the field and the fix.
"""

from __future__ import annotations

from modelreg._bootstrap import InitResult, init
from modelreg._errors import (
    ConflictError,
    GitError,
    InputError,
    ManifestError,
    ModelregError,
    NotFoundError,
    ReferenceSyntaxError,
    StorageError,
    ValidationFailed,
)
from modelreg._findings import Finding
from modelreg._history import StageChange, stage_history
from modelreg._inputs import load_metrics, load_params, parse_tags
from modelreg._model import (
    Artifact,
    Canary,
    Deprecation,
    Lineage,
    MlflowRun,
    Model,
    ModelVersion,
    Policy,
    RegistryConfig,
    Signature,
    StagePointer,
    TensorSpec,
)
from modelreg._refs import ModelRef, parse_ref
from modelreg._register import Registration, register
from modelreg._registry import Registry, Resolution, VersionStatus
from modelreg._validate import ValidationReport, validate

__all__ = [
    "Artifact",
    "Canary",
    "ConflictError",
    "Deprecation",
    "Finding",
    "GitError",
    "InitResult",
    "InputError",
    "Lineage",
    "ManifestError",
    "MlflowRun",
    "Model",
    "ModelRef",
    "ModelVersion",
    "ModelregError",
    "NotFoundError",
    "Policy",
    "ReferenceSyntaxError",
    "Registration",
    "Registry",
    "RegistryConfig",
    "Resolution",
    "Signature",
    "StageChange",
    "StagePointer",
    "StorageError",
    "TensorSpec",
    "ValidationFailed",
    "ValidationReport",
    "VersionStatus",
    "init",
    "load_metrics",
    "load_params",
    "parse_ref",
    "parse_tags",
    "register",
    "stage_history",
    "validate",
]
