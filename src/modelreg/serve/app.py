"""The inference server's HTTP surface: an ASGI app (FastAPI) run under uvicorn.

Endpoints:

- the Open Inference Protocol (KServe v2, Triton): ``/v2``, ``/v2/health/live``,
  ``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]``, ``.../ready`` and
  ``.../infer``;
- the seeds' shape, for the first model served: ``GET /model/info``, ``POST /predict``;
- ``/metrics`` for Prometheus; ``/openapi.json`` describes all of them.

Request bodies are read and checked by hand (:mod:`modelreg.serve.tensors`), not
by a request model: the checks give one-line messages in the protocol's
``{"error": ...}`` shape, and they cost less than model validation on the hot
path. Every response to an inference names the version that answered it, in the
body and in the ``X-Model-Version`` header.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from modelreg import __version__
from modelreg.serve.limits import DEFAULT_MAX_BODY, ServeLimits
from modelreg.serve.metrics import CONTENT_TYPE, Metrics
from modelreg.serve.routes import Follower, LoadedModel, Route
from modelreg.serve.tensors import (
    RequestError,
    classify,
    decode_predict,
    decode_v2,
    encode_v2,
    json_safe,
    parse_json,
)

__all__ = ["create_app"]

log = logging.getLogger("modelreg.serve")
VERSION_HEADER = "X-Model-Version"
UNKNOWN_MODEL = "(unknown)"

_ERROR = {
    "description": "The request cannot be served; the message says why.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}
_TENSOR_DATA = {
    "type": "array",
    "description": "Row-major values, flat or nested.",
    "items": {},
}
_TENSOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "datatype", "shape", "data"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {
            "type": "string",
            "enum": [
                "BOOL",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ],
        },
        "shape": {"type": "array", "items": {"type": "integer"}},
        "parameters": {"type": "object"},
        "data": _TENSOR_DATA,
    },
}
_METADATA_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
_INFER_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
            },
        },
    },
}
_INFER_RESPONSE = {
    "type": "object",
    "required": ["model_name", "model_version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "outputs": {"type": "array", "items": _TENSOR},
    },
}
_MODEL_METADATA = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": _METADATA_TENSOR},
        "outputs": {"type": "array", "items": _METADATA_TENSOR},
    },
}
_PREDICT_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "description": "One example or a batch, as nested arrays; an object keyed by "
            "input name for a model with several inputs.",
            "oneOf": [{"type": "array"}, {"type": "object"}],
        }
    },
}
_PREDICT_RESPONSE = {
    "type": "object",
    "required": ["model_name", "version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "version": {"type": "string"},
        "stage": {"type": "string"},
        "predictions": {"type": "array", "items": {"type": "object"}},
        "outputs": {"type": "object"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Busy(RequestError):
    """Every inference slot is taken: answered 503 with Retry-After, before the body is read."""

    def __init__(self, slots: int) -> None:
        super().__init__(
            f"the server is running {slots} inference requests, its limit; retry shortly", 503
        )


class _Slots:
    """A bound on inference requests in progress that never waits: a request over it
    is refused at once, so a queue of bodies cannot build up in memory. Used from
    the event loop only (no lock)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.taken >= self.limit:
            raise _Busy(self.limit)
        self.taken += 1
        try:
            yield
        finally:
            self.taken -= 1


@dataclass
class _Outcome:
    """What one inference request served, for its metrics and headers."""

    model: str
    version: str = ""
    started: float = field(default_factory=time.perf_counter)

    def answer(self, body: bytes) -> Response:
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        return Response(
            body,
            media_type="application/json",
            headers={VERSION_HEADER: self.version, "Server-Timing": f"app;dur={elapsed_ms:.3f}"},
        )


async def _measured(
    metrics: Metrics,
    endpoint: str,
    model: str,
    handle: Callable[[_Outcome], Awaitable[Response]],
) -> Response:
    """``handle``'s response, or the 4xx its :class:`RequestError` asks for; counted either way.

    Series are labelled by served names only (``model`` until the route is known):
    a client must not create series.
    """
    outcome = _Outcome(model)
    code = 200
    try:
        response = await handle(outcome)
        code = response.status_code
        return response
    except RequestError as exc:
        code = exc.status
        response = _error(exc.status, str(exc))
        if isinstance(exc, _Busy):
            # The body was not read: close rather than read what is left of it.
            response.headers.update({"Retry-After": "1", "Connection": "close"})
        return response
    except Exception:
        code = 500
        raise
    finally:
        elapsed = time.perf_counter() - outcome.started
        metrics.request(outcome.model, outcome.version, endpoint, code, elapsed)


