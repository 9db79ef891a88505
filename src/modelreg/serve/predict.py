"""``modelreg predict``: one registered version run on local files, as the server runs it.

The version is loaded exactly as ``modelreg serve`` loads it
(:func:`modelreg.serve.routes.load_version`): its ONNX file's bytes checked
against the manifest's md5 (the working-tree file, else the DVC cache, else the
DVC remote; the working tree is never written), an ONNX Runtime session whose
inputs and outputs must be the manifest's signature, one warm-up run. Files are
read into tensors by the server's own checks (:mod:`modelreg.serve.tensors`),
and a classifier's output is ranked by the same :func:`~modelreg.serve.tensors.classify`
as ``/predict``, so both name the same classes with the same confidence.

Inputs, by suffix:

- ``.json``: a ``/predict`` body (``{"inputs": rows}``, or ``{"inputs": {name: rows}}``)
  or an Open Inference Protocol request (``{"inputs": [{"name", "datatype", "shape",
  "data"}]}``);
- ``.npy``: one array for a one-input model; ``.npz``: one array per input, by name;
  a single example may leave out the batch axis, and values are cast to the
  input's type only where nothing is lost in kind (numbers into floats, integers
  into integers within range);
- ``.png``, ``.jpg``, ``.jpeg``: one image, for a one-input model whose input is
  laid out as an image (``[N, C, H, W]``, ``[N, H, W, C]`` with 1 or 3 channels, or
  ``[N, H, W]``). It is converted to grayscale or RGB by the channels, resized to
  the input's height and width (stretched, not cropped; area-averaged when shrunk,
  bilinear when enlarged), and scaled to 0..1 (pixel / 255) for a floating-point
  input or passed as 0..255 for an integer one. A version records no further
  preprocessing (mean and standard deviation, inversion), so none is guessed: the
  example pipeline feeds its images scaled to 0..1 and nothing else, and a model
  trained otherwise must be given its tensors as ``.npy`` or ``.json``.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreg.artifacts.local import artifact_of
from modelreg.core.errors import InputError, MissingExtraError, NotFoundError
from modelreg.core.extras import require
from modelreg.core.model import ModelVersion
from modelreg.core.registry import Registry
from modelreg.serve.tensors import (
    Classified,
    InputSpec,
    RequestError,
    classify,
    decode_arrays,
    decode_predict,
    decode_v2,
    json_safe,
    parse_json,
)

__all__ = ["SUFFIXES", "FilePrediction", "Prediction", "predict"]

# The input files read, by suffix (lower case), and what each is read as.
SUFFIXES = {
    ".json": "json",
    ".npy": "npy",
    ".npz": "npz",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
}
_SUFFIX_LIST = ", ".join(SUFFIXES)


@dataclass(frozen=True)
class FilePrediction:
    """One input file run through the model."""

    path: str  # as given
    kind: str  # "json", "npy", "npz" or "image"
    decoded: str  # how the file became the model's inputs, in words
    shapes: dict[str, tuple[int, ...]]  # each input's shape as fed
    output: str  # the output ranked: the model's first, as /predict does
    classified: Classified | None  # None: the output is not a classifier's
    outputs: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        first = next(iter(self.outputs.values()))
        return int(first.shape[0]) if first.ndim else 1

    def to_json(self) -> dict[str, Any]:
        predictions: list[dict[str, Any]] = []
        if self.classified is not None:
            for row, ranked in enumerate(self.classified.rows):
                best = ranked[0].to_json() if ranked else dict.fromkeys(_RANKED_KEYS)
                top = [r.to_json() for r in ranked]
                predictions.append({"row": row, **best, "top": top})
        return {
            "input": self.path,
            "kind": self.kind,
            "decoded": self.decoded,
            "shapes": {name: list(shape) for name, shape in self.shapes.items()},
            "output": self.output,
            "confidence": _confidence_kind(self.classified),
            "predictions": predictions,
            "outputs": {name: json_safe(value) for name, value in self.outputs.items()},
        }


_RANKED_KEYS = ("index", "label", "confidence")


def _confidence_kind(classified: Classified | None) -> str | None:
    """How the confidences were had: a softmax of the output, or the output as it is."""
    if classified is None:
        return None
    return "softmax" if classified.softmax else "output"


@dataclass(frozen=True)
class Prediction:
    """``modelreg predict``'s result: the version run, and each file's predictions."""

    ref: str  # as given
    version: ModelVersion
    pointer: str | None  # the stage or alias the reference followed
    onnx_path: str
    md5: str
    source: str  # where the ONNX bytes came from: working tree, cache or remote
    top: int
    files: tuple[FilePrediction, ...]

    def to_json(self) -> dict[str, Any]:
        """``predict --json``."""
        return {
            "format": "modelreg.predict/1",
            "ref": self.ref,
            "model": self.version.model,
            "version": self.version.version,
            "stage": self.pointer,
            "onnx": {"path": self.onnx_path, "md5": self.md5, "source": self.source},
            "classes": list(self.version.signature.classes) if self.version.signature else [],
            "top": self.top,
            "inputs": [f.to_json() for f in self.files],
        }


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None, as a missing one is in tests
        return False


def _read(path: Path) -> tuple[str, bytes]:
    """The file's kind and bytes; an :class:`InputError` for a suffix not read or a
    file that cannot be read."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{path}: cannot tell what the file holds from its suffix; give a {_SUFFIX_LIST} file"
        )
    if kind == "image" and not _installed("PIL"):
        raise MissingExtraError(
            f"{path}: reading an image needs Pillow, which is not installed: pip install pillow"
        )
    try:
        return kind, path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or _one_line(exc)}") from None


