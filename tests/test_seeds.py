"""The seeds (../shared/seeds: the workflows our users follow) run as tests, unchanged.

Every code block of a seed that touches the registry is kept here verbatim (a ``Block``
names its seed and lines; ``test_each_block_here_is_the_seeds_text`` checks the text
against the seeds when they are beside the checkout) and runs against the Git registry:
through a real ``mlflow ui`` started with seed 004's own command plus
``--registry-store-uri modelreg://...`` (the seeds talk to an MLflow server), or through
the plugin with ``MLFLOW_REGISTRY_URI``. The only edits are each named where a block runs:
the tracking URI (a free port instead of 5000), a placeholder the seed says to replace
(``<RUN_ID>``), and the one MLflow 3 change that breaks the seeds' code
(``mlflow.pytorch.log_model``'s default format, see ``pickled``). What the seeds import
from the user's own project (their model classes, checkpoints, training functions,
scripts) is a tiny stand-in written here. The UI steps of seeds 000 and 002 are checked in
MLflow's UI over the same registry, in headless Chromium.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import io
import json
import os
import re
import runpy
import select
import shlex
import subprocess
import sys
import time
import types
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import numpy as np
import pytest
import yaml

with warnings.catch_warnings():  # importing MLflow warns about its own internals
    warnings.simplefilter("ignore")
    import mlflow
    import mlflow.models
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

from modelreg.api import init, validate
from tests.conftest import Workspace, commit_subjects, git
from tests.serving import announced_port, stop_group, wait_healthy
from tests.test_dashboard import chromium

pytestmark = pytest.mark.filterwarnings(
    # MLflow deprecates stages (the seeds still use them) and warns about its own internals.
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
)

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


@dataclass(frozen=True)
class Block:
    """Lines ``first``..``last`` of seed ``seed`` (its file ``SEED_*.txt``), verbatim."""

    seed: str
    first: int
    last: int
    text: str

    @property
    def code(self) -> str:
        return self.text[1:-1]  # the newlines that open and close the r-string below

    def where(self) -> str:
        return f"seed {self.seed} lines {self.first}-{self.last}"


# --- the seeds' blocks, verbatim ------------------------------------------------------------

SEED_000_REGISTER = Block(
    "000",
    81,
    107,
    r"""
import mlflow
import torch
from src.models.efficientnet import EfficientNetB0

mlflow.set_tracking_uri("http://localhost:5000")

# Best run ID
RUN_ID = "4b8e6057500b4b03bef452bac0c212dd"

# Load model
model = EfficientNetB0(num_classes=6)
checkpoint = torch.load("models/best_model.pth")
model.load_state_dict(checkpoint['model_state_dict'])

# Log model to run
with mlflow.start_run(run_id=RUN_ID):
    mlflow.pytorch.log_model(model, "model")
    print("✅ Model logged to MLflow")

# Register model
model_uri = f"runs:/{RUN_ID}/model"
result = mlflow.register_model(
    model_uri=model_uri,
    name="rice-disease-classifier"
)

print(f"✅ Model registered: {result.name}, version {result.version}")
""",
)

SEED_000_DESCRIPTION = Block(
    "000",
    229,
    247,
    r"""
Production model for Rice Leaf Disease Classification

**Architecture:** EfficientNet-B0 Optimized
**Accuracy:** 98.67% on validation set (528 images)
**Inference Time:** ~23ms
**Model Size:** 20MB
**Classes:** 6 (bacterial_leaf_blight, brown_spot, healthy, leaf_blast, leaf_scald, narrow_brown_spot)

**Training Details:**
- Dataset: 2,100 train + 528 val images
- Augmentation: Albumentations (10+ techniques)
- Optimizer: AdamW with Cosine Annealing
- Mixed Precision: FP16
- Early Stopping: Patience 10 epochs

**Deployment:**
- Stage: Production
- API Endpoint: http://localhost:8000/predict
- Docker Image: rice-disease-api:latest
""",  # noqa: E501
)

SEED_000_API_LOAD = Block(
    "000",
    290,
    299,
    r"""
import mlflow

# Load model from MLflow Registry
model_name = "rice-disease-classifier"
stage = "Production"  # or "Staging"

model_uri = f"models:/{model_name}/{stage}"
model = mlflow.pytorch.load_model(model_uri)

print(f"✅ Loaded model: {model_name} ({stage})")
""",
)

SEED_001_REGISTER = Block(
    "001",
    81,
    140,
    r"""
import mlflow
from mlflow.tracking import MlflowClient

# Set tracking URI
mlflow.set_tracking_uri("http://localhost:5000")
mlflow.set_experiment("my_experiment")

# Train and log
with mlflow.start_run() as run:
    # Log parameters
    mlflow.log_param("learning_rate", 1e-4)
    mlflow.log_param("batch_size", 32)

    # Train
    model = train_model()

    # Evaluate
    metrics = evaluate(model)
    mlflow.log_metric("accuracy", metrics["accuracy"])
    mlflow.log_metric("f1", metrics["f1"])

    # Save model
    mlflow.pytorch.log_model(model, "model")

    run_id = run.info.run_id

# Register model
client = MlflowClient()
model_name = "my_model"

# Create model (if not exists)
try:
    client.create_registered_model(model_name)
except:
    pass

# Register version
result = client.create_model_version(
    name=model_name,
    source=f"runs:/{run_id}/model",
    run_id=run_id
)

version = result.version
print(f"Model registered as version {version}")

# Transition to Staging
client.transition_model_version_stage(
    name=model_name,
    version=version,
    stage="Staging"
)

# Set tags
client.set_model_version_tag(
    name=model_name,
    version=version,
    key="validation_status",
    value="passed"
)
""",
)

SEED_001_LOAD = Block(
    "001",
    146,
    155,
    r"""
import mlflow.pyfunc

# Load production version
model = mlflow.pyfunc.load_model("models:/my_model/Production")

# Or load specific version
model = mlflow.pyfunc.load_model("models:/my_model/3")

# Predict
predictions = model.predict(input_data)
""",
)

SEED_001_COMPARE = Block(
    "001",
    161,
    181,
    r'''
def compare_model_versions(model_name, versions):
    """Compare different model versions"""
    client = MlflowClient()

    results = []
    for v in versions:
        version = client.get_model_version(model_name, v)
        run = client.get_run(version.run_id)

        results.append({
            "version": v,
            "accuracy": run.data.metrics.get("accuracy"),
            "f1": run.data.metrics.get("f1"),
            "stage": version.current_stage
        })

    return pd.DataFrame(results)

# Compare
comparison = compare_model_versions("my_model", [1, 2, 3])
print(comparison)
''',
)

SEED_002_REGISTER = Block(
    "002",
    46,
    53,
    r"""
import mlflow

