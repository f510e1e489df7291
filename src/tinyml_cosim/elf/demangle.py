"""C++ names for people: a function of the ELF named as its source names it (`tflite::MicroInterpreter::Invoke()`,
or without the parameter list when that is unambiguous), resolved to its symbol; a miss suggests near names.

Demangling uses the toolchain's own `arm-none-eabi-c++filt` (or the host's `c++filt`; both are binutils and read
the same Itanium C++ ABI names), one process for every `_Z` symbol of the ELF. It is what builds the firmware in the
first place, so it adds no dependency; the `cxxfilt` PyPI package would add one (and a ctypes binding to the host's
libstdc++) for the same answer. Without either tool, mangled and plain C names still resolve and the message says so.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache

from tinyml_cosim.core.errors import BadInput

DEMANGLERS = ("arm-none-eabi-c++filt", "c++filt")
_CV = re.compile(r"\s*(const|volatile|&&|&)\s*$")


@lru_cache(maxsize=8)
def _demangle(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    tool = next((t for t in DEMANGLERS if shutil.which(t)), None)
    if tool is None or not names:
        return ()
    try:
        proc = subprocess.run([tool], input="\n".join(names) + "\n", capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ()
    out = proc.stdout.splitlines()
    return tuple(zip(names, out, strict=False)) if proc.returncode == 0 and len(out) == len(names) else ()


def demangle_all(names: Iterable[str]) -> dict[str, str]:
    """Mangled name -> demangled name for every `_Z` name among `names` (empty without a demangler)."""
    mangled = tuple(sorted({n for n in names if n.startswith("_Z")}))
    return {m: d for m, d in _demangle(mangled) if d != m}


def demangler_available() -> bool:
    return any(shutil.which(t) for t in DEMANGLERS)


def without_parameters(demangled: str) -> str:
    """`ns::C::f(int) const` -> `ns::C::f`: the name before its top-level parameter list."""
    text = _CV.sub("", demangled)
    if not text.endswith(")"):
        return text
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return text[:i].rstrip()
    return text


def _squash(name: str) -> str:
    return re.sub(r"\s+", "", name)


def resolve_function(functions: dict[str, int], name: str, what: str = "--measure") -> str:
    """The symbol of `functions` (symbol -> size, sized functions of the ELF) that `name` names: the symbol itself,
    its demangled name (spaces ignored), or the demangled name without its parameter list when only one function
    has it. BadInput otherwise, with near names."""
    if name in functions:
        return name
    plain = demangle_all(functions)
    want = _squash(name)
    exact = [m for m, d in plain.items() if _squash(d) == want]
    if len(exact) == 1:
        return exact[0]
    bare = [m for m, d in plain.items() if _squash(without_parameters(d)) == _squash(without_parameters(name))]
    if len(bare) == 1:
        return bare[0]
    if len(bare) > 1:
        listed = "; ".join(sorted(plain[m] for m in bare))
        raise BadInput(f"{what} {name}: ambiguous, {len(bare)} functions have that name: {listed} (give one in full)")
    readable = [plain.get(f, f) for f in functions]
    near = difflib.get_close_matches(name, readable, n=3, cutoff=0.5)
    near += [
        plain.get(f, f)
        for f in functions
        if without_parameters(plain.get(f, f)).rsplit("::", 1)[-1] == without_parameters(name).rsplit("::", 1)[-1]
    ]
    near = list(dict.fromkeys(near))[:4]
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    if not plain and any(f.startswith("_Z") for f in functions) and not demangler_available():
        hint += " (no arm-none-eabi-c++filt on PATH to read C++ names: give the mangled symbol)"
    raise BadInput(f"{what} {name}: no function of that name in the ELF's symbol table{hint}")
