"""``modelreg benchmark`` on the CPU: the report's shape, interleaved comparison, errors.

Speed itself is not asserted here (these machines are noisy); the stability of the
figures is checked by benchmarks/benchmark_stability.py and recorded in
benchmarks/results/.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from modelreg.api import (  # noqa: E402
    BenchmarkSettings,
    BenchmarkSubject,
    InputError,
    run_benchmark,
)
from modelreg.artifacts.benchmark import BLOCKS, render_table  # noqa: E402
from tests import builders  # noqa: E402
from tests.test_export import save_small_cnn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUICK = {"batch_sizes": (1, 4), "budget_s": 0.05, "warmup": 3, "repo": ROOT}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkSubject:
    """The small CNN as a checkpoint and its ONNX export."""
    from modelreg.artifacts.export import export_onnx

    folder = tmp_path_factory.mktemp("bench")
    import numpy as np

    np.savez(
        folder / "data.npz", inputs=np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    )
    save_small_cnn(folder / "model.pt")
    export_onnx(
        folder / "model.pt", folder / "model.onnx", parity_data=folder / "data.npz", repo=ROOT
    )
    return BenchmarkSubject("candidate", "small-cnn", folder / "model.onnx", folder / "model.pt")


def test_report_has_percentiles_throughput_hardware_and_libraries(
    model: BenchmarkSubject,
) -> None:
    seen: list[tuple[str, int, int]] = []
    report = run_benchmark(
        model,
        None,
        BenchmarkSettings(**QUICK),
        progress=lambda what, done, total: seen.append((what, done, total)),
    )

    assert report["format"] == "modelreg.benchmark/1"
    assert report["settings"]["input"] == {"shape": [-1, 1, 8, 8], "dtype": "float32"}
    assert report["device"]["cpu"] and report["device"]["kind"] == "cpu"
    assert {"onnxruntime", "torch", "numpy"} <= set(report["libraries"])
    runs = {(r["runner"], r["batch"]): r for r in report["results"]}
    assert set(runs) == {
        (runner, batch) for runner in ("onnxruntime cpu", "torch eager cpu") for batch in (1, 4)
    }
    for row in runs.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        # Throughput from the mean time per call (what a saturated server sees).
        expected = row["batch"] / row["mean_ms"] * 1000
        assert row["throughput_per_s"] == pytest.approx(expected, rel=1e-3)
        assert 1 <= row["blocks_used"] <= BLOCKS
        assert row["runs"] >= 3 * row["blocks_used"]
    assert [b["runner"] for b in report["best"]] == ["onnxruntime cpu", "onnxruntime cpu"]
    assert "comparison" not in report and "verdict" not in report
    # Progress: one step per block and batch size, ending at the total.
    assert seen[-1] == ("batch 4", 2 * BLOCKS, 2 * BLOCKS) and len(seen) == 2 * BLOCKS
    table = render_table(report)
    assert "onnxruntime cpu" in table and "torch eager cpu" in table and "p99 ms" in table


def test_a_version_against_itself_is_no_change(model: BenchmarkSubject) -> None:
    baseline = BenchmarkSubject("baseline", "same", model.onnx, model.checkpoint)
    report = run_benchmark(model, baseline, BenchmarkSettings(**QUICK))

    rows = report["comparison"]
    assert {(r["runner"], r["batch"]) for r in rows} == {
        (runner, batch) for runner in ("onnxruntime cpu", "torch eager cpu") for batch in (1, 4)
    }
    for row in rows:
        # How near 1 the ratio of identical models sits is a figure, not a test: it is
        # measured by benchmarks/benchmark_stability.py (what the ratio is made of is
        # checked on known timings below).
        assert row["ratio_p50"] > 0 and row["block_ratio_low"] <= row["block_ratio_high"]
    verdict = report["verdict"]
    assert verdict["batch"] == 1 and verdict["runner"] == "onnxruntime cpu"
    assert verdict["summary"].startswith("candidate vs baseline at batch 1 on onnxruntime cpu: ")
    assert [s["label"] for s in report["subjects"]] == ["candidate", "baseline"]
    assert report["subjects"][0]["onnx_md5"] == report["subjects"][1]["onnx_md5"]


def test_the_comparison_pairs_blocks_in_time_and_drops_disturbed_ones() -> None:
    """Known timings: the candidate takes twice the baseline's time in every block, the
    host slows both sides tenfold in block 3 and the baseline alone in block 5. The
    ratio is 2 (paired blocks cancel the slowdown; the disturbed ones are dropped), and
    a side's quiet blocks leave out the ones where it was slowed."""
    from modelreg.artifacts.benchmark import _compare, _Pair

    def pair(label: str, per_block: list[int]) -> _Pair:
        subject = BenchmarkSubject(label, label, Path(f"{label}.onnx"))
        return _Pair(subject, "onnxruntime cpu", lambda: None, [[t] * 5 for t in per_block])

    base = [100, 101, 99, 1000, 100, 400, 102, 98]
    candidate = [2 * t for t in base[:5]] + [200, 204, 196]  # block 5: baseline disturbed
    pairs = [pair("candidate", candidate), pair("baseline", base)]
    assert pairs[1].quiet() == [0, 1, 2, 4, 6, 7]
    assert pairs[0].quiet() == [0, 1, 2, 4, 5, 6, 7]
    [row] = _compare(pairs, batch=1)
    assert row["ratio_p50"] == 2.0
    assert (row["block_ratio_low"], row["block_ratio_high"]) == (2.0, 2.0)
    # Were block 5 kept, its ratio (0.5) would pull the spread down: it is not.
    slowed = [pair("candidate", [200] * 8), pair("baseline", [100] * 7 + [400])]
    [row] = _compare(slowed, batch=1)
    assert row["block_ratio_low"] == 2.0


