"""One point of a sweep, as a worker runs it: the shipped firmware written out once per binary, the point's
scenario written beside its result, one `cosim run SCENARIO.yaml` (one seed) into `points/<hash>/`, the metrics
back. No dask here: the same function runs a point in-process (tests compare the two)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tinyml_cosim.core.errors import EXIT_ENGINE_ERROR, EngineError
from tinyml_cosim.core.files import write_text_atomically
from tinyml_cosim.core.inputs import add_env_roots
from tinyml_cosim.sweep.results import metrics_of
from tinyml_cosim.sweep.store import PointStore

ELF_NAME = "app.elf"


@dataclass(frozen=True)
class FirmwareBundle:
    """A build's files (the ELF, its map, the compiler's .su/.ci stack data), shipped to workers by value."""

    label: str
    files: dict[str, bytes]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.files[ELF_NAME]).hexdigest()

    @classmethod
    def from_build_dir(cls, label: str, elf: Path) -> FirmwareBundle:
        root = elf.parent
        files = {ELF_NAME: elf.read_bytes()}
        for extra in [root / "app.map", *sorted((root / "obj").rglob("*.su")), *sorted((root / "obj").rglob("*.ci"))]:
            if extra.is_file():
                files[str(extra.relative_to(root))] = extra.read_bytes()
        return cls(label, files)

    def materialise(self, root: Path) -> Path:
        """The bundle's files under `root/<sha>/` (written once, atomically: concurrent workers race safely)."""
        target = root / self.sha256[:16]
        elf = target / ELF_NAME
        if elf.is_file():
            return elf
        tmp = root / f".{self.sha256[:16]}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        for name, data in self.files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            tmp.rename(target)
        except OSError:  # another worker got there first: its copy is the same bytes
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return elf


@dataclass(frozen=True)
class PointTask:
    hash: str
    scenario: dict[str, Any]
    kernels: str
    engine: str | None
    timeout_s: float | None
    out: str  # the sweep's output directory, absolute
    # Where the point's files may come from besides its scenario's directory (core/inputs.py source roots): the
    # base scenario's and the sweep file's directories. The output directory (the shipped firmware) is always one.
    roots: tuple[str, ...] = ()


class PointEngineError(EngineError):
    """The point's run ended in an engine error: raised so the scheduler retries it (once) on another worker."""


def run_point(task: PointTask, firmware: FirmwareBundle) -> dict[str, Any]:
    """Run one point and return its stored result (status done, its metrics, where its report is)."""
    from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

    t0 = time.monotonic()
    out = Path(task.out)
    store = PointStore(out)
    # The point's scenario lives in points/, its firmware in firmware/ and its data where the base scenario's is:
    # allowed for this worker (idempotent; the plan checked the base scenario's own paths against its roots).
    out.mkdir(parents=True, exist_ok=True)
    add_env_roots([out, *(Path(r) for r in task.roots if Path(r).is_dir())])
    elf = firmware.materialise(out / "firmware")
    scenario = {k: v for k, v in task.scenario.items() if k != "app"}
    scenario["firmware"] = str(elf)
    scenario_path = store.dir / f"{task.hash}.scenario.yaml"
    write_text_atomically(scenario_path, yaml.safe_dump(scenario, sort_keys=False))
    outcome = run_scenario(
        ScenarioRunRequest(
            scenario=scenario_path,
            engine=task.engine,
            out=store.report_dir(task.hash),
            seeds=1,
            jobs=1,
            timeout_s=task.timeout_s,
            kernels=task.kernels,
        )
    )
    report = outcome.report.model_dump(mode="json")
    if outcome.exit_code == EXIT_ENGINE_ERROR:
        raise PointEngineError("; ".join(report.get("notes") or ["engine error"]))
    return {
        "hash": task.hash,
        "status": "done",
        "report": f"points/{task.hash}/report.html",
        "metrics": metrics_of(report),
        "elf_sha256": firmware.sha256,
        "wall_s": round(time.monotonic() - t0, 3),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
