"""The promotion gates of modelreg.core.policy, exactly: which gates a stage's policy
yields, in which order, pass or fail at their boundaries, and what each one says.

Written to kill the mutants mutation testing left alive (make mutation); the registry
here is a stand-in with the few methods check_gates reads, so no git runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from modelreg.core.model import (
    Artifact,
    Deprecation,
    ModelVersion,
    Policy,
    Score,
    StagePointer,
)
from modelreg.core.policy import Gate, check_gates, gate_table

CREATED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
WEIGHTS = Artifact("model.pt", "artifacts/model.pt", "0" * 32, 10, "pytorch")
ONNX = Artifact("model.onnx", "artifacts/model.onnx", "1" * 32, 10, "onnx")
ACCURACY = Score.from_document({"metrics": {"accuracy": {"weight": 1, "better": "higher"}}})
TWO_TERMS = Score.from_document(
    {
        "metrics": {
            "accuracy": {"weight": 1, "better": "higher"},
            "latency_ms": {"weight": 1, "better": "lower"},
        }
    }
)


def version(
    number: int,
    metrics: Mapping[str, float] | None = None,
    *,
    artifacts: tuple[Artifact, ...] = (WEIGHTS,),
    **fields: Any,
) -> ModelVersion:
    return ModelVersion("digits", number, CREATED, artifacts, metrics=dict(metrics or {}), **fields)


class Registry:
    """What check_gates reads of a registry: config, status and versions."""

    def __init__(
        self,
        policies: Mapping[str, Policy],
        versions: tuple[ModelVersion, ...] = (),
        held: Mapping[int, tuple[str, ...]] | None = None,
        score: Score | None = None,
    ) -> None:
        self.config = SimpleNamespace(policies=dict(policies), score=score)
        self._versions = {v.version: v for v in versions}
        self._held = dict(held or {})

    def status(self, model: str) -> dict[int, SimpleNamespace]:
        assert model == "digits"
        return {n: SimpleNamespace(stages=stages) for n, stages in self._held.items()}

    def version(self, model: str, number: int) -> ModelVersion:
        assert model == "digits"
        return self._versions[number]


def pointer(number: int, stage: str = "production") -> StagePointer:
    return StagePointer("digits", stage, number)


def gates(
    policy: Policy,
    candidate: ModelVersion,
    *,
    stage: str = "production",
    current: StagePointer | None = None,
    others: tuple[ModelVersion, ...] = (),
    held: Mapping[int, tuple[str, ...]] | None = None,
    score: Score | None = None,
) -> list[Gate]:
    registry = Registry({stage: policy}, (candidate, *others), held, score)
    return check_gates(registry, candidate, stage, current)  # type: ignore[arg-type]


OK = Gate("not deprecated", True, "v2 is not deprecated", False)


# --- Gate and the deprecation gate -----------------------------------------------------------


def test_a_gate_is_overridable_unless_said_and_its_json_names_three_fields() -> None:
    gate = Gate("accuracy >= 0.9", False, "0.8")
    assert gate.overridable is True
    assert gate.to_json() == {"gate": "accuracy >= 0.9", "passed": False, "detail": "0.8"}


def test_a_stage_without_a_policy_checks_only_deprecation() -> None:
    registry = Registry({"staging": Policy(require={"accuracy": {"min": 0.9}})}, (version(2),))
    assert check_gates(registry, version(2), "production", None) == [OK]  # type: ignore[arg-type]


def test_deleted_and_deprecated_versions_fail_a_gate_force_cannot_override() -> None:
    gone = Deprecation(CREATED, "leaked test data")
    assert gates(Policy(), version(2, deleted=gone)) == [
        Gate("not deprecated", False, "v2 was deleted", False)
    ]
    # deleted wins over deprecated: the tombstone is what the gate reports
    assert gates(Policy(), version(2, deleted=gone, deprecation=gone))[0].detail == "v2 was deleted"
    assert gates(Policy(), version(2, deprecation=gone)) == [
        Gate("not deprecated", False, "v2 is deprecated: leaked test data", False)
    ]
    assert gates(Policy(), version(2, deprecation=Deprecation(CREATED))) == [
        Gate("not deprecated", False, "v2 is deprecated", False)
    ]


# --- source stage ----------------------------------------------------------------------------


def test_the_source_stage_gate_passes_a_version_held_by_an_allowed_stage() -> None:
    policy = Policy(from_stages=("staging", "canary"))
    assert gates(policy, version(2), held={2: ("canary",)}) == [
        OK,
        Gate("source stage", True, "v2 is in canary; production takes from staging, canary"),
    ]
    found = gates(policy, version(2), held={2: ("qa", "production")})
    assert found[1] == Gate(
        "source stage", False, "v2 is in qa; production takes from staging, canary"
    )
    assert found[1].overridable is True


def test_the_source_stage_gate_ignores_the_target_stage_itself() -> None:
    policy = Policy(from_stages=("staging",))
    found = gates(policy, version(2), held={2: ("production",)})
    assert found[1] == Gate(
        "source stage", False, "v2 holds no stage; production takes from staging"
    )
    found = gates(policy, version(2), held={2: ("staging", "production")})
    assert found[1] == Gate("source stage", True, "v2 is in staging; production takes from staging")


def test_none_in_from_admits_only_a_version_that_holds_no_stage() -> None:
    policy = Policy(from_stages=("none",))
    assert gates(policy, version(2))[1] == Gate(
        "source stage", True, "v2 holds no stage; production takes from none"
    )
    assert gates(policy, version(2), held={2: ()})[1].passed is True
    assert gates(policy, version(2), held={2: ("staging",)})[1] == Gate(
        "source stage", False, "v2 is in staging; production takes from none"
    )
    # without 'none', a version that holds nothing may not enter
    assert gates(Policy(from_stages=("staging",)), version(2))[1].passed is False


def test_an_empty_from_list_admits_nothing() -> None:
    found = gates(Policy(from_stages=()), version(2), held={2: ("staging",)})
    assert found[1] == Gate("source stage", False, "v2 is in staging; production takes from ")


def test_the_source_stage_gate_lists_every_stage_the_version_holds() -> None:
    found = gates(Policy(from_stages=("staging",)), version(2), held={2: ("qa", "canary")})
    assert found[1] == Gate(
        "source stage", False, "v2 is in qa, canary; production takes from staging"
    )


# --- required metrics ------------------------------------------------------------------------


def test_required_metrics_pass_inside_their_bounds_inclusive() -> None:
    policy = Policy(
        require={
            "accuracy": {"min": 0.9},
            "loss": {"max": 0.25},
            "f1": {"min": 0.5, "max": 1.0},
            "auc": {},
        }
    )
    found = gates(policy, version(2, {"accuracy": 0.9, "loss": 0.25, "f1": 1.0, "auc": 0.1}))
    assert found == [
        OK,
        Gate("accuracy >= 0.9", True, "0.9"),
        Gate("loss <= 0.25", True, "0.25"),
        Gate("f1 >= 0.5 and <= 1", True, "1"),
        Gate("auc recorded", True, "0.1"),
    ]


def test_required_metrics_fail_just_outside_their_bounds() -> None:
    policy = Policy(require={"accuracy": {"min": 0.9}, "loss": {"max": 0.25}})
    found = gates(policy, version(2, {"accuracy": 0.8999999, "loss": 0.2500001}))
    assert found[1:] == [
        Gate("accuracy >= 0.9", False, "0.9"),
        Gate("loss <= 0.25", False, "0.25"),
    ]
    both = Policy(require={"f1": {"min": 0.5, "max": 0.75}})
    assert gates(both, version(2, {"f1": 0.4}))[1].passed is False
    assert gates(both, version(2, {"f1": 0.8}))[1].passed is False
    assert gates(both, version(2, {"f1": 0.5}))[1].passed is True
    assert gates(both, version(2, {"f1": 0.75}))[1].passed is True


def test_a_missing_required_metric_fails_and_says_what_is_needed() -> None:
    policy = Policy(require={"accuracy": {"min": 0.9, "max": 1}, "auc": {}})
    assert gates(policy, version(2, {"loss": 0.1}))[1:] == [
        Gate(
            "accuracy >= 0.9 and <= 1",
            False,
            "v2 has no accuracy recorded (needs >= 0.9 and <= 1)",
        ),
        Gate("auc recorded", False, "v2 has no auc recorded (needs recorded)"),
    ]


def test_metric_values_are_shown_with_six_significant_digits() -> None:
    policy = Policy(require={"tokens": {"min": 1000}, "eps": {"max": 1}})
    found = gates(policy, version(2, {"tokens": 1234567.0, "eps": 0.123456789}))
    assert [(g.name, g.detail) for g in found[1:]] == [
        ("tokens >= 1000", "1.23457e+06"),
        ("eps <= 1", "0.123457"),
    ]


# --- no regression ---------------------------------------------------------------------------


def regression(
    rule: Mapping[str, Any], value: float | None, before: float | None, metric: str = "accuracy"
) -> Gate:
    policy = Policy(no_regression={metric: rule})
    candidate = version(2, {metric: value} if value is not None else {})
    incumbent = version(1, {metric: before} if before is not None else {})
    found = gates(policy, candidate, current=pointer(1), others=(incumbent,))
    assert len(found) == 2
    return found[1]


def test_no_regression_passes_without_an_incumbent_to_compare_with() -> None:
    policy = Policy(no_regression={"accuracy": {"better": "higher"}})
    assert gates(policy, version(2, {"accuracy": 0.1}))[1:] == [
        Gate("no accuracy regression", True, "production holds no version to compare with")
    ]
    # even a candidate without the metric passes when there is nothing to compare with
    assert gates(policy, version(2))[1].passed is True


def test_no_regression_fails_a_candidate_without_the_metric() -> None:
    assert regression({"better": "higher"}, None, 0.9) == Gate(
        "no accuracy regression", False, "v2 has no accuracy recorded"
    )


def test_no_regression_passes_when_the_incumbent_has_no_value() -> None:
    assert regression({"better": "higher"}, 0.5, None) == Gate(
        "no accuracy regression", True, "v1 has no accuracy recorded; nothing to compare"
    )


def test_higher_is_better_allows_exactly_the_tolerance() -> None:
    rule = {"better": "higher", "tolerance": 0.01}
    assert regression(rule, 0.89, 0.9) == Gate(
        "no accuracy regression",
        True,
        "0.89 vs 0.9 in v1 (higher is better; 0.01 worse allowed)",
    )
    assert regression(rule, 0.8899, 0.9).passed is False
    assert regression(rule, 0.95, 0.9).passed is True  # better is always fine
    strict = regression({"better": "higher"}, 0.9, 0.9)
    assert strict.passed is True
    assert strict.detail == "0.9 vs 0.9 in v1 (higher is better; 0 worse allowed)"
    assert regression({"better": "higher"}, 0.8999, 0.9).passed is False


def test_lower_is_better_counts_an_increase_as_worse() -> None:
    rule = {"better": "lower", "tolerance": 0.5}
    assert regression(rule, 2.5, 2.0, "loss") == Gate(
        "no loss regression", True, "2.5 vs 2 in v1 (lower is better; 0.5 worse allowed)"
    )
    assert regression(rule, 2.6, 2.0, "loss").passed is False
    assert regression(rule, 0.1, 2.0, "loss").passed is True
    assert regression({"better": "lower"}, 2.0001, 2.0, "loss").passed is False


def test_relative_tolerance_scales_with_the_incumbents_magnitude() -> None:
    # 10% of |-4| = 0.4 on top of the absolute 0.1: 0.5 worse allowed
    rule = {"better": "higher", "tolerance": 0.1, "relative_tolerance": 0.1}
    assert regression(rule, -4.5, -4.0) == Gate(
        "no accuracy regression",
        True,
        "-4.5 vs -4 in v1 (higher is better; 0.5 worse allowed)",
    )
    assert regression(rule, -4.6, -4.0).passed is False
    only_relative = {"better": "lower", "relative_tolerance": 0.5}
    assert regression(only_relative, 3.0, 2.0, "loss").detail.endswith("; 1 worse allowed)")
    assert regression(only_relative, 3.0, 2.0, "loss").passed is True
    assert regression(only_relative, 3.1, 2.0, "loss").passed is False


def test_regression_within_float_noise_of_the_bound_still_passes() -> None:
    # 1.0 - 0.7 is 0.30000000000000004 in floats: the 1e-12 slack keeps it equal to 0.3
    rule = {"better": "higher", "tolerance": 0.3}
    assert 1.0 - 0.7 > 0.3
    assert regression(rule, 0.7, 1.0).passed is True
    assert regression(rule, 0.7 - 1e-9, 1.0).passed is False


def test_each_regression_rule_gets_its_gate_after_a_missing_value() -> None:
    policy = Policy(
        no_regression={
            "accuracy": {"better": "higher"},
            "f1": {"better": "higher"},
            "loss": {"better": "lower"},
        }
    )
    incumbent = version(1, {"accuracy": 0.9, "loss": 0.2})
    candidate = version(2, {"f1": 0.8, "loss": 0.3})
    found = gates(policy, candidate, current=pointer(1), others=(incumbent,))
    assert found[1:] == [
        Gate("no accuracy regression", False, "v2 has no accuracy recorded"),
        Gate("no f1 regression", True, "v1 has no f1 recorded; nothing to compare"),
        Gate("no loss regression", False, "0.3 vs 0.2 in v1 (lower is better; 0 worse allowed)"),
    ]


def test_regression_exactly_at_the_float_slack_still_passes() -> None:
    # worse is exactly 1e-12 and the bound is 0 + 1e-12: the comparison is inclusive
    assert 1e-12 - 0.0 == 0.0 + 1e-12
    assert regression({"better": "higher"}, 0.0, 1e-12) == Gate(
        "no accuracy regression",
        True,
        "0 vs 1e-12 in v1 (higher is better; 0 worse allowed)",
    )


# --- the weighted score ----------------------------------------------------------------------


def test_score_gates_fail_when_the_registry_defines_no_score() -> None:
    policy = Policy(score={"min": 0.5, "no_regression": True})
    detail = "registry/registry.yaml defines no score; add a top-level 'score'"
    assert gates(policy, version(2, {"accuracy": 0.9}))[1:] == [
        Gate("score >= 0.5", False, detail),
        Gate("no score regression", False, detail),
    ]


def test_score_gates_fail_a_version_without_a_score_and_name_the_missing_metrics() -> None:
    policy = Policy(score={"min": 0.5, "no_regression": True})
    found = gates(policy, version(2, {"f1": 0.9}), score=TWO_TERMS)
    detail = "v2 has no score: no accuracy, latency_ms recorded"
    assert found[1:] == [
        Gate("score >= 0.5", False, detail),
        Gate("no score regression", False, detail),
    ]
    found = gates(policy, version(2, {"accuracy": 0.9}), score=TWO_TERMS)
    assert found[1].detail == "v2 has no score: no latency_ms recorded"


def test_the_minimum_score_gate_is_inclusive() -> None:
    policy = Policy(score={"min": 0.75})
    assert gates(policy, version(2, {"accuracy": 0.75}), score=ACCURACY)[1:] == [
        Gate("score >= 0.75", True, "0.75")
    ]
    assert gates(policy, version(2, {"accuracy": 0.7499}), score=ACCURACY)[1:] == [
        Gate("score >= 0.75", False, "0.7499")
    ]
    # float noise: 0.1 + 0.2 is a hair above 0.3, 0.7 - 0.4 a hair below it
    noisy = Policy(score={"min": 0.3})
    assert gates(noisy, version(2, {"accuracy": 0.7 - 0.4}), score=ACCURACY)[1].passed is True


def test_a_score_policy_without_gates_adds_none() -> None:
    policy = Policy(score={"no_regression": False, "tolerance": 0.1})
    assert gates(policy, version(2, {"accuracy": 0.1}), score=ACCURACY) == [OK]
    assert gates(policy, version(2, {"accuracy": 0.1})) == [OK]


def test_score_regression_against_the_incumbent() -> None:
    policy = Policy(score={"no_regression": True, "tolerance": 0.05})

    def check(value: float, before: float | None) -> Gate:
        incumbent = version(1, {"accuracy": before} if before is not None else {})
        found = gates(
            policy,
            version(2, {"accuracy": value}),
            current=pointer(1),
            others=(incumbent,),
            score=ACCURACY,
        )
        assert len(found) == 2
        return found[1]

    assert check(0.65, 0.7) == Gate(
        "no score regression", True, "0.65 vs 0.7 in v1 (0.05 lower allowed)"
    )
    assert check(0.64, 0.7) == Gate(
        "no score regression", False, "0.64 vs 0.7 in v1 (0.05 lower allowed)"
    )
    assert check(0.9, None) == Gate(
        "no score regression", True, "v1 has no score; nothing to compare"
    )
    assert gates(policy, version(2, {"accuracy": 0.1}), score=ACCURACY)[1:] == [
        Gate("no score regression", True, "production holds no version to compare with")
    ]


def test_score_regression_without_a_tolerance_allows_only_float_noise() -> None:
    policy = Policy(score={"no_regression": True, "min": 0.1})
    incumbent = version(1, {"accuracy": 0.3})
    found = gates(
        policy,
        version(2, {"accuracy": 0.7 - 0.4}),
        current=pointer(1),
        others=(incumbent,),
        score=ACCURACY,
    )
    assert found[1:] == [
        Gate("score >= 0.1", True, "0.3"),
        Gate("no score regression", True, "0.3 vs 0.3 in v1 (0 lower allowed)"),
    ]
    found = gates(
        policy,
        version(2, {"accuracy": 0.2999}),
        current=pointer(1),
        others=(incumbent,),
        score=ACCURACY,
    )
    assert found[2].passed is False


# --- ONNX parity -----------------------------------------------------------------------------


def test_onnx_parity_needs_an_onnx_artifact_and_a_parity_result() -> None:
    policy = Policy(onnx_parity=True)
    assert gates(policy, version(2, {"onnx_max_abs_diff": 0.0}))[1:] == [
        Gate("ONNX parity", False, "v2 has no ONNX artifact")
    ]
    assert gates(policy, version(2, artifacts=(WEIGHTS, ONNX)))[1:] == [
        Gate(
            "ONNX parity",
            False,
            "v2's ONNX export has no parity result (register it with --from-dvc)",
        )
    ]


def test_onnx_parity_reports_the_difference_and_the_agreement() -> None:
    policy = Policy(onnx_parity=True)
    onnx = (ONNX,)
    assert gates(policy, version(2, {"onnx_max_abs_diff": 1.5e-05}, artifacts=onnx))[1:] == [
        Gate("ONNX parity", True, "passed: max abs diff 1.5e-05")
    ]
    metrics = {"onnx_max_abs_diff": 0.0, "onnx_top1_agreement": 0.9995}
    assert gates(policy, version(2, metrics, artifacts=onnx))[1:] == [
        Gate("ONNX parity", True, "passed: max abs diff 0, top-1 agreement 0.9995")
    ]
    assert gates(Policy(onnx_parity=False), version(2, artifacts=onnx)) == [OK]


def test_every_gate_in_policy_order() -> None:
    policy = Policy(
        from_stages=("staging",),
        require={"accuracy": {"min": 0.5}},
        no_regression={"accuracy": {"better": "higher"}},
        score={"min": 0.5},
        onnx_parity=True,
    )
    found = gates(policy, version(2, {"accuracy": 0.9}), held={2: ("staging",)}, score=ACCURACY)
    assert [g.name for g in found] == [
        "not deprecated",
        "source stage",
        "accuracy >= 0.5",
        "no accuracy regression",
        "score >= 0.5",
        "ONNX parity",
    ]
    assert [g.passed for g in found] == [True, True, True, True, True, False]


# --- the table -------------------------------------------------------------------------------


def test_gate_table_without_gates_says_the_stage_has_no_policy() -> None:
    assert gate_table([]) == "No gates: the stage has no policy in registry/registry.yaml.\n"
    assert gate_table(()) == gate_table([])


def test_gate_table_marks_failures_and_escapes_cells() -> None:
    table = gate_table(
        (Gate("accuracy >= 0.9", True, "0.95"), Gate("a|b", False, "v2 *has* no a|b"))
    )
    assert table == (
        "| gate | result | detail |\n"
        "|---|---|---|\n"
        "| accuracy >= 0.9 | pass | 0.95 |\n"
        "| a\\|b | **FAIL** | v2 \\*has\\* no a\\|b |\n"
    )


@pytest.mark.parametrize("passed", [True, False])
def test_gate_table_has_one_row_per_gate(passed: bool) -> None:
    rows = gate_table([Gate("x", passed, "d")] * 3).splitlines()
    assert len(rows) == 5
    assert rows[2] == rows[4] == f"| x | {'pass' if passed else '**FAIL**'} | d |"


def test_score_gates_at_the_exact_edge_of_their_float_slack() -> None:
    # A value exactly 1e-12 below the minimum still passes; the slack is inclusive.
    edge = 0.75 - 1e-12
    found = gates(Policy(score={"min": 0.75}), version(2, {"accuracy": edge}), score=ACCURACY)
    assert found[1].passed is True
    policy = Policy(score={"no_regression": True})
    incumbent = version(1, {"accuracy": 1e-12})
    found = gates(
        policy,
        version(2, {"accuracy": 0.0}),
        current=pointer(1),
        others=(incumbent,),
        score=ACCURACY,
    )
    assert 1e-12 - 0.0 == 0.0 + 1e-12
    assert found[1] == Gate("no score regression", True, "0 vs 1e-12 in v1 (0 lower allowed)")
