"""The public surface, pinned: what ``modelreg.api`` (and ``modelreg``) export, that
importing them stays cheap, and that a type checker sees every name's real type.

A name added to or dropped from the API fails here first, so the change is a
decision (and a line in this list), not an accident of an import.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import modelreg
import modelreg.api

PUBLIC = [
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

HEAVY = ["torch", "onnx", "onnxruntime", "mlflow", "fastapi", "uvicorn", "httpx", "jsonschema"]
HEAVY += ["rich", "numpy", "dvc"]


def test_api_all_is_pinned() -> None:
    assert sorted(modelreg.api.__all__) == PUBLIC


def test_package_exports_the_same_names() -> None:
    assert sorted(modelreg.__all__) == PUBLIC


def test_every_name_resolves_to_one_object() -> None:
    for name in PUBLIC:
        value = getattr(modelreg.api, name)
        assert getattr(modelreg, name) is value, name
        assert not getattr(value, "__module__", "modelreg._").startswith("modelreg.api"), name


def test_dir_lists_the_surface() -> None:
    # pypa/build's test_dir: what dir() shows is what __all__ promises, and nothing private.
    for module in (modelreg, modelreg.api):
        public = [n for n in dir(module) if not n.startswith("_")]
        assert public == PUBLIC, module.__name__


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Regsitry'"):
        _ = modelreg.api.Regsitry
    with pytest.raises(AttributeError, match="no attribute 'Regsitry'"):
        _ = modelreg.Regsitry
    with pytest.raises(ImportError):
        exec("from modelreg import _registry_typo")


def _modules_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def test_importing_the_api_loads_nothing_behind_it() -> None:
    loaded = _modules_after("import modelreg, modelreg.api")
    assert _heavy(loaded) == []
    assert [m for m in loaded if m.startswith("modelreg")] == ["modelreg", "modelreg.api"]


def test_a_name_loads_only_its_own_module() -> None:
    loaded = _modules_after("from modelreg import Registry")
    assert "modelreg.core.registry" in loaded
    assert _heavy(loaded) == []
    for behind in (
        "modelreg.ops.promote",
        "modelreg.validation.checks",
        "modelreg.artifacts.export",
    ):
        assert behind not in loaded


def test_the_cli_module_loads_nothing_heavy() -> None:
    # What 'modelreg --help' pays for: the command table, not the verbs behind it.
    loaded = _modules_after("import modelreg.cli")
    assert _heavy(loaded) == []
    assert "modelreg.core.registry" not in loaded
    assert [m for m in ("logging", "socket", "asyncio") if m in loaded] == []  # ~8 ms


def test_type_checkers_see_real_types(tmp_path: Path) -> None:
    """mypy --strict on code that uses the surface: no name may be Any (a module
    ``__getattr__`` visible to mypy would make every name, typos included, Any)."""
    lines = [
        "import modelreg",
        "import modelreg.api",
        "from typing import assert_type",
        "from modelreg import Registry",
        "from modelreg.api import ModelView, VersionView, show",
        "assert_type(Registry.open('.'), Registry)",
        "assert_type(show('m@production'), ModelView | VersionView)",
        # A typo must be an error (--strict flags an ignore that is not needed).
        "modelreg.Regsitry  # type: ignore[attr-defined]",
        "modelreg.api.Regsitry  # type: ignore[attr-defined]",
    ]
    lines += [f"reveal_type(modelreg.api.{name})" for name in PUBLIC]
    lines += [f"reveal_type(modelreg.{name})" for name in PUBLIC]
    snippet = tmp_path / "uses_api.py"
    snippet.write_text("\n".join(lines) + "\n")
    # One cache shared by runs of this test: a cold mypy over the package takes ~20 s.
    cache = Path(tempfile.gettempdir()) / f"modelreg-public-api-mypy-{os.getuid()}"
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), str(snippet)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    revealed = re.findall(r'Revealed type is "(.*)"', done.stdout)
    assert len(revealed) == 2 * len(PUBLIC), done.stdout
    assert [t for t in revealed if t == "Any" or t.startswith("Any ")] == []
