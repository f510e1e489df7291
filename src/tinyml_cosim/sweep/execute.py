"""A sweep's points on Dask distributed: a LocalCluster with one single-threaded worker process per core, or an
existing scheduler (`--scheduler tcp://HOST:PORT`; its workers need the project, the toolchain-free run path and
QEMU installed, and share the output directory for the per-point reports).

Firmware is built here, once per distinct build configuration (while the LocalCluster starts and its workers
import the point-run stack: sweep/warm.py), and shipped to the workers as bytes (scattered
once, referenced by every point that uses it). Each point is one scenario run bounded by the run's wall-clock
timeout; results stream back through `as_completed` into the store (so a stopped sweep keeps what finished) and a
progress bar. A point whose run raises, or whose run ends in an engine error, is retried once (`retries=1`); a
worker that dies under a point has the point rescheduled once (`allowed-failures: 1`); after that the point is an
error point in the results, never lost. Ctrl-C cancels what is pending, closes the client and the cluster (whose
workers take their emulators with them: engines/launcher.py) and keeps every finished point.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput, CosimError, EngineError
from tinyml_cosim.core.inputs import source_roots
from tinyml_cosim.engines.registry import needs_mailbox, resolve_engine_name
from tinyml_cosim.sweep.plan import BuildConfig, SweepPlan
from tinyml_cosim.sweep.pointrun import FirmwareBundle, PointTask, run_point
from tinyml_cosim.sweep.store import PointStore

WARM_MODULE = "tinyml_cosim.sweep.warm"
EXTRA_HINT = "cosim sweep run needs the sweep extra: pip install 'tinyml-cosim[sweep]'"


# How long a sweep waits with no worker connected to its scheduler before it gives the pending points up as error
# points: a cluster whose workers all died must not hang the sweep.
NO_WORKER_GRACE_S = 120.0


class NoWorker(CosimError):
    """Pending points given up: no worker was connected to the scheduler for the grace period."""


class _NoWorkerWatchdog(threading.Thread):
    """Cancels the pending points when the scheduler has had no worker for `grace_s` (the loop over
    `as_completed` then records them as error points and the sweep ends)."""

    def __init__(self, client: Any, futures: list[Any], grace_s: float) -> None:
        super().__init__(name="sweep-no-worker-watchdog", daemon=True)
        self.client, self.futures, self.grace_s = client, futures, grace_s
        self.stop = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        alone_since: float | None = None
        while not self.stop.wait(min(5.0, self.grace_s / 4)):
            try:
                workers = len(self.client.nthreads())
            except Exception:  # the client is closing: nothing left to watch
                return
            if workers:
                alone_since = None
                continue
            alone_since = alone_since or time.monotonic()
            if time.monotonic() - alone_since >= self.grace_s:
                self.reason = f"no worker connected to the scheduler for {self.grace_s:g} s"
                self.client.cancel([f for f in self.futures if not f.done()])
                return


class SweepInterrupted(CosimError):
    """Ctrl-C: the sweep stopped; the finished points are kept."""

    exit_code = 1


@dataclass
class SweepRun:
    """What a `cosim sweep run` did: points run now, skipped (stored), failed to an error; builds; wall time."""

    total: int = 0
    skipped: int = 0
    ran: int = 0
    errors: int = 0
    builds: int = 0  # distinct build configurations
    rebuilt: int = 0  # of which compiled now (the rest came from the build cache)
    workers: int = 0
    wall_s: float = 0.0
    build_s: float = 0.0  # building (or finding) the firmware, with a LocalCluster starting beside it
    cluster_s: float = 0.0  # connecting to the cluster (a remote one: too its start), up to the first submitted point
    error_points: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start the LocalCluster's worker processes with SIGINT ignored (inherited through exec): Ctrl-C reaches the
    terminal's whole process group, and the client, not each worker, decides (it cancels and closes the cluster,
    which ends the workers and their emulators) -- instead of every worker dying with a traceback of its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise BadInput(EXTRA_HINT) from None


def build_firmware(plan: SweepPlan, engine: str | None) -> tuple[dict[BuildConfig, FirmwareBundle], int]:
    """One bundle per distinct build configuration of the plan; (bundles, how many were compiled now)."""
    bundles: dict[BuildConfig, FirmwareBundle] = {}
    rebuilt = 0
    mailbox = needs_mailbox(resolve_engine_name(engine))
    for cfg in plan.builds:
        if cfg.app is None:
            elf = Path(cfg.firmware or "")
            if not elf.is_file():
                raise BadInput(f"{plan.base_path}: firmware: {elf} does not exist")
        else:
            model = Path(cfg.model) if cfg.model else None
            res = build(load_board(cfg.board), cfg.app, kernels=cfg.kernels, model=model, mailbox=mailbox)
            elf, rebuilt = res.elf, rebuilt + int(res.rebuilt)
        bundles[cfg] = FirmwareBundle.from_build_dir(cfg.label, elf)
    return bundles, rebuilt


def point_roots(plan: SweepPlan) -> tuple[str, ...]:
    """The directories a point's files may come from: the base scenario's source roots (its directory, its
    repository) and the sweep file's directory (`model:` files are relative to it)."""
    return tuple(dict.fromkeys(str(r) for r in [*source_roots(plan.base_path.parent), plan.path.parent.resolve()]))


