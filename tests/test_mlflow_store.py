"""The MLflow registry plugin: MLflow's own client and fluent API on a Git registry.

MLflow runs for real here (sqlite tracking in a temporary folder); the registry
is a modelreg repository with a DVC remote. The conformance test runs one
scenario through ``MlflowClient`` against the plugin and against MLflow's own
sqlite registry store, in the same test, and expects the same answers.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():  # importing pyfunc warns about MLflow's own type hints
    warnings.simplefilter("ignore")
    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

from modelreg.api import Registry, validate
from modelreg.mlflow_store import ModelregStore
from tests.conftest import Workspace, commit_subjects

pytestmark = pytest.mark.filterwarnings(
    # MLflow deprecates stages (our users still call them) and warns about its own internals.
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
)


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.asarray(model_input) * 2


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # MLflow writes ./mlruns for artifacts by default
    return uri


@pytest.fixture
def registry_uri(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"modelreg://{workspace.root}"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    return uri


def test_the_plugin_is_mlflows_store_for_the_modelreg_scheme(registry_uri: str) -> None:
    [entry] = [
        e
        for e in importlib.metadata.entry_points(group="mlflow.model_registry_store")
        if e.name == "modelreg"
    ]
    assert entry.load() is ModelregStore
    from mlflow.tracking._model_registry.utils import _get_store

    assert isinstance(_get_store(registry_uri), ModelregStore)


def test_the_seeds_snippets_run_unchanged(
    workspace: Workspace, tracking: str, registry_uri: str
) -> None:
    # Training code logs a model to a run, as the seeds do.
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.001)
        mlflow.pyfunc.log_model(name="model", python_model=Doubler())
    run_id = run.info.run_id

    # Register from the run, describe and tag, alias, stage: MLflow calls, unchanged.
    result = mlflow.register_model(f"runs:/{run_id}/model", "doubler")
    assert result.version == 1  # an int, as MLflow's sqlite store answers
    client = MlflowClient()
    client.update_registered_model("doubler", description="Doubles its input")
    client.update_model_version("doubler", "1", description="baseline")
    client.set_registered_model_tag("doubler", "team", "ml-platform")
    client.set_model_version_tag("doubler", "1", "validated", "true")
    client.set_registered_model_alias("doubler", "champion", "1")
    client.transition_model_version_stage("doubler", "1", "Production")

    version = client.get_model_version_by_alias("doubler", "champion")
    assert (version.version, version.current_stage, version.run_id) == (1, "Production", run_id)
    assert version.description == "baseline"
    assert version.tags == {"validated": "true"}
    assert version.aliases == ["champion"]
    [found] = client.search_model_versions("name = 'doubler' and tags.validated = 'true'")
    assert found.version == 1
    [latest] = client.get_latest_versions("doubler", stages=["Production"])
    assert latest.version == 1
    model = client.get_registered_model("doubler")
    assert model.description == "Doubles its input" and model.tags == {"team": "ml-platform"}
    assert model.aliases == {"champion": 1}  # as MLflow's sqlite store answers

    for uri in (
        "models:/doubler@champion",
        "models:/doubler/latest",
        "models:/doubler/1",
        "models:/doubler/Production",
    ):
        loaded = mlflow.pyfunc.load_model(uri)
        assert loaded.predict(np.array([1.0, 2.5])).tolist() == [2.0, 5.0], uri

    # Every write was one reviewed-shape commit; the registry is valid throughout.
    assert commit_subjects(workspace.root)[:7] == [
        "promote doubler version 1 to production",
        "point doubler@champion at version 1",
        "update doubler version 1",
        "update model doubler",
        "update doubler version 1",
        "update model doubler",
        "register doubler version 1",
    ]
    with Registry.open(workspace.root) as reg:
        registered = reg.version("doubler", 1)
    [artifact] = registered.artifacts
    assert artifact.format == "mlflow" and artifact.path == "registry/doubler/artifacts/1/model"
    assert registered.lineage.mlflow is not None and registered.lineage.mlflow.run_id == run_id
    assert validate(workspace.root).ok


# --- conformance with MLflow's sqlite store -------------------------------------------------


def _code(action: Any) -> str:
    try:
        action()
    except MlflowException as exc:
        return str(exc.error_code)
    return "no error"


def scenario(client: MlflowClient, source: str) -> dict[str, Any]:
    """Registry operations MLflow's registry tests exercise, and what each store answers."""
    seen: dict[str, Any] = {}
    client.create_registered_model("alpha", tags={"team": "vision"}, description="first")
    client.create_registered_model("beta", tags={"team": "nlp"})
    client.create_registered_model("gamma")
    for name in ("alpha", "alpha", "alpha", "beta"):
        client.create_model_version(name, source, tags={"quality": "good"})
    client.update_registered_model("beta", description="second")
    client.set_registered_model_tag("gamma", "team", "vision")
    client.delete_registered_model_tag("alpha", "team")
    client.update_model_version("alpha", "2", description="the better one")
    client.set_model_version_tag("alpha", "3", "quality", "poor")
    client.set_model_version_tag("alpha", "1", "note", "old")
    client.delete_model_version_tag("alpha", "1", "note")
    client.set_registered_model_alias("alpha", "champion", "2")
    client.set_registered_model_alias("alpha", "challenger", "3")
    client.set_registered_model_alias("alpha", "champion", "3")
    client.delete_registered_model_alias("alpha", "challenger")
    client.transition_model_version_stage("alpha", "1", "Staging", archive_existing_versions=True)
    client.transition_model_version_stage(
        "alpha", "2", "Production", archive_existing_versions=True
    )

    def model_view(model: Any) -> Any:
        return (model.name, model.description or "", dict(model.tags), dict(model.aliases))

    def version_view(v: Any, aliases: bool = True) -> Any:
        view = (v.name, v.version, v.current_stage, v.description or "", dict(v.tags), v.status)
        return (*view, sorted(v.aliases)) if aliases else view

    seen["models"] = [
        model_view(client.get_registered_model(n)) for n in ("alpha", "beta", "gamma")
    ]
    for label, query, order in (
        ("all", None, ["name ASC"]),
        ("like", "name LIKE 'a%'", None),
        ("ilike", "name ILIKE '%A%'", ["name DESC"]),
        ("tag", "tags.team = 'vision'", ["name ASC"]),
    ):
        found = client.search_registered_models(filter_string=query, order_by=order)
        seen[f"search models {label}"] = [m.name for m in found]
    pages, token = [], None
    while True:
        page = client.search_registered_models(
            max_results=2, order_by=["name DESC"], page_token=token
        )
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    seen["pages"] = pages
    empty = client.search_registered_models(max_results=0)
    seen["no results asked"] = ([m.name for m in empty], empty.token is None)
    for label, query in (
        ("alpha", "name = 'alpha'"),
        ("tag", "tags.quality = 'good'"),
        ("name like", "name LIKE 'b%'"),
        ("versions", "name = 'alpha' and version_number > 1"),
    ):
        found = client.search_model_versions(query, order_by=["name ASC", "version_number ASC"])
        seen[f"search versions {label}"] = [version_view(v, aliases=False) for v in found]
        seen[f"search aliases {label}"] = [sorted(v.aliases) for v in found]
    seen["latest"] = [
        version_view(v) for v in client.get_latest_versions("alpha", ["Staging", "Production"])
    ]
    seen["alias"] = version_view(client.get_model_version_by_alias("alpha", "champion"))
    seen["errors"] = [
        _code(lambda: client.get_registered_model("nope")),
        _code(lambda: client.create_registered_model("alpha")),
        _code(lambda: client.get_model_version("alpha", "99")),
        _code(lambda: client.get_model_version_by_alias("alpha", "nope")),
        _code(lambda: client.search_registered_models(max_results=5000)),
        _code(lambda: client.search_model_versions(max_results=300_000)),
        _code(lambda: client.search_model_versions("name = ")),
    ]

    # Out of the stages: Staging is left empty, then versions are archived and restored.
    client.transition_model_version_stage("alpha", "1", "Archived")
    client.transition_model_version_stage("alpha", "2", "None")
    client.transition_model_version_stage("alpha", "2", "Archived")
    client.transition_model_version_stage("alpha", "1", "None")
    seen["after transitions"] = [
        version_view(client.get_model_version("alpha", str(n))) for n in (1, 2, 3)
    ] + [
        [version_view(v) for v in client.get_latest_versions("alpha", [s])]
        for s in ("Staging", "Production", "Archived", "None")
    ]
    seen["unknown stage"] = _code(
        lambda: client.transition_model_version_stage("alpha", "1", "Canary")
    )

    # Renames and deletions, then what is left.
    client.rename_registered_model("gamma", "delta")
    client.delete_model_version("alpha", "3")  # holds the alias 'champion'
    client.create_model_version("alpha", source)  # numbers are never reused
    client.delete_registered_model("beta")
    seen["after deletes"] = {
        "models": [model_view(m) for m in client.search_registered_models(order_by=["name ASC"])],
        "versions": [
            version_view(v, aliases=False)
            for v in client.search_model_versions(order_by=["name ASC", "version_number ASC"])
        ],
        "errors": [
            _code(lambda: client.get_registered_model("gamma")),
            _code(lambda: client.get_registered_model("beta")),
            _code(lambda: client.get_model_version("alpha", "3")),
            _code(lambda: client.get_model_version_by_alias("alpha", "champion")),
            _code(lambda: client.delete_model_version("alpha", "3")),
            _code(lambda: client.transition_model_version_stage("alpha", "3", "Staging")),
        ],
    }
    # Writes that change nothing succeed and change nothing.
    client.set_registered_model_tag("delta", "team", "vision")
    client.update_model_version("alpha", "2", "the better one")
    client.delete_registered_model_alias("alpha", "never-set")
    client.transition_model_version_stage("alpha", "2", "Archived")
    seen["no-ops"] = [
        model_view(client.get_registered_model("delta")),
        version_view(client.get_model_version("alpha", "2")),
        version_view(client.get_model_version_by_alias("alpha", "latest")),
    ]
    return seen


