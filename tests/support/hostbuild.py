"""Build firmware/nn (and optionally a generated model.c) with the system C compiler into a shared library, and load
it with cffi (ABI mode: no compiler needed at import, only to build the library).

This is how the host test-suite runs the very C that goes into the firmware: same sources, same header, compiled for
x86-64 instead of Thumb-2. The arithmetic is integer-only and defined for both (see firmware/nn/ref/fixedpoint.h).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tinyml_cosim.core.errors import BadInput

REPO = Path(__file__).resolve().parents[2]
NN_DIR = REPO / "src" / "tinyml_cosim" / "firmware" / "nn"
NN_INCLUDE = NN_DIR / "include"
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fPIC", "-shared"]
MODEL_CDEF = """
int cosim_model_invoke(void *arena, const void *input, void *output);
int cosim_model_invoke_cb(void *arena, const void *input, void *output, cosim_layer_cb_t cb, void *user);
int cosim_model_reset(void *arena);
extern cosim_model_desc_t cosim_model_desc;  // const in C; cffi only reads non-const globals
"""


def cc() -> str:
    found = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not found:
        raise BadInput("no host C compiler (gcc/cc) on PATH; the host kernel build needs one")
    return found


def kernel_sources(kernels: str = "ref") -> list[Path]:
    if kernels == "ref":
        return sorted((NN_DIR / "ref").glob("*.c"))
    if kernels == "cmsis":
        cmsis = cmsis_nn_dir()
        if cmsis is None:
            raise BadInput("kernels='cmsis' needs CMSIS_NN_DIR pointing at a CMSIS-NN checkout")
        ours = sorted((NN_DIR / "cmsis").glob("*.c"))
        # An adapter file replaces the ref file of the same name; the other kernels stay the ref ones.
        ref = [f for f in sorted((NN_DIR / "ref").glob("*.c")) if f.name not in {o.name for o in ours}]
        # int8 only: CMSIS-NN's float sources need ARM_NN_ENABLE_F32/F16 and nothing here uses them
        theirs = [f for f in sorted((cmsis / "Source").rglob("*.c")) if "_f32" not in f.name and "_f16" not in f.name]
        return ours + ref + theirs
    raise BadInput(f"unknown kernel set {kernels!r}: use 'ref' or 'cmsis'")


def cmsis_nn_dir() -> Path | None:
    d = os.environ.get("CMSIS_NN_DIR")
    if not d:
        return None
    p = Path(d)
    return p if (p / "Include" / "arm_nnfunctions.h").exists() else None


def build_library(
    out: Path,
    extra_sources: list[Path] | None = None,
    kernels: str = "ref",
    include_dirs: list[Path] | None = None,
    kernel_library: Path | None = None,
) -> Path:
    """Compile the kernels (+ extra sources, e.g. a model.c) into the shared library `out`. With `kernel_library`
    (a library this function built before) the kernels are not compiled again: `out` links against that one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    incs = [NN_INCLUDE, NN_DIR / "ref", *(include_dirs or [])]
    if kernels == "cmsis":
        cmsis = cmsis_nn_dir()
        if cmsis is None:
            raise BadInput("kernels='cmsis' needs CMSIS_NN_DIR pointing at a CMSIS-NN checkout")
        incs += [cmsis / "Include"]
    sources = [*(kernel_sources(kernels) if kernel_library is None else []), *(extra_sources or [])]
    # a shared library goes after the objects that use it (--as-needed drops it otherwise)
    linked = [kernel_library.resolve()] if kernel_library is not None else []
    cmd = [cc(), *CFLAGS, *(f"-I{i}" for i in incs), "-o", str(out), *map(str, sources), *map(str, linked), "-lm"]
    if kernels == "cmsis":
        # CMSIS-NN's own sources are not -Wpedantic clean; keep our warnings strict only for our code.
        cmd = [c for c in cmd if c not in ("-Wpedantic", "-Werror")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"host build failed: {' '.join(cmd)}\n{r.stderr}")
    return out


