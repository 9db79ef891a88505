"""The registry's domain objects: small, typed, immutable.

Each is built from a document that already passed its JSON Schema (see
``core/registry.py``), so constructors here trust types and only convert. Each can
turn itself back into a document in canonical key order for the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from modelreg.core.redact import redact_uri
from modelreg.core.schema import canonical_order

__all__ = [
    "Artifact",
    "Canary",
    "Deprecation",
    "Lineage",
    "MlflowRun",
    "Model",
    "ModelVersion",
    "Policy",
    "RegistryConfig",
    "Signature",
    "StagePointer",
    "TensorSpec",
    "author_name",
    "format_timestamp",
    "parse_timestamp",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def parse_timestamp(text: str) -> datetime:
    """A schema-checked ``2026-01-31T12:00:00Z`` string as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def author_name(author: str) -> str:
    """The name of a ``Name <email>`` author (git's ident form), for display: the
    email is the last ``<...>``, so a name holding `` <`` keeps it whole."""
    name, sep, email = author.rpartition(" <")
    return name if sep and email.endswith(">") else author


def format_timestamp(moment: datetime) -> str:
    """The canonical UTC form: seconds precision unless the moment has microseconds."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


def _prune(document: dict[str, Any]) -> dict[str, Any]:
    """Drop unset optional fields so written files stay minimal."""
    return {k: v for k, v in document.items() if v is not None and v != {} and v != []}


# --- registry.yaml ----------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The gates a version must pass to enter one stage (enforced by promote)."""

    from_stages: tuple[str, ...] | None = None
    require: Mapping[str, Mapping[str, float]] = field(default_factory=_empty)
    no_regression: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)
    onnx_parity: bool = False
    score: Mapping[str, Any] = field(default_factory=_empty)
    """Gates on the registry's weighted score: ``min``, ``no_regression``, ``tolerance``."""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Policy:
        sources = doc.get("from")
        return cls(
            from_stages=tuple(sources) if sources is not None else None,
            require=_frozen({k: _frozen(v) for k, v in doc.get("require", {}).items()}),
            no_regression=_frozen({k: _frozen(v) for k, v in doc.get("no_regression", {}).items()}),
            onnx_parity=bool(doc.get("onnx_parity", False)),
            score=_frozen(doc.get("score")),
        )

    def to_document(self) -> dict[str, Any]:
        return _prune(
            {
                "from": list(self.from_stages) if self.from_stages is not None else None,
                "require": {k: dict(v) for k, v in self.require.items()},
                "no_regression": {k: dict(v) for k, v in self.no_regression.items()},
                "score": dict(self.score),
                "onnx_parity": self.onnx_parity or None,
            }
        )


@dataclass(frozen=True)
class ScoreTerm:
    """One metric of the weighted score."""

    metric: str
    weight: float
    better: str  # "higher" or "lower"
    range: tuple[float, float] | None = None

    def normalised(self, value: float) -> float:
        """``value`` on the score's scale: 0..1 over the range (1 the best end, clamped),
        or as it is without one (negated when lower is better)."""
        if self.range is None:
            return value if self.better == "higher" else -value
        low, high = self.range
        share = (value - low) / (high - low)
        share = share if self.better == "higher" else 1.0 - share
        return min(1.0, max(0.0, share))


