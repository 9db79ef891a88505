"""The sdist and wheel users install: built with ``python -m build``, checked as files.

What the base install pulls is the promise of the extras split: the registry needs
no torch, ONNX Runtime, MLflow or web server (tests/test_extras.py runs the
commands without them).
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import modelreg

ROOT = Path(__file__).parent.parent
HEAVY = {"torch", "onnxruntime", "onnxruntime-gpu", "mlflow", "fastapi", "uvicorn", "onnxscript"}
EXTRAS = {"export", "serve", "mlflow", "gpu", "s3", "gs", "azure", "all", "examples"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return wheel, sdist


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def _requirement_name(spec: str) -> str:
    head = spec.split(";")[0].strip()
    for stop in "<>=!~[ (":
        head = head.split(stop)[0]
    return head.lower()


def test_the_wheel_carries_one_version_and_a_pep_639_license(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    metadata = _metadata(wheel)
    assert wheel.name == f"modelreg-{modelreg.__version__}-py3-none-any.whl"
    assert metadata["Version"] == modelreg.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "Typing :: Typed" in metadata.get_all("Classifier")


def test_the_base_install_is_light_and_the_rest_are_extras(built: tuple[Path, Path]) -> None:
    metadata = _metadata(built[0])
    requires = metadata.get_all("Requires-Dist")
    base = {_requirement_name(r) for r in requires if "extra ==" not in r}
    assert base & HEAVY == set()
    assert {"click", "pyyaml", "dvc", "httpx"} <= base
    assert set(metadata.get_all("Provides-Extra")) == EXTRAS
    export = {_requirement_name(r) for r in requires if 'extra == "export"' in r}
    serve = {_requirement_name(r) for r in requires if 'extra == "serve"' in r}
    assert {"torch", "onnxruntime"} <= export
    assert {"fastapi", "uvicorn", "onnxruntime"} <= serve
    # Test tools are the project's dependency group, never a user's extra.
    assert not any(_requirement_name(r) in {"pytest", "mypy", "ruff"} for r in requires)


def test_the_wheel_holds_every_module_and_its_data_and_nothing_else(
    built: tuple[Path, Path],
) -> None:
    with zipfile.ZipFile(built[0]) as archive:
        names = set(archive.namelist())
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith("entry_points.txt")
        )
    source = ROOT / "src"
    modules = {p.relative_to(source).as_posix() for p in (source / "modelreg").rglob("*.py")}
    assert modules <= names
    data = {"modelreg/py.typed", "modelreg/web/dashboard.css"} | {
        p.relative_to(source).as_posix() for p in (source / "modelreg" / "schemas").glob("*.json")
    }
    assert data <= names, data - names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert "modelreg = modelreg.cli:main" in entry_points
    assert "modelreg = modelreg.mlflow_store:ModelregStore" in entry_points


def test_the_sdist_builds_from_the_license_and_the_sources(built: tuple[Path, Path]) -> None:
    with tarfile.open(built[1]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "src/modelreg/api.py"} <= names
