"""The one place modelreg talks to DVC.

Two halves with different costs:

* Reading (``validate``, ``show``) must stay fast, so it never imports DVC.
  It reads DVC's config files with configobj, the parser DVC itself uses (a
  hand-made one read ``remote = store  # team store`` as a remote named with the
  comment), merges their levels as DVC does (system, global, repo, then
  ``config.local``), reads ``.dvc`` sidecars itself and checks objects
  by path in the cache and in local remotes (DVC 3 layout:
  ``<root>/files/md5/ab/cdef...``). Only a cloud remote (s3://, gs://, ...)
  needs DVC itself, loaded on demand.
* Writing (``register``) uses DVC's Python API: ``add`` to hash the files into
  the cache and write their ``.dvc`` sidecars, ``push`` to upload them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelreg.core.errors import InputError, ManifestError, StorageError
from modelreg.core.trace import trace
from modelreg.core.yaml_io import parse_yaml

__all__ = [
    "DvcConfig",
    "DvcOut",
    "ObjectStore",
    "dvc_add",
    "dvc_init",
    "dvc_push",
    "dvc_set_default_remote",
    "local_store",
    "object_path",
    "read_dvc_config",
    "read_sidecar",
]

# The section of a named remote, as dvc.config._parse_named matches it.
_REMOTE_SECTION = re.compile(r"""\s*remote\s*"(?P<name>.*)"\s*\Z""")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class DvcConfig:
    """What modelreg needs from DVC's configuration."""

    cache_dir: Path
    default_remote: str | None
    remote_urls: dict[str, str] = field(default_factory=dict)

    def remote_url(self, name: str | None) -> str | None:
        chosen = name or self.default_remote
        # DVC lower-cases remote names when it reads its config (remote_urls' keys).
        return self.remote_urls.get(chosen.lower()) if chosen else None


def _config_files(root: Path) -> list[Path]:
    """DVC's config files, lowest priority first: system, global, repo, local, where
    DVC itself looks for them (``dvc.dirs``: the ``DVC_*_CONFIG_DIR`` variables, else
    the platform's folders), without importing DVC."""
    import platformdirs

    system = os.environ.get("DVC_SYSTEM_CONFIG_DIR") or platformdirs.site_config_dir(
        "dvc", "iterative"
    )
    user = os.environ.get("DVC_GLOBAL_CONFIG_DIR") or platformdirs.user_config_dir(
        "dvc", "iterative"
    )
    dvc_dir = root / ".dvc"
    return [
        Path(system) / "config",
        Path(user) / "config",
        dvc_dir / "config",
        dvc_dir / "config.local",
    ]


def _read_config_file(path: Path) -> dict[str, Any]:
    """One config file as DVC reads it: configobj's syntax (quoting, inline comments,
    continuation), keys lower-cased, ``remote "NAME"`` sections gathered under
    ``remote``. A file that does not exist is empty."""
    from configobj import ConfigObj, ConfigObjError

    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return {"remote": {}}
    except OSError as exc:
        raise StorageError(f"cannot read DVC's config {path}: {exc.strerror}") from None
    try:
        parsed = ConfigObj(io.BytesIO(data), encoding="utf-8").dict()
    except (ConfigObjError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise StorageError(
            f"DVC cannot read its config {path}: {detail}; fix the file ('dvc config --list' "
            "shows the same error)"
        ) from None
    config: dict[str, Any] = {"remote": {}}
    for section, values in _lower_keys(parsed).items():
        if not isinstance(values, dict):
            continue
        named = _REMOTE_SECTION.match(section)
        if named:
            config["remote"][named.group("name")] = values
        else:
            config[section] = values
    return config


def _lower_keys(data: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): _lower_keys(v) if isinstance(v, dict) else v for k, v in data.items()}


def _config_path(value: str, folder: Path) -> str:
    """A path in a config file as DVC resolves it: a URL or absolute path as written,
    ``~`` expanded, anything else relative to the file's folder."""
    if _URL_SCHEME.match(value) or Path(value).is_absolute():
        return value
    expanded = Path(value).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    return os.path.normpath(folder / value)  # as os.path.abspath: ".." is not a symlink walk


def _config_value(path: Path, section: str, key: str, value: Any) -> str:
    if not isinstance(value, str):  # configobj reads "a, b" as a list
        raise StorageError(
            f"DVC's config {path}: {section}.{key} must be one value, not {value!r}; quote it"
        )
    return value