@dataclass(frozen=True)
class Score:
    """``registry.yaml``'s ``score``: Σ weight x normalised metric / Σ weight."""

    terms: tuple[ScoreTerm, ...]

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Score:
        terms = []
        for metric, term in doc["metrics"].items():
            bounds = term.get("range")
            if bounds is not None and not float(bounds[0]) < float(bounds[1]):
                from modelreg.core.errors import InputError

                raise InputError(f"score: {metric}'s range {list(bounds)} must go from low to high")
            terms.append(
                ScoreTerm(
                    metric,
                    float(term["weight"]),
                    term["better"],
                    (float(bounds[0]), float(bounds[1])) if bounds is not None else None,
                )
            )
        if not terms:
            from modelreg.core.errors import InputError

            raise InputError("score: name at least one metric under 'metrics'")
        return cls(tuple(terms))

    def of(self, metrics: Mapping[str, float]) -> float | None:
        """The score of a version with ``metrics``; None when one of the metrics is missing."""
        if any(t.metric not in metrics for t in self.terms):
            return None
        total = sum(t.weight * t.normalised(float(metrics[t.metric])) for t in self.terms)
        return total / sum(t.weight for t in self.terms)

    def describe(self) -> str:
        """The formula, in words, as a table or report states it."""
        parts = []
        for t in self.terms:
            scale = (
                f"{t.metric} over [{t.range[0]:g}, {t.range[1]:g}]"
                if t.range is not None
                else (t.metric if t.better == "higher" else f"-{t.metric}")
            )
            parts.append(f"{t.weight:g}x {scale} ({t.better} is better)")
        return " + ".join(parts) + f", divided by {sum(t.weight for t in self.terms):g}"

    def to_document(self) -> dict[str, Any]:
        return {
            "metrics": {
                t.metric: _prune(
                    {
                        "weight": t.weight,
                        "better": t.better,
                        "range": list(t.range) if t.range is not None else None,
                    }
                )
                for t in self.terms
            }
        }


@dataclass(frozen=True)
class RegistryConfig:
    """``registry/registry.yaml``: the ordered lifecycle and its policies."""

    stages: tuple[str, ...]
    policies: Mapping[str, Policy] = field(default_factory=_empty)
    dvc_remote: str | None = None
    schema_version: int = 1
    score: Score | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> RegistryConfig:
        return cls(
            stages=tuple(doc["stages"]),
            policies=_frozen(
                {k: Policy.from_document(v) for k, v in doc.get("policies", {}).items()}
            ),
            dvc_remote=doc.get("storage", {}).get("dvc_remote"),
            schema_version=doc["schema_version"],
            score=Score.from_document(doc["score"]) if "score" in doc else None,
        )

    def canonical_stage(self, name: str) -> str | None:
        """The declared stage ``name`` refers to, ignoring case (MLflow writes 'Production')."""
        lowered = name.lower()
        return lowered if lowered in self.stages else None

    def to_document(self) -> dict[str, Any]:
        doc = _prune(
            {
                "schema_version": self.schema_version,
                "stages": list(self.stages),
                "policies": {k: v.to_document() for k, v in self.policies.items()},
                "score": self.score.to_document() if self.score is not None else None,
                "storage": _prune({"dvc_remote": self.dvc_remote}),
            }
        )
        ordered: dict[str, Any] = canonical_order(doc, "registry")
        return ordered


# --- model.yaml -------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """``registry/<model>/model.yaml``: what the model is and who owns it."""

    name: str
    description: str = ""
    task: str | None = None
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=_empty)
    created: datetime | None = None
    card: Mapping[str, Any] = field(default_factory=_empty)
    """Model card fields: text, and ``data_splits`` (split name to example count)."""
    pipeline: Mapping[str, Any] = field(default_factory=_empty)
    """Where ``register --from-dvc`` finds the pipeline's outputs (see the schema)."""
    archived: tuple[int, ...] = ()
    """Versions archived by hand, holding no stage (MLflow's Archived)."""
    deleted: Deprecation | None = None
    """A tombstone: the model was deleted (its versions too) but nothing was removed."""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Model:
        created = doc.get("created")
        return cls(
            name=doc["name"],
            description=doc.get("description", ""),
            task=doc.get("task"),
            owners=tuple(doc.get("owners", ())),
            tags=_frozen(doc.get("tags")),
            created=parse_timestamp(created) if created else None,
            card=_frozen(
                {k: _frozen(v) if isinstance(v, Mapping) else v for k, v in doc["card"].items()}
                if doc.get("card")
                else None
            ),
            pipeline=_frozen(doc.get("pipeline")),
            archived=tuple(doc.get("archived", ())),
            deleted=(
                Deprecation(
                    parse_timestamp(doc["deleted"]["date"]), doc["deleted"].get("reason", "")
                )
                if doc.get("deleted")
                else None
            ),
        )

    def to_document(self) -> dict[str, Any]:
        doc = _prune(
            {
                "name": self.name,
                "description": self.description or None,
                "task": self.task,
                "owners": list(self.owners),
                "tags": dict(self.tags),
                "created": format_timestamp(self.created) if self.created else None,
                "card": _thaw(self.card),
                "pipeline": _thaw(self.pipeline),
                "archived": sorted(self.archived),
                "deleted": self.deleted.to_document() if self.deleted else None,
            }
        )
        ordered: dict[str, Any] = canonical_order(doc, "model")
        return ordered


