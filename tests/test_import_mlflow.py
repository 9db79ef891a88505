"""``modelreg import-mlflow``: a real MLflow registry (sqlite) brought into the Git one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from modelreg.api import Registry, validate
from modelreg.cli import cli
from tests.conftest import Workspace, commit_subjects

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning"
)


class Scale(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.asarray(model_input) * self.factor


@pytest.fixture
def mlflow_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """digits: v1 Archived, v2 Production (@champion), v3 Staging; 'second': one version;
    'has space': a name the Git registry cannot hold."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    client = MlflowClient()
    for name, factors in (("digits", (1.0, 2.0, 3.0)), ("second", (5.0,)), ("has space", (1.0,))):
        for factor in factors:
            with mlflow.start_run():
                mlflow.log_param("factor", factor)
                mlflow.log_metric("accuracy", 0.9 + factor / 100)
                logged = mlflow.pyfunc.log_model(name="model", python_model=Scale(factor))
            mlflow.register_model(logged.model_uri, name)
    client.update_registered_model("digits", "Digits classifier")
    client.set_registered_model_tag("digits", "team", "vision")
    client.set_model_version_tag("digits", "2", "reviewed", "yes")
    client.set_model_version_tag("digits", "2", "not a key", "dropped")
    client.update_model_version("digits", "2", "the good one")
    client.transition_model_version_stage("digits", "1", "Archived")
    client.transition_model_version_stage("digits", "2", "Production")
    client.transition_model_version_stage("digits", "3", "Staging")
    client.set_registered_model_alias("digits", "champion", "2")
    client.set_registered_model_alias("digits", "production", "3")  # a stage's name here
    client.transition_model_version_stage("second", "1", "Archived")
    return uri


def test_an_mlflow_registry_comes_over_with_stages_aliases_and_lineage(
    workspace: Workspace, mlflow_registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded so the variable the command sets (no MLflow progress bars) is undone after.
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "")
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    runner = CliRunner()
    args = ["--repo", str(workspace.root), "import-mlflow", "--tracking-uri", mlflow_registry]
    result = runner.invoke(cli, args)
    # One model could not come over: the others are imported, and the command fails.
    assert result.exit_code == 1, result.output
    assert str(result.exception) == (
        "import-mlflow: 1 of 3 models failed (has space); the reasons are above; "
        "2 imported, 0 already here, 1 failed"
    )
    out = result.stdout
    commits = re.findall(r"; committed ([0-9a-f]{12})", out)
    assert out.splitlines() == [
        f"digits: 3 versions, production v2, staging v3, @champion v2; committed {commits[0]}",
        "  note: version 2: tags the registry cannot hold, not imported: 'not a key'",
        "  note: alias 'production' (version 3) not imported: MLflow's Production stage holds "
        "version 2, and production keeps it",
        "has space: failed, nothing committed ('has space' is not a valid model name: use "
        "letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most "
        "64 characters)",
        f"second: 1 version, no stage; committed {commits[1]}",
    ]
    assert "digits: version 3 -> 3" in result.stderr  # progress, on stderr
    assert "Downloading artifacts" not in result.output  # MLflow's progress bars are off

    log = commit_subjects(workspace.root)
    assert log[:2] == [
        "import second from MLflow (1 version)",
        "import digits from MLflow (3 versions)",
    ]

    client = MlflowClient(tracking_uri=mlflow_registry)
    with Registry.open(workspace.root) as registry:
        model = registry.model("digits")
        assert (model.description, dict(model.tags)) == ("Digits classifier", {"team": "vision"})
        production = registry.pointer("digits", "production")
        staging = registry.pointer("digits", "staging")
        assert production is not None and production.version == 2
        assert production.retired == (1,)
        assert staging is not None and staging.version == 3
        assert registry.aliases("digits")["champion"].version == 2
        for number in (1, 2, 3):
            version = registry.version("digits", number)
            source = client.get_model_version("digits", str(number))
            assert version.tags["mlflow.version"] == str(number)
            assert version.lineage.mlflow is not None
            assert version.lineage.mlflow.run_id == source.run_id
            assert version.lineage.params["factor"] == str(float(number))
            assert version.metrics["accuracy"] == pytest.approx(0.9 + number / 100)
            assert [a.format for a in version.artifacts] == ["mlflow"]
        two = registry.version("digits", 2)
        assert two.description == "the good one"
        assert "not a key" not in two.tags and two.tags["reviewed"] == "yes"
        assert registry.status("digits")[1].archived
        assert registry.model("second").archived == (1,)  # no stage retired it
        assert registry.status("second")[1].archived
    assert validate(workspace.root).ok

    # The imported versions load through the plugin, as MLflow code would.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{workspace.root}")
    loaded = mlflow.pyfunc.load_model("models:/digits@champion")
    assert loaded.predict(np.array([1.0, 3.0])).tolist() == [2.0, 6.0]

    # A rerun imports nothing twice; models already here are not failures.
    again = runner.invoke(cli, [*args, "--model", "digits", "--model", "second"])
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        "digits: skipped (already in the Git registry)",
        "second: skipped (already in the Git registry)",
        "0 imported, 2 already here, 0 failed",
    ]
    assert commit_subjects(workspace.root)[0] == "import second from MLflow (1 version)"


