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

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# What RFC 3986 allows as an authority without userinfo: a registered name or IPv4
# address (unreserved, percent-encoded and sub-delimiter characters) or a bracketed
# IP literal, then an optional port of digits.
_HOST_PORT = re.compile(r"(?:\[[0-9A-Za-z.:%_~-]*\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::[0-9]*)?")
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
    so the function is safe to apply to every URI, any number of times. That
    includes Git's scp-like form, ``git@github.com:org/repo``: its user is the
    SSH account (``git`` on every forge), not a secret, and it has no password
    field. Where the userinfo ends is decided as :func:`_without_userinfo` says.
    """
    scheme = _SCHEME.match(uri)
    if scheme is not None:
        uri = scheme[0] + _without_userinfo(uri[scheme.end() :])
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


def _without_userinfo(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) without its userinfo.

    RFC 3986 ends the authority at the first ``/``, ``?`` or ``#`` and the userinfo
    at the last ``@`` in it. People paste passwords and tokens with those characters
    unescaped, so where that reading would leave part of a secret in place the cut
    goes further, preferring to drop too much over showing one. Cuts are repeated
    until none applies (so applying the function again changes nothing):

    - an ``@`` before the first ``/`` ends the userinfo at the last ``@`` there
      (``user:p?ss@host/``, ``user:p@ss@host/``);
    - an authority that is not ``host[:port]`` (``user:pa`` in ``user:pa/ss@host``)
      can only be userinfo holding a raw ``/``: everything up to the last ``@`` goes;
    - an ``@`` with a ``/`` anywhere after it (``tok/en@host/x``) ends the
      userinfo at the last ``@`` before that ``/``: a path or query such as
      ``host/models/m@v1/file`` loses its head too, which only shows less.

    So with a path after its host, a URI loses every character of its
    credential, whatever the credential holds. What stays is an ``@`` with no
    ``/`` after it, behind a valid ``host[:port]`` (``host/a@b``,
    ``h/x?email=a@b.example``): a credential with a raw ``/`` and nothing after
    its host, where what precedes the ``/`` could be a host (``tok/en@host``,
    ``user:1234/5@host``), is read that way and kept. Percent-encoded (``%2F``,
    ``%40``), as it must be to work at all, it is removed whole.
    """
    while "@" in rest:
        head = rest.partition("/")[0]
        if "@" in head:
            cut = head.rindex("@")
        elif not _HOST_PORT.fullmatch(re.split(r"[/?#]", rest, maxsplit=1)[0]):
            cut = rest.rindex("@")
        elif (slash := rest.find("/", rest.index("@"))) != -1:
            cut = rest.rindex("@", 0, slash)
        else:
            break
        rest = rest[cut + 1 :]
    return rest


def _is_secret(name: str) -> bool:
    folded = name.lower().replace("-", "").replace("_", "")
    return folded in _SECRET_PARAMS or any(part in folded for part in _SECRET_PARTS)
