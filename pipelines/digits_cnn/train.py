"""Stage train: fit the CNN with fixed seeds and log the run to MLflow tracking.

Reads the train split, trains DigitsCNN with the params.yaml ``train`` section,
and writes a modelreg checkpoint (weights plus how to rebuild the network) and
run.json (the MLflow run id and tracking URI, the loss curve). The tracking URI
is MLFLOW_TRACKING_URI when set, else a local store under .mlflow/ (ignored).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modelreg.api import TensorInfo, save_checkpoint
from pipelines.digits_cnn.model import DigitsCNN
from pipelines.tracking import tracked_run

ARCHITECTURE = "pipelines.digits_cnn.model:DigitsCNN"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--channels", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--dropout", type=float, required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # the same result on every machine, and fast enough
    with np.load(args.data / "train.npz") as data:
        images = torch.from_numpy(data["inputs"])
        labels = torch.from_numpy(data["labels"]).long()
    config = {"channels": args.channels, "hidden": args.hidden, "dropout": args.dropout}
    model = DigitsCNN(**config)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    params = {k: v for k, v in vars(args).items() if k not in ("data", "out")}

    with tracked_run("digits-cnn", params) as run:
        losses = []
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(images), generator=generator)
            total = 0.0
            for start in range(0, len(images), args.batch_size):
                batch = order[start : start + args.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(model(images[batch]), labels[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            losses.append(round(total / len(images), 6))
            run.log_metric("train_loss", losses[-1], step=epoch)
        args.out.mkdir(parents=True, exist_ok=True)
        checkpoint = args.out / "model.pt"
        save_checkpoint(
            checkpoint,
            model,
            architecture=ARCHITECTURE,
            config=config,
            inputs=[TensorInfo("images", "float32", (-1, 1, 8, 8))],
            outputs=[TensorInfo("logits", "float32", (-1, 10))],
            classes=[str(c) for c in range(10)],
            parity_data=str(args.data / "test.npz"),
        )
        run.log_artifact(checkpoint)
        (args.out / "run.json").write_text(
            json.dumps({**run.describe(), "train_loss": losses}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
