"""Stage train: fit the regressor with fixed seeds and log the run to MLflow tracking.

Standardisation statistics come from the training split only and are stored in
the model. Writes a modelreg checkpoint and run.json (the MLflow run id and
tracking URI, the loss curve), as the digits pipeline does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modelreg.api import TensorInfo, save_checkpoint
from pipelines.diabetes_mlp.model import FEATURES, DiabetesMLP
from pipelines.tracking import tracked_run

ARCHITECTURE = "pipelines.diabetes_mlp.model:DiabetesMLP"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--weight-decay", type=float, required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    with np.load(args.data / "train.npz") as data:
        features = torch.from_numpy(data["inputs"])
        targets = torch.from_numpy(data["targets"])[:, None]
    model = DiabetesMLP(hidden=args.hidden)
    model.feature_mean.copy_(features.mean(dim=0))
    model.feature_scale.copy_(features.std(dim=0).clamp_min(1e-6))
    model.target_mean.copy_(targets.mean())
    model.target_scale.copy_(targets.std())
    optimiser = torch.optim.Adam(model.net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(args.seed)
    params = {k: v for k, v in vars(args).items() if k not in ("data", "out")}

    with tracked_run("diabetes-mlp", params) as run:
        losses = []
        # The loss is taken on standardised targets, so the learning rate does not
        # depend on the target's units.
        scaled_targets = (targets - model.target_mean) / model.target_scale
        for epoch in range(args.epochs):
            order = torch.randperm(len(features), generator=generator)
            total = 0.0
            for start in range(0, len(features), args.batch_size):
                batch = order[start : start + args.batch_size]
                optimiser.zero_grad()
                standardised = (features[batch] - model.feature_mean) / model.feature_scale
                loss = loss_fn(model.net(standardised), scaled_targets[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            losses.append(round(total / len(features), 6))
            run.log_metric("train_loss", losses[-1], step=epoch)
        args.out.mkdir(parents=True, exist_ok=True)
        checkpoint = args.out / "model.pt"
        save_checkpoint(
            checkpoint,
            model,
            architecture=ARCHITECTURE,
            config={"hidden": args.hidden},
            inputs=[TensorInfo("features", "float32", (-1, FEATURES))],
            outputs=[TensorInfo("progression", "float32", (-1, 1))],
            parity_data=str(args.data / "test.npz"),
        )
        run.log_artifact(checkpoint)
        (args.out / "run.json").write_text(
            json.dumps({**run.describe(), "train_loss": losses}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
