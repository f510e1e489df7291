"""The `--out DIR` contract: a reader (or a crash, Ctrl-C, SIGTERM) never sees a half-written report directory,
and the tool never deletes a file it did not write. Its files are written as core/files.py writes one file.

A report directory (`cosim run … --out DIR`) carries a manifest, `.cosim-report.json`, listing the files the tool
wrote there and the tool's version. `--out DIR` may be:
- absent or empty: the report is created;
- a previous report (it has the manifest, or is a report of a version before the manifest: a report.json whose
  tool_version is tinyml-cosim's): replaced in one atomic exchange; only the files the old manifest lists are
  removed, every other entry (a file the user put there) is carried into the new report unchanged;
- any other non-empty directory: refused (exit 2) unless `--force`, and even then only our own file names are
  replaced; the user's entries stay, carried over as above;
- a file, or under a parent that cannot be written: refused (exit 2).
While a run writes DIR it holds an exclusive lock (`fcntl.flock` on `.DIR.lock` beside it, taken when the run
starts): a second run into the same DIR is refused at its start, so one report is never mixed from two runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.files import beside

MANIFEST = ".cosim-report.json"
MANIFEST_FORMAT = 1
# A report written before the manifest existed: its files, known by name (report.json's tool_version says it is ours).
_LEGACY_NAMES = ("report.json", "junit.xml", "report.html", "run.json", "console.log", "engine.log")
_LEGACY_PREFIXES = ("run-seed", "console-seed", "worst-window")
_RENAME_EXCHANGE = 2  # linux/fs.h


def _tool_version() -> str:
    from tinyml_cosim import __version__  # lazy: the package's __init__ imports nothing heavy, but keep core leaf-like

    return f"tinyml-cosim {__version__}"


def read_manifest(directory: Path) -> set[str] | None:
    """The files (relative paths) the tool wrote into `directory`, or None when it is not a report of ours."""
    manifest = directory / MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            files = data["files"]
            if isinstance(files, list) and all(isinstance(f, str) for f in files):
                return {f for f in files if _is_relative_inside(f)}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return set()  # our manifest, unreadable: ours, but no file in it is known to be ours to remove
    report = directory / "report.json"
    if report.is_file():
        try:
            data = json.loads(report.read_text()[:1_000_000])
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and str(data.get("tool_version", "")).startswith("tinyml-cosim"):
            return {
                p.name
                for p in directory.iterdir()
                if p.is_file() and (p.name in _LEGACY_NAMES or p.name.startswith(_LEGACY_PREFIXES))
            }
    return None


def _is_relative_inside(name: str) -> bool:
    p = Path(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def _files_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where it is unavailable."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _dispose(old: Path, out: Path, ours: set[str]) -> None:
    """Empty a previous report directory `old` (after it was replaced by `out`): remove the files the tool wrote
    there, hand every other entry over to `out` (a file already hard-linked into it is unlinked; a name the new
    report uses keeps the user's entry under `<name>.kept`), then remove `old` when nothing is left in it."""
    parents: set[Path] = set()
    for name in ours:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            (old / name).unlink()
        parents.update(p for p in Path(name).parents if p != Path("."))
    with contextlib.suppress(FileNotFoundError):
        (old / MANIFEST).unlink()
    for d in sorted(parents, key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            (old / d).rmdir()  # a directory of ours that our removals emptied (a user's file in it keeps it)
    if not old.is_dir():
        return
    for entry in list(old.iterdir()):
        target = out / entry.name
        if target.exists() or target.is_symlink():
            if _same_file(entry, target):
                entry.unlink()
                continue
            target = _free_name(out, entry.name)
        entry.rename(target)
    with contextlib.suppress(OSError):
        old.rmdir()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.is_file() and not a.is_symlink() and os.path.samefile(a, b)
    except OSError:
        return False


def _free_name(directory: Path, name: str) -> Path:
    for i in range(1, 1000):
        candidate = directory / (f"{name}.kept" if i == 1 else f"{name}.kept{i}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OSError(f"{directory}: no free name for {name}")


class ReportDir:
    """`--out DIR` for a report directory: checked and locked on `__enter__` (before any work), written atomically
    by `write(fill)`, unlocked on `__exit__`. See the module docstring for what is replaced and what is kept."""

    def __init__(self, out: Path, *, force: bool = False, option: str = "--out") -> None:
        self.out = Path(out)
        self.force = force
        self.option = option
        self._lock_fd: int | None = None
        self._lock_path = self.out.parent / f".{self.out.name}.lock"

    # --- checks and lock -------------------------------------------------------------------------------------
    def _bad(self, what: str) -> BadInput:
        return BadInput(f"{self.option} {self.out}: {what}")

    def check(self, *, create_parent: bool = True) -> set[str]:
        """The files of ours in `out` (empty when it is absent or empty); BadInput when it cannot be used. Without
        `create_parent` nothing is created: a check before the work whose report it is."""
        out = self.out
        try:
            os.lstat(out)
        except PermissionError:  # a directory above it may not be searched by this user: nothing below can be used
            raise self._bad("cannot be reached (permission denied on a directory above it)") from None
        except OSError:
            pass  # absent, or under a file: the checks below say which, naming the directory at fault
        real, cwd = out.resolve(), Path.cwd().resolve()
        if real == cwd or real in cwd.parents:
            # replaced in one exchange, it would move the working directory of this very process (and the user's)
            raise self._bad("is the current directory or one above it; give the report a directory of its own")
        if out.is_symlink():
            # The report replaces DIR in one rename, which would replace the link, not the directory it names.
            raise self._bad(f"is a symbolic link; give the directory itself ({os.path.realpath(out)})")
        if out.exists() and not out.is_dir():
            raise self._bad("exists and is not a directory; choose a directory path")
        if not out.exists():
            self._make_parent(create_parent)
            return set()
        if not os.access(out, os.W_OK | os.X_OK):
            raise self._bad("is not writable")
        try:
            entries = [e for e in out.iterdir() if e.name != MANIFEST]
        except OSError as exc:
            raise self._bad(f"cannot be read ({exc.strerror})") from None
        ours = read_manifest(out)
        if ours is None:
            if entries and not self.force:
                n = len(entries)
                raise self._bad(
                    f"exists and is not a tinyml-cosim report ({n} {'entry' if n == 1 else 'entries'}); use --force "
                    "to replace it or choose another directory"
                )
            ours = set()
        return ours

    def _make_parent(self, create: bool = True) -> None:
        parent = self.out.parent
        probe = parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise self._bad(f"cannot be created: {probe} is not a directory")
        if not create:
            if not os.access(probe, os.W_OK | os.X_OK):
                raise self._bad(f"cannot be created: {probe} is not writable")
            return
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._bad(f"cannot be created ({exc.strerror})") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise self._bad(f"cannot be created: {parent} is not writable")

    def __enter__(self) -> ReportDir:
        self.check()  # the parent exists after this
        self._lock()
        try:
            self._clean_stale()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._unlock()

    def _lock(self) -> None:
        while True:
            try:
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise self._bad(f"cannot take its lock {self._lock_path} ({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                finally:
                    os.close(fd)
                raise self._bad(f"is being written by another cosim run (pid {holder})") from None
            # The holder before us may have removed the lock file between our open and our lock (it unlinks it
            # while still holding it): then we hold a lock on a file nobody else can see; take the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self._lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._lock_fd = fd
                return
            os.close(fd)

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._lock_path.unlink()  # while still holding it: see _lock
        os.close(fd)

    def _clean_stale(self) -> None:
        """The temporaries of a run that was killed (SIGKILL) while it wrote this `out`: they hold only our files,
        hard links of the user's files in `out`, or (after the exchange) the old report: disposed of as such."""
        prefix = f".{self.out.name}."
        for entry in self.out.parent.iterdir():
            if not entry.name.startswith(prefix) or not entry.is_dir() or entry.is_symlink():
                continue
            role, _, pid = entry.name[len(prefix) :].rpartition("-")
            if role not in ("tmp", "old") or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            ours = read_manifest(entry) or set()
            if not (entry / MANIFEST).exists():
                # Killed while filling it (every directory that held the user's entries got a manifest first):
                # a partial new report, all ours.
                ours |= set(_files_below(entry))
            if self.out.is_dir():
                _dispose(entry, self.out, ours)
            elif role == "old":
                with contextlib.suppress(OSError):
                    entry.rename(self.out)  # the old report, moved aside by a run killed before the new arrived
            else:
                shutil.rmtree(entry, ignore_errors=True)  # a partial first report: nothing but our files

    # --- writing -----------------------------------------------------------------------------------------------
    def write(self, fill: Callable[[Path], None]) -> Path:
        """Call `fill(tmp_dir)` to write the report's files, then put tmp_dir in place of `out` in one step."""
        if self._lock_fd is None:
            raise RuntimeError("ReportDir.write outside its `with` block")
        out = self.out
        ours = self.check()
        tmp = beside(out, "tmp")
        shutil.rmtree(tmp, ignore_errors=True)  # ours: a temporary of this very PID (a reused PID's leftover)
        swapped = False
        try:
            tmp.mkdir()
            fill(tmp)
            written = _files_below(tmp)
            _write_manifest(tmp, written)
            if not out.exists():
                tmp.rename(out)
                return out
            self._carry_user_files(out, tmp, ours, set(written))
            if not (out / MANIFEST).exists():
                # A legacy report or a --force'd directory: say in it what is ours before the exchange, so that a
                # run killed right after it (the old contents then sit in the hidden temporary) can be cleaned up
                # later without taking the user's entries for ours.
                _write_manifest(out, sorted(ours))
            if _exchange(tmp, out):
                swapped = True
                _dispose(tmp, out, ours)  # tmp now holds the old report
            else:
                old = beside(out, "old")
                out.rename(old)
                tmp.rename(out)
                swapped = True
                _dispose(old, out, ours)
        finally:
            if not swapped:  # before the exchange tmp holds only our new files and hard links of the user's
                shutil.rmtree(tmp, ignore_errors=True)
        return out

    @staticmethod
    def _carry_user_files(out: Path, tmp: Path, ours: set[str], new: set[str]) -> None:
        """Hard-link the user's top-level files of `out` into the new report before the exchange, so that at every
        instant they are in `out` (a directory of theirs is moved across right after the exchange)."""
        for entry in out.iterdir():
            if entry.name == MANIFEST or entry.name in ours or entry.name in new:
                continue
            if entry.is_file() and not entry.is_symlink():
                with contextlib.suppress(OSError):
                    os.link(entry, tmp / entry.name)


def _write_manifest(directory: Path, files: list[str]) -> None:
    text = json.dumps({"format": MANIFEST_FORMAT, "tool": _tool_version(), "files": files}, indent=2) + "\n"
    (directory / MANIFEST).write_text(text)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_output_folder(out: Path, option: str = "--out") -> Path:
    """An output folder that receives files of fixed names (`cosim compile`, `cosim scenario export`; nothing in it
    is ever removed): created if absent; BadInput when it is a file or cannot be created or written."""
    target = ReportDir(out, option=option)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise target._bad("exists and is not a directory; choose a directory path")
        if not os.access(out, os.W_OK | os.X_OK):
            raise target._bad("is not writable")
        return out
    target._make_parent()
    try:
        out.mkdir()
    except OSError as exc:
        raise target._bad(f"cannot be created ({exc.strerror})") from None
    return out


def write_atomically(out: Path, fill: Callable[[Path], None], *, force: bool = False) -> Path:
    """Write a report directory: `fill(tmp_dir)` writes its files, which replace `out` atomically (ReportDir)."""
    with ReportDir(out, force=force) as target:
        return target.write(fill)


@contextlib.contextmanager
def report_dir(out: Path | None, *, force: bool = False) -> Iterator[ReportDir | None]:
    """`ReportDir(out)` when an --out is given, else nothing (the command writes no directory)."""
    if out is None:
        yield None
        return
    with ReportDir(out, force=force) as target:
        yield target
