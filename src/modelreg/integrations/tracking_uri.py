"""The MLflow tracking URI a version's lineage records: portable between clones.

A manifest is read in every clone of the registry, so what it records must mean
the same thing in each. A local tracking store inside the repository, which the
pipeline writes as an absolute path (``sqlite:////home/me/repo/.mlflow/mlflow.db``),
is recorded relative to the repository root (``sqlite:///.mlflow/mlflow.db``,
``mlruns``): the absolute path of one clone names nothing in another. A store
outside the repository, and any server URI, is recorded as given. Relative forms
are relative to the repository root, where MLflow opens them as they are
(``MLFLOW_TRACKING_URI=sqlite:///.mlflow/mlflow.db mlflow ui`` run there). Nothing
in modelreg opens a recorded store (lineage is shown, compared and handed to
MLflow clients by run id), so nothing here turns one back. Manifests written
before this keep their absolute paths and are read as they are.

Credentials are not this module's business: :class:`modelreg.core.model.MlflowRun`
removes them when it is built, which every writer and every reader of a manifest
does, so one place covers what is stored and what is shown.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

__all__ = ["lineage_tracking_uri"]

# SQLAlchemy's form: three slashes, then the path; a fourth slash makes it absolute.
_SQLITE = "sqlite:///"


def lineage_tracking_uri(uri: str | None, root: Path) -> str | None:
    """``uri`` as a version manifest stores it: repository-relative when local."""
    if uri is None or not uri.strip():
        return None
    uri = uri.strip()
    if uri.startswith(_SQLITE):
        path, question, query = uri[len(_SQLITE) :].partition("?")
        inside = _inside(root, path)
        return uri if inside is None else f"{_SQLITE}{inside}{question}{query}"
    if uri.startswith("file:"):
        # file:///abs/path, file:/abs/path and file://localhost/abs/path
        rest = uri[len("file:") :]
        if rest.startswith("//"):
            host, _, after = rest[2:].partition("/")
            if host.rpartition("@")[2] not in ("", "localhost"):
                return uri
            rest = "/" + after
        inside = _inside(root, unquote(rest.partition("?")[0].partition("#")[0]))
        return uri if inside is None else inside
    if "://" not in uri:
        inside = _inside(root, uri)
        return uri if inside is None else inside
    return uri


def _inside(root: Path, path: str) -> str | None:
    """``path`` relative to ``root`` as POSIX text, if it is absolute and lies inside it."""
    if not path.startswith("/"):
        return None  # relative already (to where the pipeline ran: the root, by convention)
    candidate = Path(path)
    for base in {root.absolute(), root.resolve()}:
        for target in {candidate, candidate.resolve()}:
            try:
                relative = target.relative_to(base)
            except ValueError:
                continue
            return relative.as_posix()
    return None