# --- decoding -------------------------------------------------------------------------


def _decode_json(
    data: bytes, inputs: Mapping[str, InputSpec], outputs: Mapping[str, InputSpec]
) -> tuple[dict[str, np.ndarray], str]:
    body = parse_json(data)
    tensors = body.get("inputs") if isinstance(body, dict) else None
    if isinstance(tensors, list) and tensors and all(isinstance(t, dict) for t in tensors):
        feeds, _, _ = decode_v2(body, inputs, outputs)
        return feeds, "an Open Inference Protocol request"
    return decode_predict(body, inputs), "a /predict body"


def _decode_numpy(
    kind: str, data: bytes, inputs: Mapping[str, InputSpec], what: str
) -> tuple[dict[str, np.ndarray], str]:
    arrays: np.ndarray | dict[str, np.ndarray]
    try:
        # No pickles (DESIGN invariant 7): an object array is refused, not unpickled.
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            arrays = loaded
        else:  # an .npz archive: one array per input, by name
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
    except Exception as exc:  # numpy's format errors are ValueError, OSError, zipfile's...
        raise InputError(f"{what} is not a NumPy file numpy can read: {_one_line(exc)}") from None
    described = "a NumPy array" if isinstance(arrays, np.ndarray) else "NumPy arrays by name"
    return decode_arrays(arrays, inputs, "the file"), described


@dataclass(frozen=True)
class _ImageLayout:
    order: str  # "NCHW", "NHWC" or "NHW"
    channels: int  # 1 or 3
    height: int | None  # None: the image's own
    width: int | None


def _image_layout(spec: InputSpec, what: str) -> _ImageLayout:
    shape = spec.shape
    if len(shape) == 4 and shape[1] in (1, 3):
        assert shape[1] is not None
        return _ImageLayout("NCHW", shape[1], shape[2], shape[3])
    if len(shape) == 4 and shape[3] in (1, 3):
        assert shape[3] is not None
        return _ImageLayout("NHWC", shape[3], shape[1], shape[2])
    if len(shape) == 3:
        return _ImageLayout("NHW", 1, shape[1], shape[2])
    shown = "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"
    raise InputError(
        f"{what}: input {spec.name!r} has shape {shown}, which is not laid out as an image "
        "([N, C, H, W] or [N, H, W, C] with 1 or 3 channels, or [N, H, W]); give the "
        "tensor as a .npy or .json file"
    )


