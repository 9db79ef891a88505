"""serve: the inference server on the registry's stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.serve.limits import ServeLimits

if TYPE_CHECKING:
    pass

from modelreg.cli.app import (
    Options,
    cli,
    complete_ref,
    pass_options,
)

# --- serving -----------------------------------------------------------------------------

# The serve options' defaults are the library's: one source for both.
_SERVE_DEFAULTS = ServeLimits()


@cli.command()
@click.argument("refs", nargs=-1, metavar="[[NAME=]REF]...", shell_complete=complete_ref)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free."
)
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between checks of the stage pointers.",
)
@click.option(
    "--follow",
    metavar="REMOTE/BRANCH",
    help="Follow the pointers as committed on this branch (fetched at every poll, e.g. "
    "origin/main) instead of the working tree.",
)
@click.option("--remote", metavar="NAME", help="The DVC remote to fetch artifacts from.")
@click.option(
    "--threads",
    default=0,
    type=click.IntRange(min=0),
    help="ONNX Runtime threads per session (default 0: one per core).",
)
@click.option(
    "--max-body",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="The largest request body accepted, in MiB.",
)
@click.option(
    "--max-connections",
    default=_SERVE_DEFAULTS.max_connections,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open connections at most (lowered to fit the open-file limit); past it, "
    "a new one replaces the oldest idle one, or is answered 503.",
)
@click.option(
    "--header-timeout",
    default=_SERVE_DEFAULTS.header_timeout,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a client has to send a request's headers.",
)
@click.option(
    "--body-timeout",
    default=_SERVE_DEFAULTS.body_timeout,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a client has to send a request's body, after its headers (408 after).",
)
@click.option(
    "--keep-alive",
    default=_SERVE_DEFAULTS.keep_alive,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds an idle connection is kept open for the next request.",
)
@click.option(
    "--max-inflight",
    default=_SERVE_DEFAULTS.max_inflight,
    show_default=True,
    type=click.IntRange(min=1),
    help="Inference requests read and run at once; more are answered 503 with Retry-After.",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@pass_options
def serve(
    options: Options,
    refs: tuple[str, ...],
    host: str,
    port: int,
    poll: float,
    follow: str | None,
    remote: str | None,
    threads: int,
    max_body: int,
    max_connections: int,
    header_timeout: float,
    body_timeout: float,
    keep_alive: int,
    max_inflight: int,
    access_log: bool,
) -> None:
    """Serve models over HTTP with ONNX Runtime, following their stage pointers.

    Each REF (NAME@production, NAME@champion, NAME/latest, NAME/3) is served as
    NAME, or under the name given as NAME=REF; with none, every model that has a
    version in production. Endpoints: the Open Inference Protocol (KServe v2:
    /v2/models/NAME/infer and its metadata and health), GET /model/info and
    POST /predict for the first model, /metrics for Prometheus, /docs and
    /openapi.json.

    When a pointer moves (promote, rollback, a merged pull request), the new
    version's ONNX file is verified by md5, loaded, warmed up and swapped in;
    requests in flight finish on the old one. A version that fails is refused and
    logged, and the old one keeps serving. A stage with a canary sends the
    canary its share of requests.
    """
    import logging

    from modelreg.api import serve_models

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    serve_log = logging.getLogger("modelreg.serve")
    serve_log.addHandler(handler)
    serve_log.setLevel(logging.INFO)
    limits = ServeLimits(
        max_connections=max_connections,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        keep_alive=keep_alive,
        max_inflight=max_inflight,
    )
    serve_models(
        options.repo,
        refs,
        host=host,
        port=port,
        poll=poll,
        follow=follow,
        remote=remote,
        threads=threads,
        max_body=max_body << 20,
        limits=limits,
        access_log=access_log,
    )
