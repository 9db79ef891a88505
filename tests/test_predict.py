"""``modelreg predict``: a registered version run on local files names the classes the
server's ``/predict`` names, through the installed command, real DVC, real ONNX Runtime
and a real uvicorn on 127.0.0.1.

The model is a real digits classifier: multinomial logistic regression fitted on
scikit-learn's bundled digits but the last five rows, written as an ONNX graph
(Flatten, MatMul, Add) that takes ``images [N, 1, 8, 8]`` scaled to 0..1 as the
example pipeline feeds them. The last five rows are the held-out digits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelreg.cli.predicting  # noqa: F401  (registers the command in-process)
from modelreg.api import Registry, promote, register
from modelreg.artifacts.dvc import object_path
from modelreg.cli import main
from modelreg.core.layout import version_path
from modelreg.core.yaml_edit import write_manifest
from modelreg.core.yaml_io import parse_yaml
from modelreg.serve.tensors import classify
from tests import builders
from tests.conftest import Workspace
from tests.serving import serve

sklearn_datasets = pytest.importorskip("sklearn.datasets")
pytest.importorskip("onnxruntime")

MODEL = "digits"
CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
HELD_OUT = 5


@dataclass(frozen=True)
class Digits:
    workspace: Workspace
    images: np.ndarray  # the held-out digits, N x 1 x 8 x 8, float32 in 0..1
    targets: np.ndarray

    @property
    def root(self) -> Path:
        return self.workspace.root

    def onnx_path(self, number: int = 1) -> Path:
        with Registry.open(self.root) as registry:
            version = registry.version(MODEL, number)
        return self.root / next(a.path for a in version.artifacts if a.format == "onnx")


def digits_onnx() -> bytes:
    """Logistic regression on the digits but the held-out rows, as an ONNX classifier."""
    import onnx
    from onnx import TensorProto, helper
    from sklearn.linear_model import LogisticRegression

    digits = sklearn_datasets.load_digits()
    x = (digits.images[:-HELD_OUT] / 16.0).reshape(-1, 64)
    fitted = LogisticRegression(max_iter=2000).fit(x, digits.target[:-HELD_OUT])
    weights = fitted.coef_.T.astype(np.float32)  # 64 x 10
    bias = fitted.intercept_.astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["images"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["scores"]),
            helper.make_node("Add", ["scores", "b"], ["logits"]),
        ],
        "digits",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [
            helper.make_tensor("W", TensorProto.FLOAT, [64, 10], weights.ravel().tolist()),
            helper.make_tensor("b", TensorProto.FLOAT, [10], bias.tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def set_classes(root: Path, number: int, classes: list[str]) -> None:
    """Write ``classes`` into the version's signature, as a checkpoint's would be."""
    path = root / version_path(MODEL, number)
    document = parse_yaml(path.read_bytes(), str(path))
    document["signature"]["classes"] = classes
    write_manifest(root, version_path(MODEL, number), document, "version")


def build(workspace: Workspace, classes: list[str]) -> Digits:
    """digits v1 (the ONNX classifier, with ``classes``) registered and in production."""
    source = workspace.root.parent / "model-files"
    source.mkdir()
    (source / "model.onnx").write_bytes(digits_onnx())
    (source / "model.pt").write_bytes(b"the torch weights are not used here\n")
    register(MODEL, repo=workspace.root, weights=source / "model.pt", onnx=source / "model.onnx")
    set_classes(workspace.root, 1, classes)
    workspace.commit_all("register digits version 1")
    promote(MODEL, 1, "production", repo=workspace.root, reason="first release")
    digits = sklearn_datasets.load_digits()
    images = (digits.images[-HELD_OUT:].astype(np.float32) / 16.0)[:, np.newaxis]
    return Digits(workspace, images, digits.target[-HELD_OUT:])


@pytest.fixture
def digits(workspace: Workspace) -> Digits:
    return build(workspace, CLASSES)


def run_installed(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), "predict", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def run_here(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    """The command in this process (faster than a new one): exit code, stdout, stderr."""
    code = main(["--repo", str(root), "predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def labels(document: dict[str, Any], position: int = 0) -> list[str]:
    return [p["label"] for p in document["inputs"][position]["predictions"]]


# --- the acceptance line --------------------------------------------------------------


def test_predict_names_the_servers_classes_for_five_held_out_digits(
    digits: Digits, modelreg_exe: str, tmp_path: Path
) -> None:
    five = tmp_path / "five.npy"
    np.save(five, digits.images)
    body = {"inputs": digits.images.tolist()}
    as_json = tmp_path / "five.json"
    as_json.write_text(json.dumps(body))

    done = run_installed(
        modelreg_exe, digits.root, f"{MODEL}@production", "--input", str(five), "--json"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    with serve(digits.root) as live:
        answer = live.client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    served = answer.json()["predictions"]

    assert labels(document) == [p["label"] for p in served]
    # A real classifier: it reads the held-out digits (not only agrees with itself).
    assert labels(document) == [CLASSES[t] for t in digits.targets]
    assert document["format"] == "modelreg.predict/1"
    assert (document["model"], document["version"], document["stage"]) == (MODEL, 1, "production")
    assert document["onnx"]["source"] == "working tree"
    [run] = document["inputs"]
    assert run["shapes"] == {"images": [HELD_OUT, 1, 8, 8]}
    assert (run["output"], run["confidence"]) == ("logits", "softmax")
    for mine, theirs in zip(run["predictions"], served, strict=True):
        assert mine["index"] == theirs["index"]
        assert mine["confidence"] == pytest.approx(theirs["confidence"], rel=1e-6)
        top = mine["top"]
        assert len(top) == 3 and top[0]["label"] == mine["label"]
        assert [t["confidence"] for t in top] == sorted(
            (t["confidence"] for t in top), reverse=True
        )
    np.testing.assert_allclose(run["outputs"]["logits"], answer.json()["outputs"]["logits"])

    # The same body /predict took, as a .json file, and the table for people.
    done = run_installed(
        modelreg_exe, digits.root, f"{MODEL}@production", "-i", str(as_json), "--top", "2"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("digits/1 (production): registry/digits/artifacts/1/model.onnx")
    header = lines.index("row  class  confidence  top 2 (softmax of 'logits')")
    rows = [line.split() for line in lines[header + 1 :]]
    assert [row[1] for row in rows] == [p["label"] for p in served]
    assert [row[2] for row in rows] == [f"{p['confidence']:.3f}" for p in served]


def test_json_bodies_and_images_are_read_as_the_model_takes_them(
    digits: Digits, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    image_module = pytest.importorskip("PIL.Image")
    expected = [CLASSES[t] for t in digits.targets]
    # An Open Inference Protocol request, and one example without its batch axis.
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps(builders_v2(digits.images)))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"inputs": digits.images[0].tolist()}))
    # Each digit drawn 4x larger (32x32, as the 8x8 digits were made from 32x32
    # bitmaps): shrinking averages it back. A grayscale PNG and an RGB JPEG.
    pngs, jpeg = [], tmp_path / "rgb.jpg"
    for position, image in enumerate(digits.images):
        pixels = np.rint(image[0] * 255).astype(np.uint8)
        big = image_module.fromarray(pixels, "L").resize((32, 32), image_module.Resampling.NEAREST)
        pngs.append(tmp_path / f"digit-{position}.png")
        big.save(pngs[-1])
        if position == 0:
            big.convert("RGB").save(jpeg, quality=95)

    code, out, err = run_here(
        capsys,
        digits.root,
        f"{MODEL}@production",
        *("-i", str(v2), "-i", str(one), "-i", str(jpeg)),
        *(arg for png in pngs for arg in ("-i", str(png))),
        "--json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert labels(document, 0) == expected
    assert document["inputs"][0]["decoded"] == "an Open Inference Protocol request"
    assert labels(document, 1) == expected[:1]
    assert document["inputs"][1]["shapes"] == {"images": [1, 1, 8, 8]}
    jpeg_run = document["inputs"][2]
    assert jpeg_run["decoded"] == "image 32x32 RGB, as 8x8 grayscale, pixel / 255, 0 to 1"
    assert jpeg_run["predictions"][0]["label"] in CLASSES
    png_runs = document["inputs"][3:]
    assert [labels(document, 3 + i)[0] for i in range(HELD_OUT)] == expected
    assert png_runs[0]["decoded"] == "image 32x32 L, as 8x8 grayscale, pixel / 255, 0 to 1"
    assert png_runs[0]["shapes"] == {"images": [1, 1, 8, 8]}


def test_a_model_that_is_not_a_classifier_shows_its_outputs(
    digits: Digits, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from onnx import TensorProto, helper

    # The mean ink of an image: one number per row, nothing to rank.
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["images"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["ink"]),
        ],
        "ink",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("ink", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor("W", TensorProto.FLOAT, [64, 1], [1 / 64] * 64)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    source = tmp_path / "ink" / "model.onnx"
    source.parent.mkdir()
    source.write_bytes(model.SerializeToString())
    register(MODEL, repo=digits.root, weights=source, commit=True)
    five = tmp_path / "five.npy"
    np.save(five, digits.images)
    means = digits.images.reshape(HELD_OUT, -1).mean(axis=1)

    code, out, err = run_here(capsys, digits.root, f"{MODEL}/2", "-i", str(five))
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0]
        == "digits/2: registry/digits/artifacts/2/model.onnx, md5 verified, from the working tree"
    )
    header = lines.index("row  ink")
    assert lines[header + 1 :] == [f"{i}    {m:.4g}" for i, m in enumerate(means)]
    code, out, err = run_here(capsys, digits.root, f"{MODEL}/2", "-i", str(five), "--json")
    assert code == 0, err
    [run] = json.loads(out)["inputs"]
    assert (run["predictions"], run["confidence"], json.loads(out)["stage"]) == ([], None, None)
    np.testing.assert_allclose(np.ravel(run["outputs"]["ink"]), means, rtol=1e-5)


def builders_v2(images: np.ndarray) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "images",
                "datatype": "FP32",
                "shape": list(images.shape),
                "data": images.ravel().tolist(),
            }
        ]
    }


# --- failures: one line, exit 1 -------------------------------------------------------


def test_unusable_inputs_fail_in_one_line(
    digits: Digits, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flat = tmp_path / "flat.npy"
    np.save(flat, digits.images.reshape(HELD_OUT, 64))
    words = tmp_path / "words.npy"
    np.save(words, np.array(["seven", "three"]))
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    broken = tmp_path / "broken.json"
    broken.write_text('{"inputs": [[0.1, ')
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"inputs": [[[0.5] * 7] * 8]}))
    not_image = tmp_path / "fake.png"
    not_image.write_bytes(b"not a png at all")
    text = tmp_path / "digits.txt"
    text.write_text("7")
    missing = tmp_path / "nowhere.npy"
    cases = [
        (
            flat,
            f"{flat}: input 'images' has shape [5, 64], but the model takes 4 dimensions "
            "[-1, 1, 8, 8]",
        ),
        (words, f"{words}: the file holds <U5 values, but input 'images' takes FP32"),
        (pickled, f"{pickled} is not a NumPy file numpy can read: Object arrays cannot be loaded"),
        (broken, f"{broken}: the file is not valid JSON: Expecting value"),
        (
            short,
            f"{short}: input 'images' has shape [1, 1, 8, 7], but the model takes [-1, 1, 8, 8]",
        ),
        (not_image, f"{not_image} is not an image Pillow can read: cannot identify image file"),
        (text, f"{text}: cannot tell what the file holds from its suffix; give a .json, .npy"),
        (missing, f"cannot read {missing}: No such file or directory"),
    ]
    for path, message in cases:
        code, out, err = run_here(capsys, digits.root, f"{MODEL}@production", "-i", str(path))
        assert (code, out) == (1, ""), (path, out, err)
        assert err.startswith(f"error: {message}"), (path, err)
        assert err.count("\n") == 1, err
    code, out, err = run_here(capsys, digits.root, f"{MODEL}/9", "-i", str(flat))
    assert code == 1 and err.count("\n") == 1 and "has no version 9" in err


def test_a_version_without_onnx_or_with_its_onnx_missing_or_tampered_fails(
    digits: Digits, capsys: pytest.CaptureFixture[str], modelreg_exe: str, tmp_path: Path
) -> None:
    five = tmp_path / "five.npy"
    np.save(five, digits.images)
    weights_only = tmp_path / "v2" / "model.pt"
    weights_only.parent.mkdir()
    weights_only.write_bytes(b"weights without an ONNX export\n")
    register(MODEL, repo=digits.root, weights=weights_only, commit=True)
    code, _, err = run_here(capsys, digits.root, f"{MODEL}/2", "-i", str(five))
    assert code == 1
    assert err == (
        "error: digits/2 has no ONNX artifact to run; export one with 'modelreg export "
        "digits/2', or register the version with --onnx\n"
    )

    # Version 3's ONNX file is gone from the working tree, the cache and the remote.
    third = tmp_path / "v3"
    third.mkdir()
    (third / "model.onnx").write_bytes(builders.onnx_model_bytes(seed=3))
    register(MODEL, repo=digits.root, weights=third / "model.onnx", commit=True)
    gone = digits.onnx_path(3)
    md5 = builders.md5_of(gone)
    for copy in (gone, object_path(digits.root / ".dvc" / "cache", md5)):
        copy.unlink()
    object_path(digits.workspace.remote, md5).unlink(missing_ok=True)
    code, _, err = run_here(capsys, digits.root, f"{MODEL}/3", "-i", str(five))
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("error: ") and "registry/digits/artifacts/3/model.onnx" in err

    # One byte of version 1 changed everywhere it is kept (same size, another md5):
    # refused, never run.
    path = digits.onnx_path(1)
    recorded = builders.md5_of(path)
    forged = bytearray(path.read_bytes())
    forged[-1] ^= 1
    for copy in (
        path,
        object_path(digits.root / ".dvc" / "cache", recorded),
        object_path(digits.workspace.remote, recorded),
    ):
        copy.chmod(0o644)
        copy.write_bytes(forged)
    done = run_installed(modelreg_exe, digits.root, f"{MODEL}@production", "-i", str(five))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: the remote 'storage' ")
    assert f"its content has md5 {builders.md5_of(path)}, not {recorded}" in done.stderr


# --- untrusted class names ------------------------------------------------------------

# What the schema lets through in a class name but a terminal must not act on: a
# right-to-left override (a label that reads backwards), an isolate, a line separator,
# a newline that would split a row, a tab.
HOSTILE = ["zero\u202egnp.exe", "one\u2066", "two\nlines", "three\u2028", "four\tx", *CLASSES[5:]]


def test_hostile_class_names_are_shown_inert(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digits = build(workspace, HOSTILE)
    five = tmp_path / "five.npy"
    np.save(five, np.concatenate([digits.images, digits.images[:, :, ::-1]]))
    code, out, err = run_here(
        capsys, digits.root, f"{MODEL}@production", "-i", str(five), "--top", "10"
    )
    assert code == 0, err
    for character in ("\u202e", "\u2066", "\u2028", "\t", "\x1b"):
        assert character not in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("row  class"))
    rows = lines[header + 1 :]
    assert len(rows) == 2 * HELD_OUT  # no row split in two
    assert rows[1].split()[1] == "zero\ufffdgnp.exe"  # the held-out zero
    # Every class is in every row's top 10, each shown as visible, inert text.
    for shown in ("zero\ufffdgnp.exe", "one\ufffd", "two lines", "three\ufffd", "four x"):
        assert all(shown in row for row in rows), shown

    code, out, err = run_here(
        capsys, digits.root, f"{MODEL}@production", "-i", str(five), "--json", "--top", "10"
    )
    assert code == 0, err
    assert "\u202e" not in out and "\\u202e" in out  # escaped in the text, equal when parsed
    assert json.loads(out)["classes"] == HOSTILE

    # An escape sequence never gets that far: the manifest is refused where it is read.
    set_classes(digits.root, 1, ["\x1b[2Jzero", *CLASSES[1:]])
    code, out, err = run_here(capsys, digits.root, f"{MODEL}@production", "-i", str(five))
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "\x1b" not in err
    assert err.startswith("error: registry/digits/versions/1.yaml:")
    assert "signature.classes[0]" in err and "contains a control character" in err


# --- the base install -----------------------------------------------------------------


def run_without(
    hidden: tuple[str, ...], root: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter where ``hidden`` modules cannot be imported,
    as on a machine without them (tests/test_extras.py does the same)."""
    program = (
        "import sys\n"
        f"for name in {hidden!r}:\n"
        "    sys.modules[name] = None\n"
        "import modelreg.cli.predicting\n"
        "from modelreg.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program, "--repo", str(root), "predict", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_without_onnx_runtime_or_pillow_it_names_what_to_install(digits: Digits) -> None:
    done = run_without(("onnxruntime",), digits.root, "digits@production", "-i", "five.npy")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: modelreg predict needs onnxruntime, which modelreg's 'serve' extra "
        "installs: pip install 'modelreg[serve]'\n"
    )
    done = run_without(("PIL",), digits.root, "digits@production", "-i", "digit.png")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: digit.png: reading an image needs Pillow, which is not installed: "
        "pip install pillow\n"
    )


