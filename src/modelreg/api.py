"""modelreg's library surface: the verbs the CLI, the workflows and the MLflow plugin call.

    from modelreg.api import Registry, validate

    with Registry.open("path/to/repo") as registry:
        production = registry.resolve("digits-cnn@production").version
    report = validate("path/to/repo", base="origin/main")

Nothing here prints; failures raise :class:`~modelreg.ModelregError` subclasses
whose message is one line naming the file, the field and the fix.
"""

from __future__ import annotations

from modelreg._benchmark import Settings as BenchmarkSettings
from modelreg._benchmark import Subject as BenchmarkSubject
from modelreg._benchmark import run_benchmark
from modelreg._bootstrap import InitResult, init
from modelreg._checkpoint import Checkpoint, TensorInfo, load_checkpoint, save_checkpoint
from modelreg._compare import Comparison, compare_versions, metric_direction, render_markdown
from modelreg._deprecate import Deprecated, deprecate
from modelreg._diff import RegistryDiff, RegistryEvent, diff_revisions
from modelreg._errors import (
    AlreadyExistsError,
    ConflictError,
    GitError,
    InputError,
    ManifestError,
    ModelregError,
    NotFoundError,
    ParityError,
    ReferenceSyntaxError,
    StorageError,
    ValidationFailed,
)
from modelreg._export import (
    ExportResult,
    ParityReport,
    Tolerances,
    export_onnx,
    load_parity_data,
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
from modelreg._promote import Gate, Promotion, check_gates, promote
from modelreg._pull import PulledArtifact, PullResult, pull
from modelreg._refs import ModelRef, parse_ref
from modelreg._register import Registration, register, register_from_dvc
from modelreg._registry import Registry, Resolution, VersionStatus
from modelreg._rollback import Rollback, rollback
from modelreg._validate import ValidationReport, validate

__all__ = [
    "AlreadyExistsError",
    "Artifact",
    "BenchmarkSettings",
    "BenchmarkSubject",
    "Canary",
    "Checkpoint",
    "Comparison",
    "ConflictError",
    "Deprecated",
    "Deprecation",
    "ExportResult",
    "Finding",
    "Gate",
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
    "ParityError",
    "ParityReport",
    "Policy",
    "Promotion",
    "PullResult",
    "PulledArtifact",
    "ReferenceSyntaxError",
    "Registration",
    "Registry",
    "RegistryConfig",
    "RegistryDiff",
    "RegistryEvent",
    "Resolution",
    "Rollback",
    "Signature",
    "StageChange",
    "StagePointer",
    "StorageError",
    "TensorInfo",
    "TensorSpec",
    "Tolerances",
    "ValidationFailed",
    "ValidationReport",
    "VersionStatus",
    "check_gates",
    "compare_versions",
    "deprecate",
    "diff_revisions",
    "export_onnx",
    "init",
    "load_checkpoint",
    "load_metrics",
    "load_params",
    "load_parity_data",
    "metric_direction",
    "parse_ref",
    "parse_tags",
    "promote",
    "pull",
    "register",
    "register_from_dvc",
    "render_markdown",
    "rollback",
    "run_benchmark",
    "save_checkpoint",
    "stage_history",
    "validate",
]
