"""Shared pieces of the serving tests: a registry of real ONNX versions, a live server.

Each test gets its own registry (the ``workspace`` fixture plus three versions
registered through DVC, about a second), so it may move pointers, tamper with
files or add versions freely.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from modelreg.api import promote, register
from modelreg.serve.app import create_app
from modelreg.serve.routes import Server, prepare
from tests import builders
from tests.conftest import Workspace

MODEL = "digits"
VERSIONS = (1, 2, 3)


def add_versions(workspace: Workspace) -> Workspace:
    """Three registered versions with real ONNX files (different weights), production on 1,
    pushed to origin (git) and the DVC remote."""
    for seed, _ in enumerate(VERSIONS):
        files = builders.model_files(workspace.root.parent / f"inputs-{seed}", seed=seed)
        register(MODEL, repo=workspace.root, weights=files.weights, onnx=files.onnx, commit=True)
    promote(MODEL, 1, "production", repo=workspace.root, reason="first release")
    workspace.git("push", "-q", "origin", "main")
    return workspace


_RUNNING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:([0-9]+)")


def announced_port(process: subprocess.Popen[Any], log: Path, *, timeout: float = 120) -> int:
    """The port a server started with port 0 bound, as its uvicorn says in ``log``.

    The kernel picks the port when the server binds it, so no other process can take it
    between finding it free and using it (``modelreg serve --port 0``, ``mlflow server
    --port 0``: each logs ``Uvicorn running on http://127.0.0.1:PORT``)."""
    deadline = time.monotonic() + timeout
    while True:
        match = _RUNNING.search(log.read_bytes())
        if match:
            return int(match[1])
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"the server did not start in {timeout:g} s"
        time.sleep(0.05)


def stop_group(process: subprocess.Popen[Any], *, timeout: float = 30) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it forked
    (``mlflow server``'s workers), killing what ignores SIGTERM for ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_healthy(
    process: subprocess.Popen[Any], log: Path, url: str, *, path: str, timeout: float = 120
) -> None:
    """Poll ``url + path`` until it answers 200 (the server may bind before it is ready)."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + path, timeout=5).status_code == 200:
                return
        assert time.monotonic() < deadline, f"{url} was not ready in {timeout:g} s"
        time.sleep(0.1)


class LiveServer:
    """The app under a real uvicorn on 127.0.0.1, in a thread of the test process."""

    def __init__(self, server: Server, *, poll: float = 0.1, max_body: int = 1 << 20) -> None:
        self.server = server
        app = create_app(
            server.routes, server.follower, server.metrics, poll=poll, max_body=max_body
        )
        # Bound here, before uvicorn starts: the port is ours from the first moment.
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.uvicorn.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.uvicorn.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
            time.sleep(0.02)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.uvicorn.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


def serve(root: Path, refs: Sequence[str] = (f"{MODEL}@production",), **kwargs: Any) -> LiveServer:
    follow = kwargs.pop("follow", None)
    return LiveServer(prepare(root, refs, follow=follow), **kwargs)


def digit_input(batch: int = 1, value: float = 0.5) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "input",
                "datatype": "FP32",
                "shape": [batch, 1, 8, 8],
                "data": [value] * (batch * 64),
            }
        ]
    }


def wait_for(condition: Any, timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
