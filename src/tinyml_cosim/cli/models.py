"""`cosim compile` and `cosim model check|diff`: thin typer commands over nn.compiler and orchestrate.model_check.

Exit codes as everywhere in `cosim`: 0 success (bit-exact), 1 not bit-exact / firmware failed, 2 bad input (a model
the compiler refuses, one too large for the board, an unknown board or kernel set), 3 engine or internal error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tinyml_cosim.cli.common import int_in
from tinyml_cosim.core.errors import EXIT_FAILED, EXIT_OK, CosimError
from tinyml_cosim.core.report_dir import check_output_folder

if TYPE_CHECKING:  # the compiler loads lazily (below)
    from tinyml_cosim.nn.compiler import CompiledModel, QuantInfo
    from tinyml_cosim.nn.tflm_arena import TflmArena32

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

ModelArg = Annotated[Path, typer.Argument(help="int8 .tflite model")]
BoardOpt = Annotated[str, typer.Option("--board", "-b", help="board id (see `cosim boards`) or a board YAML file")]
KernelsOpt = Annotated[str, typer.Option("--kernels", help="ref (own kernels) or cmsis-nn (needs CMSIS_NN_DIR)")]
EngineOpt = Annotated[str | None, typer.Option("--engine", help="qemu or renode (default as for `cosim run`)")]
# --vectors: each input is one inference in the emulator and one golden computation on the host.
MAX_VECTORS = 10_000
MAX_SEED = 2**32 - 1 - MAX_VECTORS  # seed + k stays a 32-bit value for every input k
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed", help="seed of the first input (input k uses seed+k)", callback=int_in("--seed", 0, MAX_SEED)
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of human output")]


def _fail(exc: CosimError) -> typer.Exit:
    for line in str(exc).splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(exc.exit_code)


def compile_command(
    model: ModelArg,
    board: BoardOpt,
    out: Annotated[Path, typer.Option("--out", help="directory for model.c and model.h")],
    kernels: KernelsOpt = "ref",
    json_out: JsonOpt = False,
) -> None:
    """Compile an int8 .tflite model to C (model.c / model.h) for a board; prints arena, flash and MACs."""
    # lazy: the model compiler (numpy, tflite) loads when a model command runs, not with every `cosim` command
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.nn.compiler import compile_model, tflm_arena_fields
    from tinyml_cosim.nn.prepare import compiler_kernels

    try:
        b = load_board(board)
        check_output_folder(out)  # model.c and model.h are written into it; nothing else there is touched
        cm = compile_model(model, b, out, kernels=compiler_kernels(kernels))
    except CosimError as exc:
        raise _fail(exc) from None
    summary = {
        "model": cm.name,
        "board": b.id,
        "kernels": kernels,
        "files": [str(f) for f in cm.files],
        "arena_bytes": cm.arena_bytes,
        "arena_bytes_without_scratch": cm.arena_bytes_without_scratch,
        "state_bytes": cm.state_bytes,
        "scratch_bytes": {str(i): n for i, n in cm.scratch.items()},
        **tflm_arena_fields(cm),
        "tflm_greedy_arena_bytes": cm.tflm_greedy_arena_bytes,
        "ram_budget_bytes": cm.ram_budget,
        "ram_needed_bytes": sum(cm.ram_budget.values()),
        "board_ram_bytes": b.memory.ram.size,
        "flash_bytes": cm.flash_bytes,
        "board_flash_bytes": b.memory.flash.size,
        "macs": cm.total_macs,
        "params": cm.total_params,
        "layers": len(cm.layers),
        **_io_fields(cm),
    }
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    tflm = (
        f"TFLM's non-persistent arena {cm.tflm_arena_head:,} (measured, reference kernels)"
        if cm.tflm_arena_head is not None
        else f"TFLM's greedy order on the same buffers: {cm.tflm_greedy_arena_bytes:,} (tflite-micro not installed)"
    )
    typer.echo(f"{cm.name} for {b.id} ({kernels} kernels) -> {out}")
    typer.echo(f"  arena  {cm.arena_bytes:>10,} bytes; {tflm}")
    if cm.state_bytes:
        typer.echo(f"  state  {cm.state_bytes:>10,} bytes of it kept between inferences (LSTM / SVDF state)")
    if cm.tflm_arena32 is not None:
        _echo_tflm_arena(cm.tflm_arena32)
    budget = ", ".join(f"{k} {v:,}" for k, v in cm.ram_budget.items())
    typer.echo(f"  RAM    {sum(cm.ram_budget.values()):>10,} bytes of {b.memory.ram.size:,} ({budget})")
    if cm.scratch:
        core = "with DSP" if cm.scratch_dsp else "without DSP"
        typer.echo(
            f"         CMSIS-NN scratch ({core}) planned in the arena for {len(cm.scratch)} layers, at most "
            f"{cm.max_scratch_bytes:,} bytes ({cm.arena_bytes_without_scratch:,} without); TFLM + CMSIS-NN "
            f"(its planner on the same buffers): {cm.tflm_greedy_arena_bytes:,}"
        )
    typer.echo(f"  flash  {cm.flash_bytes:>10,} bytes of constants of {b.memory.flash.size:,}")
    typer.echo(f"  MACs   {cm.total_macs:>10,}   params {cm.total_params:,}   layers {len(cm.layers)}")


def _echo_tflm_arena(a: TflmArena32) -> None:
    how = "computed from TFLM's 32-bit structs" + (
        "" if a.exact else f"; approximate: {', '.join(a.unmeasured)} not measured, TFLM may need more"
    )
    peak = f"; {a.planning_peak:,} while TFLM plans it" if a.planning_peak > a.head + a.persistent else ""
    typer.echo(
        f"         TFLM's whole arena on this 32-bit board: {a.total:,} bytes ({a.head:,} non-persistent + "
        f"{a.persistent:,} persistent{peak}; {how})"
    )


def _human_check(r: dict[str, object]) -> None:
    verdict = "bit-exact" if r["bit_exact"] else "NOT bit-exact"
    mism, vectors = r["mismatched_vectors"], r["vectors"]
    assert isinstance(mism, list) and isinstance(vectors, int)
    typer.echo(
        f"{r['model']} on {r['board']} ({r['engine']}, {r['kernels']} kernels): {verdict} on "
        f"{vectors - len(mism)}/{vectors} inputs vs {r['golden']}"
    )
    ipi = r["instructions_per_inference"]
    if isinstance(ipi, list) and ipi:
        per_mac = "no MACs: copies only" if r["instructions_per_mac"] is None else f"{r['instructions_per_mac']}/MAC"
        typer.echo(f"  instructions per inference: {min(ipi):,} .. {max(ipi):,} ({per_mac})")
    approx = "" if r.get("tflm_arena_32bit_exact") is not False else " approximately"
    typer.echo(
        f"  arena {r['arena_bytes']} bytes (TFLM non-persistent {r['tflm_arena_nonpersistent_bytes']}, whole on the "
        f"32-bit board{approx} {r['tflm_arena_whole_32bit_bytes']}), model flash {r['flash_bytes_model']}"
    )
    if r["first_mismatch"]:
        typer.echo(f"  first mismatch: {json.dumps(r['first_mismatch'])}")
    cyc = r.get("estimated_cycles_per_inference")
    if isinstance(cyc, list) and cyc:
        typer.echo(f"  estimated cycles per inference: {min(cyc):,} .. {max(cyc):,} (cycle model: {r['cycle_model']})")
    elif r.get("cycles_missing"):
        typer.echo(f"  estimated cycles: none ({r['cycles_missing']})")
    rows = r.get("layers_profile")
    if isinstance(rows, list):
        typer.echo("  layer  operator              instructions  est. cycles  largest part")
        for row in rows:
            parts = row.get("cycle_parts") or {}
            top = max(parts.items(), key=lambda kv: kv[1]) if parts else ("-", 0)
            est = row.get("estimated_cycles")
            est_text = f"{est:>11,}" if isinstance(est, int) else f"{'-':>11}"
            typer.echo(
                f"  {row['layer']:>5}  {str(row['operator'])[:20]:<20}  {row['instructions']:>12,}  {est_text}  "
                f"{top[0]} {top[1]:,}"
            )
    if r["run_status"] != "exited":
        typer.echo(f"  run: {r['run_diagnosis']}")


@app.command()
def check(
    model: ModelArg,
    board: BoardOpt,
    engine: EngineOpt = None,
    vectors: Annotated[
        int,
        typer.Option(
            "--vectors",
            help=f"number of seeded inputs (1 to {MAX_VECTORS})",
            callback=int_in("--vectors", 1, MAX_VECTORS, "each input is one inference in the emulator"),
        ),
    ] = 20,
    seed: SeedOpt = 0,
    kernels: KernelsOpt = "ref",
    profile: Annotated[
        bool,
        typer.Option(
            "--profile",
            help="one more run of the first input, every layer in its own span: per layer its exact instructions and "
            "estimated cycles (cycle model) and where they go",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run N seeded inputs through the compiled model in the emulator and compare byte for byte with the golden
    (tflite-micro when installed, else the committed vectors / the numpy golden). Exit 0 only when bit-exact."""
    from tinyml_cosim.core.boards import load_board  # lazy: see compile_command
    from tinyml_cosim.engines import launcher
    from tinyml_cosim.orchestrate.model_check import check_model

    launcher.install_signal_handlers()
    try:
        report = check_model(
            model, load_board(board), kernels=kernels, vectors=vectors, seed=seed, engine=engine, profile=profile
        )
    except CosimError as exc:
        raise _fail(exc) from None
    if json_out:
        typer.echo(json.dumps(report, indent=2))
    else:
        _human_check(report)
    raise typer.Exit(EXIT_OK if report["bit_exact"] else EXIT_FAILED)


