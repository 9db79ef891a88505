"""``modelreg card``: a version's model card in four formats, from a real pipeline's version.

The registry is built once for the module the way the example pipeline builds it:
``register --from-dvc`` (real DVC, a local remote) of a version with a real ONNX file,
per-class and benchmark metrics, and the evaluation's confusion-matrix PNG, then
promoted. Every format is asked of the installed ``modelreg``; the CycloneDX BOM is
validated against the official 1.6 schema that ``cyclonedx-python-lib`` ships, the
Markdown's front matter is parsed as YAML, and the HTML is rendered in headless
Chromium. Hostile card text is checked inert in each format.
"""

from __future__ import annotations

import base64
import copy
import json
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

import modelreg.cli.cards  # noqa: F401  - registers 'card' until modelreg.cli imports it
from modelreg.api import init, promote, register, register_from_dvc, validate
from modelreg.core.errors import InputError
from modelreg.reporting.card import model_card
from modelreg.reporting.dashboard import build_dashboard
from modelreg.reporting.report import render_report
from tests import builders
from tests.conftest import RegistryFactory, Workspace, git
from tests.test_dashboard import render, visible
from tests.test_from_dvc import PIPELINE, Pipeline

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CARD = {
    "intended_use": "Reading 8x8 digits in the registry's own tests.",
    "out_of_scope_use": "Handwriting at any other resolution.",
    "training_data": "Three quarters of scikit-learn's digits.",
    "evaluation_data": "The other quarter.",
    "dataset": "sklearn-digits",
    "data_source": "sklearn.datasets.load_digits",
    "data_splits": {"train": 1347, "test": 450},
    "limitations": "Grey 8x8 images only.",
    "ethical_considerations": "None identified for toy digits.",
    "license": "apache-2.0",
}
METRICS = {
    "accuracy": 0.9756,
    "f1_macro": 0.9749,
    "test_images": 450,
    "per_class": {
        str(c): {"precision": 0.9 + c / 100, "recall": 0.95, "support": 45} for c in range(10)
    },
}
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) "
    "![p](https://evil.example/p.png) @org/team #12 **bold** | pipe |\n"
    "# Heading\n\n---\n\n- item\n<!-- hidden"
)


def png_image(size: int = 24) -> bytes:
    """A real PNG (RGB, one gradient), made here so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 10 % 256, y * 10 % 256, 160)) for x in range(size))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Registered:
    workspace: Workspace
    base: str  # the commit before v1 was promoted
    png: bytes
    onnx: bytes


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """digits v1 registered from a DVC pipeline run (ONNX, metrics, confusion matrix),
    v2 from plain files; v1 in production and v2 in staging; pushed to origin."""
    top = tmp_path_factory.mktemp("card")
    root, origin, remote = top / "repo", top / "origin.git", top / "dvc-remote"
    root.mkdir()
    remote.mkdir()
    git(root, "init", "-q")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    git(top, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    init(root, remote=str(remote), commit=True)
    ws = Workspace(root, origin, remote)

    pipeline = Pipeline(root)
    pipeline.write("out/metrics.json", json.dumps(METRICS))
    image = png_image()
    pipeline.write("out/confusion.png", image)
    pipeline.lock()
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    lock["stages"]["evaluate"]["outs"].append(
        {
            "path": "out/confusion.png",
            "hash": "md5",
            "md5": builders.md5_of(root / "out/confusion.png"),
            "size": len(image),
        }
    )
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    config = {**PIPELINE, "confusion_matrix": "out/confusion.png"}
    builders.write_model(
        root, "digits", description="Digits classifier.", task="image-classification",
        owners=["@ml-team"], tags={"framework": "pytorch"}, card=CARD, pipeline=config,
    )  # fmt: skip
    ws.commit_all("pipeline ran")
    register_from_dvc("digits", repo=root, description="from the pipeline", commit=True)
    files = builders.model_files(top / "inputs", seed=1)
    register("digits", repo=root, weights=files.weights, description="weights only", commit=True)
    base = ws.git("rev-parse", "HEAD").strip()
    promote("digits", 1, "production", repo=root, reason="first release", now=lambda: NOW)
    promote("digits", 2, "staging", repo=root, now=lambda: NOW.replace(hour=13))
    ws.git("push", "-q", "origin", "main")
    return Registered(ws, base, image, (root / "out/model.onnx").read_bytes())


def card_launcher(modelreg_exe: str) -> list[str]:
    """The installed ``modelreg``; until ``modelreg.cli`` imports ``modelreg.cli.cards``
    (the line that registers the command for everyone), the same entry point,
    ``modelreg.cli:main``, with that import made first."""
    probe = subprocess.run([modelreg_exe, "card", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [modelreg_exe]
    launcher = "import sys, modelreg.cli.cards; from modelreg.cli import main; sys.exit(main())"
    return [sys.executable, "-c", launcher]


@pytest.fixture(scope="module")
def card_command(modelreg_exe: str) -> list[str]:
    return card_launcher(modelreg_exe)


def run(command: list[str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "--repo", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML between the leading ``---`` lines, parsed, and the Markdown after it."""
    assert text.startswith("---\n"), text[:200]
    end = text.index("\n---\n", 4)
    parsed = yaml.safe_load(text[4:end])
    assert isinstance(parsed, dict)
    return parsed, text[end + 5 :]


