"""The systems modelreg talks to: GitHub's REST API and MLflow (import, tracking URIs).
MLflow's registry plugin stays at :mod:`modelreg.mlflow_store`, its entry point.

Internal: the public API is :mod:`modelreg.api`.
"""
