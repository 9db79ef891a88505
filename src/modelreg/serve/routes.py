"""What the inference server serves, and how it follows the registry.

Each served name is a :class:`Route`: a reference (``digits@production``) and the
:class:`Serving` it resolves to now, one immutable object holding the primary
version's loaded session and, when the stage has a canary, the canary's. A
request takes the route's current ``Serving`` once and uses only it, so a swap
(one attribute assignment) never changes a request half-way: requests in flight
finish on the sessions they started with.

The :class:`Follower` polls the pointers, in the working tree or as committed on
a fetched remote branch. When a reference moves, it loads the new version off the
request path: verified bytes (working tree, DVC cache or remote, checked by md5),
a new ONNX Runtime session, its signature checked against the manifest, one
warm-up run, and only then the swap. A version that fails any step is refused,
logged and counted, and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreg.artifacts.local import artifact_of
from modelreg.artifacts.pull import verified_bytes
from modelreg.core.errors import InputError, ModelregError, NotFoundError
from modelreg.core.model import ModelVersion
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.core.registry import Registry
from modelreg.serve.metrics import Metrics
from modelreg.serve.tensors import InputSpec, RequestError

__all__ = [
    "Follower",
    "LoadedModel",
    "Route",
    "Server",
    "Serving",
    "Target",
    "default_refs",
    "load_version",
    "parse_served",
    "prepare",
]

log = logging.getLogger("modelreg.serve")

# A version that failed to load is tried again after this long, not at every poll.
RETRY_FAILED_S = 60.0
# A fetch of the followed branch that takes longer is abandoned (and tried at the next poll).
FETCH_TIMEOUT_S = 60.0
# Loaded versions a route keeps besides the ones it serves, so a rollback swaps at once.
KEEP_LOADED = 2


@dataclass(frozen=True)
class LoadedModel:
    """One version's ONNX Runtime session, ready to run."""

    version: ModelVersion
    session: Any
    inputs: dict[str, InputSpec]
    outputs: dict[str, InputSpec]
    source: str
    md5: str

    @property
    def number(self) -> int:
        return self.version.version

    def run(self, output_names: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(list(output_names), feeds))


def providers() -> list[str]:
    """CUDA when ONNX Runtime's GPU build finds a GPU, the CPU otherwise."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def load_version(
    root: Path, version: ModelVersion, *, threads: int = 0, remote: str | None = None
) -> LoadedModel:
    """``version``'s ONNX model as a warmed session, or a :class:`ModelregError` saying why not."""
    import onnxruntime as ort

    artifact = artifact_of(version, "onnx")
    if artifact is None:
        raise NotFoundError(
            f"{version.ref} has no ONNX artifact to serve; export one with "
            f"'modelreg export {version.ref}'"
        )
    data, source = verified_bytes(root, version, artifact, remote=remote)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(data, options, providers=providers())
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise InputError(
            f"{version.ref}: ONNX Runtime cannot load {artifact.path}: {_one_line(exc)}"
        ) from None
    try:
        inputs = {node.name: InputSpec.from_ort(node) for node in session.get_inputs()}
        outputs = {node.name: InputSpec.from_ort(node) for node in session.get_outputs()}
    except ValueError as exc:
        raise InputError(f"{version.ref}: {exc}") from None
    _check_signature(version, inputs, outputs)
    try:
        session.run(None, {name: spec.placeholder() for name, spec in inputs.items()})
    except Exception as exc:
        raise InputError(f"{version.ref}: the warm-up run failed: {_one_line(exc)}") from None
    return LoadedModel(version, session, inputs, outputs, source, artifact.md5)


def _check_signature(
    version: ModelVersion, inputs: dict[str, InputSpec], outputs: dict[str, InputSpec]
) -> None:
    """The session must take what the manifest says it takes: clients are built on that."""
    signature = version.signature
    if signature is None:
        return
    for kind, declared, actual in (
        ("inputs", signature.inputs, inputs),
        ("outputs", signature.outputs, outputs),
    ):
        recorded = [(t.name, "object" if t.dtype == "string" else t.dtype) for t in declared]
        loaded = [(s.name, s.dtype) for s in actual.values()]
        if recorded != loaded:
            raise InputError(
                f"{version.ref}: the ONNX file's {kind} {loaded} are not the manifest's "
                f"signature {recorded}; the artifact does not belong to this version"
            )