# --- the official CycloneDX 1.6 schema ---------------------------------------------------


def cyclonedx_validator() -> Any:
    """A validator for the official bom-1.6 schema as cyclonedx-python-lib ships it, with
    its two referenced schemas (SPDX license ids, JSF signatures) resolved from the same
    folder: nothing is fetched, and any other reference fails instead of downloading."""
    import cyclonedx.schema._res as shipped
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource

    folder = Path(shipped.__file__).parent

    def load(name: str) -> Any:
        return json.loads((folder / name).read_text(encoding="utf-8"))

    schema = load("bom-1.6.SNAPSHOT.schema.json")
    assert schema["$id"] == "http://cyclonedx.org/schema/bom-1.6.schema.json"
    base = "http://cyclonedx.org/schema/"
    references = Registry().with_resources(
        (base + name, Resource.from_contents(load(name)))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")
    )
    Draft7Validator.check_schema(schema)
    return Draft7Validator(
        schema, registry=references, format_checker=Draft7Validator.FORMAT_CHECKER
    )


def schema_errors(bom: Any) -> list[str]:
    return [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in cyclonedx_validator().iter_errors(bom)
    ]


# --- the four formats, through the installed command -------------------------------------


def test_markdown_has_hugging_face_front_matter_and_every_section(
    registered: Registered, card_command: list[str]
) -> None:
    done = run(card_command, registered.workspace.root, "card", "digits@production")

    assert (done.returncode, done.stderr) == (0, "")
    meta, body = front_matter(done.stdout)
    assert meta["license"] == "apache-2.0" and meta["pipeline_tag"] == "image-classification"
    assert meta["library_name"] == "onnx" and meta["datasets"] == ["sklearn-digits"]
    assert meta["tags"] == ["modelreg", "pytorch"]
    [entry] = meta["model-index"]
    assert entry["name"] == "digits"
    [result] = entry["results"]
    assert result["task"] == {"type": "image-classification", "name": "Image Classification"}
    assert result["dataset"] == {
        "type": "sklearn-digits",
        "name": "sklearn-digits",
        "split": "test",
    }
    shown = {m["type"]: m["value"] for m in result["metrics"]}
    assert shown == {"accuracy": 0.9756, "f1_macro": 0.9749, "test_images": 450}
    assert all(m["verified"] is False for m in result["metrics"])
    assert meta["metrics"] == ["accuracy", "f1_macro", "test_images"]

    headings = [line for line in body.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model card: digits v1",
        "## Intended use",
        "### Out of scope",
        "## Training data",
        "## Architecture",
        "## Performance",
        "### Per class",
        "### Confusion matrix",
        "### Benchmark",
        "### ONNX export parity",
        "## Limitations and biases",
        "### Ethical considerations",
        "## Lineage",
        "### Parameters",
        "### Artifacts",
        "## Stage history",
    ]
    assert "640 parameters; 2 nodes of 2 operator types (ONNX IR 9, opset 18)." in body
    assert "| Flatten | 1 |" in body and "| MatMul | 1 |" in body
    assert "| input | input | float32\\[?, 1, 8, 8\\] |" in body
    assert "| Split: train | 1,347 |" in body and "| Split: test | 450 |" in body
    data_hash = builders.md5_of(registered.workspace.root / "data/train.npz")
    assert f"| Data hash | `{data_hash}` |" in body
    assert "| 3 | 0.93 | 0.95 | 45 |" in body  # per class: precision, recall, support
    assert "| cpu | 8 | 0.08 | 0.16 | 0.24 | 100,000 |" in body  # the benchmark table
    assert "| DVC stage | `train` |" in body and "| MLflow run | `abc123` |" in body
    assert "| train.lr | 0.003 |" in body
    assert "the HTML card shows it" in body
    assert "| production | — → v1 | assigned | Test Author |" in body


