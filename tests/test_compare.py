"""``modelreg compare``: versions side by side, as the seeds' compare view shows them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from modelreg.api import Registry
from modelreg.cli import cli as cli_group
from modelreg.reporting.compare import (
    compare_versions,
    metric_direction,
    render_markdown,
    table_rows,
)
from tests import builders
from tests.conftest import RegistryFactory, Workspace

LINEAGE_1 = {
    "git_commit": "a" * 40,
    "dvc_stage": "digits-cnn-train",
    "params": {"train": {"lr": 0.003, "channels": 16, "seed": 0}, "prepare": {"seed": 42}},
    "mlflow": {"run_id": "run1", "tracking_uri": "sqlite:///x.db"},
}
LINEAGE_2 = {
    "git_commit": "b" * 40,
    "dvc_stage": "digits-cnn-train",
    "params": {"train": {"lr": 0.003, "channels": 8, "seed": 0}, "prepare": {"seed": 42}},
}


@pytest.fixture
def three_versions(make_registry: RegistryFactory) -> Workspace:
    metrics_1 = {
        "accuracy": 0.97,
        "latency_p50_ms": 0.030,
        "test_images": 450,
        "per_class.0.f1": 0.98,
    }
    metrics_2 = {
        "accuracy": 0.96,
        "latency_p50_ms": 0.015,
        "test_images": 450,
        "per_class.0.f1": 0.97,
    }
    digits = {
        1: {"lineage": LINEAGE_1, "description": "baseline", "metrics": metrics_1},
        2: {"lineage": LINEAGE_2, "metrics": metrics_2},
        3: {"metrics": {"accuracy": 0.99}},
    }
    return make_registry(
        {"digits": digits}, stages={"digits": {"production": 1}}, message="three versions"
    )


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("accuracy", "higher"),
        ("val_f1_score", "higher"),
        ("throughput_per_s.cpu.b8", "higher"),
        ("onnx_top1_agreement", "higher"),
        ("latency_p99_ms.cuda.b1", "lower"),
        ("rmse", "lower"),
        ("test.loss", "lower"),
        ("model_size_bytes", "lower"),
        ("onnx_max_abs_diff", "lower"),
        ("inference_time", "lower"),
        ("test_images", None),
        ("per_class.3.support", None),
    ],
)
def test_metric_direction(name: str, direction: str | None) -> None:
    assert metric_direction(name) == direction


def test_values_changes_and_best_per_metric(three_versions: Workspace) -> None:
    with Registry.open(three_versions.root) as registry:
        comparison = compare_versions(registry, "digits", ["production", "2", "latest"])

    assert comparison.refs == ("digits/1", "digits/2", "digits/3")
    rows = {(row.section, row.key): row for row in comparison.rows}
    accuracy = rows["metrics", "accuracy"]
    assert accuracy.values == (0.97, 0.96, 0.99)
    assert accuracy.best() == 2
    assert accuracy.deltas()[1] == pytest.approx(-0.01 / 0.97)
    latency = rows["metrics", "latency_p50_ms"]
    assert latency.values == (0.030, 0.015, None) and latency.best() == 1
    assert latency.deltas() == (0.0, pytest.approx(-0.5), None)
    assert rows["metrics", "test_images"].best() is None  # a count has no better side
    assert rows["metrics", "per_class.0.f1"].detail
    # Params: only what differs is listed, the rest counted.
    assert rows["params", "train.channels"].values == (16, 8, None)
    assert rows["params", "train.lr"].values == (0.003, 0.003, None)  # 3 has none: differs
    assert comparison.same_params == 0  # version 3 has no params, so every key differs
    assert rows["version", "stages"].values == ("production", "", "")
    assert rows["lineage", "git_commit"].values == ("a" * 12, "b" * 12, None)
    assert rows["lineage", "mlflow_run"].values == ("run1", None, None)
    assert rows["artifacts", "weights.size_bytes"].direction == "lower"


def test_text_markdown_and_json_agree(three_versions: Workspace) -> None:
    with Registry.open(three_versions.root) as registry:
        comparison = compare_versions(registry, "digits", ["1", "2"])

    text = {tuple(r[:2]): r[2:] for r in table_rows(comparison)}
    assert text["metrics", "accuracy"] == ["0.97 *", "0.96 (-1.0%)"]
    assert text["metrics", "latency_p50_ms"] == ["0.03", "0.015 (-50.0%) *"]
    assert ("metrics", "per_class.0.f1") not in text
    assert ("metrics", "per_class.0.f1") in {
        tuple(r[:2]) for r in table_rows(comparison, everything=True)
    }
    assert comparison.same_params == 3  # lr, seed and prepare.seed

    markdown = render_markdown(comparison)
    assert "| digits/1 | digits/2 |" in markdown.splitlines()[0]
    assert "| metrics | accuracy | **0.97** | 0.96 (-1.0%) |" in markdown
    assert "| params | train.channels | 16 | 8 |" in markdown
    assert "1 per-class metrics not shown. 3 params are the same in every version." in markdown

    document = comparison.to_json()
    assert document["format"] == "modelreg.compare/1" and document["baseline"] == "digits/1"
    assert document["metrics"]["latency_p50_ms"]["best"] == "digits/2"
    assert document["metrics"]["latency_p50_ms"]["better"] == "lower"
    assert document["metrics"]["accuracy"]["change"]["digits/2"] == pytest.approx(-0.01 / 0.97)
    assert document["params"] == {"train.channels": {"values": {"digits/1": 16, "digits/2": 8}}}


def test_cli_compare(three_versions: Workspace, cli: CliRunner) -> None:
    repo = ["--repo", str(three_versions.root)]
    shown = cli.invoke(cli_group, [*repo, "compare", "digits", "1", "2"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("digits: changes against digits/1, best value marked *\n")
    assert (
        "1 per-class metrics hidden (--all shows them); 3 params equal in every version"
        in shown.output
    )

    as_json = cli.invoke(cli_group, [*repo, "compare", "digits", "2", "models:/digits/1", "--json"])
    assert json.loads(as_json.output)["versions"] == ["digits/2", "digits/1"]

    both = cli.invoke(cli_group, [*repo, "compare", "digits", "1", "2", "--json", "--markdown"])
    assert both.exit_code == 2 and "give --json or --markdown, not both" in both.output
    one = cli.invoke(cli_group, [*repo, "compare", "digits", "1"])
    assert one.exit_code == 2 and "name at least two versions" in one.output


def test_versions_of_another_model_or_missing_are_refused(
    three_versions: Workspace, cli: CliRunner
) -> None:
    builders.write_version(three_versions.root, "other", 1)
    three_versions.commit_all("other")
    repo = ["--repo", str(three_versions.root)]
    mixed = cli.invoke(cli_group, [*repo, "compare", "digits", "1", "other/1"])
    assert mixed.exit_code == 1
    assert "other/1 is not a version of digits; compare one model's versions" in str(
        mixed.exception
    )
    missing = cli.invoke(cli_group, [*repo, "compare", "digits", "1", "9"])
    assert missing.exit_code == 1 and "9" in str(missing.exception)
