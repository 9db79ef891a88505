"""Checkpoints and ``modelreg export``: real torch, real ONNX export, real parity check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pipelines.digits_cnn.model import DigitsCNN  # noqa: E402

from modelreg.api import InputError, TensorInfo, load_checkpoint, save_checkpoint  # noqa: E402
from modelreg.artifacts.export import ExportResult, Tolerances, export_onnx  # noqa: E402
from modelreg.core.errors import ParityError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = "pipelines.digits_cnn.model:DigitsCNN"
CONFIG = {"channels": 4, "hidden": 8, "dropout": 0.0}


def save_small_cnn(path: Path, seed: int = 0, parity_data: str | None = None) -> None:
    torch.manual_seed(seed)
    save_checkpoint(
        path,
        DigitsCNN(**CONFIG),
        architecture=ARCHITECTURE,
        config=CONFIG,
        inputs=[TensorInfo("images", "float32", (-1, 1, 8, 8))],
        outputs=[TensorInfo("logits", "float32", (-1, 10))],
        classes=[str(c) for c in range(10)],
        parity_data=parity_data,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small untrained CNN and 120 real held-out digits images (the parity data)."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("export")
    digits = load_digits()
    images = (digits.images[:120].astype(np.float32) / 16.0)[:, None]
    np.savez(folder / "test.npz", inputs=images, labels=digits.target[:120])
    save_small_cnn(folder / "model.pt")
    return {"checkpoint": folder / "model.pt", "data": folder / "test.npz", "folder": folder}


@pytest.fixture(scope="module")
def exported(files: dict[str, Path]) -> tuple[Path, ExportResult]:
    out = files["folder"] / "model.onnx"
    result = export_onnx(files["checkpoint"], out, parity_data=files["data"], repo=ROOT)
    return out, result


def test_a_checkpoint_round_trips_and_rebuilds_the_same_network(files: dict[str, Path]) -> None:
    checkpoint = load_checkpoint(files["checkpoint"])
    assert checkpoint.architecture == ARCHITECTURE and checkpoint.config == CONFIG
    assert checkpoint.inputs == (TensorInfo("images", "float32", (-1, 1, 8, 8)),)
    assert checkpoint.classes == tuple(str(c) for c in range(10))
    torch.manual_seed(0)
    original = DigitsCNN(**CONFIG).eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.inference_mode():
        assert torch.equal(checkpoint.build(ROOT)(x), original(x))


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 not a zip")
    with pytest.raises(
        InputError,
        match=r"garbage.pt: not a readable torch checkpoint \(torch.save writes a zip archive",
    ):
        load_checkpoint(garbage)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(InputError, match=r"not a modelreg checkpoint .*save_checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(InputError, match=r"missing.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")


class _Payload:
    """Pickles to a call of ``Path.touch``: what a hostile checkpoint would smuggle in."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": "modelreg.checkpoint/1", "payload": _Payload(marker)}, hostile)
    refused = r"hostile.pt: not a plain-data checkpoint \(it names \S+\); it is refused because"
    with pytest.raises(InputError, match=refused):
        load_checkpoint(hostile)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ("os:system", r"model.pt: os:system is not a torch nn.Module class"),
        ("../../etc:passwd", r"architecture '../../etc:passwd' is not 'package.module:ClassName'"),
        ("pipelines.nowhere:Model", r"cannot import pipelines.nowhere"),
    ],
)
def test_a_hostile_or_missing_architecture_is_refused(
    tmp_path: Path, architecture: str, message: str
) -> None:
    path = tmp_path / "model.pt"
    save_small_cnn(path)
    document = torch.load(path, weights_only=True)
    document["architecture"] = architecture
    torch.save(document, path)
    with pytest.raises(InputError, match=message):
        load_checkpoint(path).build(ROOT)


