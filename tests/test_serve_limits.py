"""The server's limits against slow and idle clients: real uvicorn on 127.0.0.1.

The flood test runs ``modelreg serve`` through the installed command with a low
open-file limit (``RLIMIT_NOFILE``), so a few hundred idle connections do what
about a thousand do under the usual limit of 1024: without limits, they take
every file descriptor, and requests and the follower's reads fail.
"""

from __future__ import annotations

import contextlib
import inspect
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from modelreg.core.errors import InputError
from modelreg.serve.app import create_app
from modelreg.serve.limits import ServeLimits, accept_backlog, connection_cap, server_config
from modelreg.serve.routes import prepare
from tests.conftest import Workspace
from tests.serving import MODEL, LiveServer, add_versions, announced_port, digit_input, wait_for

# The server's open-file limit in the flood test, and the connections that flood it.
SERVER_OPEN_FILES = 384
FLOOD = 600
INFER = f"/v2/models/{MODEL}/infer"


@pytest.fixture
def registry(workspace: Workspace) -> Workspace:
    return add_versions(workspace)


@pytest.fixture
def many_sockets() -> Iterator[None]:
    """Room for the flood's sockets in this process too, whatever the machine's default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Flood:
    """Connections held open by a client that never finishes its requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []

    def open(self, count: int, request: bytes = b"") -> None:
        for n in range(count):
            if n % 32 == 31:
                time.sleep(0.02)  # not faster than the server accepts: no SYN retries
            sock = socket.socket()
            sock.settimeout(2)
            try:
                sock.connect(("127.0.0.1", self.port))
                if request:
                    sock.sendall(request)
            except OSError:  # the server refused or dropped it: still a try
                sock.close()
                continue
            self.sockets.append(sock)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


def partial_head(path: str = INFER) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl".encode()


def stalled_body(path: str = INFER, declared: int = 4000) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    return head.encode() + b'{"inputs": ['


def with_low_open_files(command: list[str]) -> list[str]:
    """``command`` run with the flood test's open-file limit, soft and hard (so the
    server cannot raise it)."""
    limit = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({SERVER_OPEN_FILES}, {SERVER_OPEN_FILES})); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", limit, *command]


def served_version(client: httpx.Client) -> str:
    response = client.post(INFER, json=digit_input())
    assert response.status_code == 200, response.text
    return str(response.json()["model_version"])