def header_cdef() -> str:
    text = (NN_INCLUDE / "cosim_nn.h").read_text()
    m = re.search(r"/\* COSIM_NN_CDEF_BEGIN \*/(.*)/\* COSIM_NN_CDEF_END \*/", text, re.S)
    assert m, "cosim_nn.h lost its COSIM_NN_CDEF markers"
    # and every registry operator's header (firmware/nn/include/ops/), less its preprocessor lines
    ops = [(NN_INCLUDE / "ops" / h).read_text() for h in sorted(p.name for p in (NN_INCLUDE / "ops").glob("*.h"))]
    plain = "\n".join(ln for text in ops for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    return re.sub(r"/\*.*?\*/", "", m.group(1) + "\n" + plain, flags=re.S)


def load(lib_path: Path, with_model: bool = False, extra_cdef: str = "") -> tuple[Any, Any]:
    """(ffi, lib) for a library built by build_library; `extra_cdef` declares functions of extra sources."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(header_cdef() + (MODEL_CDEF if with_model else "") + extra_cdef)
    return ffi, ffi.dlopen(str(lib_path))


def run_graph_c(
    ffi: Any, lib: Any, graph: Any, x: Any, scratch: dict[int, int] | None = None, state: dict[int, Any] | None = None
) -> Any:
    """Run a lowered graph layer by layer through the C kernels in `lib` (no planner, no emitter: one numpy buffer
    per tensor), so kernel tests exercise exactly kernels + lowering.

    Kernels that take a scratch buffer get one of `scratch[layer]` bytes when given, else of the size the library
    asks for (`cosim_<op>_scratch`: 0 for the ref kernels, CMSIS-NN's get_buffer_size for the adapters)."""
    import numpy as np

    from tinyml_cosim.nn.emitter import CONST_FIELDS, TWO_INPUT_KINDS, kernel_of
    from tinyml_cosim.nn.ops import BY_KIND
    from tinyml_cosim.nn.reference import initial_state
    from tinyml_cosim.nn.scratch import SCRATCH_KINDS

    keep: list[Any] = []
    xs = list(x) if isinstance(x, list | tuple) else [x]
    values: dict[int, np.ndarray] = {
        t: np.ascontiguousarray(np.asarray(v).reshape(-1)) for t, v in zip(graph.inputs, xs, strict=True)
    }
    # state tensors (LSTM / SVDF): from `state` (carried from call to call, written in place) or reset
    if state is None:
        state = {}
    for t, v in initial_state(graph).items():
        state.setdefault(t, v)
    values.update(state)
    for index, layer in enumerate(graph.layers):
        struct, fn = kernel_of(layer.kind)
        if layer.kind in BY_KIND:
            values[layer.output] = _run_registry_layer(ffi, lib, graph, layer, struct, fn, values)
            continue
        fields: dict[str, Any] = {}
        for k, v in layer.p.items():
            if k == "copy_sizes":
                arr = ffi.new("int32_t[]", [int(s) for s in v])
                keep.append(arr)
                fields[k] = arr
            else:
                fields[k] = v
        for cname in CONST_FIELDS:
            if cname in layer.consts:
                a = np.ascontiguousarray(layer.consts[cname])
                keep.append(a)
                fields[cname] = ffi.cast("int8_t *" if a.dtype == np.int8 else "int32_t *", ffi.from_buffer(a))
        desc = ffi.new(f"{struct} *", fields)
        out_t = graph.tensors[layer.output]
        out = np.zeros(out_t.elements, np.float32 if out_t.dtype == "float32" else np.int8)
        ins = [values[a] if isinstance(a, int) else layer.consts[a].reshape(-1) for a in (layer.args or layer.inputs)]

        def ptr(a: np.ndarray) -> Any:
            return ffi.cast("float *" if a.dtype == np.float32 else "int8_t *", ffi.from_buffer(a))

        if layer.kind in TWO_INPUT_KINDS:
            getattr(lib, fn)(desc, ptr(ins[0]), ptr(ins[1]), ptr(out))
        elif layer.kind == "concat":
            arr = ffi.new("int8_t *[]", [ptr(a) for a in ins])
            getattr(lib, fn)(desc, arr, ptr(out))
        elif layer.kind in SCRATCH_KINDS:
            want = scratch.get(index, 0) if scratch is not None else int(getattr(lib, fn + "_scratch")(desc))
            buf = np.zeros((max(want, 0) + 3) // 4, np.int32)  # CMSIS-NN reads it as int16 / int32 arrays
            # a 4-D batch: the kernel sees one image, called once per image on consecutive slices (as model.c)
            for x_img, y_img in zip(np.split(ins[0], layer.batch), np.split(out, layer.batch), strict=True):
                if want > 0:
                    getattr(lib, fn + "_with_scratch")(desc, ptr(x_img), ptr(y_img), ffi.from_buffer(buf), want)
                else:
                    getattr(lib, fn)(desc, ptr(x_img), ptr(y_img))
        else:
            for x_img, y_img in zip(np.split(ins[0], layer.batch), np.split(out, layer.batch), strict=True):
                getattr(lib, fn)(desc, ptr(x_img), ptr(y_img))
        values[layer.output] = out
    return values[graph.output].reshape(graph.output_tensor.shape)


def _run_registry_layer(
    ffi: Any, lib: Any, graph: Any, layer: Any, struct: str, fn: str, values: dict[int, Any]
) -> Any:
    """One registry operator (nn/ops/): descriptor fields as they are (tuples fill arrays, None is NULL), its tables
    and constant operands from `layer.consts`, the arena operands from `values` (a state tensor's array is written
    in place), a zeroed working buffer when the operator takes one."""
    import numpy as np

    from tinyml_cosim.nn.ir import NP_DTYPES
    from tinyml_cosim.nn.ops import BY_KIND

    keep: list[Any] = []

    def buf(a: Any) -> Any:
        a = np.ascontiguousarray(a)
        keep.append(a)
        return ffi.cast("void *", ffi.from_buffer(a))

    fields = {k: list(v) if isinstance(v, tuple) else ffi.NULL if v is None else v for k, v in layer.p.items()}
    fields.update({name: buf(a) for name, a in layer.consts.items() if name not in layer.args})
    desc = ffi.new(f"{struct} *", fields)
    ins = [buf(values[a]) if isinstance(a, int) else buf(layer.consts[a]) for a in layer.args]
    out_t = graph.tensors[layer.output]
    out = np.zeros(out_t.elements, NP_DTYPES[out_t.dtype])
    extra = []
    op = BY_KIND[layer.kind]
    if op.scratch is not None:
        n = int(op.scratch(layer))
        extra.append(buf(np.zeros((n + 15) // 16 * 4, np.int32)) if n > 0 else ffi.NULL)
    getattr(lib, fn)(desc, *ins, buf(out), *extra)
    return out
