"""The demo's client of ``modelreg serve``: what a service calling the model sees.

python scripts/demo_client.py URL wait            # until the server answers
python scripts/demo_client.py URL info            # GET /model/info, in short
python scripts/demo_client.py URL predict         # POST /predict: five real digits
python scripts/demo_client.py URL expect VERSION  # until VERSION answers (30 s at most)
"""

from __future__ import annotations

import sys
import time

import httpx
import numpy as np


def wait(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/v2/health/ready").json().get("ready"):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready in 60 s")
        time.sleep(0.2)


def info(client: httpx.Client) -> None:
    answer = client.get("/model/info").json()
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(answer["metrics"].items())[:3])
    print(
        f"{answer['model_name']} version {answer['version']} in {answer['stage']}: {metrics}; "
        f"trained at commit {answer['lineage'].get('git_commit', '?')[:10]}"
    )


def predict(client: httpx.Client) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    picks = [0, 333, 777, 1111, 1796]
    images = (digits.images[picks].astype(np.float32) / 16.0)[:, None, :, :]
    response = client.post("/predict", json={"inputs": images.tolist()})
    response.raise_for_status()
    answer = response.json()
    for index, prediction in zip(picks, answer["predictions"], strict=True):
        print(
            f"digits image #{index} (a {digits.target[index]}): predicted {prediction['label']} "
            f"with p={prediction['confidence']:.3f}"
        )
    print(f"answered by {answer['model_name']} version {answer['version']} ({answer['stage']})")


def expect(client: httpx.Client, version: str) -> None:
    started = time.monotonic()
    while True:
        served = client.get("/model/info").json()["version"]
        if served == version:
            waited = time.monotonic() - started
            print(f"the server answers with version {version} (waited {waited:.1f} s)")
            return
        if time.monotonic() - started > 30:
            raise SystemExit(f"the server still answers with version {served}, not {version}")
        time.sleep(0.1)


def main() -> None:
    url, command, *rest = sys.argv[1:]
    with httpx.Client(base_url=url, timeout=30) as client:
        if command == "wait":
            wait(client)
        elif command == "info":
            info(client)
        elif command == "predict":
            predict(client)
        elif command == "expect":
            expect(client, rest[0])
        else:
            raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
