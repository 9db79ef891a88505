"""An alias named like a stage is that stage (MLflow's plugin and the CLI alike), and the
CLI's tag, describe, alias and transition: each one reviewed commit with trailers, or a
pull request, run through the installed ``modelreg``."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

with warnings.catch_warnings():  # importing pyfunc warns about MLflow's own type hints
    warnings.simplefilter("ignore")
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

from modelreg.api import Registry, validate
from tests import builders
from tests.conftest import Workspace, commit_subjects, git
from tests.github_server import FakeGitHub

POINTER = "registry/digits/stages/production.yaml"

pytestmark = pytest.mark.filterwarnings(
    # MLflow deprecates stages (our users still call them) and warns about its own internals.
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
)


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input * 2


def run(exe: str, ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=ws.root, capture_output=True, text=True, check=False)


def trailers(ws: Workspace) -> str:
    return ws.git("log", "-1", "--format=%(trailers)")


@pytest.fixture
def two_versions(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> Workspace:
    for accuracy in ("0.90", "0.95"):
        done = run(modelreg_exe, workspace, "register", "digits", "--weights",
                   str(model_files.weights), "--metrics", f'{{"accuracy": {accuracy}}}',
                   "--commit")  # fmt: skip
        assert done.returncode == 0, done.stderr
    return workspace


@pytest.fixture
def client(
    two_versions: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return MlflowClient(registry_uri=f"modelreg://{two_versions.root}")


def test_seed_002s_production_alias_is_the_production_stage(
    two_versions: Workspace, client: MlflowClient, modelreg_exe: str
) -> None:
    ws = two_versions
    before = ws.git("rev-parse", "HEAD").strip()

    client.set_registered_model_alias(name="digits", alias="production", version=1)

    # One commit, changing exactly the stage pointer, with the promotion's trailers.
    assert ws.git("rev-parse", "HEAD~1").strip() == before
    assert ws.git("diff", "--name-only", "HEAD~1", "HEAD").split() == [POINTER]
    assert "Modelreg-Event: promote" in trailers(ws)
    assert yaml.safe_load((ws.root / POINTER).read_text())["version"] == 1
    # Reading the alias answers the stage's version; so does modelreg's own reference.
    assert client.get_model_version_by_alias("digits", "production").version == 1
    assert client.get_model_version_by_alias("digits", "Production").version == 1
    with Registry.open(ws.root) as registry:
        assert registry.resolve("digits@production").version.version == 1
    history = run(modelreg_exe, ws, "history", "digits", "--stage", "production")
    assert history.returncode == 0, history.stderr
    [row] = [line for line in history.stdout.splitlines() if "production" in line]
    assert "- → 1" in row and "assigned" in row and "Test Author" in row

    # git revert of that commit is the rollback: the stage is empty again.
    ws.git("revert", "--no-edit", "HEAD")
    assert not (ws.root / POINTER).exists()
    assert validate(ws.root).ok
    with pytest.raises(MlflowException, match="alias production not found"):
        client.get_model_version_by_alias("digits", "production")


def test_setting_a_stage_alias_again_is_a_no_op_and_moving_it_promotes(
    two_versions: Workspace, client: MlflowClient
) -> None:
    client.set_registered_model_alias("digits", "production", "1")
    subjects = commit_subjects(two_versions.root)
    client.set_registered_model_alias("digits", "production", "1")
    assert commit_subjects(two_versions.root) == subjects
    client.set_registered_model_alias("digits", "production", "2")
    pointer = yaml.safe_load((two_versions.root / POINTER).read_text())
    assert (pointer["version"], pointer["previous"]) == (2, 1)
    assert pointer["reason"] == "MLflow set_registered_model_alias"


def test_a_stage_alias_obeys_the_stages_policy(
    two_versions: Workspace, client: MlflowClient
) -> None:
    config = two_versions.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["policies"] = {"production": {"require": {"accuracy": {"min": 0.93}}}}
    config.write_text(yaml.safe_dump(document))
    two_versions.commit_all("a production gate")
    head = two_versions.git("rev-parse", "HEAD").strip()
    with pytest.raises(MlflowException, match="fails the production policy"):
        client.set_registered_model_alias("digits", "production", "1")
    assert two_versions.git("rev-parse", "HEAD").strip() == head
    client.set_registered_model_alias("digits", "production", "2")
    assert yaml.safe_load((two_versions.root / POINTER).read_text())["version"] == 2


def test_deleting_a_stage_alias_clears_the_stage_and_archives_its_version(
    two_versions: Workspace, client: MlflowClient
) -> None:
    client.set_registered_model_alias("digits", "production", "2")
    client.delete_registered_model_alias("digits", "production")
    assert not (two_versions.root / POINTER).exists()
    assert "Modelreg-Stage: production" in trailers(two_versions)
    assert client.get_model_version("digits", "2").current_stage == "Archived"
    model = yaml.safe_load((two_versions.root / "registry/digits/model.yaml").read_text())
    assert model["archived"] == [2]
    assert validate(two_versions.root).ok


def test_a_stage_alias_through_pull_requests_opens_one(
    two_versions: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = two_versions
    ws.git("push", "-q", "origin", "main")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with FakeGitHub(repo="acme/models", token="t0ken", origin=ws.origin) as github:
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        monkeypatch.setenv("MODELREG_GITHUB_REPOSITORY", "acme/models")
        monkeypatch.setenv("MODELREG_GITHUB_API_URL", github.url)
        client = MlflowClient(registry_uri=f"modelreg://{ws.root}?promote=pr&base=main")
        head = ws.git("rev-parse", "HEAD").strip()
        client.set_registered_model_alias("digits", "production", "2")
        assert ws.git("rev-parse", "HEAD").strip() == head  # reviewed, not landed
        [pull] = github.pulls
        assert pull["title"] == "Promote digits v2 to production"
        # A free-form alias is a plain edit: one commit, no pull request.
        client.set_registered_model_alias("digits", "champion", "2")
        assert len(github.pulls) == 1
        assert commit_subjects(ws.root)[0] == "point digits@champion at version 2"


def test_aliases_may_not_differ_only_in_case(
    two_versions: Workspace, client: MlflowClient, modelreg_exe: str
) -> None:
    client.set_registered_model_alias("digits", "champion", "1")
    head = two_versions.git("rev-parse", "HEAD").strip()
    with pytest.raises(MlflowException, match="has alias 'champion'; aliases may not differ only"):
        client.set_registered_model_alias("digits", "Champion", "2")
    done = run(modelreg_exe, two_versions, "alias", "set", "digits", "CHAMPION", "2")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: digits has alias 'champion'; aliases may not differ only in case"
    )
    assert two_versions.git("rev-parse", "HEAD").strip() == head


def test_tag_and_describe_are_one_commit_each_with_trailers(
    two_versions: Workspace, modelreg_exe: str
) -> None:
    ws = two_versions
    done = run(modelreg_exe, ws, "tag", "digits/2", "validated=true", "owner=vision")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tags of digits/2: committed ")
    assert "Modelreg-Event: version" in trailers(ws)
    manifest = yaml.safe_load((ws.root / "registry/digits/versions/2.yaml").read_text())
    assert manifest["tags"] == {"validated": "true", "owner": "vision"}

    done = run(modelreg_exe, ws, "tag", "digits/2", "--unset", "owner")
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((ws.root / "registry/digits/versions/2.yaml").read_text())
    assert manifest["tags"] == {"validated": "true"}

    again = run(modelreg_exe, ws, "tag", "digits/2", "validated=true")
    assert (again.returncode, again.stdout) == (
        0,
        "tags of digits/2: already so, nothing to change\n",
    )

    done = run(modelreg_exe, ws, "describe", "digits", "Digits classifier.\nSee the card.")
    assert done.returncode == 0, done.stderr
    model = yaml.safe_load((ws.root / "registry/digits/model.yaml").read_text())
    assert model["description"] == "Digits classifier.\nSee the card."
    assert "Modelreg-Event: model" in trailers(ws)
    # A stage reference names the version in it now.
    run(modelreg_exe, ws, "promote", "digits", "1", "--to", "production")
    done = run(modelreg_exe, ws, "describe", "digits@production", "the baseline")
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((ws.root / "registry/digits/versions/1.yaml").read_text())
    assert manifest["description"] == "the baseline"
    assert validate(ws.root).ok


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tag", "digits/2"], 2, "give KEY=VALUE to set, or --unset KEY"),
        (["tag", "digits/2", "novalue"], 1, "write it as key=value"),
        (["tag", "digits/2", "a=1", "--unset", "a"], 2, "tag 'a' is both set and unset"),
        (["tag", "digits/9", "a=1"], 1, "model 'digits' has no version 9"),
        (["describe", "digits/2", "bad\x1b[2Jtext"], 2, "control character"),
        (["transition", "digits", "1", "Canary"], 2, "'Canary' is not a stage here"),
        (["alias", "set", "digits", "../x", "1"], 1, "alias"),
    ],
)
def test_bad_edits_fail_in_one_line_and_change_nothing(
    two_versions: Workspace, modelreg_exe: str, args: list[str], code: int, message: str
) -> None:
    head = two_versions.git("rev-parse", "HEAD").strip()
    done = run(modelreg_exe, two_versions, *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert two_versions.git("rev-parse", "HEAD").strip() == head
    assert two_versions.status() == ""


def test_transition_speaks_mlflows_stages(two_versions: Workspace, modelreg_exe: str) -> None:
    ws = two_versions
    done = run(modelreg_exe, ws, "transition", "digits", "1", "Production", "--reason", "first")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((ws.root / POINTER).read_text())["version"] == 1
    done = run(modelreg_exe, ws, "transition", "digits", "1", "Archived")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digits/1 -> Archived: committed ")
    assert not (ws.root / POINTER).exists()
    assert "Modelreg-Event: transition" in trailers(ws)
    done = run(modelreg_exe, ws, "transition", "digits", "1", "None")
    assert done.returncode == 0, done.stderr
    model = yaml.safe_load((ws.root / "registry/digits/model.yaml").read_text())
    assert model.get("archived", []) == []
    assert validate(ws.root).ok


def test_alias_set_and_delete_from_the_cli(two_versions: Workspace, modelreg_exe: str) -> None:
    ws = two_versions
    done = run(modelreg_exe, ws, "alias", "set", "digits", "production", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert '"changed": true' in done.stdout
    assert yaml.safe_load((ws.root / POINTER).read_text())["version"] == 2
    done = run(modelreg_exe, ws, "alias", "set", "digits", "champion", "1")
    assert done.returncode == 0, done.stderr
    assert commit_subjects(ws.root)[0] == "point digits@champion at version 1"
    done = run(modelreg_exe, ws, "alias", "delete", "digits", "production", "--reason", "incident")
    assert done.returncode == 0, done.stderr
    assert not (ws.root / POINTER).exists()
    body = ws.git("log", "-1", "--format=%b")
    assert "incident" in body


def test_edits_can_be_pull_requests(two_versions: Workspace, modelreg_exe: str) -> None:
    ws = two_versions
    ws.git("push", "-q", "origin", "main")
    with FakeGitHub(repo="acme/models", token="t0ken", origin=ws.origin) as github:
        env = {
            "GITHUB_TOKEN": "t0ken",
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": github.url,
        }
        head = ws.git("rev-parse", "HEAD").strip()
        done = subprocess.run(
            [modelreg_exe, "tag", "digits/2", "approved=yes", "--pr"],
            cwd=ws.root, capture_output=True, text=True, check=False,
            env={**__import__("os").environ, **env},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "opened pull request #1" in done.stdout
        assert ws.git("rev-parse", "HEAD").strip() == head
        [pull] = github.pulls
        assert pull["title"] == "Update digits v2"
        branch = pull["head"]["ref"]
        assert branch.startswith("modelreg/digits/edit-v2")
        changed = git(ws.root, "diff", "--name-only", f"main..origin/{branch}").split()
        assert changed == ["registry/digits/versions/2.yaml"]