def test_models_with_different_inputs_cannot_be_compared(
    model: BenchmarkSubject, tmp_path: Path
) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
    )
    other = tmp_path / "rows.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(other))
    with pytest.raises(InputError, match=r"candidate and baseline take different inputs"):
        run_benchmark(
            model, BenchmarkSubject("baseline", "rows", other), BenchmarkSettings(**QUICK)
        )


def test_cuda_without_onnxruntime_gpu_is_one_clear_line(model: BenchmarkSubject) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has onnxruntime-gpu")
    with pytest.raises(InputError, match=r"--device cuda needs onnxruntime-gpu \(pip install"):
        run_benchmark(model, None, BenchmarkSettings(**{**QUICK, "device": "cuda"}))


def test_an_onnx_only_benchmark_has_no_torch_rows(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(builders.onnx_model_bytes())
    report = run_benchmark(
        BenchmarkSubject("candidate", "onnx-only", path),
        None,
        BenchmarkSettings(**{**QUICK, "batch_sizes": (2,)}),
    )
    assert [r["runner"] for r in report["results"]] == ["onnxruntime cpu"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either REF or --onnx"),
        (
            ["--onnx", "a.onnx", "--baseline", "x/1", "--baseline-onnx", "b.onnx"],
            "give either --baseline or --baseline-onnx, not both",
        ),
        (
            ["--onnx", "a.onnx", "--baseline-checkpoint", "b.pt"],
            "--baseline-checkpoint needs --baseline-onnx",
        ),
        (["--onnx", "a.onnx", "--batch-sizes", "1,x"], "'1,x' is not a comma-separated list"),
        (["--onnx", "a.onnx", "--batch-sizes", "0"], "batch sizes must be positive numbers"),
        (["--onnx", "a.onnx", "--device", "tpu"], "'tpu' is not one of 'cpu', 'cuda'"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str, modelreg_exe: str) -> None:
    done = subprocess.run(
        [modelreg_exe, "--repo", str(ROOT), "benchmark", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_cli_writes_the_json_report(
    model: BenchmarkSubject, tmp_path: Path, modelreg_exe: str
) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            modelreg_exe,
            "--repo",
            str(ROOT),
            "benchmark",
            "--onnx",
            str(model.onnx),
            "--checkpoint",
            str(model.checkpoint),
            "--baseline-onnx",
            str(model.onnx),
            "--batch-sizes",
            "2",
            "--budget",
            "0.05",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["settings"]["batch_sizes"] == [2]
    assert report["verdict"]["summary"] in done.stdout
    missing = subprocess.run(
        [modelreg_exe, "--repo", str(ROOT), "benchmark", "--onnx", str(tmp_path / "none.onnx")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr == f"error: {tmp_path / 'none.onnx'}: no such file\n"