@dataclass(frozen=True)
class Target:
    """What a reference resolves to at one moment."""

    version: int
    canary: int | None = None
    weight: float = 0.0


@dataclass(frozen=True)
class Serving:
    """A route's sessions at one moment; replaced whole, never changed."""

    target: Target
    primary: LoadedModel
    canary: LoadedModel | None = None
    stage: str = ""  # the stage or alias followed, as the registry names it


class Route:
    """One served name: a reference and what it serves now."""

    def __init__(self, name: str, ref: ModelRef) -> None:
        self.name = name
        self.ref = ref
        self.serving: Serving | None = None
        self.failed: dict[Target, float] = {}  # target -> when it last failed to load
        self._loaded: OrderedDict[tuple[int, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._sent = 0
        self._to_canary = 0

    @property
    def follows(self) -> bool:
        """Whether the route moves with the registry (a stage, alias or latest); a
        version, by number or by semver, never moves."""
        return self.ref.selector not in ("version", "semver")

    @property
    def label(self) -> str:
        """The stage or alias followed, or what the reference selects."""
        if self.ref.selector == "pointer":
            return str(self.ref.pointer)
        if self.ref.selector == "semver":
            return f"v{self.ref.semver}"
        return "latest" if self.follows else f"version {self.ref.version}"

    def current(self) -> Serving:
        serving = self.serving
        if serving is None:
            raise RequestError(f"model {self.name!r} is not loaded yet", 503)
        return serving

    def pick(self, version: str | None = None, *, serving: Serving | None = None) -> LoadedModel:
        """The session for one request: the canary for its share, else the primary;
        or the loaded version asked for by number. ``serving``: a snapshot the caller
        already took (default: the current one)."""
        if version is not None:
            current = serving or self.current()
            for loaded in (current.primary, current.canary):
                if loaded is not None and str(loaded.number) == version:
                    return loaded
            shown = version if len(version) <= 20 else version[:17] + "..."
            raise RequestError(
                f"model {self.name!r} does not serve version {shown!r} now "
                f"(it serves {_served_text(current)})",
                404,
            )
        with self._lock:
            current = serving or self.current()
            if current.canary is None:
                return current.primary
            if current is self.serving:  # the split's counters belong to the current one
                self._sent += 1
                # Exact shares: after n requests the canary has had ceil(weight * n).
                if self._to_canary < current.target.weight * self._sent:
                    self._to_canary += 1
                    return current.canary
        return current.primary

    def swap(self, serving: Serving) -> None:
        with self._lock:
            self.serving = serving
            self._sent = self._to_canary = 0
        for loaded in (serving.primary, serving.canary):
            if loaded is not None:
                self._remember(loaded, serving)

    def _remember(self, loaded: LoadedModel, serving: Serving) -> None:
        key = (loaded.number, loaded.md5)
        self._loaded[key] = loaded
        self._loaded.move_to_end(key)
        in_use = {(m.number, m.md5) for m in (serving.primary, serving.canary) if m is not None}
        spare = [k for k in self._loaded if k not in in_use]
        for key in spare[: max(0, len(spare) - KEEP_LOADED)]:
            del self._loaded[key]

    def reuse(self, version: ModelVersion) -> LoadedModel | None:
        """A session this route loaded before for exactly this version's ONNX file."""
        artifact = artifact_of(version, "onnx")
        if artifact is None:
            return None
        return self._loaded.get((version.version, artifact.md5))


def _input_specs(loaded: LoadedModel) -> list[tuple[str, str, tuple[int | None, ...]]]:
    return [(spec.name, spec.dtype, spec.shape) for spec in loaded.inputs.values()]


def _inputs_text(loaded: LoadedModel) -> str:
    return ", ".join(
        f"{spec.name} {spec.datatype}{list(spec.to_metadata()['shape'])}"
        for spec in loaded.inputs.values()
    )


def _served_text(serving: Serving) -> str:
    if serving.canary is None:
        return f"version {serving.primary.number}"
    return f"version {serving.primary.number}, canary {serving.canary.number}"


def parse_served(specs: Sequence[str]) -> list[Route]:
    """``REF`` or ``NAME=REF`` arguments as routes; a name may be served once."""
    routes: list[Route] = []
    for spec in specs:
        name, sep, ref_text = spec.partition("=")
        if not sep:
            ref_text = spec
        ref = parse_ref(ref_text)
        served = name if sep else ref.model
        if not served or any(c in served for c in "/?#% ") or served.startswith("."):
            raise InputError(f"{spec!r}: the served name {served!r} cannot be part of a URL path")
        if any(r.name == served for r in routes):
            raise InputError(
                f"{served!r} is served twice; name the second one, e.g. "
                f"'{served}-{ref.pointer or 'other'}={ref_text}'"
            )
        routes.append(Route(served, ref))
    return routes


class Follower:
    """Loads what each route's reference names, and keeps following it."""

    def __init__(
        self,
        root: Path,
        routes: Sequence[Route],
        metrics: Metrics,
        *,
        follow: str | None = None,
        remote: str | None = None,
        threads: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.routes = list(routes)
        self.metrics = metrics
        self.follow = follow
        self.remote = remote
        self.threads = threads
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading the registry ----------------------------------------------------------

    def open_registry(self) -> Registry:
        """The registry as the follower reads it: the working tree, or the fetched branch."""
        if self.follow is None:
            return Registry.open(self.root)
        remote, _, branch = self.follow.partition("/")
        self._fetch(remote, branch)
        return Registry.open(self.root, rev=f"refs/remotes/{remote}/{branch}")

    def _fetch(self, remote: str, branch: str) -> None:
        from modelreg.core.git import Git

        Git(self.root).run(
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            timeout=FETCH_TIMEOUT_S,  # a hung fetch must not stop the polls for good
        )

    def _target(
        self, registry: Registry, route: Route
    ) -> tuple[Target, ModelVersion, ModelVersion | None, str]:
        """What ``route``'s reference names in ``registry``: the target, the versions'
        manifests and the stage (or alias) name."""
        resolution = registry.resolve(route.ref)
        pointer = resolution.pointer
        canary = pointer.canary if pointer is not None else None
        canary_version = registry.version(route.ref.model, canary.version) if canary else None
        target = Target(
            resolution.version.version,
            canary.version if canary else None,
            canary.weight if canary else 0.0,
        )
        stage = pointer.name if pointer is not None else route.label
        return target, resolution.version, canary_version, stage

    # --- loading -----------------------------------------------------------------------

    def _load(
        self, route: Route, version: ModelVersion, *, like: LoadedModel | None = None
    ) -> LoadedModel:
        """``version``'s session (one loaded before, if any); ``like``: a canary must take
        the same inputs as the stage's version, since clients cannot tell which they get."""
        loaded = route.reuse(version) or load_version(
            self.root, version, threads=self.threads, remote=self.remote
        )
        if like is not None and _input_specs(loaded) != _input_specs(like):
            raise InputError(
                f"{version.ref} takes inputs {_inputs_text(loaded)}, but the stage's version "
                f"{like.number} takes {_inputs_text(like)}; a canary must take the same inputs"
            )
        return loaded

    def start_serving(self) -> None:
        """Load every route's current target; the first failure is raised (nothing is served)."""
        with self.open_registry() as registry:
            targets = [self._target(registry, route) for route in self.routes]
        for route, (target, version, canary, stage) in zip(self.routes, targets, strict=True):
            primary = self._load(route, version)
            canary_loaded = self._load(route, canary, like=primary) if canary else None
            self._swap(route, Serving(target, primary, canary_loaded, stage))
            log.info("serving %s: %s (%s)", route.name, version.ref, _served_text(route.current()))

    def refresh(self) -> None:
        """One poll: every route whose reference moved gets its new target, or keeps the old.

        Each route is followed on its own: one route's broken pointer or failed load
        never holds back another's move.
        """
        try:
            registry = self.open_registry()
        except ModelregError as exc:
            self.metrics.poll_failed()
            log.warning("poll failed, still serving what was loaded: %s", exc)
            return
        with registry:
            for route in self.routes:
                if not route.follows:
                    continue
                try:
                    found = self._target(registry, route)
                except ModelregError as exc:
                    self.metrics.poll_failed()
                    log.warning(
                        "%s: %s; still serving %s", route.name, exc, _served_text(route.current())
                    )
                    continue
                self._follow(route, *found)

    def _follow(
        self,
        route: Route,
        target: Target,
        version: ModelVersion,
        canary: ModelVersion | None,
        stage: str,
    ) -> None:
        serving = route.current()
        if serving.target == target:
            return
        failed_at = route.failed.get(target)
        if failed_at is not None and self.clock() - failed_at < RETRY_FAILED_S:
            return
        started = time.perf_counter()
        try:
            primary = self._load(route, version)
        except Exception as exc:  # any failure to load is a refusal, never the thread's end
            self._refuse(route, target, version.version, exc)
            return
        canary_loaded, canary_error = None, None
        if canary is not None:
            try:
                canary_loaded = self._load(route, canary, like=primary)
            except Exception as exc:
                canary_error = exc
        if canary_error is None:
            self._swap(route, Serving(target, primary, canary_loaded, stage))
        else:
            # The stage's own version still moves; the canary's share goes to it until the
            # canary loads (tried again after RETRY_FAILED_S).
            assert canary is not None
            without_canary = Serving(Target(target.version), primary, None, stage)
            moved = serving.target != without_canary.target or serving.stage != stage
            if moved:
                self._swap(route, without_canary)
            self._refuse(route, target, canary.version, canary_error)
            if not moved:
                return
        self.metrics.reload(route.name, version.version, True, time.perf_counter() - started)
        log.info(
            "%s now serves %s (was %s)",
            route.name,
            _served_text(route.current()),
            _served_text(serving),
        )

    def _refuse(self, route: Route, target: Target, number: int, exc: Exception) -> None:
        route.failed[target] = self.clock()
        self.metrics.reload(route.name, number, False)
        reason = exc if isinstance(exc, ModelregError) else f"{type(exc).__name__}: {exc}"
        log.error(
            "refused %s/%d for %s, still serving %s: %s",
            route.ref.model,
            number,
            route.name,
            _served_text(route.current()),
            reason,
        )

    def _swap(self, route: Route, serving: Serving) -> None:
        route.swap(serving)
        route.failed.clear()
        stage = serving.stage
        self.metrics.served(route.name, "primary", serving.primary.number, stage)
        self.metrics.served(
            route.name, "canary", serving.canary.number if serving.canary else None, stage
        )

    # --- the polling thread ------------------------------------------------------------

    def start(self, interval: float) -> None:
        if not any(route.follows for route in self.routes):
            return
        self._thread = threading.Thread(
            target=self._poll, args=(interval,), name="modelreg-follow", daemon=True
        )
        self._thread.start()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the thread must outlive any one bad poll
                self.metrics.poll_failed()
                log.exception("poll failed, still serving what was loaded")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def default_refs(registry: Registry) -> list[str]:
    """With no reference given: every model that has a version in production (or in
    the last stage declared)."""
    stages = registry.config.stages
    stage = "production" if "production" in stages else stages[-1]
    refs = [f"{name}@{stage}" for name in registry.model_names() if registry.pointer(name, stage)]
    if not refs:
        raise NotFoundError(
            f"no model has a version in {stage}; name what to serve, e.g. 'modelreg serve NAME/1'"
        )
    return refs


@dataclass
class Server:
    """Everything ``modelreg serve`` runs: routes loaded, their follower and the counters."""

    routes: list[Route]
    follower: Follower
    metrics: Metrics


def prepare(
    root: Path,
    specs: Sequence[str],
    *,
    follow: str | None = None,
    remote: str | None = None,
    threads: int = 0,
) -> Server:
    """Parse ``specs`` (``[NAME=]REF``; none: every production model) and load each one.

    Raises the first :class:`ModelregError` (bad reference, missing version, an
    artifact that fails verification): a server never starts half-loaded.
    """
    if follow is not None and "/" not in follow.strip("/"):
        raise InputError(f"--follow {follow!r}: name a remote branch, e.g. origin/main")
    metrics = Metrics()
    if not specs:
        follower = Follower(root, [], metrics, follow=follow, remote=remote, threads=threads)
        with follower.open_registry() as registry:
            specs = default_refs(registry)
    routes = parse_served(specs)
    follower = Follower(root, routes, metrics, follow=follow, remote=remote, threads=threads)
    follower.start_serving()
    return Server(routes, follower, metrics)
