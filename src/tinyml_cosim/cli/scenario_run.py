"""`cosim run SCENARIO.yaml`: the typer front of tinyml_cosim.orchestrate.scenario_runs (arguments in, summary or
report.json and the exit code out; no logic of its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinyml_cosim.cli.common import ForceOpt, float_in, int_in, seconds
from tinyml_cosim.cli.common import port as port_in
from tinyml_cosim.core.errors import EXIT_FAILED, EXIT_OK, CosimError
from tinyml_cosim.core.inputs import add_env_roots
from tinyml_cosim.core.run_limits import MAX_SEEDS, MAX_THRESHOLD_PCT
from tinyml_cosim.engines import launcher
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, debug_scenario, run_scenario, summary_lines
from tinyml_cosim.protocol.frames import Event
from tinyml_cosim.run.debug import serve


def run_scenario_command(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    engine: Annotated[str | None, typer.Option("--engine", help="qemu or renode")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="report directory (default: reports/<scenario name>)")
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            help=f"run N seeds (the scenario's seed, +1, …) with 95 % CIs (1 to {MAX_SEEDS})",
            callback=int_in("--seeds", 1, MAX_SEEDS, "each seed is one whole emulated run of the scenario"),
        ),
    ] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="print report.json instead of the summary")] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="wall-clock backstop per run, seconds", callback=seconds("--timeout")),
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="re-evaluate the recorded runs of this report directory")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="compare with an earlier report.json: fail on growth beyond the threshold"),
    ] = None,
    baseline_threshold: Annotated[
        float,
        typer.Option(
            "--baseline-threshold",
            help="percent growth over the baseline that fails (default 2)",
            callback=float_in("--baseline-threshold", 0.0, MAX_THRESHOLD_PCT, unit="%"),
        ),
    ] = 2.0,
    gdb: Annotated[
        bool, typer.Option("--gdb", help="start the run halted under a GDB server (no verdicts, no report)")
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", help="GDB server port with --gdb (default: a free one)", callback=port_in()),
    ] = None,
    kernels: Annotated[
        str | None,
        typer.Option("--kernels", help="build the app with ref or cmsis-nn kernels (default: expect.timing.kernels)"),
    ] = None,
    force: ForceOpt = False,
    app_dir: Annotated[
        Path | None, typer.Option("--app-dir", help="a directory of app directories the scenario's `app:` may name")
    ] = None,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option("--allow-root", help="a directory the scenario's CSV/WAV/model files may also come from"),
    ] = None,
) -> None:
    """Run a scenario, check its expectations and write the report (exit 0 only when every expectation holds)."""
    launcher.install_signal_handlers()
    try:  # through the environment: the seeds' worker processes read the sources too
        add_env_roots(allow_root or [])
    except CosimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if gdb:
        debug_scenario_command(scenario, engine, port, app_dir)
    echo = None if json_out else (lambda line: typer.echo(line, err=True))
    try:
        outcome = run_scenario(
            ScenarioRunRequest(
                scenario=scenario,
                engine=engine,
                out=out,
                seeds=seeds,
                timeout_s=timeout,
                echo=echo,
                replay=replay,
                baseline=baseline,
                baseline_threshold_pct=baseline_threshold,
                kernels=kernels,
                force=force,
                app_dir=app_dir,
            )
        )
    except CosimError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: emulators stopped, no report written", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    if json_out:
        typer.echo(outcome.report.model_dump_json(indent=2))
    else:
        for line in summary_lines(outcome):
            typer.echo(line)
    raise typer.Exit(outcome.exit_code)


def debug_scenario_command(scenario: Path, engine: str | None, port: int | None, app_dir: Path | None = None) -> None:
    """The --gdb path of `cosim run SCENARIO.yaml`: print the gdb command, then the console until the end."""
    try:
        session, end = debug_scenario(scenario, engine, port, app_dir=app_dir)
        with session:
            what = f"scenario {scenario}: sensor streams on the data channel; the firmware is halted at reset."

            def over(event: Event) -> bool:
                # The firmware's budget timer is off in a debug session: the host ends it after the duration.
                return bool(event.instructions >= end)

            ending = serve(session, typer.echo, what, until=over)
            typer.echo(f"[debug] firmware ended: {ending}", err=True)
    except KeyboardInterrupt:
        typer.echo("[debug] interrupted; emulator stopped", err=True)
    except CosimError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(EXIT_OK)


def main() -> None:
    """`python -m tinyml_cosim.cli.scenario_run SCENARIO.yaml …`: the same command without the rest of `cosim`."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(run_scenario_command)
    app()


if __name__ == "__main__":
    main()
