"""Static stack worst case: GCC's per-function frames (`-fstack-usage`, `.su`) and call graph (`-fcallgraph-info=su`,
`.ci`) beside the object files of a build, walked from the reset handler and from every exception handler.

What it computes, per root (the reset handler's thread, each handler): the deepest path — the sum of the frames
along the call chain that needs the most stack — and names it. Interrupt nesting: a handler can preempt only a
handler of lower urgency, so at most one handler per preemption level is active at a time; the worst case adds the
worst handler of every level, each with its exception frame (32 B of stacked registers, 104 B with the FPU's
extended frame, plus 4 B when the core realigns the stack to 8 bytes).

What it cannot bound is *unknown*, never zero: recursion (a cycle in the call graph), calls through a function
pointer it cannot bound, frames of dynamic size (`alloca`, variable-length arrays), and functions with no frame
information. The known part is then a lower bound.

Calls through a function pointer (C++ virtual calls, TFLM's kernel registrations) are *bounded*, by the deepest of
the functions stored in read-only function-pointer tables, when no writable data holds a function pointer
(`tinyml_cosim.elf.pointers`); the summary says so.

Functions the compiler did not describe (libgcc's and the C library's, and `naked` functions whose bodies are
assembly) are read from the linked ELF instead: their stack adjustments (push, vpush, sub sp, pre-decrementing
stores; decoded with capstone in `tinyml_cosim.elf.thumb`) are summed along the whole body — an upper bound for
straight code — and their direct branches to other functions are their calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.cortex_m import EXCEPTION_NAMES, FIRST_IRQ
from tinyml_cosim.elf.pointers import bounded_note, pointer_candidates, writes_priorities
from tinyml_cosim.elf.thumb import LinkedCode, code_at, read_linked_code, scan_thumb

# Stacked on exception entry: R0-R3, R12, LR, PC, xPSR; with an active FP context also S0-S15, FPSCR and a reserved
# word (ARMv7-M Architecture Reference Manual, B1.5.7).
BASIC_FRAME_BYTES = 32
FPU_FRAME_BYTES = 104
# CCR.STKALIGN (set out of reset on the Cortex-M3 r2p0 and later and the M4): the frame is 8-byte aligned, which may
# take one more word.
ALIGN_PAD_BYTES = 4
INDIRECT_CALL = "__indirect_call"  # GCC's placeholder node in a .ci graph
# Fixed priorities of NMI (-2) and HardFault (-1); every other exception is configurable, 0 out of reset.
_FIXED_PRIORITY = {2: -2, 3: -1}

_NODE = re.compile(r'^node: \{ title: "(?P<title>[^"]*)" label: "(?P<label>[^"]*)"')
_EDGE = re.compile(r'^edge: \{ sourcename: "(?P<src>[^"]*)" targetname: "(?P<dst>[^"]*)"')
_FRAME = re.compile(r"^(\d+) bytes \(([\w,]+)\)$")
_SU = re.compile(r"^(?P<loc>.*:\d+:\d+):(?P<name>[^\t]+)\t(?P<bytes>\d+)\t(?P<qual>[\w,]+)$")


@dataclass(frozen=True)
class Unknown:
    """Something on a path whose stack the analysis cannot bound."""

    kind: str  # recursion | function pointer | dynamic frame | no information
    function: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.function}: {self.detail}"


@dataclass
class Function:
    key: str  # the .ci title: `name` for a global function, `file:name` for a static one
    name: str
    frame: int | None  # bytes; None: unknown
    qualifier: str  # static | dynamic | dynamic,bounded | linked code
    source: str  # where the frame size came from
    calls: list[str] = field(default_factory=list)  # keys
    unknown: list[Unknown] = field(default_factory=list)  # own unknowns (indirect calls, dynamic frame)


@dataclass(frozen=True)
class Depth:
    """The deepest path from one function: its known bytes, the path (function names) and what is unknown on it."""

    bytes: int
    path: tuple[str, ...]
    unknown: tuple[Unknown, ...] = ()
    bounded: tuple[str, ...] = ()  # functions whose indirect calls were bounded by the deepest candidate

    @property
    def known(self) -> bool:
        return not self.unknown


@dataclass(frozen=True)
class Handler:
    vector: int
    exception: str  # NMI, HardFault, IRQ28, …
    function: str
    priority: int | None  # None: configurable and possibly set by the firmware (its own level, conservatively)
    depth: Depth


@dataclass(frozen=True)
class Level:
    priority: int | None
    handler: Handler  # the deepest at this level
    frame_bytes: int  # exception frame + alignment padding
    unknown: tuple[Unknown, ...] = ()  # of every handler at this level: any of them may be the one that nests

    @property
    def bytes(self) -> int:
        return self.handler.depth.bytes + self.frame_bytes


@dataclass
class StaticStack:
    available: bool
    reason: str = ""  # why not available
    thread: Depth | None = None
    handlers: list[Handler] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    exception_frame_bytes: int = 0
    align_pad_bytes: int = ALIGN_PAD_BYTES
    priorities_note: str = ""
    files: int = 0  # .ci files read
    candidates: int = 0  # functions an indirect call may reach (read-only function-pointer tables), 0: none bounded

    @property
    def bounded(self) -> list[str]:
        seen: dict[str, None] = {}
        for d in [self.thread, *(lv.handler.depth for lv in self.levels)]:
            if d is not None:
                seen.update(dict.fromkeys(d.bounded))
        return list(seen)

    @property
    def unknown(self) -> list[Unknown]:
        seen: dict[Unknown, None] = {}
        if self.thread is not None:
            seen.update(dict.fromkeys(self.thread.unknown))
        for lv in self.levels:
            seen.update(dict.fromkeys(lv.unknown))
        return list(seen)

    @property
    def lower_bound(self) -> int | None:
        """Known bytes of the worst case: the thread's deepest path plus one worst handler and frame per level."""
        if self.thread is None:
            return None
        return self.thread.bytes + sum(lv.bytes for lv in self.levels)

    @property
    def worst_bytes(self) -> int | None:
        """The static worst case in bytes, or None when something on the way is unknown."""
        return self.lower_bound if self.available and not self.unknown else None

    def summary(self) -> str:
        if not self.available:
            return f"static stack: unknown — {self.reason}"
        assert self.thread is not None
        nest = " + ".join(
            f"{lv.handler.exception} {lv.handler.depth.bytes} B + frame {lv.frame_bytes} B" for lv in self.levels
        )
        parts = f"thread {self.thread.bytes} B" + (f" + {nest}" if nest else "")
        path = " → ".join(self.thread.path)
        if self.worst_bytes is not None:
            note = bounded_note(self.bounded, self.candidates)
            return f"static stack worst case {self.worst_bytes} B ({parts}); deepest path {path}{note}"
        reasons = "; ".join(str(u) for u in self.unknown[:4]) + (" …" if len(self.unknown) > 4 else "")
        return (
            f"static stack: unknown ({reasons}); at least {self.lower_bound} B ({parts}); deepest path {path}"
            f"{bounded_note(self.bounded, self.candidates)}"
        )


