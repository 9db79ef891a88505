"""Stage evaluate: accuracy, macro-F1 and per-class figures on the held-out images.

Writes metrics.json (what ``dvc metrics show`` reads and ``modelreg register
--from-dvc`` records), a confusion-matrix image, and adds both to the training
run in MLflow.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from modelreg.api import load_checkpoint
from pipelines.tracking import log_to_run

REPO = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="run.json from training")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--confusion", type=Path, required=True)
    args = parser.parse_args()

    module = load_checkpoint(args.model).build(REPO)
    with np.load(args.data) as data:
        images, labels = data["inputs"], data["labels"]
    with torch.inference_mode():
        predicted = module(torch.from_numpy(images)).argmax(dim=1).numpy()
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(range(10)), zero_division=0
    )
    metrics = {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "f1_macro": round(float(f1_score(labels, predicted, average="macro")), 4),
        "test_images": len(labels),
        "per_class": {
            str(c): {
                "precision": round(float(precision[c]), 4),
                "recall": round(float(recall[c]), 4),
                "f1": round(float(f1[c]), 4),
                "support": int(support[c]),
            }
            for c in range(10)
        },
    }
    args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    _plot_confusion(confusion_matrix(labels, predicted, labels=list(range(10))), args.confusion)
    run = json.loads(args.run.read_text())
    log_to_run(
        run["mlflow_run_id"],
        run["mlflow_tracking_uri"],
        {"accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"]},
        [args.metrics, args.confusion],
    )


def _plot_confusion(matrix: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4.5), dpi=100)
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("digits-cnn: held-out confusion matrix")
    figure.tight_layout()
    # A fixed creation date keeps the image byte-identical for identical results.
    figure.savefig(out, metadata={"Software": None})
    plt.close(figure)


if __name__ == "__main__":
    main()
