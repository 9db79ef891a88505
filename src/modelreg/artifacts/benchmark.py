"""``modelreg benchmark``: latency and throughput a promotion can be judged by.

Every configuration that serves a model is measured in one run: ONNX Runtime
(CPU; on CUDA with host arrays, with IO binding, with CUDA graphs, and through
TensorRT when its libraries are there) and torch as the reference (eager; on
CUDA also a captured CUDA graph). Candidate and baseline are measured
*interleaved*: each batch size runs in blocks, and every block times every
(subject, configuration) pair in a rotating order, so slow drift of the machine
falls on both alike. The verdict is the median of the per-block candidate/baseline
ratios of p50, with their spread as its noise.

Each call is timed alone (``perf_counter_ns`` around one synchronous inference; on
CUDA the call includes the synchronisation), after warm-up, for a fixed time
budget per pair, so a fast model gets thousands of samples and a slow one at
least ``MIN_RUNS``.

Shared machines (cloud VMs, CI runners) have episodes, lasting from milliseconds
to seconds, in which everything runs 30-100% slower because a neighbour took the
core. Those belong to the host, not to the model, and they would move p50 between
two runs of one version by far more than a regression gate can tolerate. So each
pair's blocks are screened: a block whose median is more than ``DISTURBED`` above
the pair's quiet level (the lower quartile of its block medians) is left out of
the figures, and the report says how many blocks each figure used. At least half
of the blocks always count (the fastest half), so a model that is simply erratic
shows it in p95/p99 instead of being hidden.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import InputError

if TYPE_CHECKING:
    import numpy as np

MIN_RUNS = 50
MAX_RUNS = 20_000
BLOCKS = 20
DISTURBED = 0.2
EQUIVALENT = 0.02
FORMAT = "modelreg.benchmark/1"


class Unavailable(Exception):
    """A configuration this machine cannot run (no GPU, no TensorRT...)."""


@dataclass(frozen=True)
class Subject:
    label: str  # "candidate" or "baseline"
    ref: str
    onnx: Path
    checkpoint: Path | None = None


@dataclass
class Settings:
    device: str = "cpu"
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    warmup: int = 30
    budget_s: float = 0.5
    threads: int = 1
    seed: int = 0
    repo: Path | None = None


@dataclass
class _Pair:
    subject: Subject
    runner: str
    call: Callable[[], Any]
    blocks: list[list[int]] = field(default_factory=list)  # ns, one list per block

    @property
    def block_p50(self) -> list[float]:
        return [statistics.median(block) for block in self.blocks]

    def quiet(self) -> list[int]:
        """Indices of the blocks no interference from the host disturbed."""
        medians = self.block_p50
        level = sorted(medians)[len(medians) // 4]
        kept = [i for i, m in enumerate(medians) if m <= level * (1 + DISTURBED)]
        if len(kept) < (len(medians) + 1) // 2:
            kept = sorted(range(len(medians)), key=medians.__getitem__)[: (len(medians) + 1) // 2]
        return sorted(kept)

    def samples(self) -> list[int]:
        """Every timing from the quiet blocks."""
        return [ns for i in self.quiet() for ns in self.blocks[i]]


# --- runners ------------------------------------------------------------------------------


def _ort() -> Any:
    import onnxruntime as ort

    # Provider probing logs warnings per session on stderr; failures surface below.
    ort.set_default_logger_severity(3)
    return ort


def _ort_session(subject: Subject, providers: list[Any], threads: int) -> Any:
    ort = _ort()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(subject.onnx), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise Unavailable(" ".join(str(exc).split())[:200]) from None
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if session.get_providers()[0] != wanted:
        raise Unavailable(
            f"{wanted} did not load (ONNX Runtime fell back to {session.get_providers()[0]}; "
            "for TensorRT, its libnvinfer libraries must be on the library path)"
        )
    return session


def _ort_cpu(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    session = _ort_session(subject, ["CPUExecutionProvider"], settings.threads)
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


def _ort_cuda_host(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    session = _ort_session(subject, [("CUDAExecutionProvider", {"device_id": 0})], 1)
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


def _bound(
    session: Any, x: np.ndarray, out_shape: Sequence[int] | None = None
) -> tuple[Any, tuple[Any, ...]]:
    """An IO binding with the input and output in fixed GPU buffers (returned beside
    it: they must live as long as the binding). Without ``out_shape`` one run finds
    the output's shape; a session that captures a CUDA graph on its first run must
    be given it instead."""
    import numpy as np

    ort = _ort()
    x_gpu = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
    if out_shape is None:
        out_shape = session.run(None, {session.get_inputs()[0].name: x})[0].shape
    y_gpu = ort.OrtValue.ortvalue_from_shape_and_type(out_shape, np.float32, "cuda", 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input(session.get_inputs()[0].name, x_gpu)
    binding.bind_ortvalue_output(session.get_outputs()[0].name, y_gpu)
    return binding, (x_gpu, y_gpu)


def _ort_cuda_iobinding(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    session = _ort_session(subject, [("CUDAExecutionProvider", {"device_id": 0})], 1)
    binding, buffers = _bound(session, x)
    return lambda: (session.run_with_iobinding(binding), buffers)


def _ort_cuda_graph(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    provider = ("CUDAExecutionProvider", {"device_id": 0, "enable_cuda_graph": "1"})
    session = _ort_session(subject, [provider], 1)
    binding, buffers = _bound(session, x, [x.shape[0], *_output_shape(subject)])
    session.run_with_iobinding(binding)  # the first run captures the graph
    return lambda: (session.run_with_iobinding(binding), buffers)


def _ort_tensorrt(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    ort = _ort()
    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        raise Unavailable("this onnxruntime build has no TensorRT execution provider")
    name = _input_name(subject)
    shape = "x".join(str(d) for d in x.shape)
    cache = tempfile.mkdtemp(prefix="modelreg-trt-")
    provider = (
        "TensorrtExecutionProvider",
        {
            "device_id": 0,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": cache,
            "trt_profile_min_shapes": f"{name}:{shape}",
            "trt_profile_max_shapes": f"{name}:{shape}",
            "trt_profile_opt_shapes": f"{name}:{shape}",
        },
    )
    session = _ort_session(subject, [provider, "CUDAExecutionProvider"], 1)
    binding, buffers = _bound(session, x)
    return lambda: (session.run_with_iobinding(binding), buffers)


def _torch_module(subject: Subject, settings: Settings) -> Any:
    if subject.checkpoint is None:
        raise Unavailable("no torch checkpoint among the version's artifacts")
    from modelreg.artifacts.checkpoint import load_checkpoint

    return load_checkpoint(subject.checkpoint).build(settings.repo)


def _torch_eager_cpu(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    import torch

    module = _torch_module(subject, settings)
    torch.set_num_threads(settings.threads)
    tensor = torch.from_numpy(x)

    def call() -> Any:
        with torch.inference_mode():
            return module(tensor)

    return call


def _torch_eager_cuda(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    import torch

    if not torch.cuda.is_available():
        raise Unavailable("torch sees no CUDA device")
    module = _torch_module(subject, settings).cuda()
    tensor = torch.from_numpy(x).cuda()

    def call() -> Any:
        with torch.inference_mode():
            out = module(tensor)
        torch.cuda.synchronize()
        return out

    return call


def _torch_cuda_graph(subject: Subject, x: np.ndarray, settings: Settings) -> Callable[[], Any]:
    import torch

    if not torch.cuda.is_available():
        raise Unavailable("torch sees no CUDA device")
    module = _torch_module(subject, settings).cuda()
    static = torch.from_numpy(x).cuda()
    stream = torch.cuda.Stream()  # type: ignore[no-untyped-call]
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.inference_mode():
        for _ in range(3):  # warm-up outside the capture, as torch's docs ask
            module(static)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        module(static)

    def call() -> None:
        graph.replay()
        torch.cuda.synchronize()

    return call


RUNNERS: dict[str, list[tuple[str, Callable[[Subject, Any, Settings], Callable[[], Any]]]]] = {
    "cpu": [
        ("onnxruntime cpu", _ort_cpu),
        ("torch eager cpu", _torch_eager_cpu),
    ],
    "cuda": [
        ("onnxruntime cuda (host arrays)", _ort_cuda_host),
        ("onnxruntime cuda (io binding)", _ort_cuda_iobinding),
        ("onnxruntime cuda graph", _ort_cuda_graph),
        ("onnxruntime tensorrt", _ort_tensorrt),
        ("torch eager cuda", _torch_eager_cuda),
        ("torch cuda graph", _torch_cuda_graph),
    ],
}


def _first_input(subject: Subject) -> Any:
    """The model's first real input (graph inputs that are initialisers are weights)."""
    import onnx

    model = onnx.load(str(subject.onnx), load_external_data=False)
    initialisers = {i.name for i in model.graph.initializer}
    return next(i for i in model.graph.input if i.name not in initialisers)


