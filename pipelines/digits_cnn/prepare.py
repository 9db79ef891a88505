"""Stage prepare: split scikit-learn's bundled digits images, and record the split.

Writes train.npz and test.npz (images scaled to [0, 1], shape N x 1 x 8 x 8, and
labels) and split.json (seed, test share, the test indices and class counts),
so that every later stage, and anyone auditing a version, uses the same images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--test-size", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    indices = np.arange(len(images))
    train_idx, test_idx = train_test_split(
        indices, test_size=args.test_size, random_state=args.seed, stratify=digits.target
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, idx in (("train", train_idx), ("test", test_idx)):
        np.savez(args.out / f"{name}.npz", inputs=images[idx], labels=digits.target[idx])
    split = {
        "source": "sklearn.datasets.load_digits",
        "seed": args.seed,
        "test_size": args.test_size,
        "train": len(train_idx),
        "test": len(test_idx),
        "test_indices": sorted(int(i) for i in test_idx),
        "test_class_counts": {str(c): int((digits.target[test_idx] == c).sum()) for c in range(10)},
    }
    (args.out / "split.json").write_text(json.dumps(split, indent=1) + "\n")


if __name__ == "__main__":
    main()