def test_the_plugin_answers_like_mlflows_sqlite_store(
    workspace: Workspace, tracking: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "saved-model"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler())
    ours = scenario(
        MlflowClient(tracking_uri=tracking, registry_uri=f"modelreg://{workspace.root}"),
        str(model_dir),
    )
    theirs = scenario(
        MlflowClient(tracking_uri=tracking, registry_uri=f"sqlite:///{tmp_path / 'registry.db'}"),
        str(model_dir),
    )
    assert ours.keys() == theirs.keys()
    for key in theirs:
        if key.startswith("search aliases"):
            continue
        assert ours[key] == theirs[key], key
    # The one difference: MLflow's sqlite store leaves versions' aliases out of search
    # results (get_model_version has them); the plugin fills them in everywhere.
    assert theirs["search aliases alpha"] == [[], [], []]
    assert ours["search aliases alpha"] == [[], [], ["champion"]]
    assert validate(workspace.root).ok


def test_mistakes_are_mlflow_errors_with_modelreg_messages(
    registry_uri: str, tracking: str
) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException, match="is not a valid model name") as bad_name:
        client.create_registered_model("has space")
    assert bad_name.value.error_code == "INVALID_PARAMETER_VALUE"
    client.create_registered_model("digits")
    client.create_registered_model("other")
    for create_again in (
        lambda: client.create_registered_model("digits"),
        lambda: client.rename_registered_model("other", "digits"),
    ):
        with pytest.raises(MlflowException, match="'digits' already exists") as taken:
            create_again()
        assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="Model version must be an integer"):
        client.get_model_version("digits", "one")
    with pytest.raises(MlflowException, match="not a modelreg registry URI"):
        ModelregStore("file:///tmp")
    with pytest.raises(MlflowException, match="is a local repository; write modelreg:///"):
        ModelregStore("modelreg://host/path")


