"""Run fingerprint: one SHA-256 over everything that determines a run's outcome, carried by every record and report.

Two runs with the same fingerprint must produce the same samples, decisions and instruction counts; a report that
cites a fingerprint can be reproduced from the inputs it names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel

from tinyml_cosim import __version__


class Provenance(BaseModel):
    elf_sha256: str
    board: str
    engine: str
    engine_version: str | None
    cosim_version: str = __version__
    model_sha256: str | None = None
    scenario_sha256: str | None = None
    seed: int | None = None
    max_instructions: int | None = None

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def file_sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