def test_idle_and_slow_clients_do_not_stop_requests_or_the_follower(
    registry: Workspace, modelreg_exe: str, many_sockets: None, tmp_path: Path
) -> None:
    command = [modelreg_exe, "--repo", str(registry.root), "serve", "--port", "0"]
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr_file:
        process = subprocess.Popen(
            with_low_open_files([*command, "--poll", "0.2"]),
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    port = announced_port(process, log)
    flood = Flood(port)
    failure: Exception | None = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            def ready() -> bool:
                try:
                    return client.get("/v2/health/ready").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(ready, timeout=20, what="the server to start")
            # Idle connections, heads that never end, bodies that stall.
            flood.open(FLOOD // 2)
            flood.open(FLOOD // 4, partial_head())
            flood.open(8, stalled_body())
            flood.open(FLOOD // 4, partial_head("/v2/health/ready"))
            assert client.get("/v2/health/ready").json() == {"ready": True}
            assert (
                httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5).status_code == 200
            )
            assert served_version(client) == "1"
            # The follower still reads the registry and loads a version.
            promote = [modelreg_exe, "--repo", str(registry.root), "promote", MODEL, "2"]
            promoted = subprocess.run(
                [*promote, "--to", "production"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            assert promoted.returncode == 0, promoted.stderr
            flood.open(FLOOD // 2)
            wait_for(lambda: served_version(client) == "2", timeout=10, what="version 2")
            assert client.get("/v2/health/ready").json() == {"ready": True}
    except Exception as exc:  # reported below, with the server's log
        failure = exc
    finally:
        flood.close()
        process.terminate()
        process.wait(timeout=30)
    stderr = log.read_text()
    assert failure is None, f"{failure!r}\n--- the server's log:\n{stderr[-3000:]}"
    assert "Too many open files" not in stderr, stderr[-3000:]
    assert "digits now serves version 2 (was version 1)" in stderr


# --- each limit, in process, with short timeouts ------------------------------------------


class LimitedServer(LiveServer):
    """:class:`LiveServer` configured as ``modelreg serve`` configures uvicorn."""

    def __init__(self, root: Path, limits: ServeLimits) -> None:
        super().__init__(prepare(root, [f"{MODEL}@production"]))
        app = create_app(
            self.server.routes,
            self.server.follower,
            self.server.metrics,
            poll=0.1,
            max_inflight=limits.max_inflight,
        )
        config = server_config(
            app, host="127.0.0.1", port=self.port, limits=limits, log_level="warning"
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.uvicorn.run, kwargs={"sockets": [self.socket]}, daemon=True
        )


def connect(live: LiveServer, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def closed_after(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sent until it closed ``sock``, and how long that took."""
    started = time.monotonic()
    received = b""
    with sock:
        while True:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def is_closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def get(path: str, live: LiveServer) -> httpx.Response:
    """A request on a new connection."""
    return httpx.get(live.url + path, timeout=5)


def test_slow_heads_and_bodies_are_cut_off(registry: Workspace) -> None:
    limits = ServeLimits(header_timeout=0.6, body_timeout=0.6, keep_alive=1)
    with LimitedServer(registry.root, limits) as live:
        idle = connect(live)
        slow_head = connect(live, partial_head())
        slow_body = connect(live, stalled_body())
        answer, waited = closed_after(idle)
        assert answer == b"" and 0.3 < waited < 3
        assert closed_after(slow_head)[0] == b""
        assert closed_after(slow_body)[0].startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        # A kept-alive connection gets the same deadline for its next request's head.
        kept = connect(live, b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in kept.recv(4096)
        kept.sendall(b"GET /v2/health/ready HTTP/1.1\r\n")
        answer, waited = closed_after(kept)
        assert answer == b"" and waited < 3
        # A head sent in pieces, each in time, is served; so is a body.
        piecewise = connect(live, b"GET /v2/health/")
        time.sleep(0.2)
        piecewise.sendall(b"live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"200 OK" in closed_after(piecewise)[0]
        # An upgrade request: answered as HTTP (no WebSocket library installed) or
        # refused as a WebSocket (no such route), never left hanging.
        upgrade = connect(
            live,
            b"GET /v2 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        assert closed_after(upgrade)[0].startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 403 "))
        response = live.client.post(INFER, json=digit_input())
        assert response.status_code == 200, response.text
        # The stalled body's inference slot was given back.
        assert get("/metrics", live).status_code == 200


def test_connection_cap_pushes_out_idle_connections_before_refusing(registry: Workspace) -> None:
    limits = ServeLimits(max_connections=4, header_timeout=30, body_timeout=30, max_inflight=10)
    with LimitedServer(registry.root, limits) as live:
        idle = [connect(live) for _ in range(4)]
        connections = live.uvicorn.server_state.connections
        wait_for(lambda: len(connections) == 4, timeout=10, what="4 connections accepted")
        assert get("/v2/health/ready", live).json() == {"ready": True}
        assert is_closed(idle[0])  # the oldest idle connection made room
        # Connections with a request in progress are never pushed out: past the cap
        # with nothing idle, a new connection is refused at once.
        stalled = [connect(live, stalled_body()) for _ in range(4)]
        assert all(is_closed(sock) for sock in idle[1:])  # each waits up to 2 s
        # Refused at once: within the client's 5 s, although nothing frees up for 30 s.
        with contextlib.suppress(httpx.RemoteProtocolError, httpx.ConnectError):
            assert get("/v2/health/ready", live).status_code == 503
        for sock in stalled:
            sock.close()
        wait_for(lambda: get("/v2/health/ready", live).status_code == 200, timeout=10)
        for sock in idle:
            sock.close()


def test_inference_past_the_slots_is_answered_503_at_once(registry: Workspace) -> None:
    limits = ServeLimits(max_inflight=2, body_timeout=30)
    with LimitedServer(registry.root, limits) as live:
        stalled = [connect(live, stalled_body()), connect(live, stalled_body("/predict"))]
        # Both slots are taken once the stalled bodies' requests reached the app.
        wait_for(
            lambda: httpx.post(live.url + INFER, json=digit_input(), timeout=5).status_code == 503,
            timeout=10,
            what="the two stalled requests to take both slots",
        )
        for path, body in ((INFER, digit_input()), ("/predict", {"inputs": [[0.5] * 64]})):
            # At once: the slots stay taken for 30 s, past the client's 5 s.
            response = httpx.post(live.url + path, json=body, timeout=5)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert "limit" in response.json()["error"]
        assert live.client.get("/v2/health/ready").status_code == 200
        for sock in stalled:
            sock.close()
        wait_for(
            lambda: live.client.post(INFER, json=digit_input()).status_code == 200,
            timeout=10,
            what="a slot to free",
        )


# --- the command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "why"),
    [
        ("--port", None, "the port is in use"),  # None: the port held below
        ("--host", "no-such-host.invalid", "give an address or a host name"),
    ],
)
def test_serve_that_cannot_start_exits_1_with_one_line(
    registry: Workspace, modelreg_exe: str, option: str, value: str | None, why: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        value = value or str(taken.getsockname()[1])
        done = subprocess.run(
            [modelreg_exe, "--repo", str(registry.root), "serve", option, value],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and value in line and why in line, line


def test_the_serve_options_default_to_the_library_limits() -> None:
    from modelreg.cli import cli

    options = {param.name: param.default for param in cli.commands["serve"].params}
    limits = ServeLimits()
    for name in ("max_connections", "header_timeout", "body_timeout", "keep_alive"):
        assert options[name] == getattr(limits, name), name
    assert options["max_inflight"] == limits.max_inflight
    assert inspect.signature(create_app).parameters["max_inflight"].default == limits.max_inflight


def test_connections_leave_room_for_files() -> None:
    assert connection_cap(1000, 1 << 20) == 1000
    assert connection_cap(1000, 1024) == 768
    assert connection_cap(1000, 384) == 256
    with pytest.raises(InputError, match="ulimit -n"):
        connection_cap(1000, 130)
    assert connection_cap(1000, None) == 1000
    assert accept_backlog(1 << 20, 1000) == 2048
    assert accept_backlog(None, 1000) == 2048
    assert accept_backlog(1024, 768) == 128


def test_the_soft_open_file_limit_is_raised_to_the_hard_one() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard open-file limit here is {hard}")
    script = (
        "import resource; "
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)); "
        "from modelreg.serve.limits import raise_open_file_limit; "
        "print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    reported, soft = (int(n) for n in done.stdout.split())
    assert reported == soft > 256