# --- versions/<N>.yaml ------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int, ...]

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Signature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    classes: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Signature:
        def specs(items: list[Mapping[str, Any]]) -> tuple[TensorSpec, ...]:
            return tuple(
                TensorSpec(i["name"], i["dtype"], tuple(int(d) for d in i["shape"])) for i in items
            )

        return cls(specs(doc["inputs"]), specs(doc["outputs"]), tuple(doc.get("classes", ())))

    def to_document(self) -> dict[str, Any]:
        return _prune(
            {
                "inputs": [t.to_document() for t in self.inputs],
                "outputs": [t.to_document() for t in self.outputs],
                "classes": list(self.classes),
            }
        )


@dataclass(frozen=True)
class Artifact:
    """One DVC-tracked file of a version, recorded by content hash."""

    name: str
    path: str
    md5: str
    size: int
    format: str
    opset: int | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Artifact:
        opset = doc.get("opset")
        return cls(
            name=doc["name"],
            path=doc["path"],
            md5=doc["md5"],
            size=int(doc["size"]),
            format=doc["format"],
            opset=int(opset) if opset is not None else None,
        )

    @property
    def is_directory(self) -> bool:
        return self.md5.endswith(".dir")

    def to_document(self) -> dict[str, Any]:
        return _prune(
            {
                "name": self.name,
                "path": self.path,
                "md5": self.md5,
                "size": self.size,
                "format": self.format,
                "opset": self.opset,
            }
        )


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    tracking_uri: str | None = None
    experiment_id: str | None = None
    artifact_path: str | None = None

    def __post_init__(self) -> None:
        # Every reader (show, /model/info, report, dashboard, the MLflow plugin) and
        # writer (register --from-dvc, import-mlflow, the plugin) builds one of these,
        # so this is the one place a credential is removed: it is never stored, and
        # one committed by hand or before this existed is never printed or served.
        if self.tracking_uri is not None:
            object.__setattr__(self, "tracking_uri", redact_uri(self.tracking_uri))

    def to_document(self) -> dict[str, Any]:
        return _prune(
            {
                "run_id": self.run_id,
                "tracking_uri": self.tracking_uri,
                "experiment_id": self.experiment_id,
                "artifact_path": self.artifact_path,
            }
        )


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: code, pipeline stage, data, parameters, run."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    dvc_stage: str | None = None
    dvc_lock_hash: str | None = None
    data_hash: str | None = None
    params: Mapping[str, Any] = field(default_factory=_empty)
    mlflow: MlflowRun | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Lineage:
        run = doc.get("mlflow")
        return cls(
            git_commit=doc.get("git_commit"),
            git_dirty=doc.get("git_dirty"),
            dvc_stage=doc.get("dvc_stage"),
            dvc_lock_hash=doc.get("dvc_lock_hash"),
            data_hash=doc.get("data_hash"),
            params=_frozen(doc.get("params")),
            mlflow=MlflowRun(**run) if run else None,
        )

    def to_document(self) -> dict[str, Any]:
        return _prune(
            {
                "git_commit": self.git_commit,
                "git_dirty": self.git_dirty,
                "dvc_stage": self.dvc_stage,
                "dvc_lock_hash": self.dvc_lock_hash,
                "data_hash": self.data_hash,
                "params": _thaw(self.params),
                "mlflow": self.mlflow.to_document() if self.mlflow else None,
            }
        )


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Deprecation:
    date: datetime
    reason: str = ""

    def to_document(self) -> dict[str, Any]:
        return _prune({"date": format_timestamp(self.date), "reason": self.reason or None})