def _run(exe: str, workspace: Workspace, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as users and CI run it (no MLflow settings inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [exe, "--repo", str(workspace.root), "import-mlflow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: "), line
    return line


def test_every_model_failing_exits_1(
    workspace: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_registered_model("has space")

    done = _run(modelreg_exe, workspace, tmp_path, "--tracking-uri", uri)
    assert done.returncode == 1
    assert done.stdout.startswith("has space: failed, nothing committed ('has space' is not")
    assert _one_error_line(done) == (
        "error: import-mlflow: 1 of 1 models failed (has space); the reasons are above; "
        "0 imported, 0 already here, 1 failed"
    )

    done = _run(modelreg_exe, workspace, tmp_path, "--tracking-uri", uri, "--model", "nosuch")
    assert done.returncode == 1
    assert done.stdout.startswith("nosuch: failed, nothing committed (MLflow answered: ")
    assert "1 of 1 models failed (nosuch)" in _one_error_line(done)
    assert workspace.status() == ""

    # --json prints every model's outcome, then still exits 1 with the one line.
    done = _run(modelreg_exe, workspace, tmp_path, "--tracking-uri", uri, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["models"][0].pop("why").startswith("'has space' is not")
    assert report == {
        "format": "modelreg.import-mlflow/1",
        "models": [
            {
                "name": "has space",
                "state": "failed",
                "versions": 0,
                "stages": {},
                "aliases": {},
                "notes": [],
                "commit": None,
            }
        ],
        "summary": "0 imported, 0 already here, 1 failed",
    }
    assert "1 of 1 models failed (has space)" in _one_error_line(done)


def test_nothing_to_import_exits_0(workspace: Workspace, tmp_path: Path, modelreg_exe: str) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_registered_models()  # MLflow logs the store's creation
    done = _run(modelreg_exe, workspace, tmp_path, "--tracking-uri", uri)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "nothing to import: the MLflow registry has no models\n"


@pytest.mark.parametrize("which", ["tracking", "registry"])
def test_a_file_store_is_refused_with_the_fix(
    workspace: Workspace, tmp_path: Path, modelreg_exe: str, which: str
) -> None:
    store = tmp_path / "x" / "mlruns"
    if which == "tracking":
        args = ["--tracking-uri", f"file://{store}"]
    else:
        database = f"sqlite:///{tmp_path / 'mlflow.db'}"
        MlflowClient(tracking_uri=database).search_experiments()  # created quietly here
        args = ["--tracking-uri", database, "--registry-uri", f"file://{store}"]

    done = _run(modelreg_exe, workspace, tmp_path, *args)

    assert done.returncode == 1
    line = _one_error_line(done)
    assert line.startswith(f"error: MLflow refuses the file store file://{store} "), line
    assert f"'mlflow migrate-filestore --source {store} --target sqlite:///mlflow.db'" in line
    assert "MLFLOW_ALLOW_FILE_STORE=true" in line
    assert workspace.status() == ""
