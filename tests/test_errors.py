"""The exception tree: every modelreg error lives in ``modelreg.core.errors``, drawn there.

Callers (the CLI's error funnel, the MLflow plugin's error codes, users' ``except``
clauses) learn the errors from that one module; a subclass defined elsewhere or
left out of the drawing is one they would not know about.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from modelreg.core import errors as _errors
from modelreg.core.errors import ModelregError

SOURCE = Path(_errors.__file__).parent.parent
# A drawn line: the branch characters, the class name, then when it is raised.
TREE_LINE = re.compile(
    r"^(?P<lead> *(?:[│├└][─ ]*)*)(?P<name>[A-Za-z]+Error|ValidationFailed)\b(?P<when>.*)$"
)


def drawn_tree(docstring: str) -> dict[str, str | None]:
    """Each class name drawn in ``docstring`` mapped to its drawn parent (None: the root)."""
    parents: dict[str, str | None] = {}
    path: list[tuple[int, str]] = []  # (column, name) from the root down to the last line
    for line in docstring.splitlines():
        match = TREE_LINE.match(line)
        if match is None:
            continue
        column = len(match["lead"])
        while path and path[-1][0] >= column:
            path.pop()
        name = match["name"]
        assert name not in parents, f"{name} is drawn twice"
        assert path or name == "ModelregError", f"{name} is drawn outside the tree"
        assert path == [] or match["when"].strip(), f"{name}'s line says nothing about when"
        parents[name] = path[-1][1] if path else None
        path.append((column, name))
    return parents


def modelreg_errors_in_source() -> dict[str, str]:
    """Every class in ``src/modelreg`` that descends from ModelregError, by name, with its file.

    Read from the source, not imported, so the optional heavy modules (torch, onnx,
    mlflow) count without being installed.
    """
    bases: dict[str, tuple[list[str], str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
                bases[node.name] = (names, path.relative_to(SOURCE).as_posix())

    def descends(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "ModelregError":
            return True
        parents = bases.get(name, ([], ""))[0]
        return any(p not in seen and descends(p, seen | {name}) for p in parents)

    return {name: file for name, (_, file) in bases.items() if descends(name)}


def test_every_modelreg_error_is_defined_in_the_errors_module() -> None:
    elsewhere = {
        name: file for name, file in modelreg_errors_in_source().items() if file != "core/errors.py"
    }
    assert elsewhere == {}, "define these in modelreg/core/errors.py"


def test_the_docstring_draws_the_whole_tree_as_it_is() -> None:
    classes = {
        name: value
        for name, value in vars(_errors).items()
        if isinstance(value, type) and issubclass(value, ModelregError)
    }
    actual: dict[str, str | None] = {
        name: None if cls is ModelregError else cls.__bases__[0].__name__
        for name, cls in classes.items()
    }
    assert _errors.__doc__ is not None
    assert drawn_tree(_errors.__doc__) == actual
    assert sorted(_errors.__all__) == sorted(classes)
    assert set(modelreg_errors_in_source()) == set(classes)
