"""``modelreg serve`` as one call: check the port, fit the limits, load, serve.

Kept apart from the app so that a missing ``serve`` extra fails in one line
before FastAPI or ONNX Runtime is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from modelreg.core.extras import require
from modelreg.core.source import find_repo_root
from modelreg.serve.limits import DEFAULT_MAX_BODY, ServeLimits

__all__ = ["serve_models"]


def serve_models(
    repo: str | Path | None,
    refs: Sequence[str] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    poll: float = 2.0,
    follow: str | None = None,
    remote: str | None = None,
    threads: int = 0,
    max_body: int = DEFAULT_MAX_BODY,
    limits: ServeLimits | None = None,
    access_log: bool = False,
) -> None:
    """Serve ``refs`` (``[NAME=]REF``; none: every model with a production version) of
    the registry at ``repo`` on ``host:port`` until interrupted, following their pointers.

    A busy port fails first, in one line, before any model loads; ``limits`` are
    lowered to what the open-file limit allows (logged on ``modelreg.serve``).
    """
    require("modelreg serve", "serve")
    from modelreg.serve.app import create_app
    from modelreg.serve.limits import check_port_free, fit_to_open_files, run_server
    from modelreg.serve.routes import prepare

    check_port_free(host, port)
    fitted = fit_to_open_files(limits or ServeLimits())
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    server = prepare(root, refs, follow=follow, remote=remote, threads=threads)
    app = create_app(
        server.routes,
        server.follower,
        server.metrics,
        poll=poll,
        max_body=max_body,
        max_inflight=fitted.max_inflight,
    )
    run_server(app, host=host, port=port, limits=fitted, access_log=access_log)