@app.command()
def diff(
    model: ModelArg,
    board: BoardOpt,
    engine: EngineOpt = None,
    seed: SeedOpt = 0,
    kernels: KernelsOpt = "ref",
    json_out: JsonOpt = False,
) -> None:
    """Run one seeded input with every intermediate tensor and name the first layer and element that differ."""
    from tinyml_cosim.core.boards import load_board  # lazy: see compile_command
    from tinyml_cosim.engines import launcher
    from tinyml_cosim.orchestrate.model_check import diff_model

    launcher.install_signal_handlers()
    try:
        report = diff_model(model, load_board(board), kernels=kernels, seed=seed, engine=engine)
    except CosimError as exc:
        raise _fail(exc) from None
    if json_out:
        typer.echo(json.dumps(report, indent=2))
    elif report["identical"]:
        typer.echo(f"{report['model']} (seed {seed}): all {report['layers']} layers identical to the golden")
    else:
        f = report["first_difference"]
        assert isinstance(f, dict)
        typer.echo(
            f"{report['model']} (seed {seed}): first difference at layer {f['layer']} ({f['op_index']}:"
            f"{f['operator']}) element {f['element']}: expected {f['expected']}, got {f['actual']}"
        )
    raise typer.Exit(EXIT_OK if report["identical"] else EXIT_FAILED)


def _io_fields(cm: CompiledModel) -> dict[str, object]:
    """The first input and output, and every one in order (packed so in the runner's buffers)."""
    return {
        "input": _tensor(cm.input),
        "output": _tensor(cm.output),
        "inputs": [_tensor(t) for t in cm.inputs],
        "outputs": [_tensor(t) for t in cm.outputs],
    }


def _tensor(t: QuantInfo) -> dict[str, object]:
    return {"shape": list(t.shape), "dtype": t.dtype, "bytes": t.bytes}
