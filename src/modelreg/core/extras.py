"""modelreg's optional parts, and the one line a command fails with when one is missing.

The base install (``pip install modelreg``) is the registry: init, register,
validate, promote, rollback, diff, history, report, dashboard and pull. What runs
models or talks to other systems is an extra, so a team that only keeps a registry
never installs torch, ONNX Runtime or MLflow:

    export   torch, ONNX Runtime    modelreg export, benchmark (a torch baseline)
    serve    FastAPI, uvicorn, ORT  modelreg serve, benchmark
    mlflow   MLflow                 import-mlflow, the MLflow registry plugin
    gpu      onnxruntime-gpu        serve and benchmark on CUDA (docs/gpu.md)
    s3/gs/azure  DVC's remotes      a DVC remote in that cloud
    all      every extra above but gpu

Each command checks for what it needs before it starts, by module name (a
:func:`importlib.util.find_spec` lookup, which imports nothing).
"""

from __future__ import annotations

import importlib.util

from modelreg.core.errors import MissingExtraError

__all__ = ["EXTRAS", "installed", "installed_extras", "remote_extra", "require", "require_remote"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module set to None
        return False


def require(what: str, extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` naming ``extra`` when any of ``modules``
    (default: every module of the extra) is not installed; ``what`` is the command
    or feature that needs them."""
    missing = [m for m in modules or EXTRAS[extra] if not _installed(m)]
    if missing:
        raise MissingExtraError(
            f"{what} needs {', '.join(missing)}, which modelreg's '{extra}' extra "
            f"installs: pip install 'modelreg[{extra}]'"
        )


# Each extra and the modules that show it is installed.
EXTRAS: dict[str, tuple[str, ...]] = {
    "export": ("torch", "onnxruntime"),
    "serve": ("fastapi", "uvicorn", "onnxruntime"),
    "mlflow": ("mlflow",),
    "s3": ("dvc_s3",),
    "gs": ("dvc_gs",),
    "azure": ("dvc_azure",),
}

# DVC remote URL schemes and the extra that brings their DVC plugin.
_REMOTE_EXTRAS = {"s3": "s3", "gs": "gs", "gcs": "gs", "azure": "azure", "az": "azure"}


def installed_extras() -> dict[str, bool]:
    """Which extras are installed (``gpu``: ONNX Runtime's CUDA build is)."""
    from importlib import metadata

    found = {extra: installed(extra) for extra in EXTRAS}
    try:
        metadata.version("onnxruntime-gpu")
        found["gpu"] = True
    except metadata.PackageNotFoundError:
        found["gpu"] = False
    return found


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` (one of :data:`EXTRAS`) is installed."""
    return all(map(_installed, EXTRAS[extra]))


def remote_extra(url: str) -> str | None:
    """The extra a DVC remote at ``url`` needs (None for a local folder, ssh, http...)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return _REMOTE_EXTRAS.get(scheme)


def require_remote(name: str | None, url: str) -> None:
    """Raise :class:`MissingExtraError` when the DVC remote at ``url`` needs a plugin that
    is not installed (DVC would otherwise fail mid-command, naming its own package)."""
    extra = remote_extra(url)
    if extra is not None:
        require(f"the DVC remote '{name}' ({url})", extra)
