"""The one place that opens user input files: scenarios, board files, cosim.yaml, CSV/WAV/RESD sources, ELFs, models.

A file named by a user or by another file may be anything: a FIFO that blocks the first `open()` forever, /dev/zero
that never ends, a symlink loop, a path longer than the OS allows, a file of gigabytes, or (named from a scenario
that came with an untrusted pull request) a file outside the project such as /etc/shadow. Every such case is a
BadInput of one line naming the path and what would be right, decided from `stat()` BEFORE the file is opened, and
the read is bounded even where `stat()` lies (/proc files report size 0). Messages never quote the file's bytes.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.resources import PACKAGE_DIR

KIB = 1024
MIB = 1024 * KIB

# Size caps per kind of input, far above any real file of that kind, far below what exhausts a CI runner's memory.
MAX_YAML_BYTES = 8 * MIB  # a scenario with a 10,000-segment timeline is ~0.6 MiB
MAX_CSV_BYTES = 64 * MIB
MAX_WAV_BYTES = 256 * MIB  # an hour of 16 kHz 16-bit stereo is 230 MiB
MAX_RESD_BYTES = 256 * MIB
MAX_ELF_BYTES = 256 * MIB  # a TFLM firmware with -g3 DWARF is tens of MiB
MAX_TFLITE_BYTES = 64 * MIB  # the largest board has 2 MiB of flash; model check reads models for bigger targets

# Extra directories scenario source files may come from, beside the scenario's own directory and the package's
# data (os.pathsep-separated); `cosim run SCENARIO --allow-root DIR` appends to it for the run and its workers.
ALLOW_ROOTS_ENV = "COSIM_ALLOW_ROOTS"

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
)


def _shown(path: str) -> str:
    """The path for a message: whole unless it is absurdly long (a path over PATH_MAX is itself the problem)."""
    return path if len(path) <= 200 else f"{path[:80]}...({len(path)} characters)"


def _limits() -> tuple[int, int]:
    try:
        return os.pathconf("/", "PC_PATH_MAX"), os.pathconf("/", "PC_NAME_MAX")
    except (OSError, ValueError):
        return 4096, 255


def _check_length(path: str, what: str) -> None:
    path_max, name_max = _limits()
    if "\0" in path:
        raise BadInput(f"{_shown(path)!r}: {what} path contains a NUL character")
    if len(os.fsencode(path)) >= path_max:
        raise BadInput(f"{_shown(path)}: {what} path is longer than the OS allows ({path_max} bytes)")
    longest = max((len(os.fsencode(part)) for part in path.split(os.sep)), default=0)
    if longest > name_max:
        raise BadInput(f"{_shown(path)}: {what} path has a name longer than the OS allows ({name_max} bytes)")


def _resolve(path: Path, what: str, missing: str) -> Path:
    shown = _shown(str(path))
    try:
        # strict: a missing file or a symlink loop is an OSError here instead of a path that fails later.
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        raise BadInput(f"{shown}: no such file{missing}") from None
    except PermissionError:
        raise BadInput(f"{shown}: {what} cannot be read (permission denied)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadInput(f"{shown}: {what} path is a symlink loop") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise BadInput(f"{shown}: {what} path is longer than the OS allows") from None
        if exc.errno == errno.ENOTDIR:
            raise BadInput(f"{shown}: no such file (a part of the path is not a directory)") from None
        raise BadInput(f"{shown}: {what} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except RuntimeError:  # Python < 3.13 reports some symlink loops this way
        raise BadInput(f"{shown}: {what} path is a symlink loop") from None


def _kind(mode: int) -> str | None:
    """'a FIFO', 'a directory', ... for anything that is not a regular file; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size_text(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n} bytes"


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve_roots(roots: Iterable[Path | str]) -> list[Path]:
    """Each root resolved (symlinks followed); roots that do not exist are dropped (nothing can lie under them)."""
    out = []
    for root in roots:
        try:
            out.append(Path(os.path.realpath(root, strict=True)))
        except (OSError, RuntimeError):
            continue
    return out


def env_roots() -> list[Path]:
    """The directories $COSIM_ALLOW_ROOTS names (os.pathsep-separated), resolved."""
    return resolve_roots(p for p in os.environ.get(ALLOW_ROOTS_ENV, "").split(os.pathsep) if p)


def add_env_roots(dirs: Sequence[Path]) -> None:
    """Allow `dirs` (from --allow-root) for this process and the worker processes it starts afterwards."""
    if not dirs:
        return
    for d in dirs:
        if not Path(d).is_dir():
            raise BadInput(f"--allow-root {d}: not a directory")
    current = [p for p in os.environ.get(ALLOW_ROOTS_ENV, "").split(os.pathsep) if p]
    added = [str(Path(d).resolve()) for d in dirs]
    os.environ[ALLOW_ROOTS_ENV] = os.pathsep.join(dict.fromkeys([*current, *added]))


