"""Credentials out of URIs: the one function every stored, printed or served URI passes.

A tracking URI such as ``http://user:pass@mlflow:5000`` or an API URL such as
``https://TOKEN@github.example.com/api/v3`` carries a secret in its userinfo, and
object-store or database URIs often carry one in the query (``?token=``,
``?sig=`` of an Azure SAS, ``X-Amz-Signature`` of a presigned S3 URL). A manifest
is committed and pushed, ``show`` output lands in CI logs and ``/model/info`` is
served to anyone, so the secret is removed, not masked: what remains is the
address, and the credential comes from where it belongs (``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_TOKEN``, ``GITHUB_TOKEN``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

__all__ = ["redact_text", "redact_uri"]

# ``scheme://`` then the authority up to the first ``/``. RFC 3986 ends the
# authority at ``?`` or ``#`` too, but people paste passwords with those
# characters unescaped; cutting at the last ``@`` before the path removes them.
_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/]*)")
# Query parameters that hold a secret by name (compared lower-case, without - and _).
_SECRET_PARAMS = frozenset({"key", "sig", "pwd", "pass", "auth", "code", "sas"})
_SECRET_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "credential",
    "apikey",
    "accesskey",
    "authorization",
    "privatekey",
)
# A URI inside free text (an error message): scheme, ``//``, then no spaces.
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_uri(uri: str) -> str:
    """``uri`` without its userinfo (``user:pass@``, ``token@``) and secret query parameters.

    Anything that is not a ``scheme://`` URI with a secret in it (a plain path,
    ``sqlite:///mlflow.db``, ``models:/name@production``) comes back unchanged,
    so the function is safe to apply to every URI, any number of times.
    """
    match = _AUTHORITY.match(uri)
    if match is not None and "@" in match["authority"]:
        host = match["authority"].rpartition("@")[2]
        uri = match["scheme"] + host + uri[match.end() :]
    base, hash_mark, fragment = uri.partition("#")
    address, question, query = base.partition("?")
    if not question:
        return uri
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not _is_secret(name)]
    if len(kept) == len(pairs):
        return uri
    rebuilt = address + (f"?{urlencode(kept)}" if kept else "")
    return rebuilt + hash_mark + fragment


def redact_text(text: str) -> str:
    """``text`` (an error message, say) with :func:`redact_uri` applied to every URI in it."""
    return _URI_IN_TEXT.sub(lambda found: redact_uri(found[0]), text)


def _is_secret(name: str) -> bool:
    folded = name.lower().replace("-", "").replace("_", "")
    return folded in _SECRET_PARAMS or any(part in folded for part in _SECRET_PARTS)