def test_json_is_the_card_as_data(registered: Registered, card_command: list[str]) -> None:
    done = run(card_command, registered.workspace.root, "card", "digits/1", "--format", "json")

    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert next(iter(card)) == "format" and card["format"] == "modelreg.card/1"
    assert (card["ref"], card["status"]["stages"]) == ("digits/1", ["production"])
    architecture = card["architecture"]
    assert architecture["available"] is True and architecture["parameters"] == 640
    assert architecture["operators"] == {"Flatten": 1, "MatMul": 1}
    assert architecture["opset"] == 18
    performance = card["performance"]
    assert performance["metrics"] == {"accuracy": 0.9756, "f1_macro": 0.9749, "test_images": 450}
    assert performance["per_class"]["9"] == {"precision": 0.99, "recall": 0.95, "support": 45}
    assert [(r["device"], r["batch"]) for r in performance["benchmark"]] == [("cpu", 1), ("cpu", 8)]
    assert performance["confusion_matrix"]["available"] is True
    assert performance["onnx_parity"]["onnx_top1_agreement"] == 1.0
    assert card["training_data"]["splits"] == {"train": 1347, "test": 450}
    [change] = card["stage_history"]
    assert (change["stage"], change["to_version"], change["reason"]) == (
        "production",
        1,
        "first release",
    )
    assert card["lineage"]["mlflow"]["run_id"] == "abc123"


