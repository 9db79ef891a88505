"""``make demo`` keeps working, and what it builds meets the pipeline's acceptance lines.

The demo runs the real DVC pipeline in a scratch clone (train, evaluate, export,
benchmark), registers two versions of digits-cnn and one of diabetes-mlp, and
pulls the latest weights into a teammate's clone; this test checks the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelreg.api import Registry, validate
from tests import builders
from tests.test_card import card_launcher, cyclonedx_validator, front_matter
from tests.test_dashboard import render

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    env = dict(os.environ)
    env["DEMO_DIR"] = str(folder)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder, done.stdout


@pytest.mark.slow
def test_the_demo_registers_two_versions_from_the_pipeline(demo: tuple[Path, str]) -> None:
    folder, output = demo
    repo = folder / "repo"
    assert "ok: the registry is valid" in output
    with Registry.open(repo) as registry:
        versions = registry.versions("digits-cnn")
        [regressor] = registry.versions("diabetes-mlp")
    assert [v.version for v in versions] == [1, 2]
    first, second = versions
    assert first.lineage.params["digits_cnn"]["train"]["channels"] == 16
    assert second.lineage.params["digits_cnn"]["train"]["channels"] == 8
    for version in versions:
        # The ONNX model agrees with torch on >= 99.9% of the held-out images.
        assert version.metrics["onnx_top1_agreement"] >= 0.999
        assert version.metrics["accuracy"] > 0.9
        assert version.lineage.dvc_stage == "digits-cnn-train"
        assert version.lineage.git_dirty is False
    assert second.metrics["model_size_bytes"] < first.metrics["model_size_bytes"]
    assert {"rmse", "mae", "r2"} <= set(regressor.metrics)
    assert "onnx_top1_agreement" not in regressor.metrics  # a regressor has no classes
    assert regressor.metrics["onnx_max_abs_diff"] <= 1e-3
    assert validate(repo).ok  # online: every artifact is in the demo's DVC remote

    origin_log = subprocess.run(
        ["git", "log", "--oneline", "main"],
        cwd=folder / "origin.git",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "register digits-cnn version 2" in origin_log.stdout


@pytest.mark.slow
def test_recorded_hashes_match_the_pipeline_outputs(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    repo = folder / "repo"
    with Registry.open(repo) as registry:
        latest = registry.resolve("digits-cnn/latest").version
    outputs = {
        "weights": "outputs/digits-cnn/model.pt",
        "onnx": "outputs/digits-cnn/model.onnx",
        "confusion_matrix": "outputs/digits-cnn/confusion.png",  # for the model card
    }
    assert [a.name for a in latest.artifacts] == list(outputs)
    for artifact in latest.artifacts:
        assert builders.md5_of(repo / artifact.path) == artifact.md5
        assert builders.md5_of(repo / outputs[artifact.name]) == artifact.md5
        assert (repo / artifact.path).stat().st_size == artifact.size
        # The teammate's clone pulled the same bytes from the DVC remote.
        assert builders.md5_of(folder / "teammate" / artifact.path) == artifact.md5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # MLflow's SQLAlchemy use, not ours
def test_the_training_run_is_in_mlflow(
    demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    folder, _ = demo
    with Registry.open(folder / "repo") as registry:
        version = registry.resolve("digits-cnn/1").version
    run = version.lineage.mlflow
    assert run is not None and run.tracking_uri is not None
    # Recorded relative to the repository (the clone's absolute path means nothing in
    # another clone), and opened as recorded from the repository root.
    assert run.tracking_uri == "sqlite:///.mlflow/mlflow.db"
    monkeypatch.chdir(folder / "repo")
    logged = MlflowClient(run.tracking_uri).get_run(run.run_id)
    assert logged.data.params["channels"] == "16"
    assert logged.data.metrics["accuracy"] == version.metrics["accuracy"]
    assert "train_loss" in logged.data.metrics


@pytest.mark.slow
def test_the_demo_prints_versions_and_the_comparison(demo: tuple[Path, str]) -> None:
    _, output = demo
    assert "$ modelreg versions digits-cnn\ndigits-cnn: 2 versions" in output
    assert "digits-cnn: changes against digits-cnn/1, best value marked *" in output
    [params_row] = [line for line in output.splitlines() if "digits_cnn.train.channels" in line]
    assert params_row.split() == ["params", "digits_cnn.train.channels", "16", "8"]
    assert "byte-identical to the pipeline's output" in output


def test_this_repository_is_a_valid_registry() -> None:
    report = validate(ROOT, offline=True)
    assert report.findings == ()


@pytest.mark.slow
def test_the_demo_server_follows_the_promotion_and_the_rollback(demo: tuple[Path, str]) -> None:
    _, output = demo
    assert "answered by digits-cnn version 1 (production)" in output
    predictions = [line for line in output.splitlines() if line.startswith("digits image #")]
    assert len(predictions) == 5
    # The trained CNN reads real digits: the demo's examples are all recognised.
    for line in predictions:
        truth = line.split("(a ")[1][0]
        assert f"predicted {truth} with" in line, line
    served = output.index("the server answers with version 2")
    assert output.index("$ modelreg rollback") < output.index("the server answers with version 1")
    assert served < output.index("the server answers with version 1")
    assert "serve.log: " in output and "digits-cnn now serves version 1 (was version 2)" in output


@pytest.mark.slow
def test_the_model_card_of_digits_cnn_1(
    demo: tuple[Path, str], modelreg_exe: str, tmp_path: Path
) -> None:
    """The acceptance line: the CycloneDX card validates against CycloneDX 1.6, the
    Markdown card's front matter parses as YAML with model-index, the HTML card renders
    in headless Chromium without console errors."""
    folder, _ = demo
    repo = folder / "repo"
    card_command = card_launcher(modelreg_exe)

    def card(*args: str) -> str:
        done = subprocess.run(
            [*card_command, "--repo", str(repo), "card", "digits-cnn/1", *args],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    bom = json.loads(card("--format", "cyclonedx"))
    assert [e.message for e in cyclonedx_validator().iter_errors(bom)] == []
    model = bom["components"][0]["modelCard"]
    assert model["quantitativeAnalysis"]["graphics"]["collection"][0]["name"] == "confusion matrix"
    assert any(
        m.get("slice") == "class 7" for m in model["quantitativeAnalysis"]["performanceMetrics"]
    )
    meta, body = front_matter(card())
    [result] = meta["model-index"][0]["results"]
    assert {m["type"] for m in result["metrics"]} >= {"accuracy", "f1_macro"}
    assert "parameters;" in body and "| Conv |" in body
    page = tmp_path / "digits-cnn-1.html"
    page.write_text(card("--format", "html"))
    _, console = render(page, tmp_path)
    assert console == []
    assert (folder / "site" / "cards" / "digits-cnn" / "1.html").is_file()  # the dashboard's


@pytest.mark.slow
def test_predict_names_what_the_server_names_for_five_held_out_digits(
    demo: tuple[Path, str], modelreg_exe: str, tmp_path: Path
) -> None:
    """The acceptance line: 'modelreg predict digits-cnn@production --input' on five
    held-out digits (the pipeline's test split) prints the classes the server's
    /predict answers."""
    from sklearn.datasets import load_digits

    from tests.serving import serve

    repo = demo[0] / "repo"
    split = json.loads((repo / "data" / "digits" / "split.json").read_text())
    held_out = split["test_indices"][:5]
    digits = load_digits()
    images = (digits.images[held_out].astype(np.float32) / 16.0)[:, None, :, :]
    five = tmp_path / "five.npy"
    np.save(five, images)

    done = subprocess.run(
        [modelreg_exe, "--repo", str(repo), "predict", "digits-cnn@production", "-i", str(five),
         "--json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    mine = [p["label"] for p in document["inputs"][0]["predictions"]]
    with serve(repo, ["digits-cnn@production"]) as live:
        answer = live.client.post("/predict", json={"inputs": images.tolist()})
    assert answer.status_code == 200, answer.text
    assert mine == [p["label"] for p in answer.json()["predictions"]]
    # The CNN reads them (the demo's version has over 90% accuracy): most are right.
    assert sum(m == str(t) for m, t in zip(mine, digits.target[held_out], strict=True)) >= 4
    printed = subprocess.run(
        [modelreg_exe, "--repo", str(repo), "predict", "digits-cnn@production", "-i", str(five)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("digits-cnn/")
