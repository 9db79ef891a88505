"""The registry's weighted score (seed 001 §3.2): Σ wᵢ·metricᵢ with a direction per
metric and its normalisation stated, shown and ranked by ``compare``, sorted on by
``versions``, and gated on by a policy. Run through the installed ``modelreg``."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from modelreg.core.errors import InputError
from modelreg.core.model import Score
from tests.conftest import RegistryFactory, Workspace

SCORE = {
    "metrics": {
        "accuracy": {"weight": 3, "better": "higher", "range": [0.8, 1.0]},
        "latency_ms": {"weight": 1, "better": "lower", "range": [0.0, 10.0]},
    }
}
# v1: accurate and slow; v2: fast and less accurate; v3: good at both; v4: no latency.
METRICS = {
    1: {"accuracy": 0.98, "latency_ms": 9.0},  # (3 * 0.9 + 1 * 0.1) / 4 = 0.7
    2: {"accuracy": 0.90, "latency_ms": 1.0},  # (3 * 0.5 + 1 * 0.9) / 4 = 0.6
    3: {"accuracy": 0.96, "latency_ms": 2.0},  # (3 * 0.8 + 1 * 0.8) / 4 = 0.8
    4: {"accuracy": 0.99},
}


def run(exe: str, ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=ws.root, capture_output=True, text=True, check=False)


@pytest.fixture
def scored(make_registry: RegistryFactory) -> Workspace:
    ws = make_registry(
        {"digits": {n: {"metrics": m} for n, m in METRICS.items()}},
        message="four versions",
        stages={"digits": {"production": 1}},
    )
    config = ws.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["score"] = SCORE
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    ws.commit_all("a weighted score")
    return ws


def test_the_score_is_the_stated_weighted_mean_of_normalised_metrics() -> None:
    score = Score.from_document(SCORE)
    assert score.of(METRICS[1]) == pytest.approx(0.7)
    assert score.of(METRICS[2]) == pytest.approx(0.6)
    assert score.of(METRICS[3]) == pytest.approx(0.8)
    assert score.of(METRICS[4]) is None  # a missing metric: no score, not a zero
    # Outside the range a metric clamps to its end; without a range it is taken as is.
    assert score.of({"accuracy": 1.5, "latency_ms": -3.0}) == pytest.approx(1.0)
    raw = Score.from_document(
        {
            "metrics": {
                "f1": {"weight": 1, "better": "higher"},
                "loss": {"weight": 1, "better": "lower"},
            }
        }
    )
    assert raw.of({"f1": 0.9, "loss": 0.3}) == pytest.approx((0.9 - 0.3) / 2)
    assert score.describe() == (
        "3x accuracy over [0.8, 1] (higher is better) + "
        "1x latency_ms over [0, 10] (lower is better), divided by 4"
    )
    with pytest.raises(InputError, match=r"accuracy's range \[1.0, 0.8\] must go from low to high"):
        Score.from_document(
            {"metrics": {"accuracy": {"weight": 1, "better": "higher", "range": [1.0, 0.8]}}}
        )


def test_compare_shows_and_ranks_by_the_score(scored: Workspace, modelreg_exe: str) -> None:
    done = run(modelreg_exe, scored, "compare", "digits", "1", "2", "3", "4", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    values = result["metrics"]["score"]["values"]
    assert [values[f"digits/{n}"] for n in (1, 2, 3)] == pytest.approx([0.7, 0.6, 0.8])
    assert values["digits/4"] is None
    assert result["metrics"]["score"]["best"] == "digits/3"
    assert result["version"]["rank"]["values"] == {
        "digits/1": 2, "digits/2": 3, "digits/3": 1, "digits/4": None,
    }  # fmt: skip
    assert result["score"].startswith("3x accuracy over [0.8, 1]")
    text = run(modelreg_exe, scored, "compare", "digits", "1", "3")
    assert "score: 3x accuracy" in text.stdout and "rank 1 is the highest" in text.stdout
    markdown = run(modelreg_exe, scored, "compare", "digits", "1", "3", "--markdown").stdout
    assert "| metrics | score | 0.7 | **0.8 (+14.3%)** |" in markdown
    assert "|  | rank | 2 | 1 |" in markdown
    assert "Score: 3x accuracy" in markdown


def test_versions_sort_by_score(scored: Workspace, modelreg_exe: str, make_registry: Any) -> None:
    done = run(modelreg_exe, scored, "versions", "digits", "--sort", "score", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["versions"]
    assert [v["version"] for v in listed] == [3, 1, 2, 4]
    assert [v["score"] for v in listed][:3] == pytest.approx([0.8, 0.7, 0.6])
    table = run(modelreg_exe, scored, "versions", "digits", "--sort", "score")
    assert "SCORE" in table.stdout.splitlines()[1]
    assert table.stdout.index("0.8") < table.stdout.index("0.7")


def test_sorting_by_a_score_the_registry_lacks_is_a_usage_error(
    make_registry: RegistryFactory, modelreg_exe: str
) -> None:
    ws = make_registry({"digits": 2}, message="no score")
    done = run(modelreg_exe, ws, "versions", "digits", "--sort", "score")
    assert done.returncode == 2
    assert "--sort score needs a 'score' in registry/registry.yaml" in done.stderr


def _policy(ws: Workspace, rule: dict[str, Any]) -> None:
    config = ws.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["policies"] = {"production": {"score": rule}}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    ws.commit_all("a score gate")


def test_a_gate_refuses_a_score_regression(scored: Workspace, modelreg_exe: str) -> None:
    _policy(scored, {"no_regression": True, "tolerance": 0.05})
    head = scored.git("rev-parse", "HEAD").strip()
    # v2 scores 0.6 against production's 0.7: more than 0.05 lower.
    done = run(modelreg_exe, scored, "promote", "digits", "2", "--to", "production")
    assert done.returncode == 1
    assert "no score regression: 0.6 vs 0.7 in v1 (0.05 lower allowed)" in done.stderr
    assert scored.git("rev-parse", "HEAD").strip() == head
    # v4 has no latency, so no score: the gate cannot pass.
    done = run(modelreg_exe, scored, "promote", "digits", "4", "--to", "production")
    assert done.returncode == 1
    assert "v4 has no score: no latency_ms recorded" in done.stderr
    done = run(modelreg_exe, scored, "promote", "digits", "3", "--to", "production")
    assert done.returncode == 0, done.stderr


def test_a_gate_on_a_minimum_score(scored: Workspace, modelreg_exe: str) -> None:
    _policy(scored, {"min": 0.75})
    check = run(modelreg_exe, scored, "promote", "digits", "2", "--to", "production", "--check")
    assert check.returncode == 1
    assert "score >= 0.75" in check.stdout + check.stderr
    done = run(modelreg_exe, scored, "promote", "digits", "3", "--to", "production")
    assert done.returncode == 0, done.stderr


def test_a_score_gate_without_a_score_fails_and_says_why(
    make_registry: RegistryFactory, modelreg_exe: str
) -> None:
    ws = make_registry(
        {"digits": {1: {"metrics": METRICS[1]}}},
        message="a gate on no score",
        policies={"production": {"score": {"min": 0.5}}},
    )
    done = run(modelreg_exe, ws, "promote", "digits", "1", "--to", "production")
    assert done.returncode == 1
    assert "registry/registry.yaml defines no score; add a top-level 'score'" in done.stderr


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ({"weight": 0, "better": "higher"}, "weight"),
        ({"weight": 1, "better": "up"}, "better"),
        ({"weight": 1, "better": "higher", "range": [1]}, "range"),
        ({"weight": 1, "better": "higher", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_score_is_a_validate_finding(
    make_registry: RegistryFactory, modelreg_exe: str, term: dict[str, Any], message: str
) -> None:
    ws = make_registry({"digits": 1}, message="one version")
    config = ws.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["score"] = {"metrics": {"accuracy": term}}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    done = run(modelreg_exe, ws, "validate", "--offline")
    assert done.returncode == 1
    assert "registry/registry.yaml" in done.stdout and message in done.stdout
