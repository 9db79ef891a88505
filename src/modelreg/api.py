"""modelreg's library surface: the verbs the CLI, the workflows and the MLflow plugin call.

    from modelreg.api import Registry, validate

    with Registry.open("path/to/repo") as registry:
        production = registry.resolve("digits-cnn@production").version
    report = validate("path/to/repo", base="origin/main")

The read commands each call one function here (``list_models``, ``list_versions``,
``show``, ``resolve``, ``model_history``, ``check_promotion``, ``diff_revisions``,
``compare_versions``, ``validate``, ``pull``); every result the CLI prints as JSON
has one ``to_json()`` carrying its ``"format": "modelreg.<kind>/1"``.

Nothing here prints; failures raise :class:`~modelreg.ModelregError` subclasses
whose message is one line naming the file, the field and the fix.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        GitHubError,
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
    from modelreg._import_mlflow import ImportedModel, MlflowImport, import_mlflow
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
    from modelreg._views import (
        GateCheck,
        ModelEntry,
        ModelList,
        ModelView,
        StageHistory,
        VersionList,
        VersionView,
        check_promotion,
        list_models,
        list_versions,
        model_history,
        resolve,
        show,
    )

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
    "GateCheck",
    "GitError",
    "GitHubError",
    "ImportedModel",
    "InitResult",
    "InputError",
    "Lineage",
    "ManifestError",
    "MlflowImport",
    "MlflowRun",
    "Model",
    "ModelEntry",
    "ModelList",
    "ModelRef",
    "ModelVersion",
    "ModelView",
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
    "StageHistory",
    "StagePointer",
    "StorageError",
    "TensorInfo",
    "TensorSpec",
    "Tolerances",
    "ValidationFailed",
    "ValidationReport",
    "VersionList",
    "VersionStatus",
    "VersionView",
    "check_gates",
    "check_promotion",
    "compare_versions",
    "deprecate",
    "diff_revisions",
    "export_onnx",
    "import_mlflow",
    "init",
    "list_models",
    "list_versions",
    "load_checkpoint",
    "load_metrics",
    "load_params",
    "load_parity_data",
    "metric_direction",
    "model_history",
    "parse_ref",
    "parse_tags",
    "promote",
    "pull",
    "register",
    "register_from_dvc",
    "render_markdown",
    "resolve",
    "rollback",
    "run_benchmark",
    "save_checkpoint",
    "show",
    "stage_history",
    "validate",
]

# Each public name and where it lives, imported on first use: "import modelreg.api"
# costs nothing, so "modelreg --help" and "modelreg show" load only what they call
# (torch, onnx, DVC and MLflow stay behind the verbs that need them). Type checkers
# read the imports above instead, so every name has its real type.
_LAZY: dict[str, tuple[str, str]] = {
    "AlreadyExistsError": ("modelreg._errors", "AlreadyExistsError"),
    "Artifact": ("modelreg._model", "Artifact"),
    "BenchmarkSettings": ("modelreg._benchmark", "Settings"),
    "BenchmarkSubject": ("modelreg._benchmark", "Subject"),
    "Canary": ("modelreg._model", "Canary"),
    "Checkpoint": ("modelreg._checkpoint", "Checkpoint"),
    "Comparison": ("modelreg._compare", "Comparison"),
    "ConflictError": ("modelreg._errors", "ConflictError"),
    "Deprecated": ("modelreg._deprecate", "Deprecated"),
    "Deprecation": ("modelreg._model", "Deprecation"),
    "ExportResult": ("modelreg._export", "ExportResult"),
    "Finding": ("modelreg._findings", "Finding"),
    "Gate": ("modelreg._promote", "Gate"),
    "GateCheck": ("modelreg._views", "GateCheck"),
    "GitError": ("modelreg._errors", "GitError"),
    "GitHubError": ("modelreg._errors", "GitHubError"),
    "ImportedModel": ("modelreg._import_mlflow", "ImportedModel"),
    "InitResult": ("modelreg._bootstrap", "InitResult"),
    "InputError": ("modelreg._errors", "InputError"),
    "Lineage": ("modelreg._model", "Lineage"),
    "ManifestError": ("modelreg._errors", "ManifestError"),
    "MlflowImport": ("modelreg._import_mlflow", "MlflowImport"),
    "MlflowRun": ("modelreg._model", "MlflowRun"),
    "Model": ("modelreg._model", "Model"),
    "ModelEntry": ("modelreg._views", "ModelEntry"),
    "ModelList": ("modelreg._views", "ModelList"),
    "ModelRef": ("modelreg._refs", "ModelRef"),
    "ModelVersion": ("modelreg._model", "ModelVersion"),
    "ModelView": ("modelreg._views", "ModelView"),
    "ModelregError": ("modelreg._errors", "ModelregError"),
    "NotFoundError": ("modelreg._errors", "NotFoundError"),
    "ParityError": ("modelreg._errors", "ParityError"),
    "ParityReport": ("modelreg._export", "ParityReport"),
    "Policy": ("modelreg._model", "Policy"),
    "Promotion": ("modelreg._promote", "Promotion"),
    "PullResult": ("modelreg._pull", "PullResult"),
    "PulledArtifact": ("modelreg._pull", "PulledArtifact"),
    "ReferenceSyntaxError": ("modelreg._errors", "ReferenceSyntaxError"),
    "Registration": ("modelreg._register", "Registration"),
    "Registry": ("modelreg._registry", "Registry"),
    "RegistryConfig": ("modelreg._model", "RegistryConfig"),
    "RegistryDiff": ("modelreg._diff", "RegistryDiff"),
    "RegistryEvent": ("modelreg._diff", "RegistryEvent"),
    "Resolution": ("modelreg._registry", "Resolution"),
    "Rollback": ("modelreg._rollback", "Rollback"),
    "Signature": ("modelreg._model", "Signature"),
    "StageChange": ("modelreg._history", "StageChange"),
    "StageHistory": ("modelreg._views", "StageHistory"),
    "StagePointer": ("modelreg._model", "StagePointer"),
    "StorageError": ("modelreg._errors", "StorageError"),
    "TensorInfo": ("modelreg._checkpoint", "TensorInfo"),
    "TensorSpec": ("modelreg._model", "TensorSpec"),
    "Tolerances": ("modelreg._export", "Tolerances"),
    "ValidationFailed": ("modelreg._errors", "ValidationFailed"),
    "ValidationReport": ("modelreg._validate", "ValidationReport"),
    "VersionList": ("modelreg._views", "VersionList"),
    "VersionStatus": ("modelreg._registry", "VersionStatus"),
    "VersionView": ("modelreg._views", "VersionView"),
    "check_gates": ("modelreg._promote", "check_gates"),
    "check_promotion": ("modelreg._views", "check_promotion"),
    "compare_versions": ("modelreg._compare", "compare_versions"),
    "deprecate": ("modelreg._deprecate", "deprecate"),
    "diff_revisions": ("modelreg._diff", "diff_revisions"),
    "export_onnx": ("modelreg._export", "export_onnx"),
    "import_mlflow": ("modelreg._import_mlflow", "import_mlflow"),
    "init": ("modelreg._bootstrap", "init"),
    "list_models": ("modelreg._views", "list_models"),
    "list_versions": ("modelreg._views", "list_versions"),
    "load_checkpoint": ("modelreg._checkpoint", "load_checkpoint"),
    "load_metrics": ("modelreg._inputs", "load_metrics"),
    "load_params": ("modelreg._inputs", "load_params"),
    "load_parity_data": ("modelreg._export", "load_parity_data"),
    "metric_direction": ("modelreg._compare", "metric_direction"),
    "model_history": ("modelreg._views", "model_history"),
    "parse_ref": ("modelreg._refs", "parse_ref"),
    "parse_tags": ("modelreg._inputs", "parse_tags"),
    "promote": ("modelreg._promote", "promote"),
    "pull": ("modelreg._pull", "pull"),
    "register": ("modelreg._register", "register"),
    "register_from_dvc": ("modelreg._register", "register_from_dvc"),
    "render_markdown": ("modelreg._compare", "render_markdown"),
    "resolve": ("modelreg._views", "resolve"),
    "rollback": ("modelreg._rollback", "rollback"),
    "run_benchmark": ("modelreg._benchmark", "run_benchmark"),
    "save_checkpoint": ("modelreg._checkpoint", "save_checkpoint"),
    "show": ("modelreg._views", "show"),
    "stage_history": ("modelreg._history", "stage_history"),
    "validate": ("modelreg._validate", "validate"),
}

if not TYPE_CHECKING:  # to a type checker an unknown name must stay an error, not Any

    def __getattr__(name: str) -> Any:
        try:
            module, attribute = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module 'modelreg.api' has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value  # the next lookup is a plain global
        return value


def __dir__() -> list[str]:
    return sorted([*__all__, *(n for n in globals() if n.startswith("__"))])
