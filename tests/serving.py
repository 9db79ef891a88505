"""Shared pieces of the serving tests: a registry of real ONNX versions, a live server.

The registry is built once per module (registering through DVC is the slow part)
and copied for each test with its DVC remote, so every test starts from
production on version 1 and may move pointers, tamper with files or add versions.
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

from modelreg._serve_app import create_app
from modelreg._serving import Server, prepare
from modelreg.api import promote, register
from tests import builders
from tests.conftest import Workspace, git

MODEL = "digits"
VERSIONS = (1, 2, 3)


def build_template(where: Path) -> Workspace:
    """Three registered versions with real ONNX files (different weights), production on 1."""
    from modelreg.api import init

    root = where / "repo"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    origin = where / "origin.git"
    git(where, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    remote = where / "dvc-remote"
    remote.mkdir()
    init(root, remote=str(remote), commit=True)
    for seed, _ in enumerate(VERSIONS):
        files = builders.model_files(where / f"inputs-{seed}", seed=seed)
        register(MODEL, repo=root, weights=files.weights, onnx=files.onnx, commit=True)
    promote(MODEL, 1, "production", repo=root, reason="first release")
    git(root, "push", "-q", "origin", "main")
    return Workspace(root, origin, remote)


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
