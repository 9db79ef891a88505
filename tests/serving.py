"""Shared pieces of the serving tests: a registry of real ONNX versions, a live server.

Each test gets its own registry (the ``workspace`` fixture plus three versions
registered through DVC, about a second), so it may move pointers, tamper with
files or add versions freely.
"""

from __future__ import annotations

import socket
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """The app under a real uvicorn on 127.0.0.1, in a thread of the test process."""

    def __init__(self, server: Server, *, poll: float = 0.1, max_body: int = 1 << 20) -> None:
        self.server = server
        app = create_app(
            server.routes, server.follower, server.metrics, poll=poll, max_body=max_body
        )
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
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