# Assume you already logged a model in previous steps
result = mlflow.register_model(
    "runs:/<RUN_ID>/model",  # path from a completed run
    "CatDogClassifier"       # name of the model in the registry
)
print("Registered model:", result.name, "version:", result.version)
""",
)

SEED_002_PROMOTE = Block(
    "002",
    71,
    78,
    r"""
from mlflow.tracking import MlflowClient

client = MlflowClient()
client.set_registered_model_alias(
    name="CatDogClassifier",
    alias="production",
    version=1
)
""",
)

SEED_002_PREDICT = Block(
    "002",
    103,
    134,
    r"""
from torchvision import transforms
from PIL import Image
import torch
import mlflow.pytorch

model = mlflow.pytorch.load_model("models:/CatDogClassifier@production")
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model.to(device)

def predict(image_path):
    image = Image.open(image_path).convert("RGB")

    transform = transforms.Compose([
        transforms.Resize((224, 224)),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    ])

    image_tensor = transform(image).unsqueeze(0).to(device)

    model.eval()

    with torch.no_grad():
        output = model(image_tensor)

    probabilities = torch.nn.functional.softmax(output[0], dim=0)

    class_names = ["cat", "dog"]
    predicted_class = probabilities.argmax().item()
    confidence = probabilities[predicted_class].item()

    print(f"Predicted class: {class_names[predicted_class]}, Confidence: {confidence:.4f}")
""",
)

SEED_004_TRAIN = Block(
    "004",
    37,
    47,
    r"""
# Basic usage
python scripts/train_and_register_model.py

# With custom settings
python scripts/train_and_register_model.py \
    --experiment-name "production-models" \
    --run-name "cnn-v1" \
    --model-name "image-classifier-v1" \
    --epochs 10 \
    --batch-size 32 \
    --lr 0.001
""",
)

SEED_004_LOGGED = Block(
    "004",
    53,
    82,
    r"""
# 1. Hyperparameters
mlflow.log_params({
    "model": "SimpleCNN",
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 0.001,
    "total_parameters": 95050,
})

# 2. Performance metrics (per epoch)
mlflow.log_metrics({
    "train_loss": 2.3,
    "train_accuracy": 8.12,
    "val_loss": 2.29,
    "val_accuracy": 13.75,
})

# 3. Models using MLflow's PyTorch integration
mlflow.pytorch.log_model(model, "pytorch_model")
# This saves:
# - model.pkl: serialized model
# - conda.yaml: environment dependencies
# - requirements.txt: Python packages
# - MLmodel: metadata file

# 4. Checkpoint artifact
mlflow.log_artifact("best_model.pt")

# 5. Model metadata
mlflow.log_artifact("model_metadata.json")
""",
)

SEED_004_REGISTERED = Block(
    "004",
    90,
    102,
    r"""
# Create model URI from the run
model_uri = f"runs:/{run_id}/pytorch_model"

# Register in Model Registry
model_version = mlflow.register_model(model_uri, "simple-cnn-classifier")

# Update version description
client = mlflow.MlflowClient()
client.update_model_version(
    name="simple-cnn-classifier",
    version=model_version.version,
    description="SimpleCNN trained with lr=0.001"
)
""",
)

SEED_004_FROM_RUN = Block(
    "004",
    112,
    112,
    r"""
python scripts/load_and_use_models.py from-run <RUN_ID> --predict
""",
)

SEED_004_FROM_RUN_CODE = Block(
    "004",
    124,
    135,
    r"""
import mlflow.pytorch

# Load model
model_uri = f"runs:/{run_id}/pytorch_model"
model = mlflow.pytorch.load_model(model_uri)

# Or with tracking URI
mlflow.set_tracking_uri("http://127.0.0.1:5000")
model = mlflow.pytorch.load_model(model_uri)

# Use for predictions
predictions = model(input_tensor)
""",
)

SEED_004_LIST = Block(
    "004",
    145,
    145,
    r"""
python scripts/load_and_use_models.py list
""",
)

SEED_004_LATEST = Block(
    "004",
    162,
    162,
    r"""
python scripts/load_and_use_models.py from-registry simple-cnn-classifier --predict
""",
)

SEED_004_VERSION = Block(
    "004",
    168,
    168,
    r"""
python scripts/load_and_use_models.py from-registry simple-cnn-classifier --version 1 --predict
""",
)

SEED_004_STAGE = Block(
    "004",
    174,
    175,
    r"""
# After transitioning to Production
python scripts/load_and_use_models.py from-registry simple-cnn-classifier --stage Production
""",
)

SEED_004_LOAD_CODE = Block(
    "004",
    181,
    188,
    r"""
# Load latest version
model = mlflow.pytorch.load_model("models:/simple-cnn-classifier/latest")

# Load specific version
model = mlflow.pytorch.load_model("models:/simple-cnn-classifier/1")

# Load from stage (Staging, Production, Archived)
model = mlflow.pytorch.load_model("models:/simple-cnn-classifier/Production")
""",
)

SEED_004_VERSIONS = Block(
    "004",
    198,
    198,
    r"""
python scripts/load_and_use_models.py versions simple-cnn-classifier
""",
)

SEED_004_TRANSITIONS = Block(
    "004",
    228,
    235,
    r"""
# Transition version 1 to Staging
python scripts/load_and_use_models.py transition simple-cnn-classifier 1 Staging

# Promote to Production
python scripts/load_and_use_models.py transition simple-cnn-classifier 1 Production

# Archive old version
python scripts/load_and_use_models.py transition simple-cnn-classifier 0 Archived
""",
)

SEED_004_TRANSITION_CODE = Block(
    "004",
    241,
    255,
    r"""
client = mlflow.MlflowClient()

# Transition to Production
client.transition_model_version_stage(
    name="simple-cnn-classifier",
    version=1,
    stage="Production"
)

# Archive a version
client.transition_model_version_stage(
    name="simple-cnn-classifier",
    version=0,
    stage="Archived"
)
""",
)

SEED_004_WORKFLOW_1 = Block(
    "004",
    265,
    276,
    r"""
# Terminal 1: Start MLflow server
python -m mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

# Terminal 2: Train model and register
python scripts/train_and_register_model.py \
    --experiment-name "production" \
    --model-name "image-classifier"

# Output will show:
# Run ID: abc123def456
# Model Name: image-classifier
# Model Version: 1
""",
)

SEED_004_WORKFLOW_2 = Block(
    "004",
    282,
    286,
    r"""
# List all registered models
python scripts/load_and_use_models.py list

# List versions of the model
python scripts/load_and_use_models.py versions image-classifier
""",
)

SEED_004_WORKFLOW_3 = Block(
    "004",
    292,
    296,
    r"""
# Load version 1 and make predictions
python scripts/load_and_use_models.py from-registry image-classifier --version 1 --predict

# Transition to Staging
python scripts/load_and_use_models.py transition image-classifier 1 Staging
""",
)

SEED_004_WORKFLOW_4 = Block(
    "004",
    302,
    306,
    r"""
