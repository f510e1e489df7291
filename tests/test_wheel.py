"""The wheel works outside the checkout: built from the checkout's sources, installed with pip into a fresh venv
in a temporary directory (versions from constraints.txt), then used from a working directory that is not the
checkout, with HOME and the cache directory pointed at tmp and no COSIM_BUILD_DIR. Firmware sources, board files,
schemas, golden vectors, part files and the apps' default models must come from the installed package; builds must
land in the per-user cache directory, never in the installed tree nor in the checkout.

Installing the dependency set takes a minute or two on 2 cores (pip's cache, where it is kept, shortens later runs);
wall time is not asserted. Without PyPI the test skips with pip's reason (in CI, which has PyPI, it fails instead).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cosim_testing import needs_qemu

from tinyml_cosim import __version__

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
# Files of the firmware tree that a build needs: C, headers, make fragments, linker scripts, app.yaml, models.
FIRMWARE_SUFFIXES = {".c", ".h", ".mk", ".ld", ".s", ".S", ".yaml", ".tflite"}

pytestmark = [pytest.mark.qemu, needs_qemu]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sources: Path  # the copy of src/tinyml_cosim the wheel was built from (the checkout moves on meanwhile)
    venv: Path
    site: Path  # the venv's site-packages
    work: Path  # the working directory the commands run in
    home: Path  # HOME for the commands; its .cache is the per-user cache directory
    env: dict[str, str]


def _need(proc: subprocess.CompletedProcess[str], what: str) -> None:
    """A failed build or install: offline is a skip outside CI, a failure in CI (which has PyPI)."""
    if proc.returncode == 0:
        return
    why = f"{what} failed (exit {proc.returncode}): {(proc.stdout + proc.stderr).strip()[-1500:]}"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why + " (offline?)")


def _sources_copy(dest: Path) -> Path:
    """The checkout's packaging inputs, copied: setuptools writes build/ and *.egg-info beside the sources, which
    must not touch the checkout that other runs share."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.is_relative_to(ROOT)
    src = _sources_copy(base / "src-copy")
    dist = base / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], capture_output=True, text=True
    )
    _need(built, "python -m build --wheel")
    (wheel,) = dist.glob("tinyml_cosim-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    # The robot extra as well: `import sim.robot` (the 0.1 `Library    sim.robot`) must resolve from the wheel.
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
         "-c", str(CONSTRAINTS), f"{wheel}[robot]"],
        capture_output=True, text=True, cwd=base,
    )  # fmt: skip
    _need(pip, f"pip install -c constraints.txt {wheel.name}[robot]")
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip

    work, home = base / "work", base / "home"
    work.mkdir()
    home.mkdir()
    drop = {"COSIM_BUILD_DIR", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), COLUMNS="200")
    return Installed(
        wheel=wheel, sources=src / "src" / "tinyml_cosim", venv=venv, site=site, work=work, home=home, env=env
    )


def cosim(inst: Installed, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(inst.venv / "bin" / "cosim"), *args], cwd=inst.work, env=inst.env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def package_files(inst: Installed) -> set[Path]:
    """The installed package's files, byte-code caches aside."""
    top = inst.site / "tinyml_cosim"
    return {p.relative_to(top) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_wheel_holds_the_package_data_and_not_the_twins_nor_the_tests(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    package = installed.sources
    firmware = package / "firmware"
    wanted = {
        "tinyml_cosim/" + p.relative_to(package).as_posix()
        for p in firmware.rglob("*")
        if p.is_file() and (p.suffix in FIRMWARE_SUFFIXES or p.name == "Makefile") and "__pycache__" not in p.parts
    }
    for pattern in ("platforms/*.yaml", "schemas/*.json", "golden/*.npz", "sensors/parts/*.yaml", "py.typed"):
        wanted |= {"tinyml_cosim/" + p.relative_to(package).as_posix() for p in package.glob(pattern)}
    assert len(wanted) > 100  # the globs above found the tree (the firmware alone is ~90 files)
    assert not wanted - names, f"missing from the wheel: {sorted(wanted - names)}"
    for must in (
        "tinyml_cosim/firmware/Makefile",
        "tinyml_cosim/firmware/include/cosim.h",
        "tinyml_cosim/firmware/apps/activity_tracker/app.yaml",
        "tinyml_cosim/firmware/apps/activity_tracker/activity_int8.tflite",
        "tinyml_cosim/platforms/stm32f405.yaml",
        "sim/__init__.py",
        "tinyml_cosim/cli/app.py",
    ):
        assert must in names
    twins = sorted(n for n in names if n.startswith("tinyml_cosim/firmware/") and n.endswith(".py"))
    assert not twins, f"the firmware tree's Python twins are application code, not the library: {twins}"
    assert not [n for n in names if "/cosim_dsp/" in n or n.startswith(("tests/", "cosim_dsp/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "cosim = tinyml_cosim.cli.app:main" in text and "tinyml_cosim = tinyml_cosim.pytest_plugin" in text


def test_installed_wheel_builds_and_runs_outside_the_checkout(installed: Installed) -> None:
    before = package_files(installed)
    cache = installed.home / ".cache" / "tinyml-cosim" / "build"

    boards = cosim(installed, "boards")
    assert boards.returncode == 0, boards.stderr
    assert "stm32f405" in boards.stdout and "stm32f205" in boards.stdout

    built = cosim(installed, "build", "--board", "stm32f405", "--app", "demo")
    assert built.returncode == 0, built.stderr
    elf = Path(built.stdout.strip().splitlines()[-1])
    assert elf.is_file() and elf.name == "app.elf"
    assert elf.is_relative_to(cache), f"{elf} is not under the per-user cache directory {cache}"
    assert not elf.is_relative_to(ROOT)

    ran = cosim(installed, "run", "--board", "stm32f405", str(elf))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "exited" in ran.stdout + ran.stderr

    # No --model: the app's default model ships inside the installed app directory (its app.yaml names it).
    tracker = cosim(installed, "build", "--board", "stm32f405", "--app", "activity_tracker")
    assert tracker.returncode == 0, tracker.stderr
    tracker_elf = Path(tracker.stdout.strip().splitlines()[-1])
    assert tracker_elf.is_file() and tracker_elf.is_relative_to(cache)

    out = installed.work / "out"
    scenario = cosim(installed, "run", str(ROOT / "scenarios" / "motion" / "daily.yaml"), "--out", str(out))
    assert scenario.returncode == 0, scenario.stdout + scenario.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] == "pass"
    assert report["tool_version"] == f"tinyml-cosim {__version__}"

    # Nothing was written into the installed package (no build output, no generated linker script).
    assert package_files(installed) == before


def test_sim_alias_resolves_to_the_same_modules(installed: Installed) -> None:
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "import sim.boards, sim.robot, tinyml_cosim, tinyml_cosim.core.boards, tinyml_cosim.robot\n"
        "assert sim.boards is tinyml_cosim.core.boards\n"
        "assert sim.robot is tinyml_cosim.robot\n"
        "print(tinyml_cosim.__file__, tinyml_cosim.__version__)\n"
    )
    got = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", code], cwd=installed.work, env=installed.env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    where, version = got.stdout.split()
    assert Path(where).is_relative_to(installed.site)  # the wheel's copy, not the checkout's
    assert version == __version__  # the checkout's, the only place the version is written
