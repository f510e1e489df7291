"""A model compiled to C for a firmware build: the content-addressed directory
`<build dir>/models/<board>/<model>-<kernels>-<hash of the generated C>/` (model.c, model.h) that an app build
includes with -DCOSIM_MODEL_DIR. Reused when already there, so an unchanged model is compiled once.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path

from tinyml_cosim.core import resources
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import CompiledModel, compile_model

# CLI / build spelling -> compile_model spelling (the compiler predates the CLI's name for the kernel set)
KERNEL_SETS = {"ref": "ref", "cmsis-nn": "cmsis"}


def compiler_kernels(kernels: str) -> str:
    if kernels not in KERNEL_SETS:
        raise BadInput(f"unknown kernel set {kernels!r}: choose one of {', '.join(KERNEL_SETS)}")
    return KERNEL_SETS[kernels]


def prepare_model(
    path: Path, board: Board, kernels: str = "ref", root: Path | None = None
) -> tuple[CompiledModel, Path]:
    """Compile `path` for `board` into build/models/...-<hash of the generated C>/ (reused when already there)."""
    ck = compiler_kernels(kernels)
    base = (root or resources.build_dir()) / "models" / board.id
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".compile-", dir=base))
    try:
        cm = compile_model(Path(path), board, tmp, kernels=ck)
        h = hashlib.sha256()
        for f in ("model.c", "model.h"):
            h.update((tmp / f).read_bytes())
        # A path with spaces would split EXTRA_CFLAGS; the model name is sanitised, the build root must be sane.
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem)
        final = base / f"{stem}-{kernels}-{h.hexdigest()[:12]}"
        if not (final / "model.c").is_file():
            # another process may win the race with identical content: theirs is as good as ours
            with contextlib.suppress(OSError):
                tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if " " in str(final):
        raise BadInput(f"the build directory {final} contains a space; set COSIM_BUILD_DIR to a path without spaces")
    cm.files = [final / "model.c", final / "model.h"]
    return cm, final
