"""Build single-operator C kernels (firmware/nn/ref/<op>.c) for the host and load them with cffi: the cdef is the
operator's own header (firmware/nn/include/ops/<op>.h) without its preprocessor lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hostc import build_shared, load_shared

from tinyml_cosim.core import resources

NN = resources.FIRMWARE_DIR / "nn"


def op_header_cdef(op: str) -> str:
    text = (NN / "include" / "ops" / f"{op}.h").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def ref_sources(op: str) -> list[Path]:
    """ref/<op>.c and the shared ref helpers it includes (a `#include "x.h"` with a ref/x.c beside it)."""
    main = NN / "ref" / f"{op}.c"
    helpers = re.findall(r'#include "(\w+)\.h"', main.read_text())
    return [main, *(NN / "ref" / f"{h}.c" for h in helpers if (NN / "ref" / f"{h}.c").is_file())]


def load_op(op: str, build_dir: Path) -> tuple[Any, Any]:
    lib = build_shared(build_dir / f"libcosim_op_{op}.so", ref_sources(op), include_dirs=[NN / "include", NN / "ref"])
    return load_shared(lib, op_header_cdef(op))


def struct(ffi: Any, ctype: str, fields: dict[str, Any], keep: list[Any]) -> Any:
    """A new `ctype` struct filled from `fields` (tuples become arrays; lists of ints become int32_t arrays that
    `keep` holds alive for as long as the struct is used)."""
    s = ffi.new(f"{ctype} *")
    for name, value in fields.items():
        if isinstance(value, list):
            arr = ffi.new("int32_t[]", value)
            keep.append(arr)
            setattr(s, name, arr)
        elif isinstance(value, tuple):
            getattr(s, name)[0 : len(value)] = list(value)
        else:
            setattr(s, name, value)
    return s
