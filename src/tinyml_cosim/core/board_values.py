"""Values of a board file that reach a shell or an emulator's command line, checked against what is allowed: the
compiler-flag allow-list (the firmware build's recipes run through /bin/sh) and QEMU's own machine list.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache

# Every compiler flag a board file may give. The firmware Makefile's recipes run `$(CC) $(CFLAGS) ...` through
# /bin/sh and make itself expands `$(...)` in variables, so this set is the guard against a board file that runs
# commands at build time: whole flags, no quotes, spaces, `$`, backticks or `;`, and none of the options that read
# or write other files or load code (-I, -include, --specs, -fplugin, -Wl,/-Wa,/-Wp, -B, @file).
_F_FLAGS = (
    "function-sections|data-sections|common|short-enums|short-wchar|strict-aliasing|omit-frame-pointer|"
    "unroll-loops|inline|inline-functions|inline-small-functions|lto|builtin|exceptions|rtti|unwind-tables|"
    "asynchronous-unwind-tables|single-precision-constant|tree-vectorize|tree-loop-distribute-patterns|pic|PIC|"
    "pie|PIE|stack-protector|stack-protector-strong|signed-char|unsigned-char|delete-null-pointer-checks|"
    "math-errno|fast-math|finite-math-only|merge-constants|zero-initialized-in-bss|jump-tables|"
    "optimize-sibling-calls|reorder-blocks|schedule-insns|schedule-insns2|peephole2|ipa-ra|shrink-wrap|gcse|"
    "toplevel-reorder|ident|freestanding|hosted|builtin-[a-z0-9_]+|stack-usage|wrapv|trapv|strict-volatile-bitfields|"
    "pack-struct|plt|semantic-interposition|isolate-erroneous-paths-dereference|diagnostics-color|"
    "message-length=[0-9]+|max-errors=[0-9]+|align-functions(=[0-9]+)?|align-loops(=[0-9]+)?|align-jumps(=[0-9]+)?"
)
ALLOWED_CFLAGS = (
    r"-mcpu=[a-z0-9][a-z0-9.+-]*",
    r"-march=[a-z0-9][a-z0-9.+-]*",
    r"-mtune=[a-z0-9][a-z0-9.+-]*",
    r"-mthumb|-marm|-mlittle-endian|-mbig-endian",
    r"-mfloat-abi=(soft|softfp|hard)",
    r"-mfpu=[a-z0-9][a-z0-9-]*",
    r"-mabi=(aapcs|aapcs-linux|atpcs|apcs-gnu|iwmmxt)",
    r"-mfp16-format=(none|ieee|alternative)",
    r"-m(no-)?(thumb-interwork|unaligned-access|long-calls|slow-flash-data|pure-code|apcs-frame|"
    r"poke-function-name|sched-prolog|tpcs-frame|restrict-it|cmse|general-regs-only|fix-cmse-cve-2021-35465)",
    r"-O[0-3sgz]?|-Ofast",
    r"-D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]*)?",
    r"-U[A-Za-z_][A-Za-z0-9_]*",
    rf"-f(no-)?({_F_FLAGS})",
    r"-g[0-3]?|-ggdb[0-3]?|-gdwarf(-[2-5])?|-gstrict-dwarf|-gno-strict-dwarf|-gz",
    r"-W(no-)?(error=)?[a-z][a-z0-9+-]*(=[0-9]+)?",
    r"-std=(c|gnu)(89|90|99|11|17|18|2x|23)",
    r"-pipe|-pedantic|-pedantic-errors|-w",
)
_ALLOWED_CFLAG = re.compile("|".join(f"(?:{p})" for p in ALLOWED_CFLAGS))
# Prefixes that pass options through gcc to the assembler, linker or preprocessor (which can read files or load
# plugins), refused even where a -W pattern above would otherwise match.
_PASS_THROUGH = ("-Wl,", "-Wa,", "-Wp,")


def refused_cflag(flag: str) -> str | None:
    """Why `flag` may not be a board compiler flag, or None when it is in the allowed set."""
    if flag.startswith(_PASS_THROUGH):
        return "passes options to the assembler, linker or preprocessor"
    if not flag.isascii() or not _ALLOWED_CFLAG.fullmatch(flag):
        return "is not a known compiler option"
    return None


# QEMU machine names: a name QEMU lists, nothing with `,` (machine properties) or spaces.
MACHINE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@cache
def qemu_machines(binary: str) -> frozenset[str] | None:
    """The machine names `binary -M help` lists (cached per process), or None when QEMU is not installed (then the
    engine reports that itself when it would be used)."""
    exe = shutil.which(binary)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-M", "help"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(ln.split()[0] for ln in out.splitlines()[1:] if ln.strip())