# After testing passes
python scripts/load_and_use_models.py transition image-classifier 1 Production

# Production code can now simply load from Production stage
# model = mlflow.pytorch.load_model("models:/image-classifier/Production")
""",
)

SEED_004_ALREADY_EXISTS = Block(
    "004",
    398,
    406,
    r"""
# Solution: Use different name or check if model exists
client = mlflow.MlflowClient()
try:
    model_version = mlflow.register_model(model_uri, model_name)
except Exception as e:
    if "already exists" in str(e):
        # Get the latest version and register as new version
        models = client.search_model_versions(f"name = '{model_name}'")
        print(f"Model {model_name} exists with {len(models)} versions")
""",
)

SEED_004_TRANSITION_INVALID = Block(
    "004",
    414,
    423,
    r"""
# Solution: Check current stage first
versions = client.search_model_versions(f"name = '{model_name}'")
for v in versions:
    print(f"Version {v.version}: Stage = {v.current_stage}")
    if v.current_stage != "Production":
        client.transition_model_version_stage(
            name=model_name,
            version=v.version,
            stage="Production"
        )
""",
)


BLOCKS = [b for b in list(globals().values()) if isinstance(b, Block)]


def test_each_block_here_is_the_seeds_text() -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the seeds are not beside this checkout ({SEEDS})")
    differ = []
    for block in BLOCKS:
        [seed] = SEEDS.glob(f"{block.seed}_*.txt")
        lines = seed.read_text(encoding="utf-8").split("\n")
        if block.code != "\n".join(lines[block.first - 1 : block.last]):
            differ.append(block.where())
    assert differ == []


# --- running blocks -------------------------------------------------------------------------


def run_block(block: Block, namespace: dict[str, Any], *edits: tuple[str, str]) -> str:
    """Run ``block`` in ``namespace`` (kept from block to block, as the user's session keeps
    it) and return what it printed. ``edits`` are the only changes, each replacing text the
    block has; every call says why."""
    code = block.code
    for old, new in edits:
        assert old in code, f"{block.where()} has no {old!r}"
        code = code.replace(old, new)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"<{block.where()}>", "exec"), namespace)
    return own_lines(printed.getvalue())


def own_lines(printed: str) -> str:
    """What the user's code printed, without the links to runs and experiments that
    MLflow prints itself when a run ends on a tracking server."""
    theirs = ("\N{RUNNER} View run ", "\N{TEST TUBE} View experiment at: ")
    return "".join(line for line in printed.splitlines(True) if not line.startswith(theirs))


def pickled(call: str) -> tuple[str, str]:
    """The one MLflow 3 change the seeds need. MLflow 3.x's ``mlflow.pytorch.log_model``
    defaults to ``serialization_format="pt2"`` (torch.export), which refuses to log without
    an ``input_example`` and loads a graph module that has no ``.eval()`` (seed 002 calls
    it); MLflow 2.x, which the seeds were written for (seed 004 pins mlflow==2.10.2),
    pickled the module. The smallest change asks for that format. (MLflow 3 also renamed
    the positional ``artifact_path`` to ``name=``; the old spelling still works, with a
    logged deprecation, so it stays.)"""
    return call, f'{call[:-1]}, serialization_format="pickle")'


@dataclass
class Ran:
    command: str
    output: str
    error: Exception | None


def run_commands(block: Block, *edits: tuple[str, str]) -> list[Ran]:
    """Run a bash block's ``python scripts/X.py ARGS`` lines as the shell would, in this
    process (a fresh interpreter per line costs seconds of imports): each script runs as
    ``__main__`` with ``sys.argv`` set. ``python -m mlflow ui ...`` is the server, which the
    module runs with that very line (``server``)."""
    text = block.code
    for old, new in edits:
        assert old in text, f"{block.where()} has no {old!r}"
        text = text.replace(old, new)
    ran = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        argv = shlex.split(line)
        if argv[:4] == ["python", "-m", "mlflow", "ui"]:
            assert line == SERVER_LINE
            continue
        assert argv[0] == "python" and argv[1].startswith("scripts/"), line
        printed, error = io.StringIO(), None
        with mock.patch.object(sys, "argv", argv[1:]), contextlib.redirect_stdout(printed):
            try:
                runpy.run_path(argv[1], run_name="__main__")
            except Exception as exc:
                error = exc
        ran.append(Ran(line, own_lines(printed.getvalue()), error))
    return ran


def succeeded(ran: list[Ran]) -> list[str]:
    failed = [(r.command, r.error) for r in ran if r.error is not None]
    assert failed == []
    return [r.output for r in ran]


# --- the server and the session ---------------------------------------------------------------

# Seed 004 line 266 starts MLflow's server (seed 000 line 17 is the same, on 0.0.0.0); the
# module runs exactly that line, on a free port, with the Git registry as its registry.
SERVER_LINE = next(
    line for line in SEED_004_WORKFLOW_1.code.splitlines() if line.startswith("python -m mlflow")
)


@dataclass
class Server:
    url: str
    project: Path  # the folder it runs in: mlflow.db, mlartifacts/
    registry: Path

    def registry_file(self, path: str) -> Any:
        return yaml.safe_load((self.registry / "registry" / path).read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("seeds")
    registry = base / "registry"
    registry.mkdir()
    git(registry, "init", "-q")
    git(registry, "commit", "-q", "--allow-empty", "-m", "start")
    (base / "dvc-remote").mkdir()
    init(registry, remote=str(base / "dvc-remote"), commit=True)
    project = base / "project"
    project.mkdir()
    argv = [sys.executable, *shlex.split(SERVER_LINE)[1:]]
    argv[argv.index("5000")] = "0"  # any free port, bound by the server itself
    argv += ["--registry-store-uri", f"modelreg://{registry}"]
    log_path = base / "mlflow-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=project, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{announced_port(process, log_path)}"
        wait_healthy(process, log_path, url, path="/health")
        yield Server(url, project, registry)
    finally:
        stop_group(process)


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The user's Python session, in their project folder (``tmp_path``): the namespace the
    blocks share, MLflow's global state put back afterwards, and the user's own modules
    (``src.models...``, written by a test) importable and forgotten afterwards."""
    from mlflow.tracking import _model_registry, _tracking_service, fluent

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # set_tracking_uri and set_experiment write these; put them back for the next test.
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.setenv(variable, os.environ.get(variable, ""))
        monkeypatch.delenv(variable)
    monkeypatch.setattr(_tracking_service.utils, "_tracking_uri", None)
    monkeypatch.setattr(_model_registry.utils, "_registry_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    # MLflow infers a logged model's pip requirements by loading it in a fresh interpreter
    # (about 3 s a model here); nothing reads them, so each model gets MLflow's own fallback.
    monkeypatch.setattr(
        mlflow.models,
        "infer_pip_requirements",
        lambda path, flavor, fallback=None, **_: list(fallback or []),
    )
    before = set(sys.modules)
    try:
        yield {}
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        for name in set(sys.modules) - before:
            if name == "src" or name.startswith("src."):
                del sys.modules[name]


@pytest.fixture
def at_server(server: Server, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Server:
    """Blocks that set no tracking URI talk to the server, as the seeds' users do."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    return server


def at(server: Server, seed_uri: str) -> tuple[str, str]:
    """The one edit every seed needs: its tracking URI names the server on its own port."""
    return seed_uri, server.url


def create_run_with_id(server: Server, experiment: str, run_id: str, run_name: str) -> str:
    """The user's run that a seed names by id (seed 000's best run). MLflow picks run ids
    itself, so the run is created in the server's database with ``uuid4`` answering that
    id; the experiment is the server's (its artifacts are the server's to serve)."""
    experiment_id = MlflowClient(server.url).create_experiment(experiment)
    database = MlflowClient(f"sqlite:///{server.project / 'mlflow.db'}")
    database.get_experiment(experiment_id)
    with mock.patch("uuid.uuid4", return_value=uuid.UUID(run_id)):
        run = database.create_run(experiment_id, run_name=run_name)
    assert run.info.run_id == run_id
    return str(experiment_id)


# --- headless Chromium --------------------------------------------------------------------------


@dataclass
class Page:
    url: str = ""
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # "Source Run" -> its text

    def __post_init__(self) -> None:  # the UI puts no-break spaces in, as in "@\xa0champion"
        self.text = self.text.replace("\xa0", " ")
        self.fields = {k: v.replace("\xa0", " ") for k, v in self.fields.items()}

    def hrefs(self, pattern: str) -> set[str]:
        """The first group of ``pattern`` in each link that it matches."""
        return {m.group(1) for href, _ in self.links if (m := re.fullmatch(pattern, href))}


def has_fields(page: Page, expected: dict[str, str]) -> bool:
    return all(page.fields.get(label) == value for label, value in expected.items())


SNAPSHOT = """(() => ({
  url: location.href,
  text: document.body ? document.body.innerText : "",
  links: Array.from(document.querySelectorAll("a[href]"))
    .map(a => [a.getAttribute("href"), a.innerText.trim()]),
  fields: Object.fromEntries(
    Array.from(document.querySelectorAll('[data-testid="descriptions-item"]')).map(item => [
      item.querySelector('[data-testid="descriptions-item-label"]')?.innerText.trim() ?? "",
      item.querySelector('[data-testid="descriptions-item-content"]')?.innerText.trim() ?? "",
    ])),
}))()"""


# Puts the pipes on fd 3 and 4 and runs Chromium (a shell could, but dash's redirections
# take one-digit fds only).
LAUNCH = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def _above_4(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe
    (``--remote-debugging-pipe``: commands on its fd 3, replies on fd 4, NUL-separated
    JSON), so no browser driver or websocket client is needed. MLflow's UI is a React app:
    ``wait`` polls the rendered page until it shows what a step expects, up to a deadline."""

    def __init__(self, profile: Path) -> None:
        # The pipes' ends move above fd 4, so that fd 3 and 4 never name one of them.
        commands, self._commands = map(_above_4, os.pipe())
        self._replies, replies = map(_above_4, os.pipe())
        options = [
            *("--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe"),
            *(f"--user-data-dir={profile}", "--window-size=1400,1600", "about:blank"),
        ]
        self.log = profile.with_name(f"{profile.name}.log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    LAUNCH,
                    str(commands),
                    str(replies),
                    chromium(),
                    *options,
                ],
                pass_fds=(commands, replies),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(commands)
        os.close(replies)
        self._received = b""
        self._last_id = 0
        self._session: str | None = None
        target = self._send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._session = None
            self._send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)

    def _send(
        self, method: str, timeout: float = 30, check: bool = True, **params: Any
    ) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:  # events arrive between replies; only this command's reply matters
            while b"\0" not in self._received:
                left = deadline - time.monotonic()
                assert left > 0, f"Chromium did not answer {method} in {timeout:.0f} s"
                if select.select([self._replies], [], [], left)[0]:
                    chunk = os.read(self._replies, 1 << 16)
                    assert chunk, f"Chromium closed the pipe: {self.log.read_text()[-3000:]}"
                    self._received += chunk
            raw, _, self._received = self._received.partition(b"\0")
            reply = json.loads(raw)
            if reply.get("id") == self._last_id:
                if not check:
                    return dict(reply)
                assert "error" not in reply, (method, reply["error"])
                return dict(reply["result"])

    def _evaluate(self, expression: str) -> Any:
        reply = self._send(
            "Runtime.evaluate", check=False, expression=expression, returnByValue=True
        )
        result = reply.get("result", {})
        if "error" in reply or "exceptionDetails" in result:  # between two documents, say
            return None
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self._send("Page.navigate", url=url)

    def wait(self, shows: Callable[[Page], bool], what: str, timeout: float = 60) -> Page:
        deadline = time.monotonic() + timeout
        while True:
            page = Page(**(self._evaluate(SNAPSHOT) or {}))
            if shows(page):
                return page
            assert time.monotonic() < deadline, (
                f"{what}: not in {page.url}: {page.fields}\n{page.text[:3000]}"
            )
            time.sleep(0.1)

    def _until(self, script: str, what: str, timeout: float = 30) -> None:
        """Run ``script`` until it answers true: the app re-renders (a link seen by the
        last snapshot may be replaced meanwhile), and between two documents nothing
        answers; only a deadline passing is a failure."""
        deadline = time.monotonic() + timeout
        while not self._evaluate(script):
            assert time.monotonic() < deadline, f"{what} in {timeout:g} s"
            time.sleep(0.1)

    def click(self, href: str) -> None:
        """Click the link to ``href``, as a user does (the app routes on the hash)."""
        script = f"""(() => {{
          const link = Array.from(document.querySelectorAll("a[href]"))
            .find(a => a.getAttribute("href") === {json.dumps(href)});
          if (link) link.click();
          return Boolean(link);
        }})()"""
        self._until(script, f"no link to {href}")

    def click_button(self, label: str) -> None:
        script = f"""(() => {{
          const button = Array.from(document.querySelectorAll('[role="button"], button'))
            .find(b => b.innerText.trim() === {json.dumps(label)});
          if (button) button.click();
          return Boolean(button);
        }})()"""
        self._until(script, f"no button {label!r}")

    def models_tab(self, server: Server) -> Page:
        """MLflow's home, then the Models tab: "Model registry" in the sidebar, which shows
        once the sidebar is switched from "GenAI" to "Model training"."""
        self.open(f"{server.url}/#/")
        home = self.wait(
            lambda p: "#/models" in dict(p.links) or "Model training" in p.text, "the sidebar"
        )
        if "#/models" not in dict(home.links):
            self.click_button("Model training")
            self.wait(lambda p: "#/models" in dict(p.links), "the Model registry tab")
        self.click("#/models")
        return self.wait(lambda p: "Registered Models" in p.text, "the registered models")


