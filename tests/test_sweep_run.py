"""Sweeps on real Dask clusters with QEMU (issue 17): a LocalCluster of two worker processes gives exactly the
results of the same points run one by one; a re-run skips finished points and a changed axis re-runs only its
points; Ctrl-C leaves no worker or emulator behind and keeps what finished; a separately started scheduler with two
workers runs the sweep and survives losing one worker mid-sweep."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cosim_testing import alive, descendants, emulators_below, needs_qemu

from tinyml_cosim.sweep.execute import build_firmware, run_sweep
from tinyml_cosim.sweep.outputs import write_outputs
from tinyml_cosim.sweep.plan import SweepPlan, plan_sweep
from tinyml_cosim.sweep.pointrun import PointTask, run_point
from tinyml_cosim.sweep.store import PointStore

pytestmark = [needs_qemu, pytest.mark.qemu]

DATA = Path(__file__).parent / "data" / "sweeps"
SIGMA = "sensors[imu].impairments[white_noise].sigma"
COSIM = [sys.executable, "-m", "tinyml_cosim.cli.sweep"]


def sweep_file(d: Path, sigmas: list[float], seeds: int, name: str = "s.yaml", extra: str = "") -> Path:
    shutil.copy(DATA / "walk_base.yaml", d / "walk_base.yaml")
    path = d / name
    path.write_text(
        f"version: 1\nname: t\nbase: walk_base.yaml\naxes:\n  {SIGMA}: {sigmas}\nseeds: {seeds}\n"
        "expect:\n  - accuracy >= 0.5 while sigma <= 0.01\n" + extra
    )
    return path


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepPlan, Path]:
    """A 4-point sweep (two noise levels x two seeds) run on a LocalCluster with two worker processes."""
    d = tmp_path_factory.mktemp("sweep4")
    plan = plan_sweep(sweep_file(d, [0.01, 0.3], 2))
    stats = run_sweep(plan, d / "out", workers=2, progress=False)
    assert (stats.ran, stats.skipped, stats.errors, stats.workers, stats.builds) == (4, 0, 0, 2, 1)
    return plan, d / "out"


def test_local_cluster_gives_the_results_of_the_points_run_one_by_one(four, tmp_path: Path) -> None:
    plan, out = four
    store = PointStore(out)
    bundles, _ = build_firmware(plan, None)
    verdicts = set()
    for p in plan.points:
        alone = run_point(PointTask(p.hash, p.scenario, p.kernels, None, None, str(tmp_path)), bundles[p.build])
        stored = store.load(p.hash)
        assert stored is not None and stored["status"] == "done"
        assert stored["metrics"] == alone["metrics"], p.label()
        assert stored["elf_sha256"] == alone["elf_sha256"]
        verdicts.add(alone["metrics"]["verdict"])
        assert (out / stored["report"]).is_file()
        # The worker ran the shipped binary (written under out/firmware), not a build of its own.
        ran = yaml.safe_load((out / "points" / f"{p.hash}.scenario.yaml").read_text())
        assert "app" not in ran and Path(ran["firmware"]).parent.parent == out / "firmware"
    # The two noise levels really differ (the comparison is not of empty results): 0.3 g of noise fails accuracy.
    assert verdicts == {"pass", "fail"}
    outputs = write_outputs(plan, out)
    assert outputs.exit_code == 0 and [e.passed for e in outputs.expectations] == [True]
    html = outputs.html.read_text()
    assert "<svg" in html and "Which board fits" in html and "points/" in html


def test_resume_skips_finished_points_and_a_changed_axis_reruns_only_its_points(four) -> None:
    plan, out = four
    mtimes = {p.hash: PointStore(out).path(p.hash).stat().st_mtime_ns for p in plan.points}
    again = run_sweep(plan, out, workers=1, progress=False)
    assert (again.ran, again.skipped) == (0, 4)
    assert {h: PointStore(out).path(h).stat().st_mtime_ns for h in mtimes} == mtimes
    changed = plan_sweep(sweep_file(plan.path.parent, [0.01, 0.2], 2, name="changed.yaml"))
    ran: list[str] = []
    stats = run_sweep(changed, out, workers=1, progress=False, on_result=lambda r: ran.append(r["hash"]))
    assert (stats.ran, stats.skipped) == (2, 2)
    assert sorted(ran) == sorted(p.hash for p in changed.points if p.values[SIGMA] == 0.2)


def _wait_for(what, timeout: float, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(step)
    return None


def test_sigint_stops_the_sweep_keeps_finished_points_and_leaves_no_process(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, [0.01, 0.02, 0.05], 2)
    out = tmp_path / "out"
    cmd = [*COSIM, "run", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert _wait_for(lambda: list((out / "points").glob("*.json")), 120), "no point finished"
        assert _wait_for(lambda: emulators_below(proc.pid), 60), "no emulator running"
        below = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group, workers too
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode(), err.decode()
    # Workers and emulators are gone by the time the command exits; multiprocessing's resource tracker follows
    # within a moment (it exits when the last process holding its pipe has).
    assert _wait_for(lambda: not [p for p in below if alive(p)], 10), [p for p in below if alive(p)]
    kept = [json.loads(f.read_text()) for f in (out / "points").glob("*.json")]
    assert kept and all(k["status"] == "done" for k in kept)
    assert (out / "results.csv").is_file()


def _address(scheduler_file: Path) -> str | None:
    """The scheduler's address once it has written its file completely."""
    try:
        return str(json.loads(scheduler_file.read_text())["address"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


@pytest.mark.long  # ~20 s: a scheduler and two workers started apart, one killed (make test-long)
def test_separate_scheduler_and_workers_survive_losing_a_worker(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, [0.01, 0.02, 0.05], 2)
    out = tmp_path / "out"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m"]
    procs = [
        subprocess.Popen(
            [*dask, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(sched_file)], env=env, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        address = _wait_for(lambda: _address(sched_file), 30)
        assert address, "the scheduler did not start"
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [*dask, "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard",
                     "--name", name, "--no-nanny"], env=env, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        run = subprocess.Popen(
            [*COSIM, "run", str(path), "--out", str(out), "--scheduler", address], stdout=subprocess.PIPE, env=env
        )
        victim = procs[1]
        assert _wait_for(lambda: emulators_below(victim.pid), 120), "the first worker never ran a point"
        victim.kill()  # a worker dies with a point (and its emulator) in flight
        stdout, _ = run.communicate(timeout=300)
        assert run.returncode in (0, 3), stdout.decode()
        stored = [PointStore(out).load(p.hash) for p in plan_sweep(path).points]
        assert all(s is not None and s["status"] in ("done", "error") for s in stored)
        assert sum(s["status"] == "done" for s in stored if s) >= 5
        assert _wait_for(lambda: not emulators_below(victim.pid) and not alive(victim.pid), 30)
    finally:
        for p in reversed(procs):  # workers first: a worker whose scheduler is gone keeps trying to reconnect
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