def test_cyclonedx_validates_against_the_official_1_6_schema(
    registered: Registered, card_command: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "bom" / "digits-1.cdx.json"
    args = ["card", "digits/1", "--format", "cyclonedx", "--out", str(out)]
    done = run(card_command, registered.workspace.root, *args)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out} (cyclonedx card of digits/1)\n"
    bom = json.loads(out.read_text())
    assert schema_errors(bom) == []
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    [model] = bom["components"]
    assert model["type"] == "machine-learning-model" and model["version"] == "1"
    assert model["hashes"] == [
        {"alg": "MD5", "content": builders.md5_of(registered.workspace.root / "out/model.onnx")}
    ]
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "image-classification"
    assert card["modelParameters"]["inputs"] == [{"format": "input: float32[?, 1, 8, 8]"}]
    metrics = card["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "accuracy", "value": "0.9756"} in metrics
    assert {"type": "recall", "value": "0.95", "slice": "class 3"} in metrics
    [graphic] = card["quantitativeAnalysis"]["graphics"]["collection"]
    assert base64.b64decode(graphic["image"]["content"]) == registered.png
    assert card["considerations"]["useCases"] == [CARD["intended_use"]]
    assert (
        model["pedigree"]["commits"][0]["uid"]
        == registered.workspace.git("rev-parse", "HEAD~4").strip()
    )
    assert {c["name"] for c in model["components"]} == {
        "registry/digits/artifacts/1/model.pt",
        "registry/digits/artifacts/1/model.onnx",
        "registry/digits/artifacts/1/confusion.png",
    }

    # The check can fail: a wrong component type, a missing required field, a license
    # id that is not SPDX's (which only the referenced SPDX schema knows) all do.
    for breakage in (
        lambda b: b["components"][0].update(type="ml-model"),
        lambda b: b["components"][0].pop("name"),
        lambda b: b["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][
            0
        ].update(value=0.97),
        lambda b: b["components"][0].update(licenses=[{"license": {"id": "Not-A-License"}}]),
    ):
        broken = copy.deepcopy(bom)
        breakage(broken)
        assert schema_errors(broken) != []


def test_html_renders_in_headless_chromium_without_console_errors(
    registered: Registered, card_command: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "card.html"
    args = ["card", "digits/1", "--format", "html", "--out", str(out)]
    done = run(card_command, registered.workspace.root, *args)
    assert done.returncode == 0, done.stderr
    page = out.read_text()

    for section in ("summary", "intended-use", "training-data", "architecture", "performance",
                    "confusion-matrix", "limitations", "lineage", "stage-history"):  # fmt: skip
        assert f'id="{section}"' in page, section
    encoded = base64.b64encode(registered.png).decode()
    assert f'<img src="data:image/png;base64,{encoded}" alt="confusion matrix">' in page
    assert "img-src data:" in page and "<script" not in page
    _, console = render(out, tmp_path)
    assert console == []
    # Every section is laid out and shown, the confusion matrix decoded as an image.
    sections = ("summary", "intended-use", "training-data", "architecture", "performance",
                "limitations", "lineage", "stage-history")  # fmt: skip
    selectors = {name: f"section#{name}" for name in sections}
    shown = visible(out, {**selectors, "matrix": "#confusion-matrix img"}, tmp_path / "probe")
    assert shown == {**dict.fromkeys(sections, 1), "matrix": 1}
    # Printed instead of written, the page is the same.
    printed = run(card_command, registered.workspace.root, "card", "digits/1", "--format", "html")
    assert printed.stdout == page


def test_a_bad_reference_is_one_line_and_a_bad_format_is_usage(
    registered: Registered, card_command: list[str]
) -> None:
    root = registered.workspace.root
    for ref, message in (
        ("digits/9", "error: model 'digits' has no version 9; it has versions 1-2"),
        ("nosuch/1", "error: no model named 'nosuch'"),
        ("digits@@x", "error: 'digits@@x' is not a model reference"),
    ):
        done = run(card_command, root, "card", ref)
        assert (done.returncode, done.stdout) == (1, ""), ref
        [line] = done.stderr.splitlines()
        assert line.startswith(message), line
    done = run(card_command, root, "card", "digits/1", "--format", "pdf")
    assert done.returncode == 2 and "Traceback" not in done.stderr


# --- artifacts: verified, fetched from the remote, or the card says why not --------------


def test_a_clone_fetches_the_onnx_file_from_the_remote_only_when_allowed(
    registered: Registered, card_command: list[str], tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(registered.workspace.origin), str(clone))
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    url = {registered.workspace.remote}\n"
    )

    offline = json.loads(
        run(card_command, clone, "card", "digits/1", "--format", "json", "--offline").stdout
    )
    architecture = offline["architecture"]
    assert architecture["available"] is False
    assert "is in neither the working tree nor the DVC cache" in architecture["note"]
    assert architecture["signature"]["inputs"][0]["shape"] == [-1, 1, 8, 8]  # the manifest's
    assert offline["performance"]["confusion_matrix"]["available"] is False

    fetched = json.loads(run(card_command, clone, "card", "digits/1", "--format", "json").stdout)
    assert fetched["architecture"]["parameters"] == 640
    assert fetched["performance"]["confusion_matrix"]["available"] is True
    # Into the DVC cache, verified; the working tree is not written.
    assert not (clone / "registry/digits/artifacts/1/model.onnx").exists()


def test_without_a_remote_the_card_says_why_the_figures_are_missing(
    offline_registry: Workspace, card_command: list[str]
) -> None:
    root = offline_registry.root
    onnx = builders.onnx_model_bytes()
    builders.write_version(
        root, "digits", 1,
        artifacts=[{"name": "onnx", "path": "registry/digits/artifacts/1/model.onnx",
                    "md5": "0" * 32, "size": len(onnx), "format": "onnx", "opset": 18},
                   {"name": "confusion_matrix", "path": "registry/digits/artifacts/1/cm.png",
                    "md5": "1" * 32, "size": 100, "format": "other"}],
    )  # fmt: skip
    done = run(card_command, root, "card", "digits/1")

    assert done.returncode == 0, done.stderr
    assert (
        "ONNX figures: not available: digits/1 onnx (registry/digits/artifacts/1/model.onnx)"
        in done.stdout
    )
    assert "no DVC remote is configured" in done.stdout
    assert "Recorded as `registry/digits/artifacts/1/cm.png`" in done.stdout


def test_an_image_that_is_not_a_png_is_not_shown(
    offline_registry: Workspace, card_command: list[str]
) -> None:
    root = offline_registry.root
    fake = b"<svg onload=alert(1)></svg>" + b" " * 40
    folder = root / "registry/digits/artifacts/1"
    folder.mkdir(parents=True)
    (folder / "cm.png").write_bytes(fake)
    image = {
        "name": "confusion_matrix",
        "path": "registry/digits/artifacts/1/cm.png",
        "md5": builders.md5_of(folder / "cm.png"),
        "size": len(fake),
        "format": "other",
    }
    builders.write_version(root, "digits", 1, artifacts=[image])
    page = run(card_command, root, "card", "digits/1", "--format", "html").stdout
    assert "registry/digits/artifacts/1/cm.png is not a PNG image; it is not shown" in page
    assert "data:image" not in page and "<svg" not in page


# --- hostile text ------------------------------------------------------------------------


@pytest.fixture
def hostile(make_registry: RegistryFactory) -> Workspace:
    card: dict[str, Any] = dict.fromkeys(
        ("intended_use", "limitations", "training_data", "license"), HOSTILE
    )
    card["dataset"] = "x\n---\nlicense: evil\n..."
    version = {
        "description": HOSTILE,
        "signature": {
            "inputs": [{"name": "<b>in</b>", "dtype": "float32", "shape": [-1, 4]}],
            "outputs": [{"name": "out|put", "dtype": "float32", "shape": [-1, 2]}],
            "classes": ["<i>cat</i>", "[dog](javascript:x)"],
        },
        "metrics": {"accuracy": 0.9},
        "tags": {"note": HOSTILE},
    }
    ws = make_registry(
        {"digits": {1: version}},
        models={"digits": {"description": HOSTILE, "tags": {"t": HOSTILE}, "card": card}},
        message="a hostile version",
    )
    promote("digits", 1, "production", repo=ws.root, reason="<script>x</script>", now=lambda: NOW)
    return ws


def assert_inert_markdown(markdown: str) -> None:
    """Rendered as CommonMark (with tables), the text made no markup of its own."""
    page = MarkdownIt("commonmark").enable("table").render(markdown)
    for made in ("<script", "<img", "<a ", "<h1>Heading", "<hr", "<li>item", "<!-- hidden",
                 "<strong>bold", "<b>", "<i>"):  # fmt: skip
        assert made not in page, (made, page)
    assert "@org/team" not in page  # a word joiner after "@" keeps GitHub from mentioning


def test_hostile_text_is_inert_in_every_format(
    hostile: Workspace, card_command: list[str], tmp_path: Path
) -> None:
    root = hostile.root
    markdown = run(card_command, root, "card", "digits/1")
    assert markdown.returncode == 0, markdown.stderr
    assert "\x1b" not in markdown.stdout
    meta, body = front_matter(markdown.stdout)
    # Labels in the front matter are one line; safe_dump quotes them, so nothing closes
    # the block or adds a key.
    assert meta["datasets"] == ["x --- license: evil ..."]
    assert set(meta) == {"license", "tags", "datasets", "metrics", "model-index"}
    assert meta["license"] == " ".join(HOSTILE.split())
    assert_inert_markdown(body)
    assert body.count("\n# ") == 1 and body.startswith("\n# Model card: digits v1\n")

    out = tmp_path / "hostile.html"
    done = run(card_command, root, "card", "digits/1", "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "<script" not in page and "<img src=x" not in page and "<b>in" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    _, console = render(out, tmp_path)
    assert console == []  # an injected <img onerror> or script would break the CSP, loudly

    card = json.loads(run(card_command, root, "card", "digits/1", "--format", "json").stdout)
    assert card["intended_use"] == HOSTILE.strip()  # data, exactly as written
    bom = json.loads(run(card_command, root, "card", "digits/1", "--format", "cyclonedx").stdout)
    assert schema_errors(bom) == []
    assert bom["components"][0]["modelCard"]["considerations"]["useCases"] == [HOSTILE.strip()]

    compact = render_report(root, "HEAD~1")
    assert "<summary>Model card of digits/1</summary>" in compact
    assert_inert_markdown(compact)


# --- the dashboard, the pull-request report and validate ---------------------------------


def test_the_dashboard_links_each_version_to_its_card(
    registered: Registered, tmp_path: Path
) -> None:
    done = build_dashboard(registered.workspace.root, tmp_path / "site")

    page = done.path.read_text()
    assert done.cards == 2
    assert '<a href="cards/digits/1.html">card</a>' in page
    assert '<a href="cards/digits/2.html">card</a>' in page
    first = (tmp_path / "site/cards/digits/1.html").read_text()
    assert '<a href="../../index.html">← all models</a>' in first
    assert "data:image/png;base64," in first  # the working tree has the image
    second = (tmp_path / "site/cards/digits/2.html").read_text()
    assert "ONNX figures: the version records no ONNX file" in second


def test_the_report_shows_the_card_of_a_version_being_promoted(registered: Registered) -> None:
    report = render_report(registered.workspace.root, registered.base)

    promoted = report[report.index("#### Promotion of production") :]
    card = promoted[promoted.index("<details>") : promoted.index("</details>")]
    assert "<summary>Model card of digits/1</summary>" in card
    assert f"- **Intended use:** {CARD['intended_use']}" in card
    assert f"- **Limitations:** {CARD['limitations']}" in card
    assert "splits train 1,347, test 450" in card
    assert "accuracy 0.9756" in card and "MLflow run `abc123`" in card
    # The staging move is an assignment too: each promoted version gets its card.
    assert report.count("<summary>Model card of") == 2


def test_validate_warns_when_production_holds_a_version_without_a_card(
    make_registry: RegistryFactory, modelreg_exe: str
) -> None:
    ws = make_registry({"digits": 2}, stages={"digits": {"staging": 2}}, message="staging only")
    assert validate(ws.root, offline=True).findings == ()  # staging is not production

    builders.write_pointer(ws.root, "digits", "production", 1)
    report = validate(ws.root, offline=True)
    assert report.ok  # a warning, not an error
    [finding] = report.findings
    assert (finding.severity, finding.code) == ("warning", "card-incomplete")
    assert finding.render() == (
        "registry/digits/model.yaml:2: warning: card.intended_use: production holds version 1, "
        "but the model card has no intended_use or limitations; describe them under card: "
        "('modelreg card' shows the card)"
    )
    done = subprocess.run(
        [modelreg_exe, "--repo", str(ws.root), "validate", "--offline"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        finding.render(),
        "ok: the registry is valid (0 errors, 1 warnings in 6 files)",
    ]

    builders.write_model(ws.root, "digits", card={"intended_use": "demos", "limitations": " "})
    [finding] = validate(ws.root, offline=True).findings
    assert "has no limitations; describe it under card:" in finding.render()
    builders.write_model(ws.root, "digits", card=builders.CARD)
    assert validate(ws.root, offline=True).findings == ()


def test_register_from_dvc_refuses_a_confusion_matrix_that_is_not_a_png(
    workspace: Workspace,
) -> None:
    pipeline = Pipeline(workspace.root)
    pipeline.write("out/confusion.png", b"GIF89a not a png")
    lock = yaml.safe_load((workspace.root / "dvc.lock").read_text())
    lock["stages"]["evaluate"]["outs"].append(
        {
            "path": "out/confusion.png",
            "hash": "md5",
            "md5": builders.md5_of(workspace.root / "out/confusion.png"),
            "size": 16,
        }
    )
    (workspace.root / "dvc.lock").write_text(yaml.safe_dump(lock))
    builders.write_model(
        workspace.root, "digits", pipeline={**PIPELINE, "confusion_matrix": "out/confusion.png"}
    )
    with pytest.raises(
        InputError,
        match=r"out/confusion.png \(model.yaml's pipeline.confusion_matrix\) is not a PNG image",
    ):
        pipeline.read()


def test_the_library_builds_the_same_card(registered: Registered) -> None:
    card = model_card("digits@production", registered.workspace.root)
    assert card.ref == "digits/1" and card.onnx.summary is not None
    assert card.confusion_matrix is not None and card.confusion_matrix.png == registered.png
    assert card.missing_fields() == []
