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
    from modelreg.artifacts.benchmark import Settings as BenchmarkSettings
    from modelreg.artifacts.benchmark import Subject as BenchmarkSubject
    from modelreg.artifacts.benchmark import run_benchmark
    from modelreg.artifacts.checkpoint import (
        Checkpoint,
        TensorInfo,
        load_checkpoint,
        save_checkpoint,
    )
    from modelreg.artifacts.export import (
        ExportResult,
        ParityReport,
        Tolerances,
        export_onnx,
        load_parity_data,
    )
    from modelreg.artifacts.local import VersionFiles, version_files
    from modelreg.artifacts.pull import PulledArtifact, PullResult, pull
    from modelreg.core.errors import (
        AlreadyExistsError,
        ConflictError,
        GitError,
        GitHubError,
        InputError,
        ManifestError,
        MissingExtraError,
        ModelregError,
        NotFoundError,
        ParityError,
        ReferenceSyntaxError,
        StorageError,
        ValidationFailed,
    )
    from modelreg.core.findings import Finding
    from modelreg.core.model import (
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
    from modelreg.core.policy import Gate, check_gates
    from modelreg.core.refs import ModelRef, parse_ref
    from modelreg.core.registry import Registry, Resolution, VersionStatus
    from modelreg.ops.deprecate import Deprecated, deprecate
    from modelreg.ops.import_gto import GtoImport, GtoModelImport, import_gto
    from modelreg.ops.import_mlflow import ImportedModel, MlflowImport, import_mlflow
    from modelreg.ops.init import InitResult, init
    from modelreg.ops.inputs import load_metrics, load_params, parse_tags
    from modelreg.ops.promote import Promotion, promote
    from modelreg.ops.register import Registration, register, register_from_dvc
    from modelreg.ops.rollback import Rollback, rollback
    from modelreg.reporting.card import ModelCard, model_card
    from modelreg.reporting.compare import (
        Comparison,
        compare_versions,
        metric_direction,
        render_markdown,
    )
    from modelreg.reporting.diff import RegistryDiff, RegistryEvent, diff_revisions
    from modelreg.reporting.history import StageChange, stage_history
    from modelreg.reporting.views import (
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
    from modelreg.serve.limits import ServeLimits
    from modelreg.serve.predict import FilePrediction, Prediction, predict
    from modelreg.serve.server import serve_models
    from modelreg.validation.checks import ValidationReport, validate
    from modelreg.validation.doctor import Diagnosis, diagnose

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
    "Diagnosis",
    "ExportResult",
    "FilePrediction",
    "Finding",
    "Gate",
    "GateCheck",
    "GitError",
    "GitHubError",
    "GtoImport",
    "GtoModelImport",
    "ImportedModel",
    "InitResult",
    "InputError",
    "Lineage",
    "ManifestError",
    "MissingExtraError",
    "MlflowImport",
    "MlflowRun",
    "Model",
    "ModelCard",
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
    "Prediction",
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
    "ServeLimits",
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
    "VersionFiles",
    "VersionList",
    "VersionStatus",
    "VersionView",
    "check_gates",
    "check_promotion",
    "compare_versions",
    "deprecate",
    "diagnose",
    "diff_revisions",
    "export_onnx",
    "import_gto",
    "import_mlflow",
    "init",
    "list_models",
    "list_versions",
    "load_checkpoint",
    "load_metrics",
    "load_params",
    "load_parity_data",
    "metric_direction",
    "model_card",
    "model_history",
    "parse_ref",
    "parse_tags",
    "predict",
    "promote",
    "pull",
    "register",
    "register_from_dvc",
    "render_markdown",
    "resolve",
    "rollback",
    "run_benchmark",
    "save_checkpoint",
    "serve_models",
    "show",
    "stage_history",
    "validate",
    "version_files",
]

# Each public name and where it lives, imported on first use: "import modelreg.api"
# costs nothing, so "modelreg --help" and "modelreg show" load only what they call
# (torch, onnx, DVC and MLflow stay behind the verbs that need them). Type checkers
# read the imports above instead, so every name has its real type.
_LAZY: dict[str, tuple[str, str]] = {
    "GtoImport": ("modelreg.ops.import_gto", "GtoImport"),
    "GtoModelImport": ("modelreg.ops.import_gto", "GtoModelImport"),
    "import_gto": ("modelreg.ops.import_gto", "import_gto"),
    "FilePrediction": ("modelreg.serve.predict", "FilePrediction"),
    "Prediction": ("modelreg.serve.predict", "Prediction"),
    "predict": ("modelreg.serve.predict", "predict"),
    "AlreadyExistsError": ("modelreg.core.errors", "AlreadyExistsError"),
    "Artifact": ("modelreg.core.model", "Artifact"),
    "BenchmarkSettings": ("modelreg.artifacts.benchmark", "Settings"),
    "BenchmarkSubject": ("modelreg.artifacts.benchmark", "Subject"),
    "Canary": ("modelreg.core.model", "Canary"),
    "Checkpoint": ("modelreg.artifacts.checkpoint", "Checkpoint"),
    "Comparison": ("modelreg.reporting.compare", "Comparison"),
    "ConflictError": ("modelreg.core.errors", "ConflictError"),
    "Deprecated": ("modelreg.ops.deprecate", "Deprecated"),
    "Deprecation": ("modelreg.core.model", "Deprecation"),
    "Diagnosis": ("modelreg.validation.doctor", "Diagnosis"),
    "ModelCard": ("modelreg.reporting.card", "ModelCard"),
    "model_card": ("modelreg.reporting.card", "model_card"),
    "ExportResult": ("modelreg.artifacts.export", "ExportResult"),
    "Finding": ("modelreg.core.findings", "Finding"),
    "Gate": ("modelreg.core.policy", "Gate"),
    "GateCheck": ("modelreg.reporting.views", "GateCheck"),
    "GitError": ("modelreg.core.errors", "GitError"),
    "GitHubError": ("modelreg.core.errors", "GitHubError"),
    "ImportedModel": ("modelreg.ops.import_mlflow", "ImportedModel"),
    "InitResult": ("modelreg.ops.init", "InitResult"),
    "InputError": ("modelreg.core.errors", "InputError"),
    "Lineage": ("modelreg.core.model", "Lineage"),
    "ManifestError": ("modelreg.core.errors", "ManifestError"),
    "MissingExtraError": ("modelreg.core.errors", "MissingExtraError"),
    "MlflowImport": ("modelreg.ops.import_mlflow", "MlflowImport"),
    "MlflowRun": ("modelreg.core.model", "MlflowRun"),
    "Model": ("modelreg.core.model", "Model"),
    "ModelEntry": ("modelreg.reporting.views", "ModelEntry"),
    "ModelList": ("modelreg.reporting.views", "ModelList"),
    "ModelRef": ("modelreg.core.refs", "ModelRef"),
    "ModelVersion": ("modelreg.core.model", "ModelVersion"),
    "ModelView": ("modelreg.reporting.views", "ModelView"),
    "ModelregError": ("modelreg.core.errors", "ModelregError"),
    "NotFoundError": ("modelreg.core.errors", "NotFoundError"),
    "ParityError": ("modelreg.core.errors", "ParityError"),
    "ParityReport": ("modelreg.artifacts.export", "ParityReport"),
    "Policy": ("modelreg.core.model", "Policy"),
    "Promotion": ("modelreg.ops.promote", "Promotion"),
    "PullResult": ("modelreg.artifacts.pull", "PullResult"),
    "PulledArtifact": ("modelreg.artifacts.pull", "PulledArtifact"),
    "ReferenceSyntaxError": ("modelreg.core.errors", "ReferenceSyntaxError"),
    "Registration": ("modelreg.ops.register", "Registration"),
    "Registry": ("modelreg.core.registry", "Registry"),
    "RegistryConfig": ("modelreg.core.model", "RegistryConfig"),
    "RegistryDiff": ("modelreg.reporting.diff", "RegistryDiff"),
    "RegistryEvent": ("modelreg.reporting.diff", "RegistryEvent"),
    "Resolution": ("modelreg.core.registry", "Resolution"),
    "Rollback": ("modelreg.ops.rollback", "Rollback"),
    "ServeLimits": ("modelreg.serve.limits", "ServeLimits"),
    "Signature": ("modelreg.core.model", "Signature"),
    "StageChange": ("modelreg.reporting.history", "StageChange"),
    "StageHistory": ("modelreg.reporting.views", "StageHistory"),
    "StagePointer": ("modelreg.core.model", "StagePointer"),
    "StorageError": ("modelreg.core.errors", "StorageError"),
    "TensorInfo": ("modelreg.artifacts.checkpoint", "TensorInfo"),
    "TensorSpec": ("modelreg.core.model", "TensorSpec"),
    "Tolerances": ("modelreg.artifacts.export", "Tolerances"),
    "ValidationFailed": ("modelreg.core.errors", "ValidationFailed"),
    "ValidationReport": ("modelreg.validation.checks", "ValidationReport"),
    "VersionFiles": ("modelreg.artifacts.local", "VersionFiles"),
    "VersionList": ("modelreg.reporting.views", "VersionList"),
    "VersionStatus": ("modelreg.core.registry", "VersionStatus"),
    "VersionView": ("modelreg.reporting.views", "VersionView"),
    "check_gates": ("modelreg.core.policy", "check_gates"),
    "check_promotion": ("modelreg.reporting.views", "check_promotion"),
    "compare_versions": ("modelreg.reporting.compare", "compare_versions"),
    "deprecate": ("modelreg.ops.deprecate", "deprecate"),
    "diagnose": ("modelreg.validation.doctor", "diagnose"),
    "diff_revisions": ("modelreg.reporting.diff", "diff_revisions"),
    "export_onnx": ("modelreg.artifacts.export", "export_onnx"),
    "import_mlflow": ("modelreg.ops.import_mlflow", "import_mlflow"),
    "init": ("modelreg.ops.init", "init"),
    "list_models": ("modelreg.reporting.views", "list_models"),
    "list_versions": ("modelreg.reporting.views", "list_versions"),
    "load_checkpoint": ("modelreg.artifacts.checkpoint", "load_checkpoint"),
    "load_metrics": ("modelreg.ops.inputs", "load_metrics"),
    "load_params": ("modelreg.ops.inputs", "load_params"),
    "load_parity_data": ("modelreg.artifacts.export", "load_parity_data"),
    "metric_direction": ("modelreg.reporting.compare", "metric_direction"),
    "model_history": ("modelreg.reporting.views", "model_history"),
    "parse_ref": ("modelreg.core.refs", "parse_ref"),
    "parse_tags": ("modelreg.ops.inputs", "parse_tags"),
    "promote": ("modelreg.ops.promote", "promote"),
    "pull": ("modelreg.artifacts.pull", "pull"),
    "register": ("modelreg.ops.register", "register"),
    "register_from_dvc": ("modelreg.ops.register", "register_from_dvc"),
    "render_markdown": ("modelreg.reporting.compare", "render_markdown"),
    "resolve": ("modelreg.reporting.views", "resolve"),
    "rollback": ("modelreg.ops.rollback", "rollback"),
    "run_benchmark": ("modelreg.artifacts.benchmark", "run_benchmark"),
    "save_checkpoint": ("modelreg.artifacts.checkpoint", "save_checkpoint"),
    "serve_models": ("modelreg.serve.server", "serve_models"),
    "show": ("modelreg.reporting.views", "show"),
    "stage_history": ("modelreg.reporting.history", "stage_history"),
    "validate": ("modelreg.validation.checks", "validate"),
    "version_files": ("modelreg.artifacts.local", "version_files"),
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
