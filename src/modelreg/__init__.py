"""modelreg: a GitOps model registry.

Model versions and stage assignments are YAML manifests in Git, DVC stores the
weights, and a pull request is the only way state changes. The verbs live in
:mod:`modelreg.api`; every name listed there is also importable from here.
Names load on first use, so ``import modelreg`` (and ``modelreg --help``) stay
fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # import_module, not "from modelreg import api": the latter asks this very
    # function for "api" while importing it, and recurses.
    if not name.startswith("_"):
        api = importlib.import_module("modelreg.api")
        if name in api.__all__:
            return getattr(api, name)
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")


def __dir__() -> list[str]:
    api = importlib.import_module("modelreg.api")
    return sorted([*api.__all__, "__version__"])