def _input_name(subject: Subject) -> str:
    return str(_first_input(subject).name)


def _input_shape(subject: Subject) -> tuple[list[int], str]:
    """The first input's shape without the batch dimension, and its dtype name."""
    import onnx

    first = _first_input(subject)
    dims = [
        d.dim_value if d.HasField("dim_value") else -1 for d in first.type.tensor_type.shape.dim
    ]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(first.type.tensor_type.elem_type).name
    if any(d <= 0 for d in dims[1:]):
        raise InputError(
            f"{subject.onnx}: input {first.name} has an unknown size beyond the batch "
            f"dimension ({dims}); benchmark needs fixed sizes there"
        )
    return dims[1:], dtype


def _output_shape(subject: Subject) -> list[int]:
    import onnx

    model = onnx.load(str(subject.onnx), load_external_data=False)
    out = model.graph.output[0]
    return [d.dim_value for d in out.type.tensor_type.shape.dim][1:]


# --- measuring ----------------------------------------------------------------------------


def run_benchmark(
    candidate: Subject,
    baseline: Subject | None,
    settings: Settings,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Measure and return the versioned JSON report (see the module docstring)."""
    from modelreg.core.extras import require

    require("modelreg benchmark", "serve", "onnxruntime")
    if any(s.checkpoint is not None for s in (candidate, baseline) if s is not None):
        require("modelreg benchmark with a torch checkpoint", "export", "torch")
    import numpy as np

    if settings.device not in RUNNERS:
        raise InputError(f"unknown device {settings.device!r}; use cpu or cuda")
    subjects = [candidate] + ([baseline] if baseline is not None else [])
    shape, dtype = _input_shape(candidate)
    if baseline is not None and _input_shape(baseline) != (shape, dtype):
        raise InputError(
            f"candidate and baseline take different inputs ({shape} {dtype} vs "
            f"{_input_shape(baseline)}); they cannot be compared"
        )
    if settings.device == "cuda":
        _require_cuda()
    rng = np.random.default_rng(settings.seed)
    results: list[dict[str, Any]] = []
    comparison: list[dict[str, Any]] = []
    unavailable: dict[str, str] = {}
    steps = len(settings.batch_sizes) * BLOCKS
    done = 0
    for batch in settings.batch_sizes:
        x = rng.random((batch, *shape), dtype=np.float32).astype(dtype)
        pairs: list[_Pair] = []
        for runner, factory in RUNNERS[settings.device]:
            if runner in unavailable:
                continue
            try:
                made = [_Pair(s, runner, factory(s, x, settings)) for s in subjects]
            except Unavailable as exc:
                unavailable[runner] = str(exc)
                continue
            pairs += made
        if not pairs:
            raise InputError(f"nothing could run the model on {settings.device}: {unavailable}")
        runs = _calibrate(pairs, settings)
        per_block = max(3, runs // BLOCKS)
        for block in range(BLOCKS):
            # Rotate and reverse the order so no pair always follows the same one.
            order = pairs[block % len(pairs) :] + pairs[: block % len(pairs)]
            if block % 2:
                order.reverse()
            for pair in order:
                pair.blocks.append(_time(pair.call, per_block))
            done += 1
            if progress is not None:
                progress(f"batch {batch}", done, steps)
        for pair in pairs:
            results.append(_summary(pair, batch))
        if baseline is not None:
            comparison += _compare(pairs, batch)
    report: dict[str, Any] = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": _device(settings),
        "libraries": _libraries(),
        "settings": {
            "device": settings.device,
            "batch_sizes": list(settings.batch_sizes),
            "warmup": settings.warmup,
            "budget_s": settings.budget_s,
            "blocks": BLOCKS,
            "disturbed_above": DISTURBED,
            "threads": settings.threads,
            "seed": settings.seed,
            "input": {"shape": [-1, *shape], "dtype": dtype},
        },
        "subjects": [_describe(s) for s in subjects],
        "results": results,
        "unavailable": [{"runner": r, "reason": why} for r, why in unavailable.items()],
        "best": _best(results, subjects),
    }
    if baseline is not None:
        report["comparison"] = comparison
        report["verdict"] = _verdict(comparison, report["best"])
    return report


def _require_cuda() -> None:
    ort = _ort()
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # CUDA and cuDNN from the nvidia-* wheels torch brings
        # A missing library shows below, as a missing provider.
        with contextlib.suppress(Exception):
            preload()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise InputError(
            "--device cuda needs onnxruntime-gpu (pip install 'modelreg[gpu]' after "
            f"uninstalling onnxruntime); this onnxruntime has {ort.get_available_providers()}"
        )


def _calibrate(pairs: list[_Pair], settings: Settings) -> int:
    """Warm every pair up, then pick a run count that fits the time budget."""
    slowest = 0.0
    for pair in pairs:
        for _ in range(settings.warmup):
            pair.call()
        start = time.perf_counter()
        for _ in range(5):
            pair.call()
        slowest = max(slowest, (time.perf_counter() - start) / 5)
    runs = int(settings.budget_s / max(slowest, 1e-7))
    return min(MAX_RUNS, max(MIN_RUNS, runs))


def _time(call: Callable[[], Any], runs: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(runs):
        start = clock()
        call()
        samples.append(clock() - start)
    return samples


def _percentile(sorted_ns: Sequence[int], q: float) -> float:
    index = min(len(sorted_ns) - 1, max(0, round(q / 100 * (len(sorted_ns) - 1))))
    return sorted_ns[index] / 1e6


def _summary(pair: _Pair, batch: int) -> dict[str, Any]:
    ordered = sorted(pair.samples())
    mean_ms = statistics.fmean(ordered) / 1e6
    return {
        "subject": pair.subject.label,
        "runner": pair.runner,
        "batch": batch,
        "runs": len(ordered),
        "blocks_used": len(pair.quiet()),
        "p50_ms": round(_percentile(ordered, 50), 5),
        "p95_ms": round(_percentile(ordered, 95), 5),
        "p99_ms": round(_percentile(ordered, 99), 5),
        "mean_ms": round(mean_ms, 5),
        "throughput_per_s": round(batch / (mean_ms / 1000), 1),
    }


def _compare(pairs: list[_Pair], batch: int) -> list[dict[str, Any]]:
    by = {(p.subject.label, p.runner): p for p in pairs}
    rows = []
    for (label, runner), cand in by.items():
        base = by.get(("baseline", runner))
        if label != "candidate" or base is None:
            continue
        # Blocks where both sides ran undisturbed (interleaved, so mostly the same ones).
        both = sorted(set(cand.quiet()) & set(base.quiet())) or list(range(len(cand.blocks)))
        # Each block pairs the two sides in time, so its ratio cancels whatever the
        # machine did then; the verdict is the median of those paired ratios, which
        # by construction lies inside the spread reported beside it.
        medians = zip(cand.block_p50, base.block_p50, strict=True)
        blocks = sorted(c / b for i, (c, b) in enumerate(medians) if i in both)
        ratio = statistics.median(blocks)
        rows.append(
            {
                "runner": runner,
                "batch": batch,
                "ratio_p50": round(ratio, 4),
                "block_ratio_low": round(blocks[len(blocks) // 10], 4),
                "block_ratio_high": round(blocks[-1 - len(blocks) // 10], 4),
            }
        )
    return rows


def _best(results: list[dict[str, Any]], subjects: list[Subject]) -> list[dict[str, Any]]:
    """Per subject and batch: the fastest ONNX Runtime configuration by p50."""
    rows = []
    for subject in subjects:
        for batch in sorted({r["batch"] for r in results}):
            ort_rows = [
                r
                for r in results
                if r["subject"] == subject.label
                and r["batch"] == batch
                and r["runner"].startswith("onnxruntime")
            ]
            if ort_rows:
                best = min(ort_rows, key=lambda r: r["p50_ms"])
                rows.append(
                    {
                        "subject": subject.label,
                        "batch": batch,
                        "runner": best["runner"],
                        "p50_ms": best["p50_ms"],
                    }
                )
    return rows


def _verdict(comparison: list[dict[str, Any]], best: list[dict[str, Any]]) -> dict[str, Any]:
    """The ratio at batch 1 (or the smallest batch) on the baseline's best configuration."""
    if not comparison:
        return {}
    smallest = min(r["batch"] for r in comparison)
    base_best = next(
        (b["runner"] for b in best if b["subject"] == "baseline" and b["batch"] == smallest), None
    )
    row = next(
        (r for r in comparison if r["batch"] == smallest and r["runner"] == base_best),
        next(r for r in comparison if r["batch"] == smallest),
    )
    change = row["ratio_p50"] - 1
    noise = max(
        row["ratio_p50"] - row["block_ratio_low"], row["block_ratio_high"] - row["ratio_p50"]
    )
    # Order effects between interleaved pairs reach about 1%, and no gate works at that
    # resolution: within EQUIVALENT (or the noise) two models are called the same.
    if abs(change) <= max(noise, EQUIVALENT):
        words = f"no change beyond noise ({change:+.1%}, noise ±{noise:.1%})"
    else:
        words = f"{abs(change):.1%} {'slower' if change > 0 else 'faster'} (noise ±{noise:.1%})"
    return {
        "runner": row["runner"],
        "batch": smallest,
        "ratio_p50": row["ratio_p50"],
        "noise": round(noise, 4),
        "summary": f"candidate vs baseline at batch {smallest} on {row['runner']}: {words}",
    }


def _describe(subject: Subject) -> dict[str, Any]:
    data = subject.onnx.read_bytes()
    return {
        "label": subject.label,
        "ref": subject.ref,
        "onnx": str(subject.onnx),
        "onnx_md5": hashlib.md5(data).hexdigest(),
        "size": len(data),
        "checkpoint": str(subject.checkpoint) if subject.checkpoint else None,
    }


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _device(settings: Settings) -> dict[str, Any]:
    info: dict[str, Any] = {"kind": settings.device, "cpu": cpu_name(), "cores": os.cpu_count()}
    if settings.device == "cuda":
        try:
            import torch

            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
        except Exception as exc:  # torch missing or no device: say so, do not fail
            info["gpu"] = f"unknown ({type(exc).__name__})"
    return info


def _libraries() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("onnxruntime", "torch", "numpy", "onnx"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        versions[name] = str(getattr(module, "__version__", "?"))
    with contextlib.suppress(ImportError):
        versions["onnxruntime_providers"] = ",".join(_ort().get_available_providers())
    return versions


def render_table(report: dict[str, Any]) -> str:
    """The report as a plain text table (what the CLI prints without --json)."""
    lines = []
    device = report["device"]
    where = device.get("gpu") or device.get("cpu")
    lines.append(
        f"device: {report['settings']['device']} ({where}); threads {report['settings']['threads']}"
    )
    header = (
        f"{'subject':<10} {'runner':<32} {'batch':>5} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'p99 ms':>9} {'items/s':>11} {'runs':>6}"
    )
    lines += [header, "-" * len(header)]
    for r in report["results"]:
        lines.append(
            f"{r['subject']:<10} {r['runner']:<32} {r['batch']:>5} {r['p50_ms']:>9.4f} "
            f"{r['p95_ms']:>9.4f} {r['p99_ms']:>9.4f} {r['throughput_per_s']:>11,.0f} "
            f"{r['runs']:>6}"
        )
    for item in report["unavailable"]:
        lines.append(f"not measured: {item['runner']}: {item['reason']}")
    verdict = report.get("verdict")
    if verdict:
        lines.append(verdict["summary"])
    return "\n".join(lines)
