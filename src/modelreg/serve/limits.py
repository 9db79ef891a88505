"""What one client may hold of the inference server: connections, time, file descriptors.

uvicorn bounds neither the time a client takes to send a request head nor the
number of connections it keeps open: ``limit_concurrency`` is checked only once
a head is complete, so a connection that never sends one holds its file
descriptor for good. About a thousand such connections exhaust the process's
descriptors; then every accept, model load and the follower's git and DVC calls
fail with "Too many open files".

:func:`protocol_class` returns uvicorn's httptools protocol with the missing
limits added, one deadline per connection at a time:

- the request head must be complete within ``header_timeout`` of the
  connection (or of the first byte of the next request on a kept-alive one);
- the body must be complete within ``body_timeout`` of the head, else the
  request is answered 408 (or, once a response started, the connection closed);
- between requests uvicorn's own ``timeout_keep_alive`` applies;
- at ``max_connections``, a new connection pushes out the oldest one that has
  no request in progress (idle, or still sending its head): a flood of idle
  connections cannot lock out clients that send requests. When every
  connection has a request in progress, the new one is answered 503 and closed.

:func:`connection_cap` keeps ``max_connections`` below the open-file limit, with
room left for model files, the follower's subprocesses and the DVC cache. This
matters twice under uvloop: an accept that fails for want of a descriptor makes
libuv drop every pending connection, real clients' too.

The subclass overrides only the parser callbacks and ``connection_made``/``lost``
and reads a few attributes (``connections``, ``pipeline``, ``cycle``); it was
written against uvicorn 0.54, and tests/test_serve_limits.py exercises each hook.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from modelreg.core.errors import InputError, ModelregError

if TYPE_CHECKING:
    # Imported where used, as are logging and socket: the CLI reads ServeLimits'
    # defaults for its options, and `modelreg --help` (and `show`) must not pay for
    # uvicorn, nor the ~8 ms of logging and socket.
    import asyncio

    import uvicorn
    from starlette.types import ASGIApp
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "ServeLimits",
    "accept_backlog",
    "check_port_free",
    "connection_cap",
    "fit_to_open_files",
    "protocol_class",
    "raise_open_file_limit",
    "run_server",
    "server_config",
]

# File descriptors kept free of connections: the listening socket, the event loop
# (about 20 in all once started), model files read at a reload, the follower's git
# and DVC subprocesses (three pipes each), DVC's cache database, and the connections
# accepted in one turn of the event loop before those pushed out are closed (see
# accept_backlog). A quarter of the limit, and never fewer than this.
MIN_RESERVED_FDS = 128
# uvicorn's default listen backlog, kept when descriptors are plenty.
DEFAULT_BACKLOG = 2048
# The fewest connections worth serving with; below it the open-file limit is an error.
MIN_CONNECTIONS = 8

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\n"
    b"content-length: 28\r\n"
    b"connection: close\r\n\r\n"
    b"too many connections; retry\n"
)
_BODY_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 39\r\n"
    b"connection: close\r\n\r\n"
    b"the request body did not arrive in time"
)


DEFAULT_MAX_BODY = 16 << 20  # bytes of one request body (serve --max-body, in MiB)


@dataclass(frozen=True)
class ServeLimits:
    """The server's limits; their defaults are the CLI's ``serve`` option defaults."""

    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: int = 5
    # Inference requests read, decoded and run at once; more are answered 503 at once.
    # Each may hold a body of max_body bytes and its decoded tensors in memory.
    max_inflight: int = 32
    backlog: int = DEFAULT_BACKLOG


def raise_open_file_limit() -> int | None:
    """Raise this process's soft open-file limit to its hard limit; return the soft
    limit (None: no limit, or a system without one).

    The soft limit is often 1024 while the hard one allows far more; a server that
    holds a connection per client should use what it is allowed.
    """
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit cannot be set as such on Linux (it is capped by
    # fs.nr_open), so aim at a large finite number instead.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):  # not allowed here: keep what we have
            pass
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(requested: int, open_files: int | None) -> int:
    """``requested``, lowered so that connections leave file descriptors for the rest."""
    if open_files is None:
        return requested
    reserved = max(MIN_RESERVED_FDS, open_files // 4)
    available = open_files - reserved
    if available < MIN_CONNECTIONS:
        raise InputError(
            f"the open-file limit is {open_files}, too low to serve: it needs at least "
            f"{reserved + MIN_CONNECTIONS}; raise it (ulimit -n 4096) and start again"
        )
    return min(requested, available)


def fit_to_open_files(limits: ServeLimits) -> ServeLimits:
    """``limits`` with ``max_connections`` lowered to what the open-file limit allows,
    after raising that limit as far as the process may."""
    open_files = raise_open_file_limit()
    cap = connection_cap(limits.max_connections, open_files)
    if open_files is not None and cap < limits.max_connections:
        import logging

        logging.getLogger("modelreg.serve").warning(
            "accepting at most %d connections, not %d: the open-file limit is %d "
            "(raise it with ulimit -n)",
            cap,
            limits.max_connections,
            open_files,
        )
    return replace(limits, max_connections=cap, backlog=accept_backlog(open_files, cap))


def accept_backlog(open_files: int | None, max_connections: int) -> int:
    """The listen backlog: at most half of the descriptors left over by connections.

    uvloop accepts every pending connection in one turn of its loop, and a connection
    closed to make room frees its descriptor only at the next turn; the backlog bounds
    how far one turn can go past the cap. (Were the limit reached anyway, libuv drops
    the pending connections and goes on.)
    """
    if open_files is None:
        return DEFAULT_BACKLOG
    return max(16, min(DEFAULT_BACKLOG, (open_files - max_connections) // 2))


def server_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    limits: ServeLimits,
    access_log: bool = False,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with ``limits`` (httptools protocol, uvloop
    where installed)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(limits),
        timeout_keep_alive=limits.keep_alive,
        backlog=limits.backlog,
        access_log=access_log,
        log_level=log_level,
    )


def run_server(
    app: ASGIApp, *, host: str, port: int, limits: ServeLimits, access_log: bool
) -> None:
    """Serve ``app`` under uvicorn with ``limits`` until interrupted.

    uvicorn ends a server that cannot start (a port taken since
    :func:`check_port_free`, a failed startup) with ``sys.exit(3)``; that becomes a
    :class:`ModelregError` here, so the command exits 1 like every other failure.
    """
    import uvicorn

    config = server_config(app, host=host, port=port, limits=limits, access_log=access_log)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit as exc:
        raise ModelregError(
            f"the server could not start on {host}:{port} (uvicorn exit status {exc.code}); "
            "its log above says why"
        ) from None
    if not server.started:
        raise ModelregError(f"the server could not start on {host}:{port}; its log above says why")


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`InputError` when ``host:port`` cannot be listened on.

    Checked before the models load, so a busy port fails in a second with one line
    instead of after the load with uvicorn's exit status 3.
    """
    import socket

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(
            f"--host {host!r}: {exc.strerror}; give an address or a host name"
        ) from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # As asyncio's server does: a port left in TIME_WAIT is free to listen on.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise InputError(
                        f"cannot listen on {host}:{port}: the port is in use; "
                        "stop what holds it or pick another --port (0: any free port)"
                    ) from None
                raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def protocol_class(limits: ServeLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` enforced, for ``uvicorn.Config(http=...)``.

    Each call makes a new class, whose connections are counted together: one per server.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # Connections with no request in progress, oldest first (a dict keeps insertion order).
    waiting: dict[HttpToolsProtocol, None] = {}

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            crowded = len(self.connections) >= limits.max_connections
            super().connection_made(transport)
            if crowded and not _push_out_oldest(self):
                transport.write(_REFUSED)
                transport.close()
                return
            waiting[self] = None
            self._arm(limits.header_timeout, self._head_timed_out)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            waiting.pop(self, None)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:  # the first byte of a next request on this connection
                self._arm(limits.header_timeout, self._head_timed_out)

        def on_headers_complete(self) -> None:
            waiting.pop(self, None)
            self._disarm()
            super().on_headers_complete()
            # Cancelled at once by on_message_complete when there is no body.
            self._arm(limits.body_timeout, self._body_timed_out)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def handle_websocket_upgrade(self) -> None:
            # The connection passes to uvicorn's WebSocket protocol and its own limits.
            self._disarm()
            waiting.pop(self, None)
            super().handle_websocket_upgrade()

        def on_response_complete(self) -> None:
            pipelined = bool(self.pipeline)
            super().on_response_complete()
            if not pipelined and not self.transport.is_closing():
                waiting[self] = None  # idle until its next request: may be pushed out

        def _arm(self, seconds: float, then: Callable[[], None]) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, then)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _head_timed_out(self) -> None:
            self._deadline = None
            waiting.pop(self, None)
            self.transport.close()

        def _body_timed_out(self) -> None:
            self._deadline = None
            cycle = self.cycle
            if cycle is not None and not cycle.response_started and not cycle.disconnected:
                self.transport.write(_BODY_TIMEOUT)
                # What connection_lost will do anyway: the app's receive() answers
                # http.disconnect and its sends are dropped, so nothing follows the 408.
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

    def _push_out_oldest(newcomer: HttpToolsProtocol) -> bool:
        """Close the connection that has waited longest without a request in progress."""
        while waiting:
            victim = next(iter(waiting))
            del waiting[victim]
            # Not counted from now on, though its descriptor is freed at the next turn
            # of the loop: without this, every connection accepted in the same turn
            # would push out another one.
            newcomer.connections.discard(victim)
            if not victim.transport.is_closing():
                victim.transport.close()
                return True
        return False

    return LimitedHttpToolsProtocol