def check_input_file(
    path: Path | str,
    *,
    what: str,
    max_bytes: int,
    roots: Sequence[Path | str] | None = None,
    missing: str = "",
) -> Path:
    """The resolved path of `path` once it is known to be a readable regular file of at most `max_bytes`, lying
    (symlinks resolved) under one of `roots` when they are given. Nothing is opened; raise BadInput otherwise.
    `missing` is appended to "no such file" (what to give instead)."""
    text = os.fspath(path)
    _check_length(text, what)
    resolved = _resolve(Path(text), what, missing)
    shown = _shown(text)
    if roots is not None:
        allowed = resolve_roots(roots)
        if not _under(resolved, allowed):
            where = ", ".join(str(r) for r in allowed) or "(none)"
            raise BadInput(
                f"{shown}: {what} lies outside the allowed directories ({where}); put it beside the scenario or "
                f"allow its directory with --allow-root or ${ALLOW_ROOTS_ENV}"
            )
    try:
        st = os.stat(resolved)
    except OSError as exc:
        raise BadInput(f"{shown}: {what} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise BadInput(f"{shown}: {what} must be a regular file, not {kind}")
    if st.st_size > max_bytes:
        raise BadInput(
            f"{shown}: {what} is {_size_text(st.st_size)}, more than the {_size_text(max_bytes)} allowed for it"
        )
    if not os.access(resolved, os.R_OK):
        raise BadInput(f"{shown}: {what} cannot be read (permission denied)")
    return resolved


def read_input_bytes(
    path: Path | str,
    *,
    what: str,
    max_bytes: int,
    roots: Sequence[Path | str] | None = None,
    missing: str = "",
) -> bytes:
    """The bytes of a checked input file (see check_input_file), never more than `max_bytes`."""
    resolved = check_input_file(path, what=what, max_bytes=max_bytes, roots=roots, missing=missing)
    shown = _shown(os.fspath(path))
    # O_NONBLOCK: should the file have been swapped for a FIFO since the stat, open() returns instead of blocking,
    # and the fstat below refuses it. O_NOFOLLOW: nor may the final name have become a symlink.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as exc:
        raise BadInput(f"{shown}: {what} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise BadInput(f"{shown}: {what} must be a regular file, not {kind}")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(MIB, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise BadInput(f"{shown}: {what} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise BadInput(f"{shown}: {what} is more than the {_size_text(max_bytes)} allowed for it")
    return b"".join(chunks)


def decode_utf8(data: bytes, shown: str, what: str) -> str:
    """`data` as UTF-8 text; a BadInput naming the line of the first byte that is not (and never the bytes)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"{shown}:{line}: {what} is not UTF-8 text (byte offset {exc.start})") from None


def read_input_text(path: Path | str, *, what: str, max_bytes: int, roots: Sequence[Path | str] | None = None) -> str:
    """The UTF-8 text of a checked input file (see read_input_bytes); binary files are refused with their line."""
    data = read_input_bytes(path, what=what, max_bytes=max_bytes, roots=roots)
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise BadInput(f"{_shown(os.fspath(path))}:{line}: {what} is binary, not text (a NUL byte)")
    return decode_utf8(data, _shown(os.fspath(path)), what)


def project_root(base_dir: Path) -> Path | None:
    """The git work tree `base_dir` lies in (the nearest ancestor with `.git`), never `/` or the home directory
    themselves; None outside one."""
    here = Path(os.path.realpath(base_dir))
    refused = {Path("/"), Path(os.path.realpath(Path.home()))}
    for d in (here, *here.parents):
        if d in refused:
            return None
        if (d / ".git").exists():
            return d
    return None


def source_roots(base_dir: Path) -> list[Path]:
    """Where a scenario's source files (CSV, WAV, models) may lie: the scenario's own directory, the repository it
    belongs to (a pull request can only add files there, so none of them is a secret of the machine; the shipped
    scenarios name the apps' models in src/), the package's data, and the roots of $COSIM_ALLOW_ROOTS."""
    project = project_root(base_dir)
    return resolve_roots([base_dir, *([project] if project else []), PACKAGE_DIR]) + env_roots()


def source_file(base_dir: Path, name: str, *, what: str, max_bytes: int) -> Path:
    """A scenario's source file `name` (relative to the scenario's directory `base_dir`, or absolute), checked and
    confined to source_roots (symlinks resolved first, so a link out of the directory is refused too)."""
    path = Path(name) if Path(name).is_absolute() else base_dir / name
    return check_input_file(path, what=what, max_bytes=max_bytes, roots=source_roots(base_dir))


def confined(base_dir: Path, name: str) -> bool:
    """Whether a scenario's source `name` would lie under source_roots (symlinks resolved as far as they exist),
    for validation before the file need exist (a model built later); source_file checks the file itself."""
    path = Path(name) if Path(name).is_absolute() else base_dir / name
    try:
        resolved = Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError):
        return False
    return _under(resolved, source_roots(base_dir))