@dataclass(frozen=True)
class ModelVersion:
    """``registry/<model>/versions/<N>.yaml``: one registered version."""

    model: str
    version: int
    created: datetime
    artifacts: tuple[Artifact, ...]
    author: str = ""
    description: str = ""
    lineage: Lineage = field(default_factory=Lineage)
    signature: Signature | None = None
    metrics: Mapping[str, float] = field(default_factory=_empty)
    tags: Mapping[str, str] = field(default_factory=_empty)
    deprecation: Deprecation | None = None
    deleted: Deprecation | None = None  # a tombstone: kept, never listed by MLflow
    semver: str | None = None
    """The semantic version (``1.2.0``, ``2.0.0-rc.1``), when it has one: greater than
    every lower-numbered version's (see :mod:`modelreg.core.semver`)."""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ModelVersion:
        deprecation = doc.get("deprecation")
        deleted = doc.get("deleted")
        signature = doc.get("signature")
        return cls(
            model=doc["model"],
            version=int(doc["version"]),
            created=parse_timestamp(doc["created"]),
            artifacts=tuple(Artifact.from_document(a) for a in doc["artifacts"]),
            author=doc.get("author", ""),
            description=doc.get("description", ""),
            lineage=Lineage.from_document(doc.get("lineage", {})),
            signature=Signature.from_document(signature) if signature else None,
            metrics=_frozen(doc.get("metrics")),
            tags=_frozen(doc.get("tags")),
            deprecation=(
                Deprecation(parse_timestamp(deprecation["date"]), deprecation.get("reason", ""))
                if deprecation
                else None
            ),
            deleted=(
                Deprecation(parse_timestamp(deleted["date"]), deleted.get("reason", ""))
                if deleted
                else None
            ),
            semver=doc.get("semver"),
        )

    @property
    def ref(self) -> str:
        """The canonical reference, ``name/N``."""
        return f"{self.model}/{self.version}"

    @property
    def deprecated(self) -> bool:
        """Deprecated, or deleted: either way it must not be promoted, served or used."""
        return self.deprecation is not None or self.deleted is not None

    def artifact(self, name: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.name == name), None)

    def to_document(self) -> dict[str, Any]:
        doc = _prune(
            {
                "model": self.model,
                "version": self.version,
                "semver": self.semver,
                "created": format_timestamp(self.created),
                "author": self.author or None,
                "description": self.description or None,
                "lineage": self.lineage.to_document(),
                "artifacts": [a.to_document() for a in self.artifacts],
                "signature": self.signature.to_document() if self.signature else None,
                "metrics": dict(self.metrics),
                "tags": dict(self.tags),
                "deprecation": self.deprecation.to_document() if self.deprecation else None,
                "deleted": self.deleted.to_document() if self.deleted else None,
            }
        )
        ordered: dict[str, Any] = canonical_order(doc, "version")
        return ordered


# --- stages/<stage>.yaml and aliases/<alias>.yaml ---------------------------------------


@dataclass(frozen=True)
class Canary:
    version: int
    weight: float


@dataclass(frozen=True)
class StagePointer:
    """Which version a stage (or alias) of one model points at."""

    model: str
    name: str
    version: int
    since: datetime | None = None
    previous: int | None = None
    reason: str = ""
    canary: Canary | None = None
    retired: tuple[int, ...] = ()
    is_alias: bool = False

    @classmethod
    def from_document(
        cls, model: str, name: str, doc: Mapping[str, Any], *, is_alias: bool = False
    ) -> StagePointer:
        canary = doc.get("canary")
        since = doc.get("since")
        previous = doc.get("previous")
        return cls(
            model=model,
            name=name,
            version=int(doc["version"]),
            since=parse_timestamp(since) if since else None,
            previous=int(previous) if previous is not None else None,
            reason=doc.get("reason", ""),
            canary=Canary(int(canary["version"]), float(canary["weight"])) if canary else None,
            retired=tuple(int(v) for v in doc.get("retired", ())),
            is_alias=is_alias,
        )

    def to_document(self) -> dict[str, Any]:
        doc = _prune(
            {
                "version": self.version,
                "since": format_timestamp(self.since) if self.since else None,
                "previous": self.previous,
                "reason": self.reason or None,
                "canary": (
                    {"version": self.canary.version, "weight": self.canary.weight}
                    if self.canary
                    else None
                ),
                "retired": sorted(self.retired),
            }
        )
        ordered: dict[str, Any] = canonical_order(doc, "pointer")
        return ordered
