"""The files a version names: DVC tracking and pulls, ONNX export and parity,
checkpoints, benchmarks.

Internal: the public API is :mod:`modelreg.api`.
"""
