"""Model cards: ``modelreg card REF``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelreg.cli.app import Options, cli, complete_ref, echo, emit_json, pass_options

_FORMATS = ["markdown", "html", "json", "cyclonedx"]


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(_FORMATS),
    default="markdown",
    show_default=True,
    help="Markdown with Hugging Face front matter, one HTML page, the card as JSON, "
    "or a CycloneDX 1.6 ML-BOM.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the card to FILE instead of printing it.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Read the ONNX file and the confusion matrix from the working tree or the DVC "
    "cache only, never from the DVC remote.",
)
@pass_options
def card(options: Options, ref: str, output_format: str, out: Path | None, offline: bool) -> None:
    """The model card of the version REF names (NAME/3, NAME@production, ...).

    Built from the registry: model.yaml's card section (intended use, data,
    limitations), the version's metrics (per class, benchmark), signature and
    lineage, the stage history, and the ONNX file's parameters and operators and
    the pipeline's confusion-matrix image, fetched by hash and verified (when one
    cannot be had, the card says why).
    """
    from modelreg.reporting.card import model_card

    built = model_card(ref, options.repo, fetch=not offline)
    if output_format in ("json", "cyclonedx"):
        document = built.to_json() if output_format == "json" else built.cyclonedx()
        if out is None:
            emit_json(document)
            return
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = built.markdown() if output_format == "markdown" else built.html()
        if out is None:
            echo(text, nl=False)
            return
    from modelreg.core.yaml_io import write_text_atomic

    write_text_atomic(out, text)  # its folder is made if need be
    echo(f"wrote {out} ({output_format} card of {built.ref})")
