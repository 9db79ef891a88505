"""``modelreg serve`` under load while the stage moves, against raw ONNX Runtime.

    .venv/bin/python -m benchmarks.serve_load [--clients 8] [--seconds 60] [--moves 10]

Builds a registry under ``benchmarks/.work/serve`` (git, a DVC remote, three
versions of a small CNN for 8x8 digits, production on version 1), starts the
real server (``modelreg serve --poll P`` on 127.0.0.1, a separate process), then:

1. **Load.** ``--clients`` threads, each on its own keep-alive connection, send
   batch-1 inference requests for ``--seconds``, while ``--moves`` promotions and
   rollbacks (``modelreg promote`` / ``modelreg rollback``, real commits) are
   spread evenly over the run. Every request is kept: start, end, status, the
   version the response names. A request fails if it errs or is not a 200. A
   response is *stale* if the version it names did not hold the stage at any
   moment from ``poll + 1 s`` before the request started to when it ended (the
   server learns of a move at its next poll, then loads and swaps); the holding
   times come from the registry itself, read after each move.
2. **Latency at batch 1.** One client, sequential requests, interleaved in
   rounds with ``session.run`` on the same ONNX bytes in this process (same
   session options as the server), so noise falls on both alike. Reported: raw
   ONNX Runtime p50, the server's own time per request (its ``Server-Timing``
   header: body read, checks, inference, response), and the client's round trip
   over loopback.

Writes ``benchmarks/results/serve_load.{json,md}`` with the machine; exits 1 when
an acceptance line fails (a failed or stale request, or the server's p50 more
than 1 ms over raw ONNX Runtime's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import measured_at, provenance
from benchmarks.registry_scale import clean_env

ROOT = Path(__file__).resolve().parent.parent
MODEL = "digits-cnn"
STAGE = "production"
# The moves, in order; each promote names a version not in production at that point.
MOVES: list[tuple[str, ...]] = [
    ("promote", "2"),
    ("promote", "3"),
    ("rollback",),
    ("rollback",),
    ("promote", "3"),
    ("promote", "2"),
    ("rollback",),
    ("promote", "1"),
    ("rollback",),
    ("promote", "2"),
]
BUDGET_MS = 1.0


# --- the registry -----------------------------------------------------------------------


def cnn_bytes(seed: int) -> bytes:
    """A small CNN for 8x8 digits (two 3x3 convolutions, pooling, two dense layers)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        values = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        return numpy_helper.from_array(values, name)

    initializers = [
        weight("c1_w", 16, 1, 3, 3),
        numpy_helper.from_array(np.zeros(16, np.float32), "c1_b"),
        weight("c2_w", 32, 16, 3, 3),
        numpy_helper.from_array(np.zeros(32, np.float32), "c2_b"),
        weight("d1_w", 64, 512),
        numpy_helper.from_array(np.zeros(64, np.float32), "d1_b"),
        weight("d2_w", 10, 64),
        numpy_helper.from_array(np.zeros(10, np.float32), "d2_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "c2_w", "c2_b"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["flat"]),
        helper.make_node("Gemm", ["flat", "d1_w", "d1_b"], ["d1"], transB=1),
        helper.make_node("Relu", ["d1"], ["r3"]),
        helper.make_node("Gemm", ["r3", "d2_w", "d2_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def build_registry(work: Path) -> Path:
    """A fresh registry: three versions registered through DVC, production on version 1."""
    from modelreg.api import init, promote, register

    if work.exists():
        shutil.rmtree(work)
    root = work / "repo"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Benchmark")
    git(root, "config", "user.email", "benchmark@example.com")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    remote = work / "dvc-remote"
    remote.mkdir()
    init(root, remote=str(remote), commit=True)
    for seed in (1, 2, 3):
        inputs = work / f"inputs-{seed}"
        inputs.mkdir()
        (inputs / "model.onnx").write_bytes(cnn_bytes(seed))
        (inputs / "model.pt").write_bytes(f"checkpoint {seed}\n".encode())
        register(
            MODEL,
            repo=root,
            weights=inputs / "model.pt",
            onnx=inputs / "model.onnx",
            metrics={"accuracy": 0.9 + seed / 100},
            commit=True,
        )
    promote(MODEL, 1, STAGE, repo=root, reason="first release")
    return root


def production(root: Path) -> int:
    from modelreg.api import Registry

    with Registry.open(root) as registry:
        pointer = registry.pointer(MODEL, STAGE)
        assert pointer is not None
        return pointer.version


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def modelreg_exe() -> str:
    return str(Path(sys.executable).parent / "modelreg")


def start_server(root: Path, port: int, poll: float, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [modelreg_exe(), "--repo", str(root), "serve", "--port", str(port), "--poll", str(poll)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env=clean_env(),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start in 120 s")


def request_body() -> bytes:
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    data = x.ravel().tolist()
    tensor = {"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8], "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


@dataclass
class Sample:
    start: float
    end: float
    status: int  # 0: the request raised
    version: int | None
    server_ms: float | None
    error: str = ""


@dataclass
class Client:
    port: int
    body: bytes
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.headers = {"Content-Type": "application/json"}

    def send(self) -> Sample:
        start = time.perf_counter()
        try:
            self.connection.request("POST", f"/v2/models/{MODEL}/infer", self.body, self.headers)
            response = self.connection.getresponse()
            response.read()
            end = time.perf_counter()
            header = response.getheader("X-Model-Version")
            timing = response.getheader("Server-Timing") or ""
            server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
            sample = Sample(start, end, response.status, int(header) if header else None, server_ms)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            sample = Sample(start, time.perf_counter(), 0, None, None, repr(exc))
        self.samples.append(sample)
        return sample

    def run_until(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            self.send()


# --- the moves ------------------------------------------------------------------------------


@dataclass
class Move:
    argv: tuple[str, ...]
    start: float
    end: float
    version: int  # what production held after it, read from the registry


def make_moves(root: Path, start: float, seconds: float, count: int) -> list[Move]:
    moves = []
    for i, move in enumerate(MOVES[:count]):
        at = start + (i + 1) * seconds / (count + 1)
        time.sleep(max(0.0, at - time.perf_counter()))
        if move[0] == "promote":
            argv = ("promote", MODEL, move[1], "--to", STAGE, "--reason", "load test")
        else:
            argv = ("rollback", MODEL, "--stage", STAGE, "--reason", "load test")
        began = time.perf_counter()
        done = subprocess.run(
            [modelreg_exe(), "--repo", str(root), *argv],
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
        )
        ended = time.perf_counter()
        if done.returncode != 0:
            raise SystemExit(f"modelreg {' '.join(argv)} failed: {done.stderr.strip()}")
        moves.append(Move(argv, began, ended, production(root)))
    return moves


def holding(initial: int, moves: list[Move]) -> list[tuple[int, float, float]]:
    """(version, from, until): when each version may have held the stage, widely: from
    the start of the move that set it to the end of the move that replaced it."""
    spans = []
    begin, version = float("-inf"), initial
    for move in moves:
        spans.append((version, begin, move.end))
        begin, version = move.start, move.version
    spans.append((version, begin, float("inf")))
    return spans


def stale(sample: Sample, spans: list[tuple[int, float, float]], allowance: float) -> bool:
    low, high = sample.start - allowance, sample.end
    return not any(v == sample.version and a <= high and b >= low for v, a, b in spans)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


# --- the two phases ---------------------------------------------------------------------------


def load_phase(root: Path, port: int, args: argparse.Namespace) -> dict[str, Any]:
    body = request_body()
    clients = [Client(port, body) for _ in range(args.clients)]
    for client in clients:
        client.send()  # connect and warm up before the clock starts
        client.samples.clear()
    initial = production(root)
    start = time.perf_counter()
    deadline = start + args.seconds
    threads = [threading.Thread(target=c.run_until, args=(deadline,)) for c in clients]
    for thread in threads:
        thread.start()
    moves = make_moves(root, start, args.seconds, args.moves)
    for thread in threads:
        thread.join()
    samples = [s for c in clients for s in c.samples]
    failed = [s for s in samples if s.status != 200 or s.version is None]
    spans = holding(initial, moves)
    allowance = args.poll + 1.0
    stale_samples = [s for s in samples if s.version is not None and stale(s, spans, allowance)]
    # How long after each move the old version still answered (the server's lag).
    lags = []
    previous = initial
    for i, move in enumerate(moves):
        until = moves[i + 1].start if i + 1 < len(moves) else deadline
        old = [s.start for s in samples if move.end <= s.start < until and s.version == previous]
        lags.append(max(old) - move.end if old else 0.0)
        previous = move.version
    latencies = [(s.end - s.start) * 1000 for s in samples if s.status == 200]
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "poll_s": args.poll,
        "requests": len(samples),
        "failed": len(failed),
        "failures": sorted({s.error or f"HTTP {s.status}" for s in failed})[:5],
        "stale": len(stale_samples),
        "stale_allowance_s": allowance,
        "throughput_rps": round(len(samples) / args.seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "moves": [
            {
                "command": " ".join(m.argv[:-2]),
                "version_after": m.version,
                "at_s": round(m.end - start, 2),
            }
            for m in moves
        ],
        "max_switch_lag_s": round(max(lags, default=0.0), 3),
        "versions_answered": {
            str(v): sum(1 for s in samples if s.version == v)
            for v in sorted({s.version for s in samples if s.version is not None})
        },
    }


def raw_session(root: Path) -> Any:
    """The ONNX session production serves, loaded the way the server loads its own."""
    from modelreg.api import Registry
    from modelreg.serve.routes import load_version

    with Registry.open(root) as registry:
        version = registry.resolve(f"{MODEL}@{STAGE}").version
    return load_version(root, version).session


def latency_phase(root: Path, port: int, args: argparse.Namespace) -> dict[str, Any]:
    session = raw_session(root)
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    client = Client(port, request_body())
    for _ in range(200):  # warm both
        client.send()
        session.run(None, {"input": x})
    client.samples.clear()
    raw: list[float] = []
    for _ in range(args.rounds):
        for _ in range(args.per_round):
            client.send()
        for _ in range(args.per_round):
            began = time.perf_counter()
            session.run(None, {"input": x})
            raw.append((time.perf_counter() - began) * 1000)
    ok = [s for s in client.samples if s.status == 200]
    round_trip = [(s.end - s.start) * 1000 for s in ok]
    in_server = [s.server_ms for s in ok if s.server_ms is not None]
    raw_p50 = percentile(raw, 50)
    return {
        # The server loads its sessions with the same load_version, so the same provider.
        "provider": session.get_providers()[0],
        "requests": len(client.samples),
        "failed": len(client.samples) - len(ok),
        "raw_ort_p50_ms": round(raw_p50, 3),
        "raw_ort_p99_ms": round(percentile(raw, 99), 3),
        "server_p50_ms": round(percentile(in_server, 50), 3),
        "server_p99_ms": round(percentile(in_server, 99), 3),
        "round_trip_p50_ms": round(percentile(round_trip, 50), 3),
        "round_trip_p99_ms": round(percentile(round_trip, 99), 3),
        "server_over_raw_ms": round(percentile(in_server, 50) - raw_p50, 3),
        "round_trip_over_raw_ms": round(percentile(round_trip, 50) - raw_p50, 3),
    }


def gpu_name() -> str:
    """The first GPU's name from nvidia-smi, or "" on a machine without one."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    names = done.stdout.strip().splitlines() if done.returncode == 0 else []
    return names[0] if names else ""


def gpu_words(report: dict[str, Any]) -> str:
    return f" ({report['gpu']})" if report.get("gpu") else ""


def render_markdown(report: dict[str, Any]) -> str:
    load, lat = report["load"], report["latency"]
    lines = [
        "# modelreg serve under load",
        "",
        f"{measured_at(report)} {report['when']}.",
        "",
        f"Model: a small CNN for 8x8 digits (ONNX, {report['model_kib']} KiB), batch 1, on "
        f"ONNX Runtime's {lat['provider']}{gpu_words(report)}. Server: `modelreg serve` "
        "(uvicorn, one process) on 127.0.0.1; clients in another process, keep-alive "
        "connections.",
        "",
        "## Load while the stage moves",
        "",
        f"{load['clients']} clients for {load['seconds']} s; {len(load['moves'])} promotions "
        f"and rollbacks (`modelreg promote`/`rollback`, real commits); server polling every "
        f"{load['poll_s']} s.",
        "",
        "| requests | failed | stale | throughput | p50 | p99 | slowest switch |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {load['requests']} | {load['failed']} | {load['stale']} | "
        f"{load['throughput_rps']} req/s | {load['p50_ms']} ms | {load['p99_ms']} ms | "
        f"{load['max_switch_lag_s']} s |",
        "",
        f"A response is stale if the version it names did not hold the stage at any moment "
        f"from {load['stale_allowance_s']} s (one poll + 1 s to load and swap) before the "
        "request began to when it ended. The slowest switch is the longest time after a "
        "move's commit that the replaced version still answered.",
        "",
        "| move | production after | at |",
        "|---|---:|---:|",
        *[
            f"| `{mv['command']}` | {mv['version_after']} | {mv['at_s']} s |"
            for mv in load["moves"]
        ],
        "",
        "Answers by version: "
        + ", ".join(f"v{v}: {n}" for v, n in load["versions_answered"].items())
        + ".",
        "",
        "## Latency at batch 1 (one client, interleaved with raw ONNX Runtime)",
        "",
        "| | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| raw ONNX Runtime `session.run` | {lat['raw_ort_p50_ms']} | {lat['raw_ort_p99_ms']} |",
        f"| server (its own time per request) | {lat['server_p50_ms']} | {lat['server_p99_ms']} |",
        f"| client round trip over loopback | {lat['round_trip_p50_ms']} | "
        f"{lat['round_trip_p99_ms']} |",
        "",
        f"Server p50 over raw: {lat['server_over_raw_ms']} ms (budget {BUDGET_MS} ms); "
        f"round trip over raw: {lat['round_trip_over_raw_ms']} ms.",
        "",
        "Verdict: "
        + ("PASS" if report["ok"] else "FAIL")
        + f" ({'; '.join(report['why']) or 'all lines hold'}).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--moves", type=int, default=len(MOVES), choices=range(1, len(MOVES) + 1))
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts

    work = ROOT / "benchmarks" / ".work" / "serve"
    os.environ.setdefault("GIT_AUTHOR_NAME", "Benchmark")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "benchmark@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Benchmark")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "benchmark@example.com")
    root = build_registry(work)
    port = free_port()
    log = work / "server.log"
    server = start_server(root, port, args.poll, log)
    try:
        load = load_phase(root, port, args)
        latency = latency_phase(root, port, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    why = []
    if load["failed"]:
        why.append(f"{load['failed']} failed requests under load")
    if load["stale"]:
        why.append(f"{load['stale']} stale answers")
    if latency["failed"]:
        why.append(f"{latency['failed']} failed requests in the latency phase")
    if latency["server_over_raw_ms"] > BUDGET_MS:
        why.append(f"server p50 is {latency['server_over_raw_ms']} ms over raw ONNX Runtime")
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **where,
        "gpu": gpu_name() if latency["provider"] == "CUDAExecutionProvider" else "",
        "model_kib": round(len(cnn_bytes(1)) / 1024, 1),
        "load": load,
        "latency": latency,
        "ok": not why,
        "why": why,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve_load.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "serve_load.md").write_text(render_markdown(report))
    print(render_markdown(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