def _encoded(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _read_body(request: Request, limit: int) -> bytes:
    """The body's bytes; a 413 past ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"the request body is {declared} bytes; the limit is {limit}", 413)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(f"the request body is over the limit of {limit} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError("the client closed the connection during the request", 499) from None
    return b"".join(chunks)


def _run(model: LoadedModel, outputs: Sequence[str], feeds: dict[str, np.ndarray]) -> list[Any]:
    """The session's outputs. Every session passed a warm-up run and the feeds passed the
    checks, so an error here comes of the values sent (a shape the graph cannot take):
    the client's to fix, answered 4xx with ONNX Runtime's reason."""
    try:
        return model.run(outputs, feeds)
    except MemoryError:
        raise RequestError("the request needs more memory than the server has", 413) from None
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        log.warning("%s/%d refused a request: %s", model.version.model, model.number, text)
        if "out of memory" in text.lower() or "failed to allocate" in text.lower():
            raise RequestError(f"the request is too large for the model: {text}", 413) from None
        raise RequestError(f"the model cannot run on these inputs: {text}") from None


def _predictions(model: LoadedModel, first: np.ndarray) -> list[dict[str, Any]]:
    """Per example: the top class, its index and probability, for a classifier's output
    (null for an example whose outputs are not all finite). ``modelreg predict`` ranks
    with the same :func:`classify`."""
    classes = model.version.signature.classes if model.version.signature else ()
    classified = classify(first, classes)
    if classified is None:
        return []
    return [
        row[0].to_json() if row else {"index": None, "label": None, "confidence": None}
        for row in classified.rows
    ]


def _model_metadata(route: Route, model: LoadedModel) -> dict[str, Any]:
    serving = route.current()
    versions = [str(serving.primary.number)]
    if serving.canary is not None:
        versions.append(str(serving.canary.number))
    return {
        "name": route.name,
        "versions": versions,
        "platform": "onnxruntime_onnx",
        "inputs": [spec.to_metadata() for spec in model.inputs.values()],
        "outputs": [spec.to_metadata() for spec in model.outputs.values()],
    }


def _model_info(route: Route) -> dict[str, Any]:
    serving = route.current()
    version = serving.primary.version
    lineage = version.lineage.to_document()
    canary = (
        {"version": str(serving.canary.number), "weight": serving.target.weight}
        if serving.canary is not None
        else None
    )
    return {
        "model_name": version.model,
        "name": route.name,
        "version": str(version.version),
        "stage": serving.stage,
        "reference": str(route.ref),
        "description": version.description,
        "created": version.created.isoformat().replace("+00:00", "Z"),
        "metrics": dict(version.metrics),
        "classes": list(version.signature.classes) if version.signature else [],
        "inputs": [spec.to_metadata() for spec in serving.primary.inputs.values()],
        "outputs": [spec.to_metadata() for spec in serving.primary.outputs.values()],
        "lineage": lineage,
        "canary": canary,
    }


def _example_bodies(route: Route) -> dict[str, Any]:
    """A valid request for each kind of endpoint, from the model served at start."""
    model = route.current().primary
    tensors = {name: spec.placeholder() for name, spec in model.inputs.items()}
    feeds = {name: value.tolist() for name, value in tensors.items()}
    return {
        "infer": {"inputs": [encode_v2(name, value) for name, value in tensors.items()]},
        "predict": {"inputs": feeds if len(feeds) > 1 else next(iter(feeds.values()))},
    }


def create_app(
    routes: Sequence[Route],
    follower: Follower,
    metrics: Metrics,
    *,
    poll: float = 2.0,
    max_body: int = DEFAULT_MAX_BODY,
    max_inflight: int = ServeLimits.max_inflight,
) -> FastAPI:
    """The ASGI app serving ``routes``; its lifespan starts and stops ``follower``'s polling.

    At most ``max_inflight`` inference requests (``infer`` and ``predict`` together)
    are read and run at once; more are answered 503 with ``Retry-After``.
    """
    by_name = {route.name: route for route in routes}
    slots = _Slots(max_inflight)
    default = routes[0]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follower.start(poll)
        try:
            yield
        finally:
            follower.stop()

    app = FastAPI(
        title="modelreg inference server",
        version=__version__,
        description="Serves registry versions with ONNX Runtime and follows their stage "
        "pointers: the Open Inference Protocol (KServe v2) and a simple /predict.",
        lifespan=lifespan,
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Unknown paths and methods answer in the protocol's error shape too.
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first['msg']}" if where else str(first["msg"]))

    def route_named(name: str) -> Route:
        route = by_name.get(name)
        if route is None:
            raise RequestError(
                f"no model named {name!r} is served; served: {', '.join(by_name)}", 404
            )
        return route

    async def infer(name: str, request: Request, version: str | None) -> Response:
        async def handle(outcome: _Outcome) -> Response:
            route = route_named(name)
            outcome.model = route.name
            if "inference-header-content-length" in request.headers:
                raise RequestError(
                    "binary tensor data is not supported; send the data as JSON "
                    "(tritonclient: binary_data=False on each input and output)"
                )
            with slots.hold():
                return await answer(outcome, route)

        async def answer(outcome: _Outcome, route: Route) -> Response:
            body = await _read_body(request, max_body)
            model = route.pick(version)
            outcome.version = str(model.number)

            def compute() -> bytes:
                feeds, wanted, request_id = decode_v2(parse_json(body), model.inputs, model.outputs)
                results = _run(model, wanted, feeds)
                payload: dict[str, Any] = {
                    "model_name": route.name,
                    "model_version": outcome.version,
                }
                if request_id is not None:
                    payload["id"] = request_id
                payload["outputs"] = [
                    encode_v2(n, np.asarray(v)) for n, v in zip(wanted, results, strict=True)
                ]
                return _encoded(payload)

            # Parsing, checks, inference and encoding run off the event loop, in one hop.
            return outcome.answer(await run_in_threadpool(compute))

        return await _measured(metrics, "infer", UNKNOWN_MODEL, handle)

    infer_doc: dict[str, Any] = {
        "openapi_extra": _body(_INFER_REQUEST),
        "responses": {
            200: _json(_INFER_RESPONSE, "The outputs, and the version that computed them."),
            400: _ERROR,
            404: _ERROR,
            413: _ERROR,
            503: _ERROR,
        },
        "tags": ["inference protocol"],
    }

    @app.post("/v2/models/{name}/infer", **infer_doc)
    async def model_infer(name: str, request: Request) -> Response:
        """Run the model: the stage's version, or the canary for its share of requests."""
        return await infer(name, request, None)

    @app.post("/v2/models/{name}/versions/{version}/infer", **infer_doc)
    async def version_infer(name: str, version: str, request: Request) -> Response:
        """Run one loaded version (the primary or the canary) by number."""
        return await infer(name, request, version)

    metadata_doc: dict[str, Any] = {
        "responses": {200: _json(_MODEL_METADATA, "Inputs and outputs."), 404: _ERROR},
        "tags": ["inference protocol"],
    }

    @app.get("/v2/models/{name}", **metadata_doc)
    async def model_metadata(name: str) -> Response:
        """The model's inputs and outputs, and the versions it serves now."""
        try:
            route = route_named(name)
            return JSONResponse(_model_metadata(route, route.current().primary))
        except RequestError as exc:
            return _error(exc.status, str(exc))

    @app.get("/v2/models/{name}/versions/{version}", **metadata_doc)
    async def version_metadata(name: str, version: str) -> Response:
        """One loaded version's inputs and outputs."""
        try:
            route = route_named(name)
            return JSONResponse(_model_metadata(route, route.pick(version)))
        except RequestError as exc:
            return _error(exc.status, str(exc))

    ready_doc: dict[str, Any] = {
        "responses": {
            200: _json(
                {
                    "type": "object",
                    "required": ["name", "ready"],
                    "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
                },
                "Whether the model answers requests.",
            ),
            404: _ERROR,
        },
        "tags": ["inference protocol"],
    }

    @app.get("/v2/models/{name}/ready", **ready_doc)
    async def model_ready(name: str) -> Response:
        """Whether the model is loaded."""
        try:
            route = route_named(name)
        except RequestError as exc:
            return _error(exc.status, str(exc))
        return JSONResponse({"name": name, "ready": route.serving is not None})

    @app.get("/v2/models/{name}/versions/{version}/ready", **ready_doc)
    async def version_ready(name: str, version: str) -> Response:
        """Whether this version is loaded (as the primary or the canary)."""
        try:
            route_named(name).pick(version)
        except RequestError as exc:
            return _error(exc.status, str(exc))
        return JSONResponse({"name": name, "ready": True})

    health = {"type": "object", "properties": {"live": {"type": "boolean"}}}

    @app.get(
        "/v2/health/live",
        responses={200: _json(health, "The server is up.")},
        tags=["inference protocol"],
    )
    async def live() -> Response:
        """The process answers."""
        return JSONResponse({"live": True})

    @app.get(
        "/v2/health/ready",
        responses={
            200: _json(
                {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                "Every model is loaded.",
            )
        },
        tags=["inference protocol"],
    )
    async def ready() -> Response:
        """Every model served is loaded."""
        return JSONResponse({"ready": all(route.serving is not None for route in routes)})

    @app.get(
        "/v2",
        responses={
            200: _json(
                {
                    "type": "object",
                    "required": ["name", "version", "extensions"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "extensions": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "The server's name and version.",
            )
        },
        tags=["inference protocol"],
    )
    async def server_metadata() -> Response:
        """The server's name and version."""
        return JSONResponse({"name": "modelreg", "version": __version__, "extensions": []})

    @app.get(
        "/model/info",
        responses={200: _json({"type": "object"}, "The version served and its record.")},
        tags=["simple"],
    )
    async def model_info() -> Response:
        """The first model's served version: stage, metrics, classes, lineage, canary."""
        return JSONResponse(_model_info(default))

    @app.post(
        "/predict",
        openapi_extra=_body(_PREDICT_REQUEST),
        responses={
            200: _json(_PREDICT_RESPONSE, "Outputs, the top class per example, the version."),
            400: _ERROR,
            413: _ERROR,
            503: _ERROR,
        },
        tags=["simple"],
    )
    async def predict(request: Request) -> Response:
        """Run the first model on nested arrays; its dtype is taken from the model."""

        async def handle(outcome: _Outcome) -> Response:
            with slots.hold():
                return await answer(outcome)

        async def answer(outcome: _Outcome) -> Response:
            body = await _read_body(request, max_body)
            serving = default.current()
            model = default.pick(serving=serving)
            outcome.version = str(model.number)

            def compute() -> bytes:
                feeds = decode_predict(parse_json(body), model.inputs)
                names = list(model.outputs)
                results = [np.asarray(v) for v in _run(model, names, feeds)]
                return _encoded(
                    {
                        "model_name": model.version.model,
                        "version": outcome.version,
                        "stage": serving.stage,
                        "predictions": _predictions(model, results[0]),
                        "outputs": {n: json_safe(v) for n, v in zip(names, results, strict=True)},
                    }
                )

            return outcome.answer(await run_in_threadpool(compute))

        return await _measured(metrics, "predict", default.name, handle)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Metrics."}},
        tags=["operations"],
    )
    async def prometheus() -> Response:
        """Requests, latency, versions served and reloads, for Prometheus."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, with the names served (and version numbers) as the values
        the path parameters take, so clients and fuzzers reach the models."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            example = _example_bodies(default)
            for path, operations in schema["paths"].items():
                for operation in operations.values():
                    body = operation.get("requestBody", {}).get("content", {})
                    if "application/json" in body:
                        kind = "predict" if path == "/predict" else "infer"
                        body["application/json"]["example"] = example[kind]
                    for parameter in operation.get("parameters", ()):
                        if parameter["name"] == "name":
                            parameter["schema"] = {"type": "string", "enum": list(by_name)}
                        elif parameter["name"] == "version":
                            parameter["schema"] = {"type": "string", "pattern": "^[1-9][0-9]*$"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
