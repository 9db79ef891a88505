"""Is this machine's speed steady? One ONNX Runtime session, timed in 30 slices.

    .venv/bin/python -m benchmarks.probes.ort_speed_over_time [MODEL.onnx]

Runs the digits-cnn model at batch 1 on one CPU thread, 4,000 calls per slice
(about 0.1 s), and prints each slice's median in microseconds. On a dedicated
machine the slices agree within a few percent; where they jump for a while and
come back, the host is taking the CPU away, and no benchmark run can be steadier
than that. See benchmarks/results/cpu_host_variation.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "outputs/digits-cnn/model.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    feed = {name: np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)}
    for _ in range(200):
        session.run(None, feed)
    slices = []
    for _ in range(30):
        times = []
        for _ in range(4000):
            start = time.perf_counter_ns()
            session.run(None, feed)
            times.append(time.perf_counter_ns() - start)
        slices.append(statistics.median(times) / 1e3)
    print(" ".join(f"{value:.1f}" for value in slices))


if __name__ == "__main__":
    main()
