"""modelreg: a GitOps model registry.

Model versions and stage assignments are YAML manifests in Git, DVC stores the
weights, and a pull request is the only way state changes. The verbs live in
:mod:`modelreg.api`; every name listed there is also importable from here.
Names load on first use, so ``import modelreg`` (and ``modelreg --help``) stay
fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    from modelreg import api

    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")


def __dir__() -> list[str]:
    from modelreg import api

    return sorted([*api.__all__, "__version__"])
