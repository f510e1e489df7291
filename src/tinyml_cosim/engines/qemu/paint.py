"""Stack painting on QEMU for firmware that does not paint its own stack: QEMU's generic loader writes the paint word
over the region `tinyml_cosim.elf.stack_region` chose, before the first instruction runs; the high-water mark is read
at the end (`stack_region.high_water`).

QEMU 7.2's generic loader (`-device loader,file=F,addr=A,force-raw=on`) registers F as a ROM blob that is copied into
guest memory at system reset, before the CPU starts (QEMU is started with -S): the firmware's first instruction
already sees the pattern, and no instruction is added, so instruction counts do not change. QEMU's ELF loader puts
the ELF's segments at their load (physical) addresses, and the region lies above the ELF's RAM sections: the blobs
never overlap.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.elf.stack_region import PAINT_WORD, StackRegion

__all__ = ["StackRegion", "paint_args"]


def _paint_file(size: int) -> Path:
    """A file of `size` bytes of the paint word, shared between runs (written once per size, atomically)."""
    folder = Path(tempfile.gettempdir()) / "tinyml-cosim-paint"
    path = folder / f"{PAINT_WORD:08x}-{size}.bin"
    if not path.is_file() or path.stat().st_size != size:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{id(path)}.tmp")
        tmp.write_bytes(PAINT_WORD.to_bytes(4, "little") * (size // 4))
        tmp.replace(path)
    return path


def paint_args(image: FirmwareImage, board: Board, region: StackRegion | None) -> list[str]:
    """QEMU arguments that paint `region` before the first instruction (none without a region)."""
    if region is None:
        return []
    path = _paint_file(region.size)
    return ["-device", f"loader,file={path},addr=0x{region.start:08x},force-raw=on"]
