"""Per-point results under `<out>/points/<hash>.json`, each written atomically (a sweep killed mid-write leaves the
old file or none, never half of one), so a re-run skips what is done and a changed axis re-runs only its points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyml_cosim.core.files import write_text_atomically

STORE_VERSION = 1


class PointStore:
    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.dir = self.out / "points"

    def path(self, point_hash: str) -> Path:
        return self.dir / f"{point_hash}.json"

    def report_dir(self, point_hash: str) -> Path:
        """Where the point's scenario report (report.json, report.html, run records) goes."""
        return self.dir / point_hash

    def load(self, point_hash: str) -> dict[str, Any] | None:
        p = self.path(point_hash)
        try:
            doc = json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return doc if isinstance(doc, dict) and doc.get("store_version") == STORE_VERSION else None

    def save(self, result: dict[str, Any]) -> Path:
        doc = {"store_version": STORE_VERSION, **result}
        return write_text_atomically(self.path(result["hash"]), json.dumps(doc, indent=1, sort_keys=True) + "\n")

    def finished(self, point_hash: str, elf_sha256: str | None) -> dict[str, Any] | None:
        """The stored result when it is complete and was run on the same firmware binary (else None: run it)."""
        doc = self.load(point_hash)
        if doc is None or doc.get("status") != "done":
            return None
        if elf_sha256 is not None and doc.get("elf_sha256") != elf_sha256:
            return None
        return doc
