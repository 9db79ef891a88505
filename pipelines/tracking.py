"""MLflow tracking for the pipelines' training stages, the way our users log runs.

The tracking URI is MLFLOW_TRACKING_URI when set (any server or database), else a
local SQLite store under .mlflow/ in the repository (ignored by git), with run
artifacts beside it. The run's id and URI end up in the version manifest's
lineage, so a registered version leads back to its run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO / '.mlflow' / 'mlflow.db'}"


class Run:
    """The few calls a stage needs, on an active MLflow run."""

    def __init__(self, mlflow: Any, run: Any, uri: str) -> None:
        self._mlflow = mlflow
        self.run_id: str = run.info.run_id
        self.experiment_id: str = run.info.experiment_id
        self.uri = uri

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self._mlflow.log_metric(key, value, step=step)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self._mlflow.log_metrics(metrics)

    def log_artifact(self, path: Path) -> None:
        self._mlflow.log_artifact(str(path))

    def describe(self) -> dict[str, str]:
        return {
            "mlflow_run_id": self.run_id,
            "mlflow_experiment_id": self.experiment_id,
            "mlflow_tracking_uri": self.uri,
        }


@contextmanager
def tracked_run(experiment: str, params: dict[str, Any]) -> Iterator[Run]:
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        location = None
        if uri.startswith("sqlite:///"):
            location = (REPO / ".mlflow" / "artifacts").as_uri()
        mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as active:
        mlflow.log_params(params)
        yield Run(mlflow, active, uri)


def log_to_run(run_id: str, uri: str, metrics: dict[str, float], artifacts: list[Path]) -> None:
    """Add an evaluation's metrics and files to the training run."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)
        for path in artifacts:
            mlflow.log_artifact(str(path))
