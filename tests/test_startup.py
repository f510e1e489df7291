"""What `cosim run ELF` loads before QEMU starts (issue #12, item 8): the run path imports none of the heavy
libraries, and the CLI module imports no command's implementation until that command runs. Behaviour, not timing:
each check runs a fresh interpreter and reads its sys.modules (bench/bench_startup.py measures the time)."""

from __future__ import annotations

import ast
import subprocess
import sys

HEAVY = ("numpy", "scipy", "matplotlib", "jinja2", "tflite", "capstone")
RUN_PATH = "import tinyml_cosim.cli.app, tinyml_cosim.run.session, tinyml_cosim.engines.qemu.engine"


def loaded(statement: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under `prefixes` that a fresh interpreter has loaded after `statement`."""
    code = f"{statement}\nimport sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {set(prefixes)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_the_run_path_loads_no_heavy_library() -> None:
    assert loaded(RUN_PATH, HEAVY) == []


def test_the_check_sees_a_heavy_library_when_one_is_loaded() -> None:
    """The same check, with numpy and jinja2 imported on purpose: it does see them."""
    found = loaded(f"{RUN_PATH}, numpy, jinja2", HEAVY)
    assert "numpy" in found and "jinja2" in found


def test_the_cli_module_imports_no_command_implementation() -> None:
    """`import tinyml_cosim.cli.app` brings typer and the exit codes only: each command imports its own
    implementation (board models, the run session, the scenario path) when it runs."""
    ours = loaded("import tinyml_cosim.cli.app", ("tinyml_cosim",))
    # The CLI's own front modules and two constant-only core modules, nothing else.
    assert set(ours) <= {"tinyml_cosim", "tinyml_cosim.cli", "tinyml_cosim.cli.app", "tinyml_cosim.cli.common",
                         "tinyml_cosim.cli.debugging", "tinyml_cosim.core", "tinyml_cosim.core.errors",
                         "tinyml_cosim.core.files", "tinyml_cosim.core.report_dir",
                         "tinyml_cosim.core.run_limits"}, ours  # fmt: skip
    assert "tinyml_cosim.cli.app" in ours
    assert loaded("import tinyml_cosim.cli.app", ("pydantic", "yaml", "elftools", "rich")) == []


def test_cosim_run_elf_does_not_load_the_scenario_path() -> None:
    """`cosim run ELF` (here an ELF that does not exist: the run session loads, the run stops at bad input, no
    emulator needed) leaves the scenario path alone: orchestration, verdicts, reports, sensors, the compiler."""
    invoke = (
        "from typer.testing import CliRunner\n"
        "from tinyml_cosim.cli.app import app\n"
        "r = CliRunner().invoke(app, ['run', 'no-such.elf', '--board', 'stm32f405'])\n"
        "assert r.exit_code == 2 and 'no-such.elf' in r.output, (r.exit_code, r.output)\n"
    )
    ours = loaded(invoke, ("tinyml_cosim",))
    assert "tinyml_cosim.run.session" in ours and "tinyml_cosim.core.boards" in ours
    rooms = {m.split(".")[1] for m in ours if m.count(".") >= 1}
    assert not rooms & {"orchestrate", "verdicts", "report", "scenario", "sensors", "nn"}, sorted(rooms)
    assert "tinyml_cosim.cli.scenario_run" not in ours
    assert loaded(invoke, HEAVY) == []