def error_result(point_hash: str, exc: BaseException, elf_sha256: str) -> dict[str, Any]:
    what = f"{type(exc).__name__}: {exc}".strip()
    return {"hash": point_hash, "status": "error", "error": what[:2000], "elf_sha256": elf_sha256, "metrics": {}}


def _progress(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failing {task.fields[failing]}  errors {task.fields[errors]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _local_cluster(n: int, processes: bool) -> Any:
    from distributed import LocalCluster

    with _workers_ignore_ctrl_c():
        return LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",  # any free port: two sweeps at once never clash
            silence_logs=logging.ERROR,
            # Each worker imports the point-run stack as it starts, not in its first point (sweep/warm.py).
            preload=[WARM_MODULE] if processes else [],
        )


def _build_beside_cluster(
    plan: SweepPlan, store: PointStore, engine: str | None, scheduler: str | None, workers: int | None, processes: bool
) -> tuple[dict[BuildConfig, FirmwareBundle], int, Any]:
    """The firmware bundles, and the LocalCluster when there is likely work: started in this (the main) thread,
    so its workers ignore Ctrl-C, while the firmware is built in another (the build runs make and the compiler as
    subprocesses): the cluster's start and its workers' warm-up overlap the build instead of following it."""
    if scheduler or all(store.path(p.hash).is_file() for p in plan.points):
        return (*build_firmware(plan, engine), None)
    with ThreadPoolExecutor(1, thread_name_prefix="sweep-build") as pool:
        building = pool.submit(build_firmware, plan, engine)
        try:
            cluster = _local_cluster(workers or os.cpu_count() or 1, processes)
        except BaseException:
            building.result()  # let the build finish (its subprocesses) before the error propagates
            raise
        try:
            bundles, rebuilt = building.result()
        except BaseException:
            cluster.close()
            raise
    return bundles, rebuilt, cluster


def _wait_for_a_worker(client: Any, scheduler: str | None, grace_s: float) -> None:
    try:  # a scheduler without workers would block the firmware's scatter
        client.wait_for_workers(1, timeout=grace_s)
    except TimeoutError:
        raise EngineError(
            f"no worker connected to the scheduler {scheduler or 'of the LocalCluster'} within "
            f"{grace_s:g} s: start workers (dask worker {scheduler or 'ADDRESS'} --nthreads 1)"
        ) from None


def _result_of(fut: Any, p: Any, bundles: dict[Any, Any], watchdog: Any, stats: SweepRun) -> dict[str, Any]:
    """A finished future's stored result: the point's own, or an error point saying why it has none."""
    if fut.status == "finished":
        result: dict[str, Any] = fut.result()
    else:
        why = fut.exception() if fut.status == "error" else NoWorker(watchdog.reason or "cancelled")
        result = error_result(p.hash, why, bundles[p.build].sha256)
        stats.errors += 1
        stats.error_points.append(f"point {p.index} ({p.label()}): {result['error']}")
    fut.release()
    return result


def _submit(client: Any, todo: list[Any], bundles: dict[Any, Any], like: PointTask) -> dict[Any, Any]:
    """Ship each firmware once (as bytes) and submit one task per point; future key -> (future, point)."""
    shipped = {cfg: client.scatter(b, broadcast=False, hash=False) for cfg, b in bundles.items()}
    by_key = {}
    for p in todo:
        task = replace(like, hash=p.hash, scenario=p.scenario, kernels=p.kernels)
        fut = client.submit(run_point, task, shipped[p.build], key=f"point-{p.hash}", retries=1, pure=False)
        by_key[fut.key] = (fut, p)
    return by_key


def _close(watchdog: Any, client: Any, cluster: Any) -> None:
    if watchdog is not None:
        watchdog.stop.set()
        watchdog.join()
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _collect(
    name: str,
    by_key: dict[Any, Any],
    bundles: dict[BuildConfig, FirmwareBundle],
    watchdog: _NoWorkerWatchdog,
    stats: SweepRun,
    store: PointStore,
    on_result: Callable[[dict[str, Any]], None] | None,
    progress: bool,
) -> None:
    """Each point's result as it completes: stored, counted, passed on, shown on the progress bar."""
    from distributed import as_completed

    futures = [fut for fut, _ in by_key.values()]
    with _progress(progress) as bar:
        job = bar.add_task(name, total=len(futures), failing=0, errors=0)
        failing = 0
        for fut in as_completed(futures):
            result = _result_of(fut, by_key[fut.key][1], bundles, watchdog, stats)
            # a point that ran and did not pass (error points are counted apart, in stats.errors)
            failing += result["status"] != "error" and result.get("metrics", {}).get("verdict") != "pass"
            store.save(result)
            stats.ran += 1
            if on_result is not None:
                on_result(result)
            bar.update(job, advance=1, failing=failing, errors=stats.errors)


def run_sweep(
    plan: SweepPlan,
    out: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout_s: float | None = None,
    engine: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    processes: bool = True,
    no_worker_grace_s: float = NO_WORKER_GRACE_S,
) -> SweepRun:
    """Run every point of `plan` not already stored under `out`; return what happened. `processes=False`: the
    LocalCluster's workers are threads of this process (for tests of the machinery itself)."""
    require_dask()
    import dask
    from distributed import Client

    say = echo or (lambda _line: None)
    t0 = time.monotonic()
    out = Path(out).resolve()
    store = PointStore(out)
    engine = engine or plan.sweep.engine
    timeout_s = timeout_s or plan.sweep.timeout_s
    bundles, rebuilt, cluster = _build_beside_cluster(plan, store, engine, scheduler, workers, processes)
    stats = SweepRun(total=len(plan.points), builds=len(bundles), rebuilt=rebuilt, build_s=time.monotonic() - t0)
    todo = [p for p in plan.points if store.finished(p.hash, bundles[p.build].sha256) is None]
    stats.skipped = len(plan.points) - len(todo)
    say(
        f"[sweep] {plan.name}: {len(plan.points)} point(s), {stats.skipped} already done, {len(todo)} to run; "
        f"{len(bundles)} firmware build(s) ({rebuilt} compiled now)"
    )
    if not todo:
        if cluster is not None:
            cluster.close()
        stats.wall_s = time.monotonic() - t0
        return stats
    client = None
    watchdog: _NoWorkerWatchdog | None = None
    futures: list[Any] = []
    # A worker dying under a point (emulator crash taking it down, OOM, kill) reschedules the point once, then
    # the point fails with KilledWorker and is recorded as an error point.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        try:
            t_cluster = time.monotonic()
            if scheduler:
                client = Client(scheduler, timeout="30s")
            else:
                cluster = cluster or _local_cluster(workers or os.cpu_count() or 1, processes)
                client = Client(cluster)
            _wait_for_a_worker(client, scheduler, no_worker_grace_s)
            stats.cluster_s = time.monotonic() - t_cluster
            info = client.scheduler_info()
            stats.workers = len(info.get("workers", {}))
            say(f"[sweep] {stats.workers} worker(s), scheduler {info.get('address', scheduler)}")
            like = PointTask("", {}, "", engine, timeout_s, str(out), point_roots(plan))
            by_key = _submit(client, todo, bundles, like)
            futures.extend(fut for fut, _ in by_key.values())
            watchdog = _NoWorkerWatchdog(client, futures, no_worker_grace_s)
            watchdog.start()
            _collect(plan.name, by_key, bundles, watchdog, stats, store, on_result, progress)
        except KeyboardInterrupt:
            say(f"[sweep] interrupted: cancelling {sum(not f.done() for f in futures)} pending point(s)")
            if client is not None:
                client.cancel(futures, force=True)
            raise SweepInterrupted(
                f"interrupted: {stats.ran + stats.skipped} of {stats.total} point(s) kept under {out}/points"
            ) from None
        finally:
            _close(watchdog, client, cluster)
    stats.wall_s = time.monotonic() - t0
    return stats