# --- seed 000: the rice-disease registry demo (Vietnamese) ------------------------------------

RICE = "rice-disease-classifier"
BEST_RUN = "4b8e6057500b4b03bef452bac0c212dd"  # seed 000 line 45 (and line 88)
# Seed 000 line 60: the description typed when registering (lines 146-151 show it).
RICE_V1_DESCRIPTION = (
    "Production model for rice leaf disease classification - EfficientNet-B0 Optimized"
)
# Seed 000 lines 214-219: the model's tags (section 5.1).
RICE_TAGS = {
    "task": "image-classification",
    "framework": "pytorch",
    "architecture": "efficientnet-b0",
    "dataset": "rice-leaf-disease",
    "accuracy": "98.67%",
    "production-ready": "true",
}
# Stand-in for the user's src/models/efficientnet.py (seed 000 line 83 imports it).
EFFICIENTNET = '''
import torch


class EfficientNetB0(torch.nn.Module):
    """The user's model, tiny: the same constructor and the same role."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )
        self.classifier = torch.nn.Linear(4, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
'''


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_seed_000_registers_promotes_rolls_back_and_shows_it_in_the_ui(
    at_server: Server, session: dict[str, Any], tmp_path: Path
) -> None:
    import torch

    server, client = at_server, MlflowClient()
    # The user's project: their model class and checkpoint (stand-ins), and their best run
    # (lines 40-46: "EfficientNet-B0 Optimized - 98.67%", run 4b8e6057...).
    write_files(tmp_path, {"src/__init__.py": "", "src/models/__init__.py": "",
                           "src/models/efficientnet.py": EFFICIENTNET})  # fmt: skip
    from src.models.efficientnet import EfficientNetB0

    torch.manual_seed(0)
    trained = EfficientNetB0(num_classes=6)
    (tmp_path / "models").mkdir()
    torch.save({"model_state_dict": trained.state_dict()}, tmp_path / "models/best_model.pth")
    experiment = create_run_with_id(
        server, "Rice Disease Classification", BEST_RUN, "EfficientNet-B0 Optimized"
    )
    client.log_metric(BEST_RUN, "val_accuracy", 0.9867)
    client.log_param(BEST_RUN, "model", "EfficientNet-B0")

    # Step 2, option B: log the checkpoint to the best run and register it.
    printed = run_block(
        SEED_000_REGISTER,
        session,
        at(server, "http://localhost:5000"),
        pickled('mlflow.pytorch.log_model(model, "model")'),
    )
    assert printed.splitlines() == [
        "✅ Model logged to MLflow",
        f"✅ Model registered: {RICE}, version 1",
    ]
    # register_model.py (lines 68-76) also sets the stage; lines 129-133 show two more
    # versions from other runs, one in Staging, and line 60 the description.
    mlflow.set_experiment("Rice Disease Classification")
    for accuracy in (0.9621, 0.9489):
        with mlflow.start_run():
            mlflow.log_metric("val_accuracy", accuracy)
            logged = mlflow.pytorch.log_model(
                EfficientNetB0(num_classes=6), name="model", serialization_format="pickle"
            )
        mlflow.register_model(logged.model_uri, RICE)
    client.transition_model_version_stage(RICE, 1, "Production")
    client.transition_model_version_stage(RICE, 2, "Staging")
    client.update_model_version(RICE, 1, description=RICE_V1_DESCRIPTION)
    # Seed 003 lines 203-204 (the same UI steps): "add some descriptions and tags ... for a
    # specific model version (such as tag name of "model" and value of "xgboost" ...)".
    client.set_model_version_tag(RICE, 1, "model", "efficientnet-b0")

    # Step 4.1: promote v2, archiving the production version; 4.2: roll back to v1.
    client.transition_model_version_stage(RICE, 2, "Production", archive_existing_versions=True)
    stages = [client.get_model_version(RICE, v).current_stage for v in (1, 2, 3)]
    assert stages == ["Archived", "Production", "None"]
    client.transition_model_version_stage(RICE, 1, "Production")
    stages = [client.get_model_version(RICE, v).current_stage for v in (1, 2, 3)]
    # The seed expects v2 "Archived (or None)". Here stages are pointers (docs/mlflow.md):
    # staging still holds v2, so it shows the most advanced stage it holds, Staging.
    assert stages == ["Production", "Staging", "None"]
    assert commit_subjects(server.registry)[:3] == [
        f"promote {RICE} version 1 to production",
        f"promote {RICE} version 2 to production",
        f"update {RICE} version 1",
    ]
    assert server.registry_file(f"{RICE}/stages/production.yaml")["version"] == 1

    # Step 5: the model's tags and description.
    for key, value in RICE_TAGS.items():
        client.set_registered_model_tag(RICE, key, value)
    client.update_registered_model(RICE, description=SEED_000_DESCRIPTION.code)

    # Step 7.1: the API loads the production model: v1 again, the checkpoint's weights.
    printed = run_block(SEED_000_API_LOAD, session)
    assert printed == f"✅ Loaded model: {RICE} (Production)\n"
    loaded = session["model"].state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trained.state_dict().items())

    # Steps 1, 3 and the demo script (lines 404-418), in the UI: the Models tab, the
    # model's versions, tags and description, version 1 and its source run.
    with Chromium(tmp_path / "chromium") as browser:
        browser.models_tab(server)
        browser.wait(lambda p: f"#/models/{RICE}" in dict(p.links), f"{RICE} in the Models tab")
        browser.click(f"#/models/{RICE}")
        page = browser.wait(
            lambda p: (
                p.url.endswith(f"#/models/{RICE}")
                and p.hrefs(rf"#/models/{RICE}/versions/(\d+)") == {"1", "2", "3"}
                and "Production model for Rice Leaf Disease Classification" in p.text
                and "production-ready" in p.text
            ),
            "the model's versions, description and tags",
        )
        for key, value in RICE_TAGS.items():
            assert key in page.text and value in page.text
        assert "Inference Time: ~23ms" in page.text  # the Markdown, rendered
        browser.click(f"#/models/{RICE}/versions/1")
        run_link = f"#/experiments/{experiment}/runs/{BEST_RUN}"
        fields = {
            "Source Run": "EfficientNet-B0 Optimized",
            "Stage (deprecated)": "Production",
            "Creator": "Test Author <test@example.com>",
        }
        browser.wait(
            lambda p: (
                run_link in dict(p.links)
                and has_fields(p, fields)
                and RICE_V1_DESCRIPTION in p.text
                and re.search(r"^model\s+efficientnet-b0$", p.text, re.MULTILINE) is not None
            ),
            "version 1's source run, stage, creator, description and tag",
        )
        browser.click(run_link)  # "Full traceability!"
        browser.wait(
            lambda p: "val_accuracy" in p.text and "0.9867" in p.text,
            "the source run's metrics",
        )
        browser.open(f"{server.url}/#/models/{RICE}/versions/2")
        browser.wait(
            lambda p: p.fields.get("Stage (deprecated)") == "Staging", "version 2, in staging"
        )
    assert validate(server.registry).ok


