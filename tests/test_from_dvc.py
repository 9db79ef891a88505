"""``register --from-dvc``: a version from dvc.lock and the pipeline's outputs.

The pipeline here is written by hand (files plus the dvc.lock that `dvc repro`
would have written for them), so each way of being out of date can be set up
exactly; tests/test_pipeline.py runs the real pipeline end to end.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelreg.api import validate
from modelreg.core.errors import InputError
from modelreg.ops.from_dvc import read_pipeline
from modelreg.ops.register import register_from_dvc
from tests import builders
from tests.conftest import Workspace

PIPELINE = {
    "stage": "train",
    "weights": "out/model.pt",
    "onnx": "out/model.onnx",
    "metrics": ["out/metrics.json"],
    "parity": "out/parity.json",
    "benchmark": "out/benchmark.json",
    "run": "out/run.json",
    "data": ["data/train.npz"],
}
PARAMS = {"prepare": {"seed": 42}, "train": {"lr": 0.003, "epochs": 12}, "export": {"opset": 18}}
PARITY = {
    "parity": {
        "passed": True,
        "max_abs_diff": 5.7e-06,
        "top1_agreement": 1.0,
        "onnx_accuracy": 0.9756,
        "failures": [],
    }
}
BENCHMARK = {
    "format": "modelreg.benchmark/1",
    "settings": {"device": "cpu"},
    "results": [
        {
            "subject": "candidate",
            "runner": "onnxruntime cpu",
            "batch": b,
            "p50_ms": p,
            "p95_ms": p * 2,
            "p99_ms": p * 3,
            "throughput_per_s": b / p * 1000,
        }
        for b, p in ((1, 0.03), (8, 0.08))
    ]
    + [
        {
            "subject": "candidate",
            "runner": "torch eager cpu",
            "batch": 1,
            "p50_ms": 0.15,
            "p95_ms": 0.3,
            "p99_ms": 0.4,
            "throughput_per_s": 6000.0,
        }
    ],
    "best": [
        {"subject": "candidate", "runner": "onnxruntime cpu", "batch": 1},
        {"subject": "candidate", "runner": "onnxruntime cpu", "batch": 8},
    ],
}


class Pipeline:
    """The files a `dvc repro` of prepare -> train -> evaluate -> export -> benchmark leaves."""

    def __init__(self, root: Path) -> None:
        self.root = root
        files = builders.model_files(root / "inputs")
        self.write("data/train.npz", b"training rows")
        self.write("pipelines/train.py", b"print('train')\n")
        self.write("out/model.pt", files.weights.read_bytes())
        self.write(
            "out/run.json",
            json.dumps(
                {
                    "mlflow_run_id": "abc123",
                    "mlflow_tracking_uri": "sqlite:///mlflow.db",
                    "mlflow_experiment_id": "1",
                }
            ),
        )
        self.write(
            "out/metrics.json",
            json.dumps({"accuracy": 0.9756, "f1_macro": 0.9749, "per_class": {"0": {"f1": 0.98}}}),
        )
        self.write("out/model.onnx", files.onnx.read_bytes())
        self.write("out/parity.json", json.dumps(PARITY))
        self.write("out/benchmark.json", json.dumps(BENCHMARK))
        (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
        builders.write_model(root, "digits", description="digits", pipeline=PIPELINE)
        self.lock()

    def write(self, path: str, content: bytes | str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def entry(self, deps: list[str], outs: list[str], params: dict[str, Any]) -> dict[str, Any]:
        def files(paths: list[str]) -> list[dict[str, Any]]:
            return [
                {
                    "path": p,
                    "hash": "md5",
                    "md5": builders.md5_of(self.root / p),
                    "size": (self.root / p).stat().st_size,
                }
                for p in paths
            ]

        entry: dict[str, Any] = {"cmd": "python run.py", "deps": files(deps), "outs": files(outs)}
        if params:
            entry["params"] = {"params.yaml": params}
        return entry

    def lock(self) -> None:
        stages = {
            "prepare": self.entry([], ["data/train.npz"], {"prepare": PARAMS["prepare"]}),
            "train": self.entry(
                ["pipelines/train.py", "data/train.npz"],
                ["out/model.pt", "out/run.json"],
                {"train.lr": 0.003, "train.epochs": 12},
            ),
            "evaluate": self.entry(["out/model.pt"], ["out/metrics.json"], {}),
            "export": self.entry(
                ["out/model.pt"], ["out/model.onnx", "out/parity.json"], {"export": {"opset": 18}}
            ),
            "benchmark": self.entry(["out/model.onnx"], ["out/benchmark.json"], {}),
        }
        (self.root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))

    def read(self) -> Any:
        from modelreg.core.registry import Registry

        with Registry.open(self.root) as registry:
            config = registry.model("digits").pipeline
        return read_pipeline(self.root, "digits", config)


@pytest.fixture
def pipeline(workspace: Workspace) -> Pipeline:
    made = Pipeline(workspace.root)
    workspace.commit_all("pipeline ran")
    return made


def test_outputs_metrics_params_and_lineage(pipeline: Pipeline) -> None:
    outputs = pipeline.read()

    assert outputs.weights == pipeline.root / "out/model.pt"
    assert outputs.onnx == pipeline.root / "out/model.onnx"
    assert outputs.metrics["accuracy"] == 0.9756
    assert outputs.metrics["per_class.0.f1"] == 0.98  # nested keys joined as `dvc metrics` does
    assert outputs.metrics["onnx_top1_agreement"] == 1.0
    assert outputs.metrics["onnx_max_abs_diff"] == 5.7e-06
    # The best ONNX Runtime configuration per batch; the smallest batch is the headline.
    assert outputs.metrics["latency_p50_ms"] == 0.03
    assert outputs.metrics["latency_p50_ms.cpu.b8"] == 0.08
    assert outputs.metrics["throughput_per_s.cpu.b1"] == pytest.approx(1 / 0.03 * 1000)
    assert outputs.metrics["model_size_bytes"] == (pipeline.root / "out/model.onnx").stat().st_size
    assert not any("torch" in key for key in outputs.metrics)
    # Params of every stage behind the registered files, nested as in params.yaml.
    assert outputs.params == PARAMS
    lineage = outputs.lineage
    assert lineage.dvc_stage == "train"
    assert lineage.data_hash == builders.md5_of(pipeline.root / "data/train.npz")
    assert lineage.mlflow is not None
    assert (lineage.mlflow.run_id, lineage.mlflow.tracking_uri) == ("abc123", "sqlite:///mlflow.db")
    lock = yaml.safe_load((pipeline.root / "dvc.lock").read_text())
    canonical = json.dumps(lock["stages"]["train"], sort_keys=True, separators=(",", ":"))
    assert lineage.dvc_lock_hash == hashlib.md5(canonical.encode()).hexdigest()


def test_register_from_dvc_writes_a_valid_version(pipeline: Pipeline, workspace: Workspace) -> None:
    head = workspace.git("rev-parse", "HEAD").strip()

    result = register_from_dvc("digits", repo=workspace.root, description="from dvc", commit=True)

    version = result.version
    assert version.ref == "digits/1" and version.description == "from dvc"
    assert version.lineage.git_commit == head and version.lineage.git_dirty is False
    assert version.lineage.dvc_stage == "train" and version.lineage.mlflow is not None
    weights, onnx = version.artifacts
    assert weights.md5 == builders.md5_of(pipeline.root / "out/model.pt")
    assert onnx.md5 == builders.md5_of(pipeline.root / "out/model.onnx") and onnx.opset == 18
    assert (workspace.root / onnx.path).read_bytes() == (
        pipeline.root / "out/model.onnx"
    ).read_bytes()
    assert version.metrics["onnx_top1_agreement"] >= 0.999
    assert validate(workspace.root).ok


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda p: (p.root / "params.yaml").write_text(
                yaml.safe_dump({**PARAMS, "train": {"lr": 0.01, "epochs": 12}})
            ),
            r"params.yaml: train.lr is 0.01 but stage train ran with 0.003; run 'dvc repro'",
        ),
        (
            lambda p: (p.root / "params.yaml").write_text(
                yaml.safe_dump({**PARAMS, "train": {"epochs": 12}})
            ),
            r"params.yaml: train.lr is missing but stage train ran with 0.003",
        ),
        (
            lambda p: (p.root / "params.yaml").write_text(
                yaml.safe_dump({**PARAMS, "prepare": {"seed": 1}})
            ),
            r"params.yaml: prepare.seed is 1 but stage prepare ran with 42",
        ),
        (
            lambda p: p.write("out/model.pt", b"retrained by hand"),
            r"out/model.pt has md5 \w+, but dvc.lock records \w+ for stage train: it changed "
            r"after 'dvc repro'; run 'dvc repro train'",
        ),
        (
            lambda p: p.write("pipelines/train.py", b"print('changed')\n"),
            r"pipelines/train.py changed since the last 'dvc repro' \(stage train used md5",
        ),
        (
            lambda p: (p.root / "out/model.onnx").unlink(),
            r"out/model.onnx does not exist; run 'dvc repro export'",
        ),
        (
            lambda p: (p.root / "dvc.lock").unlink(),
            r"dvc.lock does not exist; run 'dvc repro' first",
        ),
        (
            lambda p: (p.root / "dvc.lock").write_text("stages: [1, 2]\n"),
            r"dvc.lock has no 'stages' mapping",
        ),
    ],
    ids=[
        "changed-param",
        "changed-section",
        "missing-param",
        "edited-output",
        "changed-code",
        "missing-output",
        "no-lock",
        "bad-lock",
    ],
)
def test_out_of_date_outputs_are_refused(
    pipeline: Pipeline, workspace: Workspace, breakage: Any, message: str
) -> None:
    breakage(pipeline)
    before = workspace.status()
    with pytest.raises(InputError, match=message) as caught:
        register_from_dvc("digits", repo=workspace.root)
    assert "\n" not in str(caught.value)
    assert workspace.status() == before  # nothing written
    assert not (workspace.root / "registry/digits/versions").exists()


def test_a_failed_parity_check_blocks_registration(
    pipeline: Pipeline, workspace: Workspace
) -> None:
    failed = {
        "parity": {
            **PARITY["parity"],
            "passed": False,
            "failures": ["top-1 agreement 98.00% < 99.90% (min_top1_agreement)"],
        }
    }
    pipeline.write("out/parity.json", json.dumps(failed))
    pipeline.lock()  # as if the pipeline had recorded the failing report

    with pytest.raises(InputError) as caught:
        register_from_dvc("digits", repo=workspace.root)
    assert str(caught.value) == (
        "the ONNX export failed its parity check (top-1 agreement 98.00% < 99.90% "
        "(min_top1_agreement)); the version cannot be registered until the export matches "
        "torch (out/parity.json)"
    )


def test_an_onnx_file_without_a_parity_report_is_refused(pipeline: Pipeline) -> None:
    config = {k: v for k, v in PIPELINE.items() if k != "parity"}
    with pytest.raises(InputError, match="names an ONNX file but no parity report"):
        read_pipeline(pipeline.root, "digits", config)


def test_the_model_needs_a_pipeline_section(workspace: Workspace) -> None:
    with pytest.raises(InputError, match=r"registry/digits/model.yaml does not exist"):
        register_from_dvc("digits", repo=workspace.root)
    builders.write_model(workspace.root, "digits", description="no pipeline")
    with pytest.raises(InputError, match=r"has no 'pipeline' section; add one naming"):
        register_from_dvc("digits", repo=workspace.root)


def test_an_unknown_stage_or_output_is_named(pipeline: Pipeline) -> None:
    with pytest.raises(InputError, match=r"dvc.lock has no stage 'fit' \(model.yaml's pipeline"):
        read_pipeline(pipeline.root, "digits", {**PIPELINE, "stage": "fit"})
    with pytest.raises(InputError, match=r"out/other.pt is not an output of any stage in dvc.lock"):
        read_pipeline(pipeline.root, "digits", {**PIPELINE, "weights": "out/other.pt"})


def test_cli_from_dvc_usage(pipeline: Pipeline, workspace: Workspace, cli: Any) -> None:
    from modelreg.cli import cli as cli_group

    repo = ["--repo", str(workspace.root)]
    mixed = cli.invoke(
        cli_group,
        [
            *repo,
            "register",
            "digits",
            "--from-dvc",
            "--weights",
            str(pipeline.root / "out/model.pt"),
        ],
    )
    assert mixed.exit_code == 2 and "--from-dvc" in mixed.output
    neither = cli.invoke(cli_group, [*repo, "register", "digits"])
    assert neither.exit_code == 2 and "give --weights FILE, or --from-dvc" in neither.output
    done = cli.invoke(cli_group, [*repo, "register", "digits", "--from-dvc", "--commit"])
    assert done.exit_code == 0, done.output
    assert "registered digits/1" in done.output
    assert "lineage: stage train, dvc.lock entry" in done.output
    assert "mlflow run abc123 (sqlite:///mlflow.db)" in done.output
