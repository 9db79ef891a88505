"""What a stage's policy says of a version: its gates, judged on one registry snapshot.

``promote`` lands a version only when every gate passes (or ``--force`` overrides the
overridable ones); ``promote --check``, the pull-request report and the dashboard show
the same gates. Reading only: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelreg.core.escape import markdown_cell
from modelreg.core.model import ModelVersion, Policy, StagePointer
from modelreg.core.registry import Registry

__all__ = ["Gate", "check_gates", "gate_table"]


@dataclass(frozen=True)
class Gate:
    """One policy check and how the version fared."""

    name: str
    passed: bool
    detail: str
    overridable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.name, "passed": self.passed, "detail": self.detail}


def _number(value: float) -> str:
    return f"{value:.6g}"


def check_gates(
    registry: Registry, version: ModelVersion, stage: str, current: StagePointer | None
) -> list[Gate]:
    """Every gate of ``stage``'s policy, passed or not, for ``version``."""
    policy = registry.config.policies.get(stage, Policy())
    label = f"v{version.version}"
    gates = []
    if version.deleted is not None:
        gates.append(Gate("not deprecated", False, f"{label} was deleted", False))
    elif version.deprecation is not None:
        why = f": {version.deprecation.reason}" if version.deprecation.reason else ""
        gates.append(Gate("not deprecated", False, f"{label} is deprecated{why}", False))
    else:
        gates.append(Gate("not deprecated", True, f"{label} is not deprecated", False))

    if policy.from_stages is not None:
        status = registry.status(version.model).get(version.version)
        held = [s for s in (status.stages if status else ()) if s != stage]
        allowed = ", ".join(policy.from_stages)
        passed = any(s in policy.from_stages for s in held) or (
            "none" in policy.from_stages and not held
        )
        where = f"is in {', '.join(held)}" if held else "holds no stage"
        gates.append(Gate("source stage", passed, f"{label} {where}; {stage} takes from {allowed}"))

    for metric, bound in policy.require.items():
        value = version.metrics.get(metric)
        limits = []
        if "min" in bound:
            limits.append(f">= {_number(bound['min'])}")
        if "max" in bound:
            limits.append(f"<= {_number(bound['max'])}")
        wanted = " and ".join(limits) or "recorded"
        if value is None:
            detail = f"{label} has no {metric} recorded (needs {wanted})"
            gates.append(Gate(f"{metric} {wanted}", False, detail))
            continue
        passed = bound.get("min", value) <= value <= bound.get("max", value)
        gates.append(Gate(f"{metric} {wanted}", passed, f"{_number(value)}"))

    if policy.no_regression:
        gates.extend(_regression_gates(registry, version, stage, current, policy))

    if policy.score:
        gates.extend(_score_gates(registry, version, stage, current, policy))

    if policy.onnx_parity:
        onnx = next((a for a in version.artifacts if a.format == "onnx"), None)
        diff = version.metrics.get("onnx_max_abs_diff")
        if onnx is None:
            gates.append(Gate("ONNX parity", False, f"{label} has no ONNX artifact"))
        elif diff is None:
            detail = f"{label}'s ONNX export has no parity result (register it with --from-dvc)"
            gates.append(Gate("ONNX parity", False, detail))
        else:
            agreement = version.metrics.get("onnx_top1_agreement")
            extra = f", top-1 agreement {_number(agreement)}" if agreement is not None else ""
            gates.append(Gate("ONNX parity", True, f"passed: max abs diff {_number(diff)}{extra}"))
    return gates


def _regression_gates(
    registry: Registry,
    version: ModelVersion,
    stage: str,
    current: StagePointer | None,
    policy: Policy,
) -> list[Gate]:
    gates = []
    incumbent = registry.version(version.model, current.version) if current else None
    for metric, rule in policy.no_regression.items():
        name = f"no {metric} regression"
        value = version.metrics.get(metric)
        if incumbent is None:
            gates.append(Gate(name, True, f"{stage} holds no version to compare with"))
            continue
        before = incumbent.metrics.get(metric)
        if value is None:
            gates.append(Gate(name, False, f"v{version.version} has no {metric} recorded"))
            continue
        if before is None:
            detail = f"v{incumbent.version} has no {metric} recorded; nothing to compare"
            gates.append(Gate(name, True, detail))
            continue
        allowed = float(rule.get("tolerance", 0.0)) + float(
            rule.get("relative_tolerance", 0.0)
        ) * abs(before)
        worse = before - value if rule["better"] == "higher" else value - before
        passed = worse <= allowed + 1e-12
        detail = (
            f"{_number(value)} vs {_number(before)} in v{incumbent.version} "
            f"({rule['better']} is better; {_number(allowed)} worse allowed)"
        )
        gates.append(Gate(name, passed, detail))
    return gates


def _score_gates(
    registry: Registry,
    version: ModelVersion,
    stage: str,
    current: StagePointer | None,
    policy: Policy,
) -> list[Gate]:
    """The policy's gates on the registry's weighted score (``min``, ``no_regression``)."""
    rule = policy.score
    score = registry.config.score
    label = f"v{version.version}"
    names = []
    if "min" in rule:
        names.append(f"score >= {_number(rule['min'])}")
    if rule.get("no_regression"):
        names.append("no score regression")
    if score is None:
        detail = "registry/registry.yaml defines no score; add a top-level 'score'"
        return [Gate(name, False, detail) for name in names]
    value = score.of(version.metrics)
    if value is None:
        missing = ", ".join(t.metric for t in score.terms if t.metric not in version.metrics)
        return [Gate(name, False, f"{label} has no score: no {missing} recorded") for name in names]
    gates = []
    if "min" in rule:
        passed = value >= float(rule["min"]) - 1e-12
        gates.append(Gate(names[0], passed, _number(value)))
    if rule.get("no_regression"):
        name = "no score regression"
        incumbent = registry.version(version.model, current.version) if current else None
        before = score.of(incumbent.metrics) if incumbent is not None else None
        if incumbent is None:
            gates.append(Gate(name, True, f"{stage} holds no version to compare with"))
        elif before is None:
            detail = f"v{incumbent.version} has no score; nothing to compare"
            gates.append(Gate(name, True, detail))
        else:
            allowed = float(rule.get("tolerance", 0.0))
            passed = before - value <= allowed + 1e-12
            detail = (
                f"{_number(value)} vs {_number(before)} in v{incumbent.version} "
                f"({_number(allowed)} lower allowed)"
            )
            gates.append(Gate(name, passed, detail))
    return gates


def gate_table(gates: list[Gate] | tuple[Gate, ...]) -> str:
    if not gates:
        return "No gates: the stage has no policy in registry/registry.yaml.\n"
    lines = ["| gate | result | detail |", "|---|---|---|"]
    for gate in gates:
        result = "pass" if gate.passed else "**FAIL**"
        lines.append(f"| {markdown_cell(gate.name)} | {result} | {markdown_cell(gate.detail)} |")
    return "\n".join(lines) + "\n"