# --- ranking, shared with the server --------------------------------------------------


def test_classify_ranks_logits_and_probabilities_as_the_server_does() -> None:
    logits = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    ranked = classify(logits, ["a", "b"], top=5)
    assert ranked is not None and ranked.softmax
    first = ranked.rows[0]
    assert [(r.index, r.label) for r in first] == [(1, "b"), (2, "2"), (0, "a")]
    expected = np.exp(logits[0] - 3.0) / np.exp(logits[0] - 3.0).sum()
    assert [r.confidence for r in first] == pytest.approx(sorted(expected, reverse=True))
    # Probabilities are taken as they are; ties go to the lower index, as argmax does.
    probabilities = np.array([[0.25, 0.5, 0.25], [0.5, 0.5, 0.0]])
    ranked = classify(probabilities, [], top=2)
    assert ranked is not None and not ranked.softmax
    assert [[(r.index, r.confidence) for r in row] for row in ranked.rows] == [
        [(1, 0.5), (0, 0.25)],
        [(0, 0.5), (1, 0.5)],
    ]
    # A row that is not finite has no class; the other rows still decide the kind.
    mixed = np.array([[np.nan, 1.0], [0.3, 0.7]])
    ranked = classify(mixed, [])
    assert ranked is not None and not ranked.softmax
    assert ranked.rows[0] == () and ranked.rows[1][0].index == 1
    # Not a classifier's output: a regressor's column, integers, one class.
    assert classify(np.ones((2, 1)), []) is None
    assert classify(np.ones((2, 3), dtype=np.int64), []) is None
    assert classify(np.ones(3), []) is None