def test_the_error_code_follows_the_error_class_not_its_wording() -> None:
    """Only an AlreadyExistsError is RESOURCE_ALREADY_EXISTS, whatever the messages say."""
    from modelreg.core.errors import AlreadyExistsError, ConflictError
    from modelreg.mlflow_store import _mlflow_error

    assert _mlflow_error(AlreadyExistsError("model 'a' is taken")).error_code == (
        "RESOURCE_ALREADY_EXISTS"
    )
    assert _mlflow_error(ConflictError("the alias already exists elsewhere")).error_code == (
        "INVALID_STATE"
    )


def test_every_abstract_store_method_is_implemented() -> None:
    """MLflow's base class does not enforce its abstract methods; this does."""
    from mlflow.store.model_registry.abstract_store import AbstractStore

    abstract = sorted(
        name
        for name, member in vars(AbstractStore).items()
        if getattr(member, "__isabstractmethod__", False)
    )
    assert len(abstract) == 21, abstract  # MLflow 3.17; a new one must be implemented here
    missing = [
        name for name in abstract if getattr(ModelregStore, name) is getattr(AbstractStore, name)
    ]
    assert missing == []


def test_deleting_keeps_a_tombstone_and_refuses_a_model_in_use(
    workspace: Workspace, tracking: str, registry_uri: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "saved-model"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler())
    client = MlflowClient()
    client.create_registered_model("digits")
    for _ in range(2):
        client.create_model_version("digits", str(model_dir))
    client.transition_model_version_stage("digits", "1", "Production")
    client.delete_model_version("digits", "2")
    with Registry.open(workspace.root) as reg:
        tombstone = reg.version("digits", 2)
    assert tombstone.deleted is not None and tombstone.deleted.reason == "deleted through MLflow"
    assert (workspace.root / "registry/digits/versions/2.yaml").is_file()
    assert commit_subjects(workspace.root)[0] == "delete digits version 2"
    with pytest.raises(MlflowException, match="promote another version there") as held:
        client.delete_model_version("digits", "1")
    assert held.value.error_code == "INVALID_STATE"
    with pytest.raises(MlflowException, match="a model in use cannot be deleted") as in_use:
        client.delete_registered_model("digits")
    assert in_use.value.error_code == "INVALID_STATE"

    # A model deleted through MLflow is a tombstone too: nothing leaves git or DVC.
    client.create_registered_model("old")
    client.create_model_version("old", str(model_dir))
    client.set_registered_model_alias("old", "keep", "1")
    client.delete_registered_model("old")
    assert commit_subjects(workspace.root)[0] == "delete model old"
    with Registry.open(workspace.root) as reg:
        assert reg.model("old").deleted is not None
        assert reg.version("old", 1).deleted is not None
        assert reg.aliases("old") == {}
    assert [m.name for m in client.search_registered_models()] == ["digits"]
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model("old")
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    base = workspace.git("rev-parse", "HEAD~1").strip()
    assert validate(workspace.root, base=base).ok  # CI's gate accepts the deletion
    # Creating it again revives it; version numbers go on.
    client.create_registered_model("old", description="second life")
    assert client.create_model_version("old", str(model_dir)).version == 2
    # modelreg's own commands see the tombstone as a version that must not be used.
    with pytest.raises(MlflowException):
        client.transition_model_version_stage("digits", "2", "Staging")
    assert validate(workspace.root).ok


