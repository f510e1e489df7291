"""The house rules of src/tinyml_cosim/, checked: the rooms (first-level packages) import each other in one
direction only, fronts hold no CLI framework below them, and modules and functions stay small (the known
exceptions are listed with their reason and their current size, which they may shrink below but never grow past)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyml_cosim"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

# Known exceptions: path (relative to src/tinyml_cosim) or path::function -> (ceiling, reason).
LONG_FILES: dict[str, tuple[int, str]] = {
    "nn/graph.py": (
        911,
        "lowering of every operator in one class (MEAN, LEAKY_RELU, MAXIMUM/MINIMUM came with issue #16's first "
        "slice); issue #16's restructure splits it into one module per operator",
    ),
    "engines/qemu/engine.py": (
        900,
        "process, QMP, console mux, fault stub and plugin counts of one engine (the stall probe and the semihosting "
        "exit stop moved out with issue #14); the split into console I/O and counting modules is the next house task",
    ),
    "engines/renode/engine.py": (
        660,
        "start-up, control channel and run loop of one engine (endings.py, stops.py, "
        "hooks.py, semihosting.py split out with issue #13)",
    ),
    "engines/renode/facts.py": (600, "a table of Renode names with their source paths, one entry per fact"),
    "sensors/signals.py": (581, "one generator per signal type, each small"),
    "orchestrate/board_session.py": (405, "the interactive board of the Robot library and the pytest plugin, typed"),
}
LONG_FUNCTIONS: dict[str, tuple[int, str]] = {
    "build/firmware.py::build": (76, "one locked, keyed build: arguments, key, make, atomic rename"),
    "cli/app.py::run": (150, "typer signature of `cosim run`: 22 options, most with their range check (#18)"),
    "cli/scenario_run.py::run_scenario_command": (94, "typer signature of `cosim run SCENARIO.yaml`, range checks"),
    "cli/debugging.py::replay": (75, "typer signature of `cosim replay`, range checks"),
    "cli/memory.py::memory_command": (87, "typer signature (range-checked percentages) and the text table"),
    "cli/models.py::compile_command": (71, "typer signature of `cosim compile` and its one-line report"),
    "cli/sweep.py::run": (65, "typer signature of `cosim sweep run`, and what an interrupted sweep keeps"),
    "engines/qemu/engine.py::measure": (62, "breakpoint loop of --measure: entry, return, step-off"),
    "engines/qemu/engine.py::start": (70, "QEMU's command line, assembled in one place"),
    "engines/renode/engine.py::start": (72, "Renode's start-up script, assembled in one place"),
    "nn/compiler.py::compile_graph": (80, "the compiler pipeline: reader, graph, planner, emitter"),
    "nn/emitter.py::emit": (80, "the C text of a model, in order"),
    "nn/graph.py::_conv_like": (100, "CONV_2D and DEPTHWISE_CONV_2D options, quantisation and batch; issue #16"),
    "nn/graph.py::lower_fully_connected": (69, "FULLY_CONNECTED options and quantisation; issue #16"),
    "nn/tflite_reader.py::_options": (86, "one branch per builtin options table; one per operator module with #16"),
    "nn/tflite_reader.py::_parse": (80, "flatbuffer tables to the reader's model, in order"),
    "orchestrate/model_check.py::check_model": (84, "compile, build, run, compare, report (and profile) in one check"),
    "sweep/execute.py::run_sweep": (82, "one sweep's life: what is left, the cluster, submit, stream, Ctrl-C, close"),
    "scenario/generate.py::generate_sensor": (66, "signal, impairments and part for one sensor, in order"),
    "verdicts/baseline.py::compare": (64, "one comparison per baseline metric"),
}


def modules() -> list[tuple[str, Path]]:
    """Every module of the library (the firmware tree holds application twins, not library code)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "firmware":
            continue
        found.append((rel.as_posix(), path))
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else module


def imported_modules(tree: ast.AST) -> list[str]:
    """Absolute tinyml_cosim imports anywhere in the module, function-local and TYPE_CHECKING ones included: a
    cycle hidden in a function is still a cycle."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n == "tinyml_cosim" or n.startswith("tinyml_cosim.")]


def room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for rel, path in modules():
        own = room("tinyml_cosim." + rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__"))
        graph.setdefault(own, set())
        for name in imported_modules(ast.parse(path.read_text())):
            other = room(name)
            if other not in (own, "tinyml_cosim"):
                graph[own].add(other)
    return graph


def test_rooms_import_each_other_in_one_direction() -> None:
    graph = room_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle between packages: {' -> '.join(exc.args[1])}")
    # The spine, from the bottom: the core knows nobody; fronts come last.
    assert graph["core"] == set()
    assert order.index("core") < order.index("engines") < order.index("run") < order.index("orchestrate")
    for front in ("cli", "robot"):
        assert not any(front in deps for deps in graph.values()), f"{front} is a front: nothing imports it"


def test_no_cli_framework_below_the_fronts() -> None:
    offenders = []
    for rel, path in modules():
        if rel.startswith("cli/"):
            continue
        for name in _all_imports(ast.parse(path.read_text())):
            if name.split(".")[0] in ("typer", "click"):
                offenders.append(f"{rel} imports {name}")
    assert offenders == []


def _all_imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_files_and_functions_stay_small() -> None:
    problems = []
    for rel, path in modules():
        text = path.read_text()
        lines = text.count("\n")
        ceiling, _ = LONG_FILES.get(rel, (MAX_FILE_LINES, ""))
        if lines > ceiling:
            problems.append(f"{rel}: {lines} lines > {ceiling}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                limit, _ = LONG_FUNCTIONS.get(f"{rel}::{node.name}", (MAX_FUNCTION_LINES, ""))
                if length > limit:
                    problems.append(f"{rel}::{node.name}: {length} lines > {limit}")
    assert problems == [], "split these (or, with a reason, list them above):\n" + "\n".join(problems)


def test_every_listed_exception_still_exists() -> None:
    """A stale entry would let a new long file of the same name in unnoticed."""
    rels = {rel for rel, _ in modules()}
    for key in [*LONG_FILES, *LONG_FUNCTIONS]:
        assert key.split("::")[0] in rels, f"{key} is listed as an exception but no longer exists"