# --- reading the compiler's output -----------------------------------------------------------------------------


def _split_label(label: str) -> list[str]:
    return label.split("\\n")


def read_stack_usage(files: list[Path]) -> dict[tuple[str, str], tuple[int, str]]:
    """(location, name) -> (bytes, qualifier) from .su files."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            m = _SU.match(line)
            if m:
                out[(m["loc"], m["name"])] = (int(m["bytes"]), m["qual"])
    return out


def read_callgraph(ci_files: list[Path], su: dict[tuple[str, str], tuple[int, str]]) -> dict[str, Function]:
    """Functions (with frames and calls) of every .ci file; a function described twice keeps the larger frame."""
    funcs: dict[str, Function] = {}
    edges: dict[str, list[str]] = {}
    for f in ci_files:
        for line in f.read_text(errors="replace").splitlines():
            m = _NODE.match(line)
            if m:
                parts = _split_label(m["label"])
                fm = _FRAME.match(parts[2]) if len(parts) >= 3 else None
                if fm is None:
                    continue  # a reference to a function described elsewhere (or not at all)
                frame, qual = int(fm[1]), fm[2]
                if (parts[1], parts[0]) in su:  # the .su line is the same measurement; prefer it where present
                    frame, qual = su[(parts[1], parts[0])]
                fn = Function(m["title"], parts[0], frame, qual, "-fstack-usage")
                old = funcs.get(fn.key)
                if old is None or (old.frame or 0) < frame:
                    funcs[fn.key] = fn
                continue
            m = _EDGE.match(line)
            if m:
                edges.setdefault(m["src"], []).append(m["dst"])
    for src, dsts in edges.items():
        if src in funcs:
            funcs[src].calls = list(dict.fromkeys([*funcs[src].calls, *dsts]))
    for fn in funcs.values():
        if fn.qualifier == "dynamic":  # the static part stays counted: a lower bound
            fn.unknown.append(Unknown("dynamic frame", fn.name, "stack allocated at run time (alloca or a VLA)"))
    return funcs


# --- the linked code (tinyml_cosim.elf.thumb), for what the compiler did not describe --------------------------


def _from_elf(name: str, elf: LinkedCode, name_at) -> Function | None:
    if name not in elf.funcs:
        return None
    addr, size = elf.funcs[name]
    down, targets, indirect = scan_thumb(code_at(elf, addr, size), addr)
    fn = Function(name, name, down, "linked code", "the linked code's stack adjustments (no -fstack-usage for it)")
    fn.calls = list(dict.fromkeys(name_at(t) for t in targets if t in elf.starts and t != addr))
    if indirect:
        fn.unknown.append(
            Unknown("function pointer", name, f"{indirect} indirect call(s) or jump(s) (BLX/BX register)")
        )
    return fn


# --- the analysis ----------------------------------------------------------------------------------------------


class _Graph:
    def __init__(self, funcs: dict[str, Function], elf: LinkedCode, candidates: list[int] | None = None) -> None:
        self.funcs = funcs
        self.elf = elf
        self.candidates = candidates or []  # entry addresses an indirect call may reach (empty: unknown)
        self.by_name: dict[str, list[str]] = {}
        for key, fn in funcs.items():
            self.by_name.setdefault(fn.name, []).append(key)
        self.memo: dict[str, Depth] = {}
        # `naked` functions (assembly bodies, e.g. a handler that branches to a C fault reporter) look like leaves
        # with no frame to the compiler: their branches come from the linked code.
        for fn in list(funcs.values()):
            if fn.frame == 0 and not fn.calls and fn.name in elf.funcs:
                linked = _from_elf(fn.name, elf, self.key_at)
                if linked is not None and linked.calls:
                    fn.calls = linked.calls
                    fn.frame = max(fn.frame, linked.frame or 0)

    def key_of(self, name: str) -> str | None:
        """The graph key of an ELF symbol name (a static function's key carries its file)."""
        if name in self.funcs:
            return name
        keys = self.by_name.get(name)
        return keys[0] if keys and len(keys) == 1 else None

    def key_at(self, addr: int) -> str:
        """The key of the function at an address; of several names (weak aliases such as the handlers that are
        Default_Handler), the one the compiler described."""
        names = self.elf.starts[addr & ~1]
        return next((k for n in names if (k := self.key_of(n)) is not None), names[0])

    def function(self, key: str) -> Function:
        fn = self.funcs.get(key)
        if fn is None:
            fn = _from_elf(key.rpartition(":")[2], self.elf, self.key_at)
            if fn is None:
                fn = Function(key, key, None, "unknown", "none")
                fn.unknown.append(Unknown("no information", key, "no -fstack-usage output and not in the ELF"))
            self.funcs[key] = fn
        return fn

    def _candidate_keys(self) -> list[str]:
        return list(dict.fromkeys(self.key_at(a) for a in self.candidates))

    def depth(self, key: str, stack: list[str] | None = None) -> Depth:
        if key in self.memo:
            return self.memo[key]
        stack = stack if stack is not None else []
        fn = self.function(key)
        stack.append(key)
        best = Depth(0, ())
        unknown: dict[Unknown, None] = dict.fromkeys(fn.unknown)
        bounded: dict[str, None] = {}
        indirect = INDIRECT_CALL in fn.calls or any(
            u.kind == "function pointer" and fn.qualifier == "linked code" for u in fn.unknown
        )
        if indirect and self.candidates:
            unknown = {u: None for u in unknown if not (u.kind == "function pointer" and u.function == fn.name)}
            bounded[fn.name] = None
        via_pointer = self._candidate_keys() if indirect and self.candidates else []
        for callee in [*fn.calls, *via_pointer]:
            if callee == INDIRECT_CALL:
                if not self.candidates:
                    unknown[Unknown("function pointer", fn.name, "a call through a function pointer")] = None
                continue
            if callee in stack and callee in via_pointer and callee not in fn.calls:
                continue  # a candidate already on the path: the bound over the others stands for it
            if callee in stack:
                cycle = [self.funcs[k].name for k in stack[stack.index(callee) :]] + [self.funcs[callee].name]
                unknown[Unknown("recursion", fn.name, "cycle " + " → ".join(cycle))] = None
                continue
            d = self.depth(callee, stack)
            unknown.update(dict.fromkeys(d.unknown))
            bounded.update(dict.fromkeys(d.bounded))
            if d.bytes > best.bytes or not best.path:
                best = d
        stack.pop()
        result = Depth((fn.frame or 0) + best.bytes, (fn.name, *best.path), tuple(unknown), tuple(bounded))
        self.memo[key] = result
        return result


def _find(build_dir: Path, suffix: str) -> list[Path]:
    # `cosim build` keeps its objects (and the compiler's .su/.ci beside them) under <elf dir>/obj/; another build
    # system's files are looked for in the directory itself only (never a recursive search of an arbitrary tree,
    # which would mix in other builds' files).
    if (build_dir / "obj").is_dir():
        return sorted((build_dir / "obj").rglob(f"*{suffix}"))
    return sorted(build_dir.glob(f"*{suffix}"))


def analyse(elf_path: Path, board: Board, build_dir: Path | None = None) -> StaticStack:
    """The static stack worst case of a firmware built with `-fstack-usage -fcallgraph-info=su`, from the .su and
    .ci files under `build_dir` (default: the ELF's directory; `cosim build` keeps them under its obj/)."""
    build_dir = Path(build_dir) if build_dir is not None else Path(elf_path).parent
    try:
        return _analyse(Path(elf_path), board, build_dir)
    except (OSError, ValueError, KeyError, IndexError, ELFError) as exc:  # a report, never a crash of the verdict
        return StaticStack(False, f"the stack-usage files could not be read: {type(exc).__name__}: {exc}")


def _analyse(elf_path: Path, board: Board, build_dir: Path) -> StaticStack:
    ci_files = _find(build_dir, ".ci")
    if not ci_files:
        su = " (the .su files are there, the call graph is not)" if _find(build_dir, ".su") else ""
        return StaticStack(False, f"no -fstack-usage output beside the ELF{su}")
    elf = read_linked_code(Path(elf_path), board)
    funcs = read_callgraph(ci_files, read_stack_usage(_find(build_dir, ".su")))
    candidates = pointer_candidates(Path(elf_path), elf, board)
    g = _Graph(funcs, elf, candidates)
    if len(elf.vectors) < 2 or elf.vectors[1] & ~1 not in elf.starts:
        return StaticStack(False, "no vector table with a reset handler in the ELF", files=len(ci_files))

    thread = g.depth(g.key_at(elf.vectors[1]))
    set_by_firmware = writes_priorities(elf)
    handlers: list[Handler] = []
    for vec, addr in enumerate(elf.vectors[2:], start=2):
        if not addr or addr & ~1 not in elf.starts:
            continue
        key = g.key_at(addr)
        prio = _FIXED_PRIORITY.get(vec, None if set_by_firmware else 0)
        exc = EXCEPTION_NAMES.get(vec, f"IRQ{vec - FIRST_IRQ}")
        handlers.append(Handler(vec, exc, g.funcs.get(key, g.function(key)).name, prio, g.depth(key)))
    frame = FPU_FRAME_BYTES if board.fpu else BASIC_FRAME_BYTES
    levels: list[Level] = []
    fixed: dict[int, list[Handler]] = {}
    for h in handlers:
        if h.priority is None:
            levels.append(Level(None, h, frame + ALIGN_PAD_BYTES, h.depth.unknown))
        else:
            fixed.setdefault(h.priority, []).append(h)
    for prio in sorted(fixed):
        worst = max(fixed[prio], key=lambda h: h.depth.bytes)
        unknown = tuple(dict.fromkeys(u for h in fixed[prio] for u in h.depth.unknown))
        levels.append(Level(prio, worst, frame + ALIGN_PAD_BYTES, unknown))
    levels.sort(key=lambda lv: (lv.priority is None, lv.priority or 0))
    note = (
        "the firmware's code holds NVIC/SCB priority register addresses: every configurable handler counted as its "
        "own preemption level (it may preempt the others)"
        if set_by_firmware
        else "configurable exceptions at their reset priority 0 (the firmware sets none): one preemption level, "
        "they do not nest; NMI (-2) and HardFault (-1) can preempt them"
    )
    return StaticStack(
        True,
        thread=thread,
        handlers=handlers,
        levels=levels,
        exception_frame_bytes=frame,
        priorities_note=note,
        files=len(ci_files),
        candidates=len(candidates),
    )
