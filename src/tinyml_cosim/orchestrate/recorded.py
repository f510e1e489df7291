"""`cosim run SCENARIO.yaml --replay DIR`: the run records and console logs an earlier report kept, to be evaluated
again without an emulator."""

from __future__ import annotations

import re
from pathlib import Path

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.run.record import RunRecord, SeedRun


def recorded_runs(directory: Path, elf_sha256: str, scenario_sha256: str | None, notes: list[str]) -> list[SeedRun]:
    """The run records (run-seed<N>.json) and console logs of an earlier report, for re-evaluation.

    Refused when they were recorded with another ELF (the memory verdict would not be about the same image); a
    changed scenario file is allowed (typically its expectations were edited) and noted in the report."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"{directory}: --replay needs the report directory of an earlier run (not a directory)")
    numbered = [(int(m[1]), p) for p in directory.iterdir() if (m := re.fullmatch(r"run-seed(\d+)\.json", p.name))]
    files = [p for _, p in sorted(numbered)]
    if not files:
        raise BadInput(f"{directory}: no recorded runs (run-seed<N>.json) to replay")
    out = []
    for f in files:
        try:
            rec = RunRecord.model_validate_json(f.read_bytes())
        except OSError as exc:
            raise BadInput(f"{f}: cannot be read ({exc.strerror})") from None
        except ValueError as exc:
            raise BadInput(f"{f}: not a run record: {str(exc).splitlines()[0]}") from None
        if rec.elf_sha256 != elf_sha256:
            raise BadInput(
                f"{f}: recorded with an ELF of SHA-256 {rec.elf_sha256[:12]}…, but the scenario's firmware is now "
                f"{elf_sha256[:12]}…: run the scenario again instead of replaying"
            )
        seed = rec.provenance.seed if rec.provenance and rec.provenance.seed is not None else int(f.stem[8:])
        if rec.provenance and rec.provenance.scenario_sha256 != scenario_sha256:
            notes.append(f"seed {seed}: the scenario file changed since this run was recorded (replayed anyway)")
        log = f.with_name(f"console-seed{seed}.log")
        console = log.read_text(errors="replace").splitlines() if log.is_file() else []
        out.append(SeedRun(seed, rec, console))
    notes.append(f"replayed from {directory}: no emulator ran")
    return out
