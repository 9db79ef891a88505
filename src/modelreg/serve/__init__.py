"""The inference server: routes that follow the registry, the HTTP app, its limits,
tensors and metrics.

Internal: the public API is :mod:`modelreg.api`.
"""
