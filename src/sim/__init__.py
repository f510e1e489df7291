"""Deprecated alias of `tinyml_cosim`, kept for one release so that `Library    sim.robot` and `import sim.…`
written against 0.1 keep working. `sim.X` is the module `tinyml_cosim.<new place of X>`: the same module object,
not a copy. New code imports `tinyml_cosim`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

# 0.1 module paths that moved to another room in 0.2; anything else maps `sim.X` to `tinyml_cosim.X`.
RENAMED = {
    "sim.errors": "tinyml_cosim.core.errors",
    "sim.yamlfile": "tinyml_cosim.core.yamlfile",
    "sim.boards": "tinyml_cosim.core.boards",
    "sim.provenance": "tinyml_cosim.core.provenance",
    "sim.protocol": "tinyml_cosim.protocol.frames",
    "sim.console": "tinyml_cosim.protocol.console",
    "sim.datachannel": "tinyml_cosim.protocol.datachannel",
    "sim.engines.framing": "tinyml_cosim.protocol.framing",
    "sim.firmware_image": "tinyml_cosim.elf.image",
    "sim.elf_components": "tinyml_cosim.elf.components",
    "sim.stack_static": "tinyml_cosim.elf.stack_static",
    "sim.engines.process_registry": "tinyml_cosim.engines.launcher",
    "sim.engines.qemu": "tinyml_cosim.engines.qemu.engine",
    "sim.engines.qmp": "tinyml_cosim.engines.qemu.qmp",
    "sim.engines.renode_facts": "tinyml_cosim.engines.renode.facts",
    "sim.build": "tinyml_cosim.build.firmware",
    "sim.models": "tinyml_cosim.nn.compiler",
    "sim.models.cli": "tinyml_cosim.cli.models",
    "sim.session": "tinyml_cosim.run.session",
    "sim.diagnosis": "tinyml_cosim.run.diagnosis",
    "sim.record": "tinyml_cosim.run.record",
    "sim.debug": "tinyml_cosim.run.debug",
    "sim.replay": "tinyml_cosim.run.replay",
    "sim.report.model": "tinyml_cosim.results.model",
    "sim.scenario_run": "tinyml_cosim.orchestrate.scenario_runs",
    "sim.board_session": "tinyml_cosim.orchestrate.board_session",
    "sim.cli": "tinyml_cosim.cli.app",
    "sim.memory_cli": "tinyml_cosim.cli.memory",
    "sim.scenario.cli": "tinyml_cosim.cli.scenario",
}


def target(name: str) -> str:
    """The tinyml_cosim module that the 0.1 name `name` (sim or sim.…) now is."""
    if name in RENAMED:
        return RENAMED[name]
    parent, _, leaf = name.rpartition(".")
    if parent in RENAMED:
        return f"{RENAMED[parent]}.{leaf}"
    return "tinyml_cosim" + name[len("sim") :]


class _Loader(importlib.abc.Loader):
    def __init__(self, new_name: str) -> None:
        self.new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.new_name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module object is tinyml_cosim's own, already executed."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target_: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("sim."):
            return None
        new_name = target(fullname)
        if importlib.util.find_spec(new_name) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Loader(new_name))


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())

warnings.warn("the `sim` package is now `tinyml_cosim`; `sim` is an alias for one release", DeprecationWarning, 2)

from tinyml_cosim import __version__  # noqa: E402  (after the finder: re-exported for `sim.__version__`)

__all__ = ["__version__", "target"]
