"""The package layout is the architecture: these tests keep its imports pointing down.

docs/design.md draws the map. A new module goes in the subpackage of its part; an
import that climbs a layer fails here with the module and the import named.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

import modelreg

PACKAGE = Path(modelreg.__file__).parent

# What each part may import of modelreg besides itself. Lazy imports (inside a
# function) count too: they are still a dependency, only a deferred one.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "artifacts": {"core"},
    "integrations": {"core"},
    "serve": {"core", "artifacts"},
    # A promotion's pull request shows the comparison (reporting.compare).
    "ops": {"core", "artifacts", "integrations", "reporting"},
    # validate settles a change a killed writer left (ops.change.settle); doctor asks
    # GitHub who the token is (integrations.github).
    "validation": {"core", "artifacts", "integrations", "ops"},
    # The dashboard shows whether the registry validates; a model card reads the
    # version's ONNX file and confusion matrix, verified (artifacts.pull, onnx_info).
    "reporting": {"core", "artifacts", "validation"},
}
TOP_LEVEL = {"__init__.py", "__main__.py", "api.py", "mlflow_store.py"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("modelreg.")}


def layer_violations() -> list[str]:
    bad = []
    for part, allowed in ALLOWED.items():
        for path in sorted((PACKAGE / part).glob("*.py")):
            for module in sorted(_imports(path)):
                target = module.split(".")[1]
                if target != part and target not in allowed:
                    bad.append(f"{part}/{path.name} imports {module}")
    return bad


def test_each_part_imports_only_the_parts_below_it() -> None:
    assert layer_violations() == []


def test_only_the_command_line_imports_the_command_line() -> None:
    users = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts[:-1]
        and any(m == "modelreg.cli" or m.startswith("modelreg.cli.") for m in _imports(path))
    ]
    assert users == ["__main__.py"]


def test_no_module_lives_outside_a_part_but_the_entry_points() -> None:
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL


def test_the_layer_check_catches_a_climbing_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check itself must be able to fail: plant core importing ops in a copy.
    copy = tmp_path / "modelreg"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "web", "schemas"))
    (copy / "core" / "planted.py").write_text("from modelreg.ops.change import Change\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert layer_violations() == ["core/planted.py imports modelreg.ops.change"]
