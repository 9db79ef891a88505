"""``register`` with real git and DVC: what it writes, tracks, pushes and commits."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from modelreg.api import Registry, init, load_metrics, load_params, parse_tags, register, validate
from modelreg.artifacts.dvc import object_path
from modelreg.core.errors import InputError, ModelregError, NotFoundError, StorageError
from tests import builders
from tests.conftest import Workspace, git


def register_files(ws: Workspace, files: builders.ModelFiles, **kwargs: Any) -> Any:
    return register(
        "digits",
        repo=ws.root,
        weights=files.weights,
        onnx=files.onnx,
        metrics=load_metrics(str(files.metrics)),
        params=load_params(str(files.params)),
        **kwargs,
    )


def test_register_records_tracks_pushes_and_commits(
    workspace: Workspace, model_files: builders.ModelFiles
) -> None:
    head = workspace.git("rev-parse", "HEAD").strip()
    result = register_files(
        workspace, model_files, description="first", tags={"framework": "pytorch"}, commit=True
    )
    version = result.version
    assert version.ref == "digits/1"
    assert result.path == "registry/digits/versions/1.yaml"
    assert version.author == "Test Author <test@example.com>"
    assert version.description == "first"
    assert dict(version.metrics) == {"accuracy": 0.97, "f1_macro": 0.965, "test.loss": 0.11}
    assert dict(version.lineage.params) == {"train": {"lr": 0.001, "epochs": 10}, "seed": 42}
    assert version.lineage.git_commit == head and version.lineage.git_dirty is False

    weights, onnx = version.artifacts
    assert (weights.name, weights.format, weights.opset) == ("weights", "pytorch", None)
    assert (onnx.name, onnx.format, onnx.opset) == ("onnx", "onnx", 18)
    for artifact, source in ((weights, model_files.weights), (onnx, model_files.onnx)):
        assert artifact.md5 == builders.md5_of(source)
        assert artifact.size == source.stat().st_size
        assert (workspace.root / artifact.path).read_bytes() == source.read_bytes()
        assert object_path(workspace.root / ".dvc" / "cache", artifact.md5).is_file()
        assert object_path(workspace.remote, artifact.md5).read_bytes() == source.read_bytes()
    assert version.signature is not None
    assert [(t.name, t.dtype, t.shape) for t in version.signature.inputs] == [
        ("input", "float32", (-1, 1, 8, 8))
    ]
    assert result.pushed

    # Exactly the new files were committed, and nothing is left over.
    committed = workspace.git("show", "--name-only", "--format=", "HEAD").split()
    assert (
        sorted(committed)
        == sorted(result.files)
        == [
            "registry/digits/artifacts/1/.gitignore",
            "registry/digits/artifacts/1/model.onnx.dvc",
            "registry/digits/artifacts/1/model.pt.dvc",
            "registry/digits/model.yaml",
            "registry/digits/versions/1.yaml",
        ]
    )
    message = workspace.git("log", "-1", "--format=%B")
    assert message.startswith("register digits version 1\n\nfirst\n")
    assert "Modelreg-Event: register\nModelreg-Model: digits\nModelreg-Version: 1" in message
    assert workspace.status() == ""
    assert validate(workspace.root).ok  # the artifacts are found in cache and remote

    # A fresh clone with only the remote (no cache) still validates: objects are pushed.
    clone = workspace.root.parent / "clone"
    git(workspace.root.parent, "clone", "-q", str(workspace.root), str(clone))
    assert validate(clone).ok
    shutil.rmtree(workspace.remote)
    workspace.remote.mkdir()
    assert [f.code for f in validate(clone).findings] == ["artifact-missing", "artifact-missing"]


def test_next_version_and_a_dirty_tree(
    workspace: Workspace, model_files: builders.ModelFiles
) -> None:
    register_files(workspace, model_files, commit=True)
    (workspace.root / "train.py").write_text("print('changed')\n")
    workspace.commit_all("training code")
    (workspace.root / "train.py").write_text("print('changed again')\n")
    second = register(
        "digits", repo=workspace.root, weights=model_files.weights, commit=True, push=False
    )
    assert second.version.version == 2
    assert second.version.lineage.git_dirty is True
    assert not second.pushed
    assert "registry/digits/model.yaml" not in second.files  # the model already existed
    with Registry.open(workspace.root) as registry:
        assert registry.version_numbers("digits") == [1, 2]
        assert registry.resolve("digits/latest").version.version == 2


def test_an_mlflow_model_folder_is_tracked_as_a_directory(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "model.pth").write_bytes(b"\x00" * 100)
    result = register("digits", repo=workspace.root, weights=folder, commit=True)
    [artifact] = result.version.artifacts
    assert artifact.format == "mlflow" and artifact.md5.endswith(".dir") and artifact.size == 112
    assert validate(workspace.root).ok


def tree_state(ws: Workspace) -> tuple[str, list[str]]:
    files = sorted(str(p.relative_to(ws.root)) for p in (ws.root / "registry").rglob("*"))
    return ws.status(), files


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"name": "bad name"}, InputError, "'bad name' is not a valid model name"),
        ({"name": "con"}, InputError, "'con' is a reserved device name on Windows"),
        (
            {"weights": Path("/nonexistent/model.pt")},
            InputError,
            "--weights: /nonexistent/model.pt does not exist",
        ),
        ({"onnx": "corrupt"}, InputError, "is not a valid ONNX model"),
        ({"onnx": "weights-as-onnx"}, InputError, "must be an .onnx file"),
        (
            {"metrics": {"accuracy": float("nan")}},
            InputError,
            "metric accuracy is nan, not a finite number",
        ),
        (
            {"tags": {"k": "x" * 6000}},
            InputError,
            "the new version would be invalid: tags.k: is 6000 characters long, over 5000",
        ),
    ],
)
def test_bad_input_changes_nothing(
    workspace: Workspace,
    model_files: builders.ModelFiles,
    change: dict[str, Any],
    error: type[ModelregError],
    message: str,
) -> None:
    register_files(workspace, model_files, commit=True)
    before = tree_state(workspace)
    kwargs: dict[str, Any] = {"weights": model_files.weights, "onnx": model_files.onnx}
    kwargs.update(change)
    if kwargs["onnx"] == "corrupt":
        corrupt = model_files.onnx.with_name("corrupt.onnx")
        corrupt.write_bytes(model_files.onnx.read_bytes()[:50])
        kwargs["onnx"] = corrupt
    elif kwargs["onnx"] == "weights-as-onnx":
        kwargs["onnx"] = model_files.weights
    name = kwargs.pop("name", "digits")
    with pytest.raises(error) as caught:
        register(name, repo=workspace.root, **kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert tree_state(workspace) == before


def test_a_failed_push_leaves_nothing_behind(
    workspace: Workspace, model_files: builders.ModelFiles
) -> None:
    before = tree_state(workspace)
    shutil.rmtree(workspace.remote)
    workspace.remote.write_text("a file where the remote folder should be\n")
    with pytest.raises(StorageError, match="DVC could not push to the remote"):
        register_files(workspace, model_files, commit=True)
    assert tree_state(workspace) == before
    assert workspace.git("log", "-1", "--format=%s").strip() == "modelreg init"


def test_case_twins_are_refused(workspace: Workspace, model_files: builders.ModelFiles) -> None:
    register_files(workspace, model_files)
    with pytest.raises(InputError, match="model 'digits' already exists and differs from 'Digits'"):
        register("Digits", repo=workspace.root, weights=model_files.weights)


def test_register_needs_an_initialised_registry(
    empty_repo: Path, model_files: builders.ModelFiles
) -> None:
    with pytest.raises(NotFoundError, match="run 'modelreg init'"):
        register("digits", repo=empty_repo, weights=model_files.weights)
    builders.write_config(empty_repo)  # a registry, but no DVC
    with pytest.raises(StorageError, match="DVC is not initialised in this repository"):
        register("digits", repo=empty_repo, weights=model_files.weights)
    assert git(empty_repo, "status", "--porcelain") == "?? registry/\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{"acc": "high"}', "--metrics: acc is 'high', not a number"),
        ('{"acc": true}', "--metrics: acc is True, not a number"),
        ('{"acc": NaN}', "--metrics: acc is nan, not a finite number"),
        ('{"acc": 1', "--metrics: inline JSON is malformed"),
        ('{"bad name": 1}', "--metrics: 'bad name' is not a valid metric name"),
        ("[1, 2]", "--metrics: [1, 2] is not a file"),
        ("missing.json", "--metrics: missing.json is not a file"),
    ],
)
def test_metric_inputs_are_checked(source: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_metrics(source)
    assert str(caught.value).startswith(message)


def test_metrics_files_flatten_like_dvc_metrics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text("test:\n  accuracy: 0.9\n  f1: 0.8\nloss: 0.1\n")
    assert load_metrics(str(path)) == {"test.accuracy": 0.9, "test.f1": 0.8, "loss": 0.1}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\na: 2\n")
    with pytest.raises(InputError, match=r"--metrics: .*bad.yaml:2: duplicate key 'a'"):
        load_metrics(str(bad))


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["novalue"], "--tag 'novalue': write it as key=value"),
        (["bad key=1"], "--tag 'bad key=1': 'bad key' is not a valid tag key"),
        (["a=1", "a=2"], "--tag 'a' is given twice; keep one"),
    ],
)
def test_tag_inputs_are_checked(pairs: list[str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_tags(pairs)
    assert str(caught.value).startswith(message)
    assert parse_tags(["a=b=c", "empty="]) == {"a": "b=c", "empty": ""}


def test_init_is_idempotent_and_refreshes_schemas(empty_repo: Path) -> None:
    first = init(empty_repo, stages=("dev", "staging", "production"))
    assert "registry/registry.yaml" in first.written and first.dvc_initialised
    assert validate(empty_repo, offline=True).ok
    with Registry.open(empty_repo) as registry:
        assert registry.config.stages == ("dev", "staging", "production")
        assert registry.config.policies == {}
    schema = empty_repo / "registry/.schemas/version.schema.json"
    schema.write_text("{}")
    assert [f.code for f in validate(empty_repo, offline=True).findings] == ["stale-schema"]
    again = init(empty_repo)
    assert again.written == ("registry/.schemas/version.schema.json",)
    assert not again.dvc_initialised
    assert validate(empty_repo, offline=True).findings == ()


def test_init_refuses_bad_stages_and_broken_config(empty_repo: Path) -> None:
    with pytest.raises(InputError, match="--stage: 'latest' is reserved"):
        init(empty_repo, stages=("latest",))
    with pytest.raises(InputError, match="--stage: each stage may be given once"):
        init(empty_repo, stages=("a", "a"))
    assert git(empty_repo, "status", "--porcelain") == ""
    builders.write_config(empty_repo)
    config = empty_repo / "registry/registry.yaml"
    config.write_text(config.read_text() + "stages: [again]\n")
    with pytest.raises(ModelregError, match=r"registry/registry\.yaml:5: duplicate key 'stages'"):
        init(empty_repo)


def test_init_template_documents_a_strict_policy_that_validates(empty_repo: Path) -> None:
    init(empty_repo)
    text = (empty_repo / "registry/registry.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=.schemas/registry.schema.json\n")
    # Uncommenting the example must give a valid configuration.
    example = [line[2:] for line in text.splitlines() if line.startswith("#   ")]
    strict = text.replace("policies: {}\n", "") + "policies:\n" + "\n".join(example) + "\n"
    (empty_repo / "registry/registry.yaml").write_text(strict)
    assert validate(empty_repo, offline=True).ok
    with Registry.open(empty_repo) as registry:
        policy = registry.config.policies["production"]
    assert policy.from_stages == ("staging",)
    assert dict(policy.require["accuracy"]) == {"min": 0.97}


def test_init_remote_inside_the_repository_is_stored_relative(empty_repo: Path) -> None:
    init(empty_repo, remote=str(empty_repo / "storage"))
    config = (empty_repo / ".dvc/config").read_text()
    assert "url = ../storage" in config