# --- seed 001: register, stage, tag, load, compare ----------------------------------------------


def test_seed_001_registers_stages_tags_loads_and_compares(
    at_server: Server, session: dict[str, Any]
) -> None:
    import pandas
    import torch

    scores = iter([(0.91, 0.90), (0.93, 0.92), (0.95, 0.94)])

    def train_model() -> torch.nn.Module:  # the user's training, tiny
        return torch.nn.Linear(4, 3)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:  # the user's evaluation
        accuracy, f1 = next(scores)
        return {"accuracy": accuracy, "f1": f1}

    session.update(train_model=train_model, evaluate=evaluate)
    # Section 4.1, once per experiment run: three versions of my_model, each to Staging.
    for expected in (1, 2, 3):
        printed = run_block(
            SEED_001_REGISTER,
            session,
            at(at_server, "http://localhost:5000"),
            pickled('mlflow.pytorch.log_model(model, "model")'),
        )
        assert printed == f"Model registered as version {expected}\n"
    client = MlflowClient()
    assert client.get_model_version("my_model", 3).tags == {"validation_status": "passed"}
    # Section 6.2's workflow goes on where 4.1 stops: Staging -> Validate -> Production.
    client.transition_model_version_stage("my_model", 3, "Production")

    # Section 4.2 (input_data is the user's: five rows of four features).
    session["input_data"] = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    run_block(SEED_001_LOAD, session)
    assert session["predictions"].shape == (5, 3)

    # Section 4.3 uses pd, which the seed never imports: the user's notebook has it.
    session["pd"] = pandas
    printed = run_block(SEED_001_COMPARE, session)
    comparison = session["comparison"]
    assert comparison["accuracy"].tolist() == [0.91, 0.93, 0.95]
    assert comparison["f1"].tolist() == [0.90, 0.92, 0.94]
    # A stage holds one version here (docs/mlflow.md): each version 4.1 moved to Staging
    # retired the one before it, as archive_existing_versions=True would in MLflow.
    assert comparison["stage"].tolist() == ["Archived", "Archived", "Production"]
    assert "Production" in printed
    assert validate(at_server.registry).ok