def test_a_pytorch_model_loads_by_alias_and_stage(
    workspace: Workspace, tracking: str, registry_uri: str
) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pytorch

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    with mlflow.start_run():
        logged = mlflow.pytorch.log_model(net, name="model", input_example=torch.ones(1, 3).numpy())
    mlflow.register_model(logged.model_uri, "tiny-torch")
    client = MlflowClient()
    client.set_registered_model_alias("tiny-torch", "prod", "1")
    client.transition_model_version_stage("tiny-torch", "1", "Staging")
    x = torch.ones(1, 3)
    for uri in ("models:/tiny-torch@prod", "models:/tiny-torch/Staging"):
        loaded = mlflow.pytorch.load_model(uri)
        assert torch.allclose(loaded(x), net(x)), uri


def test_with_promote_pr_a_transition_opens_a_pull_request(
    workspace: Workspace, tracking: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.github_server import FakeGitHub

    model_dir = tmp_path / "saved-model"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler())
    with FakeGitHub(repo="acme/models", token="t0ken", origin=workspace.origin) as github:
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        monkeypatch.setenv("MODELREG_GITHUB_REPOSITORY", "acme/models")
        monkeypatch.setenv("MODELREG_GITHUB_API_URL", github.url)
        client = MlflowClient(registry_uri=f"modelreg://{workspace.root}?promote=pr&base=main")
        client.create_registered_model("digits")
        client.create_model_version("digits", str(model_dir))
        workspace.git("push", "-q", "origin", "main")
        head = workspace.git("rev-parse", "HEAD").strip()

        version = client.transition_model_version_stage("digits", "1", "Production")

        # Reviewed, not landed: main is untouched, the stage moves when the PR merges.
        assert version.current_stage == "None"
        assert workspace.git("rev-parse", "HEAD").strip() == head
        [pull] = github.pulls
        assert pull["base"]["ref"] == "main"
        assert pull["title"] == "Promote digits v1 to production"
        branch = pull["head"]["ref"]
        changed = workspace.git("diff", "--name-only", f"main..origin/{branch}").split()
        assert changed == ["registry/digits/stages/production.yaml"]
    with pytest.raises(MlflowException, match="unknown option 'promot'"):
        ModelregStore(f"modelreg://{workspace.root}?promot=pr")
    with pytest.raises(MlflowException, match="promote='yes'; use commit or pr"):
        ModelregStore(f"modelreg://{workspace.root}?promote=yes")


