"""Train the demo's model: softmax regression on scikit-learn's bundled digits images.

A stand-in until the DVC pipeline trains the CNN: small, seconds on a CPU, and
real (its accuracy is measured on held-out images). Writes into --out:
weights.npz, model.onnx, metrics.json and params.yaml.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split


def train(epochs: int, lr: float, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        images.reshape(len(images), -1),
        digits.target,
        test_size=0.25,
        random_state=seed,
        stratify=digits.target,
    )
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.01, (64, 10)).astype(np.float32)
    bias = np.zeros(10, dtype=np.float32)
    onehot = np.eye(10, dtype=np.float32)[y_train]
    for _ in range(epochs):
        logits = x_train @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        grad = (probs - onehot) / len(x_train)
        weights -= lr * (x_train.T @ grad)
        bias -= lr * grad.sum(axis=0)
    predicted = (x_test @ weights + bias).argmax(axis=1)
    metrics = {
        "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
        "f1_macro": round(float(f1_score(y_test, predicted, average="macro")), 4),
        "test_images": len(y_test),
    }
    return weights, bias, metrics


def export_onnx(weights: np.ndarray, bias: np.ndarray, path: Path) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("Gemm", ["flat", "W", "b"], ["logits"]),
        ],
        "digits_linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [
            helper.make_tensor("W", TensorProto.FLOAT, [64, 10], weights.flatten().tolist()),
            helper.make_tensor("b", TensorProto.FLOAT, [10], bias.tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    weights, bias, metrics = train(args.epochs, args.lr, args.seed)
    np.savez(args.out / "weights.npz", weights=weights, bias=bias)
    export_onnx(weights, bias, args.out / "model.onnx")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (args.out / "params.yaml").write_text(
        f"train:\n  epochs: {args.epochs}\n  lr: {args.lr}\n  seed: {args.seed}\n"
    )
    print(f"trained: accuracy {metrics['accuracy']}, macro-F1 {metrics['f1_macro']}")


if __name__ == "__main__":
    main()