# --- seed 002: register, alias production, load @production, predict ----------------------------


def torchvision_standin() -> types.ModuleType:
    """The four transforms seed 002's predict() uses, for a machine without torchvision,
    which is not among this project's dependencies (nothing else here needs it)."""
    import torch

    class Compose:
        def __init__(self, steps: list[Callable[[Any], Any]]) -> None:
            self.steps = steps

        def __call__(self, value: Any) -> Any:
            for step in self.steps:
                value = step(value)
            return value

    class Resize:
        def __init__(self, size: tuple[int, int]) -> None:
            self.size = size

        def __call__(self, image: Any) -> Any:
            return image.resize((self.size[1], self.size[0]))

    class ToTensor:
        def __call__(self, image: Any) -> Any:
            return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)

    class Normalize:
        def __init__(self, mean: list[float], std: list[float]) -> None:
            self.mean = torch.tensor(mean)[:, None, None]
            self.std = torch.tensor(std)[:, None, None]

        def __call__(self, tensor: Any) -> Any:
            return (tensor - self.mean) / self.std

    transforms = types.ModuleType("torchvision.transforms")
    for helper in (Compose, Resize, ToTensor, Normalize):
        setattr(transforms, helper.__name__, helper)
    package = types.ModuleType("torchvision")
    package.transforms = transforms  # type: ignore[attr-defined]
    return package


def seed_002(session: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Seed 002's three blocks, in order, on whatever registry MLflow is set to; the run id."""
    import torch
    from PIL import Image

    # "Assume you already logged a model in previous steps" (line 48): a tiny classifier.
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2)
    )
    with mlflow.start_run() as run:
        mlflow.log_metric("val_accuracy", 0.97)
        mlflow.pytorch.log_model(net, name="model", serialization_format="pickle")
    run_id = run.info.run_id

    # Line 56: "Replace <RUN_ID> with the run ID from your MLflow experiment."
    printed = run_block(SEED_002_REGISTER, session, ("<RUN_ID>", run_id))
    assert printed == "Registered model: CatDogClassifier version: 1\n"
    run_block(SEED_002_PROMOTE, session)
    # The alias 'production' is the production stage here: v1 holds it.
    version = MlflowClient().get_model_version_by_alias("CatDogClassifier", "production")
    assert (int(version.version), version.current_stage) == (1, "Production")

    if importlib.util.find_spec("torchvision") is None:
        standin = torchvision_standin()
        monkeypatch.setitem(sys.modules, "torchvision", standin)
        monkeypatch.setitem(sys.modules, "torchvision.transforms", standin.transforms)
    run_block(SEED_002_PREDICT, session)
    loaded = session["model"].state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())
    image = tmp_path / "cat.png"
    pixels = np.random.default_rng(2).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        session["predict"](str(image))
    assert re.fullmatch(r"Predicted class: (cat|dog), Confidence: 0\.\d{4}\n", printed.getvalue())
    return str(run_id)