def test_a_failed_commit_changes_nothing_and_a_retry_works(
    workspace: Workspace, tracking: str, registry_uri: str
) -> None:
    client = MlflowClient()
    client.create_registered_model("digits")
    before = commit_subjects(workspace.root)
    # Make every commit fail, as a broken hook or signing setup would.
    workspace.git("config", "commit.gpgsign", "true")
    workspace.git("config", "gpg.program", "false")
    with pytest.raises(MlflowException) as failed:
        client.set_registered_model_tag("digits", "team", "vision")
    assert failed.value.error_code == "INTERNAL_ERROR"
    assert workspace.status() == ""  # nothing half-written, nothing staged
    with pytest.raises(MlflowException):
        client.set_registered_model_alias("digits", "champion", "1")
    assert workspace.status() == ""
    workspace.git("config", "--unset", "commit.gpgsign")
    client.set_registered_model_tag("digits", "team", "vision")
    assert client.get_registered_model("digits").tags == {"team": "vision"}
    assert commit_subjects(workspace.root) == ["update model digits", *before]


def test_concurrent_writes_are_serialised(
    workspace: Workspace, tracking: str, registry_uri: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = MlflowClient()
    names = [f"model-{i}" for i in range(4)]
    for name in names:
        client.create_registered_model(name)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: client.set_registered_model_tag(n, "team", n), names))
    assert [client.get_registered_model(n).tags for n in names] == [{"team": n} for n in names]
    assert workspace.status() == ""


def test_names_never_leave_the_registry_folder(
    workspace: Workspace, tracking: str, registry_uri: str
) -> None:
    client = MlflowClient()
    for action in (
        lambda: client.get_registered_model("../../etc"),
        lambda: client.delete_registered_model("../docs"),
        lambda: client.rename_registered_model("../x", "y"),
        lambda: client.get_model_version("../x", "1"),
        lambda: client.get_model_version_by_alias("..", "a"),
    ):
        with pytest.raises(
            MlflowException, match=r"not a valid model name|Names may be treated"
        ) as refused:
            action()
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