def read_dvc_config(root: Path) -> DvcConfig:
    """The cache folder and remotes, merged the way DVC merges its config levels (a key
    in a later file wins), each file parsed by configobj as DVC parses it."""
    cache_dir = root / ".dvc" / "cache"
    default_remote: str | None = None
    urls: dict[str, str] = {}
    for path in _config_files(root):
        config = _read_config_file(path)
        folder = path.parent.absolute()
        remote = config.get("core", {}).get("remote")
        if remote is not None:
            # DVC's schema lower-cases it, as it does every remote's name.
            default_remote = _config_value(path, "core", "remote", remote).lower() or None
        cache = config.get("cache", {}).get("dir")
        if cache is not None:
            cache_dir = Path(_config_path(_config_value(path, "cache", "dir", cache), folder))
        for name, options in config["remote"].items():
            url = options.get("url")
            if url is not None:
                value = _config_value(path, f'remote "{name}"', "url", url)
                urls[name] = _config_path(value, folder)
    return DvcConfig(cache_dir, default_remote, urls)


def object_path(store_root: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object ``md5`` under a cache or local remote."""
    return store_root / "files" / "md5" / md5[:2] / md5[2:]


def local_store(url: str) -> Path | None:
    """The folder of a local remote (a path or file:// URL); None for a cloud URL."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if _URL_SCHEME.match(url):
        return None
    return Path(url)


class ObjectStore:
    """Answers "is this object in the cache or the remote?" for many objects."""

    def __init__(self, root: Path, config: DvcConfig, remote: str | None = None) -> None:
        self.root = root
        self.config = config
        self.remote_name = remote or config.default_remote
        self.remote_url = config.remote_url(remote)
        self.remote_dir = local_store(self.remote_url) if self.remote_url else None

    def require_plugin(self) -> None:
        """Before a cloud remote is contacted: its DVC plugin (an extra) must be there."""
        if self.remote_url and self.remote_dir is None:
            from modelreg.core.extras import require_remote

            require_remote(self.remote_name, self.remote_url)

    def absence(self) -> str:
        """Where an object was looked for and not found, as the end of a sentence:
        'is not in the DVC cache (...)', or 'is in neither the DVC cache (...) nor the
        remote ...' when there is one."""
        cache = f"the DVC cache ({self.config.cache_dir})"
        if self.remote_url:
            return f"is in neither {cache} nor the remote '{self.remote_name}' ({self.remote_url})"
        return f"is not in {cache}"

    def missing(self, md5s: Iterable[str]) -> set[str]:
        """The hashes found neither in the cache nor in the remote."""
        wanted = set(md5s)
        missing = {m for m in wanted if not self._complete(self.config.cache_dir, m)}
        if not missing or not self.remote_url:
            return missing
        if self.remote_dir is not None:
            return {m for m in missing if not self._complete(self.remote_dir, m)}
        return self._missing_in_cloud(missing)

    def _complete(self, store: Path, md5: str) -> bool:
        path = object_path(store, md5)
        if not md5.endswith(".dir"):
            return path.is_file()
        # A directory is present only if its listing and every file in it are.
        from modelreg.artifacts.paths import MAX_LISTING_BYTES, read_bounded_file  # imports us

        try:
            listing = json.loads(read_bounded_file(path, MAX_LISTING_BYTES, "a listing"))
        except InputError:
            return True  # there, but no listing DVC wrote (too large, a FIFO): reported as such
        except (OSError, ValueError):
            return False
        return all(object_path(store, entry["md5"]).is_file() for entry in listing)

    def _missing_in_cloud(self, md5s: set[str]) -> set[str]:
        self.require_plugin()
        try:
            from dvc.repo import Repo

            with Repo(str(self.root)) as repo:
                odb = repo.cloud.get_remote_odb(self.remote_name, "validate")
                present = set(odb.oids_exist(sorted(m.removesuffix(".dir") for m in md5s)))
        except Exception as exc:
            raise StorageError(f"cannot check the DVC remote '{self.remote_name}': {exc}") from exc
        return {m for m in md5s if m.removesuffix(".dir") not in present}


@dataclass(frozen=True)
class DvcOut:
    """The one output a ``.dvc`` sidecar records."""

    path: str  # relative to the sidecar's folder
    md5: str
    size: int


# What ``dvc add`` writes for one output. A file in exactly this form means what it
# says; anything else (comments, other keys, another layout) gets the full parser.
_CANONICAL_SIDECAR = re.compile(
    rb"outs:\n- md5: ([0-9a-f]{32}(?:\.dir)?)\n  size: (0|[1-9][0-9]{0,18})\n"
    rb"(?:  nfiles: (?:0|[1-9][0-9]{0,18})\n)?  hash: md5\n  path: ([A-Za-z0-9._-]{1,255})\n\Z"
)


def read_sidecar(relpath: str, data: bytes) -> DvcOut:
    """Parse a ``.dvc`` file that tracks exactly one file or folder."""
    canonical = _CANONICAL_SIDECAR.match(data)
    if canonical:
        md5, size, path = canonical.groups()
        return DvcOut(path.decode(), md5.decode(), int(size))
    document = parse_yaml(data, relpath)
    outs = document.get("outs") if isinstance(document, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise ManifestError(relpath, "is not a DVC file tracking one output; re-run 'dvc add'")
    out: dict[str, Any] = outs[0]
    md5, size, path = out.get("md5"), out.get("size"), out.get("path")
    if not isinstance(md5, str) or not isinstance(size, int) or not isinstance(path, str):
        raise ManifestError(relpath, "lacks md5, size or path for its output; re-run 'dvc add'")
    return DvcOut(path, md5, size)


@contextlib.contextmanager
def _quiet_dvc(progress: bool = False) -> Iterator[None]:
    """DVC reports progress on stdout through its logger and ``ui``; the library must
    not print, so both are muted while DVC runs (failures still raise). Warnings that
    DVC's own dependencies raise about each other are DVC's to fix, not our users'.

    With ``progress`` (a terminal asked for it), DVC's own hashing and transfer bars
    still draw on stderr (they draw only on a terminal); its log records go nowhere."""
    from dvc.ui import ui

    dvc_logger = logging.getLogger("dvc")
    level, handlers = dvc_logger.level, list(dvc_logger.handlers)
    # DVC's bars draw only when its logger lets ERROR through; its records (it adds
    # its own stdout and stderr handlers on import) go nowhere meanwhile.
    dvc_logger.setLevel(logging.ERROR if progress else logging.CRITICAL + 1)
    dvc_logger.handlers = [logging.NullHandler()]
    was_enabled = ui._enabled
    ui._enabled = False  # Console has enable() but no disable()
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            if progress:
                yield
            else:
                with contextlib.redirect_stderr(sink):
                    yield
    finally:
        dvc_logger.setLevel(level)
        dvc_logger.handlers = handlers
        ui._enabled = was_enabled


def _dvc_error(action: str, exc: Exception) -> StorageError:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return StorageError(f"DVC could not {action}: {text}")


def dvc_add(root: Path, paths: Sequence[str], *, progress: bool = False) -> None:
    """Hash ``paths`` into the DVC cache and write a ``.dvc`` sidecar beside each
    (``progress``: DVC's bars on a terminal's stderr)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.repo import Repo

        with _quiet_dvc(progress), Repo(str(root)) as repo:
            repo.add([str(root / p) for p in paths])
        trace(f"dvc add {' '.join(paths)}")
    except Exception as exc:
        raise _dvc_error(f"track {', '.join(paths)}", exc) from exc


def dvc_push(
    root: Path, sidecars: Sequence[str], remote: str | None = None, *, progress: bool = False
) -> int:
    """Upload the outputs of ``sidecars`` to the remote; returns how many objects moved
    (``progress``: DVC's transfer bars on a terminal's stderr)."""
    from modelreg.core.extras import require_remote

    config = read_dvc_config(root)
    url = config.remote_url(remote)
    if url is not None:
        require_remote(remote or config.default_remote, url)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.repo import Repo

        with _quiet_dvc(progress), Repo(str(root)) as repo:
            pushed = repo.push(targets=[str(root / s) for s in sidecars], remote=remote)
        trace(f"dvc push {' '.join(sidecars)}: {int(pushed or 0)} objects")
    except Exception as exc:
        raise _dvc_error("push to the remote", exc) from exc
    return int(pushed or 0)


def dvc_init(root: Path) -> None:
    """``dvc init`` in a git repository that has no ``.dvc`` folder yet."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.repo import Repo

        with _quiet_dvc():
            Repo.init(str(root))
    except Exception as exc:
        raise _dvc_error("initialise", exc) from exc


def dvc_set_default_remote(root: Path, name: str, url: str) -> None:
    """Add remote ``name`` at ``url`` and make it the default, in ``.dvc/config``."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.config import Config

        with _quiet_dvc():
            config = Config(dvc_dir=str(root / ".dvc"), validate=True)
            with config.edit("repo") as conf:
                conf["remote"][name] = {"url": url}
                conf["core"]["remote"] = name
    except Exception as exc:
        raise _dvc_error(f"configure the remote {name!r}", exc) from exc