def test_seed_002_through_the_plugin_promotes_with_the_production_alias(
    workspace: Workspace,
    session: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 002 as issue 19 tried it: MLflow's client on the plugin, no server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{workspace.root}")
    seed_002(session, tmp_path, monkeypatch)
    # set_registered_model_alias(..., "production", 1) was one promotion commit.
    assert commit_subjects(workspace.root)[:2] == [
        "promote CatDogClassifier version 1 to production",
        "register CatDogClassifier version 1",
    ]
    changed = workspace.git("diff", "--name-only", "HEAD~1", "HEAD").split()
    assert changed == ["registry/CatDogClassifier/stages/production.yaml"]
    assert validate(workspace.root).ok


def test_seed_002_through_the_server_and_its_ui(
    at_server: Server,
    session: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = at_server
    run_id = seed_002(session, tmp_path, monkeypatch)
    assert server.registry_file("CatDogClassifier/stages/production.yaml")["version"] == 1
    # Seed 002's one alias is a stage, so the UI shows it as the stage; a free-form alias
    # (MLflow 3's own example, 'champion') shows as an alias.
    MlflowClient().set_registered_model_alias("CatDogClassifier", "champion", 1)

    # Step 3: the Models tab, the model's versions, a version's metadata (author, date).
    with Chromium(tmp_path / "chromium") as browser:
        browser.models_tab(server)
        page = browser.wait(
            lambda p: "#/models/CatDogClassifier" in dict(p.links) and "@ champion" in p.text,
            "CatDogClassifier and its alias in the Models tab",
        )
        browser.click("#/models/CatDogClassifier")
        browser.wait(
            lambda p: (
                p.url.endswith("#/models/CatDogClassifier")
                and p.hrefs(r"#/models/CatDogClassifier/versions/(\d+)") == {"1"}
            ),
            "the model's versions",
        )
        browser.click("#/models/CatDogClassifier/versions/1")
        run_link = f"#/experiments/0/runs/{run_id}"
        fields = {
            "Stage (deprecated)": "Production",
            "Aliases": "@ champion",
            "Creator": "Test Author <test@example.com>",
        }
        page = browser.wait(
            lambda p: run_link in dict(p.links) and has_fields(p, fields),
            "version 1's source run, stage, alias and creator",
        )
        assert re.fullmatch(r"\d\d/\d\d/\d{4}, .*", page.fields["Registered At"])
        browser.click(run_link)
        browser.wait(lambda p: "val_accuracy" in p.text and "0.97" in p.text, "the run")
    assert validate(server.registry).ok


# --- seed 004: the scripts, and the blocks that show what they do --------------------------------

# Stand-ins for the user's scripts/, whose source seed 004 does not give: each is built from
# what the seed says the script does and prints, with the calls its table (lines 445-454)
# names for each task.
TRAIN_SCRIPT = '''
"""scripts/train_and_register_model.py: options of lines 41-47, logging of lines 53-82,
registration of lines 90-102, output of lines 273-276."""
import argparse
import json

import mlflow
import torch


def SimpleCNN():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(4, 10),
    )


parser = argparse.ArgumentParser()
parser.add_argument("--experiment-name")
parser.add_argument("--run-name")
parser.add_argument("--model-name", default="simple-cnn-classifier")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=0.001)
args = parser.parse_args()

if args.experiment_name:
    mlflow.set_experiment(args.experiment_name)
torch.manual_seed(0)
model = SimpleCNN()
with mlflow.start_run(run_name=args.run_name) as run:
    mlflow.log_params({"model": "SimpleCNN", "epochs": args.epochs,
                       "batch_size": args.batch_size, "learning_rate": args.lr,
                       "total_parameters": sum(p.numel() for p in model.parameters())})
    for epoch in range(args.epochs):
        mlflow.log_metrics({"train_loss": 2.3 - epoch / 10, "val_accuracy": 13.75 + epoch},
                           step=epoch)
    # MLflow 3: pickle, as MLflow 2 did (see pickled() in tests/test_seeds.py).
    mlflow.pytorch.log_model(model, "pytorch_model", serialization_format="pickle")
    torch.save(model.state_dict(), "best_model.pt")
    mlflow.log_artifact("best_model.pt")
    with open("model_metadata.json", "w") as f:
        json.dump({"model": "SimpleCNN", "classes": 10}, f)
    mlflow.log_artifact("model_metadata.json")
    run_id = run.info.run_id

model_version = mlflow.register_model(f"runs:/{run_id}/pytorch_model", args.model_name)
client = mlflow.MlflowClient()
description = f"SimpleCNN trained with lr={args.lr}, batch_size={args.batch_size}"
client.update_registered_model(args.model_name, description=description)
client.update_model_version(
    name=args.model_name, version=model_version.version,
    description=f"SimpleCNN trained with lr={args.lr}",
)
print(f"Run ID: {run_id}")
print(f"Model Name: {args.model_name}")
print(f"Model Version: {model_version.version}")
'''

LOAD_SCRIPT = '''
"""scripts/load_and_use_models.py: the subcommands of lines 112-235, printing what lines
148-157 and 202-217 show."""
import argparse

import mlflow
import torch

parser = argparse.ArgumentParser()
commands = parser.add_subparsers(dest="command", required=True)
from_run = commands.add_parser("from-run")
from_run.add_argument("run_id")
from_run.add_argument("--predict", action="store_true")
commands.add_parser("list")
from_registry = commands.add_parser("from-registry")
from_registry.add_argument("name")
from_registry.add_argument("--version")
from_registry.add_argument("--stage")
from_registry.add_argument("--predict", action="store_true")
versions = commands.add_parser("versions")
versions.add_argument("name")
transition = commands.add_parser("transition")
transition.add_argument("name")
transition.add_argument("version")
transition.add_argument("stage")
args = parser.parse_args()
client = mlflow.MlflowClient()

model = None
if args.command == "from-run":
    model = mlflow.pytorch.load_model(f"runs:/{args.run_id}/pytorch_model")
    print(f"Loaded model from run {args.run_id}")
elif args.command == "list":
    print("Registered Models in MLflow Model Registry")
    print("=" * 45)
    for registered in client.search_registered_models():
        found = client.search_model_versions(f"name = '{registered.name}'")
        latest = max(found, key=lambda v: int(v.version))
        print()
        print(f"\\N{PACKAGE} Model: {registered.name}")
        print(f"   Description: {registered.description}")
        print(f"   Latest Version: {latest.version}")
        print(f"   Latest Stage: {latest.current_stage}")
elif args.command == "from-registry":
    which = args.version or args.stage or "latest"
    model = mlflow.pytorch.load_model(f"models:/{args.name}/{which}")
    print(f"Loaded models:/{args.name}/{which}")
elif args.command == "versions":
    print(f"Versions of Model: {args.name}")
    print("=" * 40)
    for v in sorted(client.search_model_versions(f"name = '{args.name}'"),
                    key=lambda v: int(v.version)):
        print()
        print(f"Version {v.version}:")
        print(f"  Stage: {v.current_stage}")
        print(f"  Status: {v.status}")
        print(f"  Description: {v.description}")
        print(f"  Run ID: {v.run_id}")
elif args.command == "transition":
    client.transition_model_version_stage(args.name, args.version, args.stage)
    print(f"{args.name} version {args.version} -> {args.stage}")

if getattr(args, "predict", False):
    torch.manual_seed(0)
    with torch.no_grad():
        print("Predictions:", model(torch.rand(4, 1, 28, 28)).argmax(dim=1).tolist())
'''


@pytest.fixture
def scripts(at_server: Server, session: dict[str, Any], tmp_path: Path) -> Server:
    write_files(tmp_path, {"scripts/train_and_register_model.py": TRAIN_SCRIPT,
                           "scripts/load_and_use_models.py": LOAD_SCRIPT})  # fmt: skip
    return at_server


def stages_of(name: str) -> dict[int, str]:
    found = MlflowClient().search_model_versions(f"name = '{name}'")
    return {int(v.version): v.current_stage for v in found}


def mlflows_own_error(tmp_path: Path, action: Callable[[MlflowClient], object]) -> str:
    """The error code MLflow's own sqlite registry answers ``action`` with."""
    own = MlflowClient(registry_uri=f"sqlite:///{tmp_path / 'mlflow-registry.db'}")
    with pytest.raises(MlflowException) as refused:
        action(own)
    return str(refused.value.error_code)


def test_seed_004_scripts_and_blocks_log_register_load_and_transition(
    scripts: Server, session: dict[str, Any], tmp_path: Path
) -> None:
    import torch

    server = scripts
    # Section 1: train and register, plain and with custom settings.
    trained = succeeded(run_commands(SEED_004_TRAIN))
    assert trained[0].splitlines()[1:] == [
        "Model Name: simple-cnn-classifier",
        "Model Version: 1",
    ]
    assert trained[1].splitlines()[1:] == ["Model Name: image-classifier-v1", "Model Version: 1"]

    # "What Gets Logged" and "Model Registration": the script's own lines, in its run.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    torch.save(model.state_dict(), "best_model.pt")
    Path("model_metadata.json").write_text('{"model": "SimpleCNN"}')
    session.update(mlflow=mlflow, model=model)
    with mlflow.start_run() as run:
        run_block(
            SEED_004_LOGGED, session, pickled('mlflow.pytorch.log_model(model, "pytorch_model")')
        )
    session["run_id"] = run_id = run.info.run_id
    run_block(SEED_004_REGISTERED, session)
    assert int(session["model_version"].version) == 2
    version = MlflowClient().get_model_version("simple-cnn-classifier", 2)
    assert (version.description, version.run_id) == ("SimpleCNN trained with lr=0.001", run_id)
    logged = MlflowClient().get_run(run_id).data
    assert logged.params["total_parameters"] == "95050" and logged.metrics["val_accuracy"] == 13.75

    # Section 2: load from the run (a placeholder to fill in, and the code).
    [from_run] = succeeded(run_commands(SEED_004_FROM_RUN, ("<RUN_ID>", run_id)))
    assert from_run.splitlines()[0] == f"Loaded model from run {run_id}"
    session["input_tensor"] = torch.rand(2, 1, 28, 28)
    run_block(SEED_004_FROM_RUN_CODE, session, at(server, "http://127.0.0.1:5000"))
    assert session["predictions"].shape == (2, 10)

    # Section 3: list, load the latest and a given version.
    [listed] = succeeded(run_commands(SEED_004_LIST))
    assert (
        "\N{PACKAGE} Model: simple-cnn-classifier\n"
        "   Description: SimpleCNN trained with lr=0.001, batch_size=32\n"
        "   Latest Version: 2\n"
        "   Latest Stage: None\n"
    ) in listed
    for block, uri in ((SEED_004_LATEST, "latest"), (SEED_004_VERSION, "1")):
        [loaded] = succeeded(run_commands(block))
        assert loaded.startswith(f"Loaded models:/simple-cnn-classifier/{uri}\nPredictions: ")

    # Section 4: transitions. There is no version 0 in any MLflow registry: the last line
    # fails as it does on MLflow's own store.
    staging, production, archive_zero = run_commands(SEED_004_TRANSITIONS)
    assert succeeded([staging, production])
    assert stages_of("simple-cnn-classifier") == {1: "Production", 2: "None"}
    assert isinstance(archive_zero.error, MlflowException)
    own = mlflows_own_error(
        tmp_path, lambda c: c.transition_model_version_stage("simple-cnn-classifier", 0, "Archived")
    )
    assert archive_zero.error.error_code == own == "RESOURCE_DOES_NOT_EXIST"
    # Section 3 again, "after transitioning to Production", and the code.
    [from_stage] = succeeded(run_commands(SEED_004_STAGE))
    assert from_stage == "Loaded models:/simple-cnn-classifier/Production\n"
    run_block(SEED_004_LOAD_CODE, session)
    version_1 = mlflow.pytorch.load_model("models:/simple-cnn-classifier/1").state_dict()
    production = session["model"].state_dict()  # the block's last load
    assert all(torch.equal(production[k], v) for k, v in version_1.items())
    [versions] = succeeded(run_commands(SEED_004_VERSIONS))
    assert "Version 1:\n  Stage: Production\n  Status: READY\n" in versions
    assert (
        f"Version 2:\n  Stage: None\n  Status: READY\n"
        f"  Description: SimpleCNN trained with lr=0.001\n  Run ID: {run_id}\n" in versions
    )
    with pytest.raises(MlflowException) as refused:
        run_block(SEED_004_TRANSITION_CODE, session)  # version=0 again, after a no-op
    assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # Section 8: registering a name that exists adds a version; "Transition invalid"
    # promotes each version not in Production, one after another.
    session["model_name"] = "simple-cnn-classifier"
    run_block(SEED_004_ALREADY_EXISTS, session)
    assert int(session["model_version"].version) == 3
    printed = run_block(SEED_004_TRANSITION_INVALID, session)
    assert len(printed.splitlines()) == 3
    assert list(stages_of("simple-cnn-classifier").values()).count("Production") == 1
    assert validate(server.registry).ok


def test_seed_004_complete_workflow(scripts: Server, session: dict[str, Any]) -> None:
    server = scripts
    # Step 1: Terminal 1 is the module's server, started with that line; Terminal 2 trains.
    [trained] = succeeded(run_commands(SEED_004_WORKFLOW_1))
    assert trained.splitlines()[1:] == ["Model Name: image-classifier", "Model Version: 1"]
    listed, versions = succeeded(run_commands(SEED_004_WORKFLOW_2))
    assert "\N{PACKAGE} Model: image-classifier\n" in listed
    assert "Version 1:\n  Stage: None\n" in versions
    loaded, _ = succeeded(run_commands(SEED_004_WORKFLOW_3))
    assert loaded.startswith("Loaded models:/image-classifier/1\nPredictions: ")
    assert server.registry_file("image-classifier/stages/staging.yaml")["version"] == 1
    succeeded(run_commands(SEED_004_WORKFLOW_4))
    assert server.registry_file("image-classifier/stages/production.yaml")["version"] == 1
    # "Production code can now simply load from Production stage": the block's last line.
    [comment] = [line for line in SEED_004_WORKFLOW_4.code.splitlines() if "load_model" in line]
    session["mlflow"] = mlflow  # that production code's import
    exec(comment.removeprefix("# "), session)
    assert session["model"] is not None
    assert commit_subjects(server.registry)[:2] == [
        "promote image-classifier version 1 to production",
        "promote image-classifier version 1 to staging",
    ]
    assert validate(server.registry).ok


def test_the_server_reads_only_its_own_artifacts(server: Server) -> None:
    """The server registers runs' files from its artifacts folder (seed 004's ``mlflow ui``
    serves them); a source naming a path out of that folder is refused, nothing kept."""
    head = git(server.registry, "rev-parse", "HEAD")
    MlflowClient(server.url).create_registered_model("escape")
    response = httpx.post(
        f"{server.url}/api/2.0/mlflow/model-versions/create",
        json={"name": "escape", "source": "mlflow-artifacts:/../../registry"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert commit_subjects(server.registry)[0] == "add model escape"
    assert git(server.registry, "rev-list", "--count", f"{head.strip()}..HEAD").strip() == "1"
