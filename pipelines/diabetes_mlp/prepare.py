"""Stage prepare: split scikit-learn's bundled diabetes table, and record the split.

Writes train.npz and test.npz (the ten raw features as float32 ``inputs``, the
disease progression as ``targets``) and split.json (seed, test share, the test
row indices), so every later stage, and anyone auditing a version, uses the
same rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--test-size", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    table = load_diabetes(scaled=False)
    features = table.data.astype(np.float32)
    targets = table.target.astype(np.float32)
    indices = np.arange(len(features))
    train_idx, test_idx = train_test_split(
        indices, test_size=args.test_size, random_state=args.seed
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, idx in (("train", train_idx), ("test", test_idx)):
        np.savez(args.out / f"{name}.npz", inputs=features[idx], targets=targets[idx])
    split = {
        "source": "sklearn.datasets.load_diabetes(scaled=False)",
        "features": list(table.feature_names),
        "seed": args.seed,
        "test_size": args.test_size,
        "train": len(train_idx),
        "test": len(test_idx),
        "test_indices": sorted(int(i) for i in test_idx),
    }
    (args.out / "split.json").write_text(json.dumps(split, indent=1) + "\n")


if __name__ == "__main__":
    main()
