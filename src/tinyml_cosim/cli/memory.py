"""`cosim memory FILE.elf --board ID`: flash and RAM per section and per component against the board's limits.

Exit 0 when flash and RAM are within the policy's fail level, 1 when one is above it, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tinyml_cosim.cli.common import float_in
from tinyml_cosim.core.errors import EXIT_FAILED, EXIT_OK, BadInput, CosimError


def memory_command(
    elf: Annotated[Path, typer.Argument(help="firmware ELF (its map is read from beside it: <stem>.map, app.map)")],
    board: Annotated[str, typer.Option("--board", "-b", help="board id (see `cosim boards`) or a board YAML file")],
    map_file: Annotated[
        Path | None, typer.Option("--map", help="linker map (default: <stem>.map, app.map or the only *.map beside it)")
    ] = None,
    fail_above_pct: Annotated[
        float,
        typer.Option(
            "--fail-above-pct",
            help="fail above this % of a limit",
            callback=float_in("--fail-above-pct", 0.0, 100.0, lo_open=True, unit="%"),
        ),
    ] = 90.0,
    warn_above_pct: Annotated[
        float,
        typer.Option(
            "--warn-above-pct",
            help="warn above this % of a limit",
            callback=float_in("--warn-above-pct", 0.0, 100.0, lo_open=True, unit="%"),
        ),
    ] = 70.0,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")] = False,
    stack_usage_dir: Annotated[
        Path | None,
        typer.Option(
            "--stack-usage-dir",
            help="where the compiler's -fstack-usage (.su) and -fcallgraph-info (.ci) files are "
            "(default: beside the ELF, or its obj/ as `cosim build` lays them out)",
        ),
    ] = None,
) -> None:
    """Flash and RAM per output section and per component (model weights, kernels, application, runtime, libc)."""
    # lazy: the command's implementation (numpy, capstone) loads when it runs, not with every `cosim` command
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.elf.image import load_image
    from tinyml_cosim.verdicts.evaluate import memory_report
    from tinyml_cosim.verdicts.memory import MemoryPolicy, evaluate_memory, static_stack_checks

    try:
        if not 0 < warn_above_pct <= fail_above_pct <= 100:
            raise BadInput("need 0 < --warn-above-pct <= --fail-above-pct <= 100")
        if map_file is not None and not map_file.is_file():
            raise BadInput(f"{map_file}: no such linker map file")
        b = load_board(board)
        image = load_image(elf, b)
        policy = MemoryPolicy(fail_above_pct=fail_above_pct, warn_above_pct=warn_above_pct)
        if stack_usage_dir is not None and not stack_usage_dir.is_dir():
            raise BadInput(f"--stack-usage-dir {stack_usage_dir}: no such directory")
        res = evaluate_memory(image, b, policy, map_file=map_file, stack_usage_dir=stack_usage_dir)
    except CosimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    report = memory_report(res)
    stack_checks = static_stack_checks(res)
    fits = report.flash_pct <= fail_above_pct and report.ram_pct <= fail_above_pct
    fits = fits and not any(c.failed for c in stack_checks)
    if json_out:
        payload = report.model_dump(mode="json")
        payload.update(fits=fits, parts_flash=res.parts_flash, parts_ram=res.parts_ram)
        payload.update(heap_reserved=res.heap_reserved, reservation_source=res.reservation_source)
        payload["checks"] = [c.model_dump(mode="json") for c in stack_checks]
        typer.echo(json.dumps(payload, indent=2))
        raise typer.Exit(EXIT_OK if fits else EXIT_FAILED)

    def level(pct: float) -> str:
        return "FAIL" if pct > fail_above_pct else "WARN" if pct > warn_above_pct else "ok"

    typer.echo(f"{elf} on {b.id} (limits from {report.limit_source}; fail above {fail_above_pct:g} %, "
               f"warn above {warn_above_pct:g} %)")  # fmt: skip
    typer.echo(f"  flash {report.flash_used:>8} / {report.flash_limit} B  {report.flash_pct:5.1f} %  "
               f"{level(report.flash_pct)}")  # fmt: skip
    typer.echo(f"  RAM   {report.ram_used:>8} / {report.ram_limit} B  {report.ram_pct:5.1f} %  {level(report.ram_pct)}"
               f"  (static {report.static_ram} B + stack reservation {report.stack_reserved} B)")  # fmt: skip
    typer.echo(f"  harness adds {report.harness_flash} B flash, {report.harness_ram} B RAM (product: flash "
               f"{report.product_flash} B, static RAM {report.product_static_ram} B)")  # fmt: skip
    typer.echo("  sections:")
    for s in report.sections:
        typer.echo(f"    {s.name:<16} 0x{s.address:08x} {s.size:>8} B  flash {s.flash:>8}  RAM {s.ram:>8}")
    typer.echo("  components:              flash        RAM")
    for c in sorted(set(report.components_flash) | set(report.components_ram)):
        typer.echo(f"    {c:<18} {report.components_flash.get(c, 0):>10} {report.components_ram.get(c, 0):>10}")
    notes = [f"  note: {n}" for n in report.notes if not n.startswith("static stack:")]
    for line in [*_parts_lines(res), *notes, *_stack_lines(report, stack_checks)]:
        typer.echo(line)
    typer.echo("  stack high-water mark: run the firmware (cosim run; painted by the engine without cosim.h)")
    raise typer.Exit(EXIT_OK if fits else EXIT_FAILED)


def _parts_lines(res) -> list[str]:
    """What the code is (TFLM runtime, vendor HAL/LL, …), finer than the components."""
    out = ["  what the code is:        flash        RAM"]
    for c in dict.fromkeys([*res.parts_flash, *res.parts_ram]):
        out.append(f"    {c:<22} {res.parts_flash.get(c, 0):>6} {res.parts_ram.get(c, 0):>10}")
    return out


def _stack_lines(report, checks) -> list[str]:
    """The static stack worst case: the verdict against the reservation, the levels it adds up, the unknowns."""
    st = report.stack_static
    if st is None:
        return []
    if not st.available:
        return [f"  {st.summary}"]
    out = [f"  stack: reserved {report.stack_reserved} B"]
    out += [f"    {c.status.value.upper():4}  {c.message.removeprefix('memory.stack_static: ')}" for c in checks]
    if not checks:
        out.append(f"    {st.summary}")
    if st.thread is not None:
        out.append(f"    thread             {st.thread.bytes:>6} B  {' → '.join(st.thread.path)}")
    for lv in st.levels:
        prio = "run-time" if lv.priority is None else f"{lv.priority:>2}"
        out.append(
            f"    {lv.exception + ' (' + prio + ')':<18} {lv.handler_bytes:>6} B + frame {lv.frame_bytes} B  "
            f"{' → '.join(lv.path)}"
        )
    out.append(f"    nesting: {st.priorities}")
    out += [f"    unknown: {u.kind} in {u.function}: {u.detail}" for u in st.unknown]
    return out
