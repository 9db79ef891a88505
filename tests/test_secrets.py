"""Credentials never leave through a URI: not committed, printed, served or echoed.

A tracking URI with ``user:pass@`` in it reaches the version manifest through
``register --from-dvc`` (the pipeline's run.json); the manifest is pushed, ``show``
prints it into CI logs and ``/model/info`` serves it. The GitHub client's API URL
may carry a password too, and plain http would send the token in the clear.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelreg.api import validate
from modelreg.core.errors import GitHubError
from modelreg.core.model import MlflowRun
from modelreg.core.redact import redact_text, redact_uri
from modelreg.integrations.github import GitHub
from modelreg.integrations.tracking_uri import lineage_tracking_uri
from modelreg.ops.register import register_from_dvc
from tests.conftest import Workspace
from tests.serving import serve
from tests.test_from_dvc import Pipeline

SECRET_URI = "http://alice:pass-w0rd@127.0.0.1:5000"
SECRET = "pass-w0rd"
MANIFEST = "registry/digits/versions/1.yaml"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://user:pass@127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://ghp_token@mlflow.example.com/path?x=1", "https://mlflow.example.com/path?x=1"),
        ("postgresql://mlflow:s3cret@db:5432/mlflow", "postgresql://db:5432/mlflow"),
        ("http://user:p#ss@host/", "http://host/"),  # an unescaped '#' in the password
        ("http://user:p?ss@host/api", "http://host/api"),
        ("https://h/x?token=abc&run=1", "https://h/x?run=1"),
        ("https://h/x?access_token=abc", "https://h/x"),
        (
            "https://acct.blob.core.windows.net/c?sv=2020&sig=abc%2Fdef#f",
            "https://acct.blob.core.windows.net/c?sv=2020#f",
        ),
        ("s3://b/k?X-Amz-Signature=abc&X-Amz-Credential=def&a=b", "s3://b/k?a=b"),
        ("https://h/?API-Key=1&password=2&client_secret=3", "https://h/"),
        # Passwords pasted unescaped: a raw '/', '?', '#' or '@', alone or together.
        ("http://user:pa/ss@host/path", "http://host/path"),
        ("http://user:pa/ss@host", "http://host"),
        ("http://user:p/a?s#s@host:8080/x", "http://host:8080/x"),
        ("http://user:p@ss@host/x", "http://host/x"),
        ("http://user:p@ss/w@rd@host/x", "http://host/x"),
        ("http://user:1234/5@host/x", "http://host/x"),
        ("https://tok/en+b64@host/api", "https://host/api"),  # a token with a '/'
        ("http://user:p/s@s/s@host/x?token=1&a=2", "http://host/x?a=2"),
        # Percent-encoded, as it should be: removed whole.
        ("http://user:p%40ss%2Fw%3Fd@host/x", "http://host/x"),
        # IPv6 hosts.
        ("http://user:pw@[::1]:5000/x", "http://[::1]:5000/x"),
        ("http://user:p/w@[2001:db8::1]/x", "http://[2001:db8::1]/x"),
        ("ssh://git@github.com/org/repo", "ssh://github.com/org/repo"),
        # Ambiguous ('host/models/m' could be a token with a raw '/'): too much goes.
        ("http://host/models/m@v1/file", "http://v1/file"),
        ("https://h/x?email=a@b.example&next=/y", "https://b.example&next=/y"),
        # Nothing secret: unchanged, byte for byte.
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("sqlite:////abs/mlflow.db?mode=ro", "sqlite:////abs/mlflow.db?mode=ro"),
        ("file:///tmp/mlruns", "file:///tmp/mlruns"),
        ("models:/digits@production", "models:/digits@production"),
        ("http://[::1]:5000/path@x", "http://[::1]:5000/path@x"),
        # An '@' in the path or query of a URI without userinfo stays.
        ("http://host/a@b", "http://host/a@b"),
        ("http://host:8080/a/b@c", "http://host:8080/a/b@c"),
        ("https://h/x?email=a@b.example", "https://h/x?email=a@b.example"),
        # Git's scp-like form: 'git' is the SSH account, not a secret; no password field.
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("databricks", "databricks"),
        ("/home/me/mlruns", "/home/me/mlruns"),
    ],
)
def test_redact_uri(given: str, expected: str) -> None:
    assert redact_uri(given) == expected
    assert redact_uri(expected) == expected  # idempotent


@given(
    user=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12),
    password=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=24),
)
def test_a_credential_is_removed_whole_whatever_it_holds(user: str, password: str) -> None:
    """Raw '/', '?', '#' and '@' included: with a path after the host, nothing of
    the credential is left, and the host and path are."""
    for userinfo in (f"{user}:{password}", password):
        assert redact_uri(f"http://{userinfo}@mlflow.internal:5000/api") == (
            "http://mlflow.internal:5000/api"
        )


def test_redact_text_finds_uris_in_a_message() -> None:
    message = "API request to http://u:hunter2@mlflow:5000/api/2.0/x failed ('https://t0k@h')"
    assert redact_text(message) == (
        "API request to http://mlflow:5000/api/2.0/x failed ('https://h')"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///{root}/.mlflow/mlflow.db", "sqlite:///.mlflow/mlflow.db"),
        ("sqlite:///{root}/mlflow.db?mode=ro", "sqlite:///mlflow.db?mode=ro"),
        ("file://{root}/mlruns", "mlruns"),
        ("file:{root}/mlruns", "mlruns"),
        ("file://localhost{root}/mlruns", "mlruns"),
        ("{root}/mlruns", "mlruns"),
        # Outside the repository, relative already, or a server: as given (less secrets).
        ("sqlite:////elsewhere/mlflow.db", "sqlite:////elsewhere/mlflow.db"),
        ("file:///elsewhere/mlruns", "file:///elsewhere/mlruns"),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("mlruns", "mlruns"),
        ("http://u:p@127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("file://u:p@localhost{root}/mlruns", "mlruns"),
        ("postgresql://u:p@db/mlflow", "postgresql://db/mlflow"),
        ("", None),
    ],
)
def test_lineage_tracking_uri(tmp_path: Path, given: str, expected: str | None) -> None:
    """What a manifest records: made portable here, redacted by the MlflowRun it goes in."""
    root = tmp_path / "repo"
    root.mkdir()
    recorded = lineage_tracking_uri(given.format(root=root), root)
    assert MlflowRun("run", tracking_uri=recorded).tracking_uri == expected


# --- the tracking URI through register --from-dvc, show and /model/info --------------------


def pipeline_with_run(workspace: Workspace, tracking_uri: str) -> Pipeline:
    made = Pipeline(workspace.root)
    run = {"mlflow_run_id": "abc123", "mlflow_tracking_uri": tracking_uri}
    made.write("out/run.json", json.dumps(run))
    made.lock()
    workspace.commit_all("pipeline ran")
    return made


def show(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [exe, "show", "digits/1", *args], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_tracking_uri_password_is_not_committed_printed_or_served(
    workspace: Workspace, modelreg_exe: str
) -> None:
    pipeline_with_run(workspace, SECRET_URI)

    register_from_dvc("digits", repo=workspace.root, commit=True)

    committed = workspace.git("show", f"HEAD:{MANIFEST}")
    assert SECRET not in committed and "alice" not in committed
    recorded = yaml.safe_load(committed)["lineage"]["mlflow"]
    assert recorded == {"run_id": "abc123", "tracking_uri": "http://127.0.0.1:5000"}
    text = show(modelreg_exe, workspace.root)
    assert "mlflow run:  abc123 at http://127.0.0.1:5000" in text.stdout
    assert SECRET not in text.stdout + text.stderr
    assert SECRET not in show(modelreg_exe, workspace.root, "--json").stdout
    with serve(workspace.root, ["digits/1"]) as live:
        info = live.client.get("/model/info")
    assert info.status_code == 200
    assert info.json()["lineage"]["mlflow"]["tracking_uri"] == "http://127.0.0.1:5000"
    assert SECRET not in info.text


def test_a_password_committed_before_is_still_never_shown(
    workspace: Workspace, modelreg_exe: str
) -> None:
    """A manifest from before the fix (or written by hand) is read as it is, but what
    is printed or served has the credentials taken out."""
    pipeline_with_run(workspace, "sqlite:///mlflow.db")
    register_from_dvc("digits", repo=workspace.root, commit=True)
    path = workspace.root / MANIFEST
    path.write_text(path.read_text().replace("sqlite:///mlflow.db", SECRET_URI))
    workspace.commit_all("a manifest with a password in it")

    assert validate(workspace.root).ok  # still read: nothing to migrate
    assert SECRET not in show(modelreg_exe, workspace.root).stdout
    assert SECRET not in show(modelreg_exe, workspace.root, "--json").stdout
    with serve(workspace.root, ["digits/1"]) as live:
        info = live.client.get("/model/info")
    assert info.status_code == 200 and SECRET not in info.text
    assert "http://127.0.0.1:5000" in info.text


def test_a_local_tracking_store_is_recorded_relative_to_the_repository(
    workspace: Workspace, modelreg_exe: str
) -> None:
    # What pipelines/tracking.py writes: the store under the clone, by absolute path.
    absolute = f"sqlite:///{workspace.root}/.mlflow/mlflow.db"
    pipeline_with_run(workspace, absolute)

    register_from_dvc("digits", repo=workspace.root, commit=True)

    committed = yaml.safe_load(workspace.git("show", f"HEAD:{MANIFEST}"))
    assert committed["lineage"]["mlflow"]["tracking_uri"] == "sqlite:///.mlflow/mlflow.db"
    assert str(workspace.root) not in show(modelreg_exe, workspace.root).stdout


# --- the GitHub API URL ------------------------------------------------------------------


def comment(exe: str, root: Path, api_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    body = tmp_path / "report.md"
    body.write_text("report\n")
    return subprocess.run(
        [exe, "comment", "--pr", "1", "--file", str(body), "--api-url", api_url],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))},
            "GITHUB_TOKEN": "ghp_T0kenValue",
            "GITHUB_REPOSITORY": "acme/models",
        },
        timeout=60,
    )


def test_plain_http_to_another_host_is_refused(
    empty_repo: Path, modelreg_exe: str, tmp_path: Path
) -> None:
    done = comment(modelreg_exe, empty_repo, "http://example.com", tmp_path)

    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line == (
        "error: --api-url is 'http://example.com': plain http would send the token "
        "unencrypted; use 'https://example.com' (http is accepted only for localhost, "
        "127.0.0.1 and ::1)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@127.0.0.1:1/",
        "http://user:secret@127.0.0.1:1/",
        "https://secret@127.0.0.1:1/",
        "http://user:secret@example.com/",
        "ftp://user:secret@example.com/",
        "https://user:secret@[::1/",
    ],
)
def test_api_url_credentials_are_never_echoed(
    empty_repo: Path, modelreg_exe: str, tmp_path: Path, url: str
) -> None:
    done = comment(modelreg_exe, empty_repo, url, tmp_path)

    assert done.returncode == 1, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "secret" not in done.stdout + done.stderr
    assert "T0kenValue" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "url", ["http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1", "https://h.example"]
)
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    with GitHub("acme/models", "t0ken", api_url=url) as github:
        assert github.api_url == url


def test_an_unreachable_api_url_does_not_echo_the_token() -> None:
    url = "http://127.0.0.1:1"
    with (
        GitHub("acme/models", "ghp_T0kenValue", api_url=url) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        github.token_login()
    assert str(excinfo.value).startswith(f"cannot reach the GitHub API at {url}: ")
    assert "T0kenValue" not in str(excinfo.value)
