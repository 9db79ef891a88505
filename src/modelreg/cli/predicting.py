"""predict: run one registered version on local files, as the server would."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelreg.cli.app import Options, cli, complete_ref, echo, emit_json, pass_options, table

if TYPE_CHECKING:
    from modelreg.api import FilePrediction, Prediction

# Values of a non-classifier's output shown per row in the table; --json has them all.
_SHOWN_VALUES = 8


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A .json (a /predict or Open Inference Protocol body), .npy, .npz, .png or .jpg "
    "file; repeat for more.",
)
@click.option(
    "--top",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="K",
    help="Classes shown per row, best first.",
)
@click.option("--remote", metavar="NAME", help="The DVC remote to fetch the ONNX file from.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def predict(
    options: Options,
    ref: str,
    inputs: tuple[Path, ...],
    top: int,
    remote: str | None,
    as_json: bool,
) -> None:
    """Run the version REF names (NAME@production, NAME/3, ...) on local files.

    The version's ONNX file is verified by md5 and loaded as 'modelreg serve' loads it
    (working tree, DVC cache or remote; the working tree is not written), each file is
    checked as the server checks a request, and a classifier's rows are ranked as
    /predict ranks them: class names from the version's signature, confidence from a
    softmax of the output unless it already is a probability per class.

    An image is resized to the model input's height and width, made grayscale or RGB
    by its channels and scaled to 0..1 (pixel / 255) for a float input; the registry
    records no other preprocessing, so none is applied.
    """
    from modelreg.api import predict as run_predict

    result = run_predict(ref, inputs, repo=options.repo, top=top, remote=remote)
    if as_json:
        emit_json(result.to_json())
        return
    _render(result)


def _render(result: Prediction) -> None:
    version = result.version
    via = f" ({result.pointer})" if result.pointer else ""
    echo(f"{version.ref}{via}: {result.onnx_path}, md5 verified, from the {result.source}")
    for item in result.files:
        echo()
        echo(f"{item.path}: {item.decoded}; {_shapes_text(item)}")
        _render_file(item, result.top)


def _shapes_text(item: FilePrediction) -> str:
    return ", ".join(f"{name} {list(shape)}" for name, shape in item.shapes.items())


def _render_file(item: FilePrediction, top: int) -> None:
    classified = item.classified
    if classified is None:
        value = item.outputs[item.output]
        rows = value.reshape(value.shape[0], -1) if value.ndim else value.reshape(1, 1)
        shown = []
        for index, row in enumerate(rows):
            cells = [f"{v:.4g}" if row.dtype.kind in "fiu" else str(v) for v in row]
            extra = ", …" if len(cells) > _SHOWN_VALUES else ""
            shown.append([str(index), ", ".join(cells[:_SHOWN_VALUES]) + extra])
        table(None, ["row", item.output], shown)
        return
    how = "softmax of" if classified.softmax else "probabilities in"
    columns = ["row", "class", "confidence"]
    if top > 1:
        columns.append(f"top {top} ({how} '{item.output}')")
    else:
        columns[2] = f"confidence ({how} '{item.output}')"
    lines = []
    for index, ranked in enumerate(classified.rows):
        if not ranked:
            lines.append([str(index), "-", "output not finite", *([""] if top > 1 else [])])
            continue
        best = ranked[0]
        line = [str(index), best.label, f"{best.confidence:.3f}"]
        if top > 1:
            line.append(", ".join(f"{r.label} {r.confidence:.3f}" for r in ranked))
        lines.append(line)
    table(None, columns, lines)
