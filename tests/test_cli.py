"""The command-line contract: exit codes, one-line errors, --json shapes, documentation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import modelreg.api
from modelreg.cli import cli, main
from scripts.gen_cli_docs import render
from tests import builders
from tests.conftest import Workspace


def run(exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def demo(workspace: Workspace, model_files: builders.ModelFiles) -> Workspace:
    """digits v1 (with ONNX) and v2 registered through the CLI; production -> 1."""
    runner = CliRunner()
    repo = ["--repo", str(workspace.root)]
    first = runner.invoke(
        cli,
        [
            *repo,
            "register",
            "digits",
            "--weights",
            str(model_files.weights),
            "--onnx",
            str(model_files.onnx),
            "--metrics",
            str(model_files.metrics),
            "--params",
            str(model_files.params),
            "--description",
            "first\nsecond line",
            "--tag",
            "team=vision",
            "--commit",
        ],
    )
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0] == "registered digits/1 (registry/digits/versions/1.yaml)"
    second = runner.invoke(
        cli,
        [
            *repo,
            "register",
            "digits",
            "--weights",
            str(model_files.weights),
            "--metrics",
            '{"accuracy": 0.99}',
            "--no-push",
            "--commit",
        ],
    )
    assert second.exit_code == 0, second.output
    assert "pushed" not in second.output
    builders.write_pointer(
        workspace.root,
        "digits",
        "production",
        1,
        reason="first release",
        since="2026-01-20T10:00:00Z",
    )
    workspace.commit_all("promote digits 1")
    return workspace


def invoke(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--repo", str(ws.root), *args])
    return result.exit_code, result.output


def test_list(demo: Workspace) -> None:
    code, output = invoke(demo, "list")
    assert code == 0
    assert output.splitlines() == [
        "MODEL   VERSIONS  LATEST  STAGING  PRODUCTION  DESCRIPTION",
        "digits  2         2       -        1",
    ]
    code, output = invoke(demo, "list", "--json")
    document = json.loads(output)
    assert document["format"] == "modelreg.list/1"
    assert document["models"] == [
        {
            "name": "digits",
            "description": None,
            "task": None,
            "owners": [],
            "tags": {},
            "versions": 2,
            "latest_version": 2,
            "stages": {"production": 1},
            "aliases": {},
            "deleted": False,
        },
    ]


def test_versions(demo: Workspace) -> None:
    code, output = invoke(demo, "versions", "models:/digits")
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "digits: 2 versions"
    assert lines[1].split()[:5] == ["VERSION", "CREATED", "(UTC)", "AUTHOR", "STAGE"]
    assert lines[2].startswith("2 ") and lines[3].startswith("1 ")
    assert "production" in lines[3] and "first" in lines[3] and "second line" not in lines[3]
    document = json.loads(invoke(demo, "versions", "digits", "--json")[1])
    assert [v["version"] for v in document["versions"]] == [2, 1]
    assert document["versions"][1]["stages"] == ["production"]
    assert document["versions"][1]["ref"] == "digits/1"


def test_show_a_version_and_a_model(demo: Workspace) -> None:
    code, output = invoke(demo, "show", "digits@Production")
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "digits/1  (production; resolved by stage production)"
    assert "  accuracy                 0.97" in lines
    assert "  train.lr                 0.001" in lines
    assert "inputs:      input float32[-1, 1, 8, 8]" in lines
    assert any(
        line.startswith("  onnx       registry/digits/artifacts/1/model.onnx  onnx, opset 18")
        for line in lines
    )
    document = json.loads(invoke(demo, "show", "digits/2", "--json")[1])
    assert document["format"] == "modelreg.show/1"
    assert document["version"]["resolved_via"] == "version number"
    assert document["version"]["metrics"] == {"accuracy": 0.99}

    code, output = invoke(demo, "show", "digits")
    assert code == 0
    assert output.splitlines()[1:4] == [
        "versions:    2 (latest 2)",
        "staging:     -",
        "production:  version 1 since 2026-01-20 10:00 (first release)",
    ]
    document = json.loads(invoke(demo, "show", "digits", "--json")[1])
    assert document["model"]["stages"]["production"]["version"] == 1


def test_resolve(demo: Workspace) -> None:
    assert invoke(demo, "resolve", "models:/digits/Production") == (0, "digits/1\n")
    assert invoke(demo, "resolve", "digits/latest") == (0, "digits/2\n")
    document = json.loads(invoke(demo, "resolve", "digits@production", "--json")[1])
    assert document["manifest"] == "registry/digits/versions/1.yaml"
    assert [a["name"] for a in document["artifacts"]] == ["weights", "onnx"]


def test_errors_are_one_line_with_exit_1_and_no_traceback(
    demo: Workspace, modelreg_exe: str
) -> None:
    for args, message in [
        (
            ["show", "digits@prod"],
            "error: 'digits' has no stage or alias 'prod'; did you mean "
            "'production'? (stages: staging, production)\n",
        ),
        (["resolve", "digits/7"], "error: model 'digits' has no version 7; it has versions 1-2\n"),
        (
            ["resolve", "digits#prod"],
            "error: 'digits#prod' is not a model reference: '#' is GTO's "
            "syntax; did you mean 'digits@prod'?; write NAME, NAME/3, "
            "NAME/latest or NAME@stage\n",
        ),
        (
            ["register", "digits", "--weights", "README.md", "--metrics", "{bad"],
            "error: --metrics: inline JSON is malformed: Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1)\n",
        ),
    ]:
        (demo.root / "README.md").write_text("readme\n")
        done = run(modelreg_exe, *args, cwd=demo.root)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", message)

    broken = demo.root / "registry/digits/versions/2.yaml"
    text = broken.read_text()
    broken.write_text(text + "extra: field\n")
    line = len(text.splitlines()) + 1
    done = run(modelreg_exe, "show", "digits/2", cwd=demo.root)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: registry/digits/versions/2.yaml:{line}: extra: unknown field; allowed: artifacts, "
        "author, created, deleted, deprecation, description, lineage, metrics, model, semver, "
        "signature, tags, version\n"
    )
    with_trace = run(modelreg_exe, "--traceback", "show", "digits/2", cwd=demo.root)
    assert "Traceback (most recent call last)" in with_trace.stderr
    assert with_trace.stderr.endswith("error: " + done.stderr.removeprefix("error: "))


def test_usage_errors_exit_2(demo: Workspace, modelreg_exe: str) -> None:
    for args in (["nonsense"], ["show"], ["history", "digits", "--limit", "0"], ["list", "--x"]):
        done = run(modelreg_exe, *args, cwd=demo.root)
        assert done.returncode == 2, args
        assert "Usage: modelreg" in done.stderr
        assert "Traceback" not in done.stderr


def test_outside_a_repository(tmp_path: Path, modelreg_exe: str) -> None:
    done = run(modelreg_exe, "list", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {tmp_path} is not inside a git repository; run 'git init' there, or pass "
        "--repo DIR\n"
    )


def test_a_bug_is_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, demo: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise TypeError("boom")

    monkeypatch.setattr(modelreg.api, "list_models", explode)  # what 'list' calls
    assert main(["--repo", str(demo.root), "list"]) == 1
    assert capsys.readouterr().err == (
        "internal error: TypeError: boom (this is a bug in modelreg; rerun with --traceback and "
        "report it)\n"
    )


def test_main_returns_exit_codes(demo: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(demo.root), "resolve", "digits/1"]) == 0
    assert main(["--repo", str(demo.root), "resolve", "digits/9"]) == 1
    assert main(["--version"]) == 0
    assert main(["--repo", str(demo.root), "resolve"]) == 2
    assert "modelreg, version 0.1.0" in capsys.readouterr().out


def test_init_from_the_cli(empty_repo: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--repo",
            str(empty_repo),
            "init",
            "--stage",
            "staging",
            "--stage",
            "production",
            "--commit",
        ],
    )
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == f"initialised a registry in {empty_repo}"
    assert result.output.splitlines()[-1].startswith("committed ")
    again = CliRunner().invoke(cli, ["--repo", str(empty_repo), "init"])
    assert again.output == f"registry in {empty_repo} is up to date\n"


def test_help_is_fast_to_load() -> None:
    # --help must not import the library (YAML, git, DVC...): it is on every user's path.
    code = (
        "import sys; from modelreg.cli import cli; "
        "heavy = [m for m in ('yaml', 'dvc', 'onnx', 'rich', 'modelreg.core.registry') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cli_reference_is_current_and_complete() -> None:
    reference = Path(__file__).parent.parent / "docs" / "cli.md"
    assert reference.read_text() == render(), "docs/cli.md is stale: run 'make docs'"
    for name in cli.commands:
        assert f"\n## modelreg {name}\n" in reference.read_text()