def test_weights_that_do_not_fit_the_architecture_are_named(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_small_cnn(path)
    document = torch.load(path, weights_only=True)
    document["config"] = {**CONFIG, "channels": 8}
    torch.save(document, path)
    with pytest.raises(InputError, match=r"the weights do not fit .*DigitsCNN with config"):
        load_checkpoint(path).build(ROOT)


def test_export_is_checked_and_proven_on_the_held_out_images(
    exported: tuple[Path, ExportResult], files: dict[str, Path]
) -> None:
    import onnx
    import onnxruntime as ort

    out, result = exported
    report = result.parity
    assert report.passed and report.samples == 120
    assert report.top1_agreement == 1.0
    assert report.max_abs_diff < 1e-4
    assert report.onnx_accuracy == report.torch_accuracy
    onnx.checker.check_model(str(out), full_check=True)
    model = onnx.load(str(out))
    assert model.opset_import[0].version == 18
    # The batch dimension is dynamic: any batch size runs and matches torch.
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    module = load_checkpoint(files["checkpoint"]).build(ROOT)
    for batch in (1, 7):
        x = np.random.default_rng(batch).random((batch, 1, 8, 8), dtype=np.float32)
        [got] = session.run(None, {"images": x})
        with torch.inference_mode():
            want = module(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5)
    # No build paths in the file: the same training exports the same bytes in any clone.
    assert str(ROOT).encode() not in out.read_bytes()


def test_the_same_checkpoint_exports_the_same_bytes(
    exported: tuple[Path, ExportResult], files: dict[str, Path], tmp_path: Path
) -> None:
    again = tmp_path / "elsewhere" / "model.onnx"
    export_onnx(files["checkpoint"], again, parity_data=files["data"], repo=ROOT)
    assert again.read_bytes() == exported[0].read_bytes()


def test_a_parity_failure_leaves_no_onnx_file(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    impossible = Tolerances(max_abs_diff=0.0, min_top1_agreement=1.0, max_accuracy_drop=0.0)
    with pytest.raises(ParityError) as caught:
        export_onnx(
            files["checkpoint"], out, parity_data=files["data"], repo=ROOT, tolerances=impossible
        )
    message = str(caught.value)
    assert message.startswith(f"ONNX export of {files['checkpoint']} fails parity on 120 held-out")
    assert "(max_abs_diff)" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_parity_data_of_the_wrong_shape_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    flat = tmp_path / "flat.npz"
    np.savez(flat, inputs=np.zeros((10, 64), dtype=np.float32), labels=np.zeros(10))
    with pytest.raises(
        InputError,
        match=r"flat.npz: inputs have shape \[10, 64\], the model takes \[-1, 1, 8, 8\] \(images\)",
    ):
        export_onnx(files["checkpoint"], tmp_path / "m.onnx", parity_data=flat, repo=ROOT)
    short = tmp_path / "short.npz"
    np.savez(short, inputs=np.zeros((10, 1, 8, 8), dtype=np.float32), labels=np.zeros(3))
    with pytest.raises(InputError, match=r"short.npz: 10 inputs but 3 labels"):
        export_onnx(files["checkpoint"], tmp_path / "m.onnx", parity_data=short, repo=ROOT)
    assert not (tmp_path / "m.onnx").exists()


def test_cli_export_writes_the_report_and_fails_in_one_line(
    files: dict[str, Path], tmp_path: Path, modelreg_exe: str
) -> None:
    out, report = tmp_path / "m.onnx", tmp_path / "parity.json"
    done = subprocess.run(
        [
            modelreg_exe,
            "--repo",
            str(ROOT),
            "export",
            "--checkpoint",
            str(files["checkpoint"]),
            "--parity-data",
            str(files["data"]),
            "--out",
            str(out),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "onnx.checker: full check passed" in done.stdout
    assert "parity on 120 held-out inputs" in done.stdout
    document = json.loads(report.read_text())
    assert document["parity"]["passed"] is True and document["dynamo"] is True

    failed = subprocess.run(
        [
            modelreg_exe,
            "--repo",
            str(ROOT),
            "export",
            "--checkpoint",
            str(files["checkpoint"]),
            "--parity-data",
            str(files["data"]),
            "--out",
            str(tmp_path / "bad.onnx"),
            "--max-abs-diff",
            "0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ONNX export of") and failed.stderr.count("\n") == 1
    assert not (tmp_path / "bad.onnx").exists()
