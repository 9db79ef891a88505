"""Stage evaluate: RMSE, MAE and R² on the held-out rows.

Writes metrics.json (what ``dvc metrics show`` reads and ``modelreg register
--from-dvc`` records) and adds the figures to the training run in MLflow.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from modelreg.api import load_checkpoint
from pipelines.tracking import log_to_run

REPO = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="run.json from training")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()

    module = load_checkpoint(args.model).build(REPO)
    with np.load(args.data) as data:
        features, targets = data["inputs"], data["targets"]
    with torch.inference_mode():
        predicted = module(torch.from_numpy(features))[:, 0].numpy()
    metrics = {
        "rmse": round(float(np.sqrt(mean_squared_error(targets, predicted))), 4),
        "mae": round(float(mean_absolute_error(targets, predicted)), 4),
        "r2": round(float(r2_score(targets, predicted)), 4),
        "test_rows": len(targets),
    }
    args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    run = json.loads(args.run.read_text())
    log_to_run(
        run["mlflow_run_id"],
        run["mlflow_tracking_uri"],
        {k: metrics[k] for k in ("rmse", "mae", "r2")},
        [args.metrics],
    )


if __name__ == "__main__":
    main()