def _decode_image(
    data: bytes, inputs: Mapping[str, InputSpec], what: str
) -> tuple[dict[str, np.ndarray], str]:
    if len(inputs) != 1:
        raise InputError(
            f"{what}: an image feeds a model with one input, and this one takes "
            f"{', '.join(inputs)}; give a .json or .npz file"
        )
    spec = next(iter(inputs.values()))
    layout = _image_layout(spec, what)
    kind = np.dtype(spec.dtype).kind
    if kind not in "fiu":
        raise InputError(
            f"{what}: input {spec.name!r} takes {spec.datatype}, which an image cannot give; "
            "give a .json file"
        )
    from PIL import Image

    mode = "L" if layout.channels == 1 else "RGB"
    try:
        with warnings.catch_warnings():
            # A decompression bomb (past Pillow's pixel limit) is an error, not a warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                original = f"{opened.width}x{opened.height} {opened.mode}"
                image = opened.convert(mode)
    except Exception as exc:  # Pillow raises many kinds for a damaged or hostile file
        raise InputError(f"{what} is not an image Pillow can read: {_one_line(exc)}") from None
    width, height = layout.width or image.width, layout.height or image.height
    if (width, height) != image.size:
        # Shrinking averages each area (as scikit-learn's 8x8 digits were made from
        # 32x32 bitmaps); enlarging interpolates.
        shrink = width <= image.width and height <= image.height
        resample = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
        image = image.resize((width, height), resample)
    pixels = np.asarray(image)  # H x W, or H x W x 3
    if pixels.ndim == 2 and layout.order != "NHW":
        pixels = pixels[:, :, np.newaxis]
    if layout.order == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    values = pixels.astype(np.float64) / 255.0 if kind == "f" else pixels
    values = values[np.newaxis]  # one example
    scale = "pixel / 255, 0 to 1" if kind == "f" else "pixel values 0 to 255"
    shown = "grayscale" if mode == "L" else "RGB"
    feeds = decode_arrays(values, inputs, "the image")
    return feeds, f"image {original}, as {width}x{height} {shown}, {scale}"


def _decode(
    kind: str,
    data: bytes,
    inputs: Mapping[str, InputSpec],
    outputs: Mapping[str, InputSpec],
    what: str,
) -> tuple[dict[str, np.ndarray], str]:
    try:
        if kind == "json":
            return _decode_json(data, inputs, outputs)
        if kind in ("npy", "npz"):
            return _decode_numpy(kind, data, inputs, what)
        return _decode_image(data, inputs, what)
    except RequestError as exc:
        # The server's words for a bad request, with the file they are about.
        text = str(exc).replace("the request body", "the file")
        raise InputError(f"{what}: {text}") from None


# --- the verb -------------------------------------------------------------------------


def predict(
    ref: str,
    inputs: Sequence[str | Path],
    *,
    repo: str | Path | None = None,
    top: int = 1,
    remote: str | None = None,
    threads: int = 0,
) -> Prediction:
    """Run the version ``ref`` names on each file of ``inputs`` with ONNX Runtime.

    The version is loaded and verified as ``modelreg serve`` loads it, and each file is
    checked as the server checks a request; for a classifier, each row's ``top``
    classes are ranked as ``/predict`` ranks them. Raises a :class:`ModelregError` with
    one line for anything unusable: an unreadable or malformed file, a tensor of the
    wrong shape or type, a version without an ONNX artifact, an artifact whose bytes
    are not the recorded md5 anywhere, a missing ``serve`` extra.
    """
    require("modelreg predict", "serve", "onnxruntime")
    from modelreg.serve.routes import load_version

    if top < 1:
        raise InputError(f"top must be 1 or more, not {top}")
    if not inputs:
        raise InputError("give at least one input file")
    with Registry.open(repo) as registry:
        resolution = registry.resolve(ref)
        root = registry.root
    version = resolution.version
    artifact = artifact_of(version, "onnx")
    if artifact is None:
        raise NotFoundError(
            f"{version.ref} has no ONNX artifact to run; export one with "
            f"'modelreg export {version.ref}', or register the version with --onnx"
        )
    files = [(str(path), *_read(Path(path))) for path in inputs]  # before any download
    loaded = load_version(root, version, threads=threads, remote=remote)
    classes = version.signature.classes if version.signature else ()
    names = list(loaded.outputs)
    results = []
    for shown, kind, data in files:
        feeds, decoded = _decode(kind, data, loaded.inputs, loaded.outputs, shown)
        try:
            values = [np.asarray(v) for v in loaded.run(names, feeds)]
        except Exception as exc:  # ONNX Runtime's own errors are untyped
            raise InputError(
                f"{shown}: the model cannot run on these inputs: {_one_line(exc)}"
            ) from None
        results.append(
            FilePrediction(
                path=shown,
                kind=kind,
                decoded=decoded,
                shapes={name: tuple(int(d) for d in v.shape) for name, v in feeds.items()},
                output=names[0],
                classified=classify(values[0], classes, top),
                outputs=dict(zip(names, values, strict=True)),
            )
        )
    return Prediction(
        ref=ref,
        version=version,
        pointer=resolution.pointer.name if resolution.pointer is not None else None,
        onnx_path=artifact.path,
        md5=artifact.md5,
        source=loaded.source,
        top=top,
        files=tuple(results),
    )
