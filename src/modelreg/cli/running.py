"""Running a version's model: export (ONNX with parity) and benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modelreg.api import (
        BenchmarkSubject,
    )

from modelreg.cli.app import (
    Options,
    cli,
    complete_ref,
    echo,
    emit_json,
    pass_options,
    progress_bar,
)


@cli.command()
@click.argument("ref", required=False, shell_complete=complete_ref)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export this checkpoint file instead of a registered version's weights.",
)
@click.option(
    "--parity-data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Held-out .npz ('inputs', 'labels'); default: the one the checkpoint names.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The .onnx to write.")
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here."
)
@click.option("--opset", type=click.IntRange(min=7), default=18, show_default=True)
@click.option(
    "--exporter",
    type=click.Choice(["dynamo", "torchscript"]),
    default="dynamo",
    show_default=True,
    help="torch.onnx.export's exporter: dynamo=True (torch.export) or dynamo=False.",
)
@click.option("--max-abs-diff", type=float, default=1e-4, show_default=True)
@click.option("--min-top1-agreement", type=click.FloatRange(0, 1), default=0.999, show_default=True)
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@pass_options
def export(
    options: Options,
    ref: str | None,
    checkpoint: Path | None,
    parity_data: Path | None,
    out: Path | None,
    report: Path | None,
    opset: int,
    exporter: str,
    max_abs_diff: float,
    min_top1_agreement: float,
    max_accuracy_drop: float,
    as_json: bool,
) -> None:
    """Export a version (REF) or a checkpoint to ONNX and prove it equal to torch.

    The export is checked by onnx.checker and run beside torch on the held-out
    data; outside the tolerances it fails, and no .onnx file is written.
    """
    from modelreg.api import InputError, Tolerances, export_onnx, version_files
    from modelreg.artifacts.export import write_report
    from modelreg.core.source import find_repo_root

    if (ref is None) == (checkpoint is None):
        raise click.UsageError("give either REF or --checkpoint")
    if ref is not None:
        files = version_files(options.repo, ref)
        checkpoint = files.checkpoint
        if checkpoint is None:
            raise InputError(f"{files.ref} has no pytorch weights to export")
    assert checkpoint is not None
    out = out or checkpoint.with_suffix(".onnx")
    result = export_onnx(
        checkpoint,
        out,
        parity_data=parity_data,
        repo=find_repo_root(options.repo or Path.cwd()),
        opset=opset,
        dynamo=exporter == "dynamo",
        tolerances=Tolerances(max_abs_diff, min_top1_agreement, max_accuracy_drop),
    )
    if report is not None:
        write_report(result, report)
    if as_json:
        emit_json(result.to_json())
        return
    parity = result.parity
    echo(f"exported {out} (opset {result.opset}, dynamo={result.dynamo}, {result.size:,} bytes)")
    echo("  onnx.checker: full check passed")
    line = f"  parity on {parity.samples} held-out inputs: max abs diff {parity.max_abs_diff:.2e}"
    if parity.top1_agreement is not None:
        line += f", top-1 agreement {parity.top1_agreement:.2%}"
    if parity.onnx_accuracy is not None and parity.torch_accuracy is not None:
        line += f", accuracy {parity.onnx_accuracy:.2%} (torch {parity.torch_accuracy:.2%})"
    echo(line)


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter("batch sizes must be positive numbers, e.g. 1,8,64")
    return sizes


def _benchmark_subject(
    options: Options, label: str, ref: str | None, onnx: Path | None, checkpoint: Path | None
) -> BenchmarkSubject:
    """A version (REF) or a pair of files to benchmark, checked to exist."""
    from modelreg.api import BenchmarkSubject, InputError, version_files

    if ref is not None:
        files = version_files(options.repo, ref)
        if files.onnx is None:
            raise InputError(
                f"{files.ref} has no ONNX artifact; run 'modelreg export {files.ref}' first"
            )
        return BenchmarkSubject(label, files.ref, files.onnx, files.checkpoint)
    assert onnx is not None
    for path in (onnx, checkpoint):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    return BenchmarkSubject(label, str(onnx), onnx, checkpoint)


@cli.command()
@click.argument("ref", required=False, shell_complete=complete_ref)
@click.option(
    "--onnx",
    "onnx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Benchmark this ONNX file instead of a version.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Its torch checkpoint, for the torch reference.",
)
@click.option(
    "--baseline", metavar="REF", help="Compare against this version, measured interleaved."
)
@click.option(
    "--baseline-onnx",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare against this ONNX file instead of a version.",
)
@click.option(
    "--baseline-checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The baseline ONNX file's torch checkpoint.",
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--batch-sizes", default="1,8,64", show_default=True, callback=_batch_sizes)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPU threads per runtime (fixed, for stable figures).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds of timed runs per configuration and batch size.",
)
@click.option("--warmup", type=click.IntRange(min=0), default=30, show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the table as a Markdown code block (for a job summary or a comment).",
)
@pass_options
def benchmark(
    options: Options,
    ref: str | None,
    onnx_path: Path | None,
    checkpoint: Path | None,
    baseline: str | None,
    baseline_onnx: Path | None,
    baseline_checkpoint: Path | None,
    device: str,
    batch_sizes: tuple[int, ...],
    threads: int,
    budget: float,
    warmup: int,
    out: Path | None,
    as_json: bool,
    markdown: bool,
) -> None:
    """Latency (p50/p95/p99) and throughput of a version on ONNX Runtime and torch.

    With --baseline both versions are measured interleaved in one run, and the
    verdict is the ratio of their p50 with its noise.
    """

    from modelreg.api import BenchmarkSettings, InputError, run_benchmark
    from modelreg.artifacts.benchmark import render_table
    from modelreg.core.source import find_repo_root

    if (ref is None) == (onnx_path is None):
        raise click.UsageError("give either REF or --onnx")
    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    if baseline is not None and baseline_onnx is not None:
        raise click.UsageError("give either --baseline or --baseline-onnx, not both")
    if baseline_checkpoint is not None and baseline_onnx is None:
        raise click.UsageError("--baseline-checkpoint needs --baseline-onnx")
    candidate = _benchmark_subject(options, "candidate", ref, onnx_path, checkpoint)
    base = None
    if baseline is not None or baseline_onnx is not None:
        base = _benchmark_subject(options, "baseline", baseline, baseline_onnx, baseline_checkpoint)
    try:  # where the checkpoint's architecture is imported from, when in a repository
        repo: Path | None = find_repo_root(options.repo or Path.cwd())
    except InputError:
        repo = None
    settings = BenchmarkSettings(device, batch_sizes, warmup, budget, threads, 0, repo)
    with progress_bar() as progress:
        report = run_benchmark(candidate, base, settings, progress=progress)
    if out is not None:
        from modelreg.core.yaml_io import write_text_atomic

        write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    if as_json:
        emit_json(report)
    elif markdown:
        from modelreg.core.escape import code_fence

        echo(code_fence(render_table(report)), nl=False)
    else:
        echo(render_table(report))
