"""The content of the files a point's scenario reads (signal CSV/WAV/RESD files, part files, the model, a prebuilt
firmware), as sha256 digests for the point hash (tinyml_cosim.sweep.plan.point_hash): editing a data file re-runs
the points that read it and no other. Each distinct file is read once per plan, bounded like the scenario loader
reads it (core/inputs.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import (
    MAX_CSV_BYTES,
    MAX_ELF_BYTES,
    MAX_RESD_BYTES,
    MAX_TFLITE_BYTES,
    MAX_WAV_BYTES,
    MAX_YAML_BYTES,
    read_input_bytes,
)

_LIMITS = {
    ".csv": MAX_CSV_BYTES,
    ".wav": MAX_WAV_BYTES,
    ".resd": MAX_RESD_BYTES,
    ".tflite": MAX_TFLITE_BYTES,
    ".yaml": MAX_YAML_BYTES,
    ".yml": MAX_YAML_BYTES,
}
# A file that cannot be read hashes as this (the point's scenario check reports why, with its line).
UNREADABLE = "unreadable"


def source_paths(scenario: dict[str, Any]) -> list[str]:
    """The files the scenario (its paths already absolute: plan.absolute_paths) names, in a stable order."""
    found = [scenario.get("firmware"), scenario.get("model")]
    for s in scenario.get("sensors") or []:
        if not isinstance(s, dict):
            continue
        part = s.get("part")
        if isinstance(part, str) and part.endswith((".yaml", ".yml")):
            found.append(part)
        found.extend(src.get("path") for src in s.get("signal") or [] if isinstance(src, dict))
    return sorted({p for p in found if isinstance(p, str) and p})


class SourceDigests:
    """sha256 of each source file's bytes, read once per distinct path."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def digest(self, path: str) -> str:
        if path not in self._seen:
            limit = _LIMITS.get(Path(path).suffix.lower(), MAX_ELF_BYTES)
            try:
                data = read_input_bytes(path, what="source file", max_bytes=limit)
                self._seen[path] = hashlib.sha256(data).hexdigest()
            except BadInput:
                self._seen[path] = UNREADABLE
        return self._seen[path]

    def of(self, scenario: dict[str, Any]) -> dict[str, str]:
        """path -> sha256 for every file the scenario reads."""
        return {p: self.digest(p) for p in source_paths(scenario)}
