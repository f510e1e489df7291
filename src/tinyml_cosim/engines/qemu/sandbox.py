"""The confinement around QEMU: untrusted firmware must not reach the host through semihosting (issue #18).

QEMU's native semihosting acts on the host with the user's rights: SYS_SYSTEM runs a shell command, SYS_OPEN,
SYS_REMOVE and SYS_RENAME take host paths. Two layers stop that:

- QEMU's own seccomp filter, always: `-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
  resourcecontrol=deny`. With spawn=deny, QEMU 7.2's `system()` for SYS_SYSTEM dies at its clone(): the kernel kills
  QEMU with SIGSYS before any command runs (measured: no error return to the guest). `refusal` turns that exit
  status into a message naming the cause.
- A private mount namespace made with util-linux `unshare` (its own user namespace where the kernel allows one,
  else a plain mount namespace for root): a fresh read-only tmpfs root that holds read-only /usr (QEMU, its
  libraries, /usr/share/qemu), /lib and /lib64, /etc/ld.so.cache, four /dev nodes, read-only binds of every host
  file the argv names outside those (the ELF, plugin .so files, the stack-paint blob) and the run's work directory
  read-write; QEMU is chrooted into it and started in the work directory. The firmware's semihosting file calls
  then see nothing of the host: no home directory, no /etc/shadow, no /proc (whose /proc/<pid>/root would lead
  out); creating, removing or renaming outside the work directory fails (read-only or absent). `unshare` execs in
  place (sh, and the final `unshare --root` that chroots, too), so the process the engine started is QEMU itself:
  its pid, its signals and its exit status (a firmware's exit code, a SIGABRT lockup, a SIGSYS refusal) are
  unchanged. bubblewrap was measured and not used for this: it stays a parent of QEMU and reports a death by
  signal n as exit status 128+n, which a firmware can also return through semihosting. A QEMU outside /usr
  ($COSIM_QEMU) is bound itself, not its libraries or data.

Where no namespace can be made, `confine` keeps the seccomp filter and says so in `note` ("semihosting file access
is not confined: ..."), which the run record carries in its diagnosis. COSIM_SEMIHOSTING_HOST_FILES=1 is the opt-out
for firmware that reads or writes host files through semihosting on purpose: the namespace is left out (the
seccomp filter stays: SYS_SYSTEM is refused either way).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinyml_cosim.core.errors import BadInput

SECCOMP = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
HOST_FILES_ENV = "COSIM_SEMIHOSTING_HOST_FILES"
# What QEMU needs of the host, read-only: everything it loads lives under /usr on a merged-/usr system (Debian 12);
# /lib and /lib64 (the ELF interpreter's path) are bound from wherever they lead.
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache",)
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")  # glib and QEMU open these; writable by design
# Namespace tools, in order: an own user namespace first (works unprivileged, and gives root only capabilities
# inside it), then a plain mount namespace (root where user namespaces are disabled).
UNSHARE_VARIANTS = (("--user", "--map-root-user", "--mount"), ("--mount",))
_PROBE_TIMEOUT_S = 10.0
# A path QEMU is given: at the start of an argument or after "=", "," or ":" (unix:/..., file=/..., name,state=/...).
_PATH_IN_ARG = re.compile(r"(?:^|[=,:])(/[^,]+)")

# sh -c SCRIPT cosim-sandbox ROOT WORKDIR FSTAB FILES -- QEMU-ARGV...: mount a tmpfs on ROOT, make the mount points
# of the bound files (FILES: one path a line), mount FSTAB's binds (fstab(5) lines, paths escaped; libmount makes
# the directories: X-mount.mkdir), make the root read-only and run QEMU chrooted into it, in WORKDIR. Every path is
# an argument, none is part of the script. Seven execs in all (each costs milliseconds): no loop runs a command.
# libmount reads an fstab from a regular file only (not a pipe): it is written where the work directory's bind
# then covers it, so the guest never sees it. set -e: a failing mount ends the start with mount's own message on
# stderr, which the engine reports.
_SCRIPT = r"""set -euf
root=$1 work=$2 fstab=$3 files=$4
shift 4
mount -t tmpfs -o size=64k,mode=0755 cosim-sandbox "$root"
IFS='
'
dirs="$root$work"
for f in $files; do dirs="$dirs
$root${f%/*}"; done
mkdir -p $dirs
for f in $files; do : >"$root$f"; done
printf '%s\n' "$fstab" >"$root$work/.cosim-fstab"
mount --fstab "$root$work/.cosim-fstab" --all
mount -o remount,bind,ro "$root"
exec unshare --root="$root" --wd="$work" "$@"
"""


@dataclass(frozen=True)
class Confinement:
    """QEMU's command line with the sandbox around it, and what it confines."""

    argv: list[str]
    files_confined: bool
    note: str | None = None  # one line for the run record when semihosting file access is not confined


def seccomp_args() -> list[str]:
    return ["-sandbox", SECCOMP]


def host_files_allowed() -> bool:
    return os.environ.get(HOST_FILES_ENV, "").lower() in ("1", "on", "yes", "true")


def confine(argv: list[str], workdir: Path) -> Confinement:
    """`argv` (QEMU's, binary first) with the seccomp filter and, where possible, inside a mount namespace that
    shows the guest nothing of the host but `workdir` (read-write) and what QEMU itself needs (read-only)."""
    qemu = [argv[0], *seccomp_args(), *argv[1:]]
    if host_files_allowed():
        return Confinement(qemu, False, f"semihosting file access is not confined: {HOST_FILES_ENV}=1")
    tool = namespace_tool()
    if isinstance(tool, str):
        return Confinement(qemu, False, f"semihosting file access is not confined: {tool}")
    binary = shutil.which(argv[0]) or argv[0]
    work = Path(os.path.abspath(workdir))  # as the argv names it (a link stays a link), without ".." in it
    fstab, files = _layout(tool[-1], work, [binary, *argv[1:]])
    return Confinement([*tool, str(work), fstab, files, "--", binary, *qemu[1:]], True)


def refusal(rc: int | None) -> str | None:
    """Why QEMU ended, when its seccomp filter ended it (None otherwise)."""
    if rc != -signal.SIGSYS:
        return None
    return (
        "QEMU's seccomp sandbox (-sandbox spawn=deny) killed it (SIGSYS) at a forbidden host system call: "
        "the firmware asked the host to run a command (semihosting SYS_SYSTEM), which is refused"
    )


def visible_paths(work: Path, argv: list[str]) -> list[tuple[str, bool]]:
    """What the namespace shows, as (host path, read-only): the system directories and files, the devices, the
    host files the argv names outside them and the work directory (read-only, at the same path), and the work
    directory itself (read-write), last."""
    shown = [(d, True) for d in SYSTEM_DIRS if os.path.isdir(d)]
    shown += [(f, True) for f in SYSTEM_FILES if os.path.isfile(f)]
    shown += [(d, False) for d in DEVICES if os.path.exists(d)]
    covered = [Path(d) for d in SYSTEM_DIRS] + [work]
    for arg in argv:
        whole = [arg] if arg.startswith("/") else []  # -kernel PATH: the whole argument, commas and all
        for named in whole + _PATH_IN_ARG.findall(arg):
            # Normalised: the script makes "$root$path" before any bind, and "/../x" there would leave the root.
            found = os.path.normpath(named)
            path = Path(found)
            # What does not exist yet is made by QEMU, in the work directory (sockets, logs, the plugin's state).
            if path.is_file() and not any(path.is_relative_to(c) for c in covered) and (found, True) not in shown:
                shown.append((found, True))
    return [*shown, (str(work), False)]


def _layout(root: str, work: Path, argv: list[str]) -> tuple[str, str]:
    """The script's FSTAB and FILES arguments for `visible_paths`."""
    lines, files = [], []
    for path, read_only in visible_paths(work, argv):
        if "\n" in path:  # FILES is one path a line; refused rather than left unconfined (an ELF's name is input)
            raise BadInput(f"{path!r}: a path with a newline cannot be shown to the sandboxed emulator; rename it")
        options = "bind,ro" if read_only else "bind"
        if path == str(work) or os.path.isdir(path):
            options += ",X-mount.mkdir"
        else:
            files.append(path)
        lines.append(f"{_fstab_field(path)} {_fstab_field(root + path)} none {options} 0 0")
    return "\n".join(lines), "\n".join(files)


def _fstab_field(text: str) -> str:
    """fstab(5) escapes: whitespace and the backslash as octal, which libmount reads back."""
    for char in "\\ \t\n":
        text = text.replace(char, f"\\{ord(char):03o}")
    return text


def _mount_point() -> Path:
    """An empty directory the namespace mounts its root on: private to each namespace, so one serves every run.
    Ours only (not a link, our uid, mode 0700); a fresh one when someone else's is there."""
    path = Path(tempfile.gettempdir()) / f"tinyml-cosim-sandbox-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
        if path.is_symlink() or not path.is_dir() or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise OSError("not ours")
    except OSError:
        return Path(tempfile.mkdtemp(prefix="tinyml-cosim-sandbox-"))
    return path


@functools.cache
def namespace_tool() -> list[str] | str:
    """The command prefix that confines QEMU (`unshare ... sh -c SCRIPT cosim-sandbox ROOT`; the work directory,
    the layout and QEMU's argv follow), or why none works here. Probed once per process, end to end: the real
    script runs `true` inside the namespace."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not on PATH"
    root = str(_mount_point())
    why = "no mount namespace"
    with tempfile.TemporaryDirectory(prefix="cosim-sandbox-probe-") as probe:
        work = Path(os.path.abspath(probe))
        for variant in UNSHARE_VARIANTS:
            prefix = [unshare, *variant, "--propagation", "private", "/bin/sh", "-c", _SCRIPT, "cosim-sandbox", root]
            argv = [*prefix, str(work), *_layout(root, work, []), "--", "/usr/bin/true"]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired) as exc:
                why = str(exc)
                continue
            if proc.returncode == 0:
                return prefix
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            why = lines[-1] if lines else f"exit status {proc.returncode}"
    return f"`unshare --mount` cannot make a mount namespace here ({why}); run as root or allow user namespaces"
