"""Sweep files without an emulator: file:line errors, axis paths, point expansion and hash stability, the
expectations over a sweep, the results table, and the CLI's exit codes (issue 17)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tinyml_cosim.cli.sweep import app as sweep_app
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.sweep import axes
from tinyml_cosim.sweep import plan as sweep_plan_module
from tinyml_cosim.sweep.expect import ExpectParseError, evaluate, parse_expectation
from tinyml_cosim.sweep.plan import plan_sweep, point_hash
from tinyml_cosim.sweep.results import normalise, write_table

DATA = Path(__file__).parent / "data" / "sweeps"
SIGMA = "sensors[imu].impairments[white_noise].sigma"


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    shutil.copy(DATA / "walk_base.yaml", tmp_path / "walk_base.yaml")
    return tmp_path


def write(d: Path, text: str, name: str = "s.yaml") -> Path:
    (d / name).write_text(text)
    return d / name


def errors_of(path: Path) -> list[str]:
    with pytest.raises(BadInput) as exc:
        plan_sweep(path)
    return str(exc.value).splitlines()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("base: walk_base.yaml\nseeds: 0\n", "s.yaml:2: seeds: 0 must be at least 1"),
        ("base: walk_base.yaml\nbogus: 1\n", "s.yaml:2: bogus: unknown field; allowed fields are axes, base,"),
        ("base: missing.yaml\n", "s.yaml:1: base: 'missing.yaml': no such scenario file"),
        (
            "base: walk_base.yaml\naxes:\n  sensors[imu].impairments[pink_noise].sigma: [1]\n",
            "s.yaml:3: axes.sensors[imu].impairments[pink_noise].sigma: sensors[imu].impairments[pink_noise]: "
            "no item with id, type or kind 'pink_noise' (there are: white_noise, offset_drift; or an index)",
        ),
        (
            "base: walk_base.yaml\naxes:\n  sensors[imu].odr_hz: [52, 53]\n",
            "s.yaml:2: axes: point 1 (sensors[imu].odr_hz=53, board=stm32f405, kernels=ref, seed=7100): "
            "sensors[0].odr_hz: 53 is not one of",
        ),
        (
            "base: walk_base.yaml\ncombine: zip\naxes:\n  sensors[imu].odr_hz: [52]\n  seed_x: [1, 2]\n",
            "s.yaml:2: combine: zip needs axes of equal length (sensors[imu].odr_hz has 1, seed_x has 2)",
        ),
        ("base: walk_base.yaml\nexpect:\n  - accuracy is good\n", "s.yaml:3: expect[0]: 'accuracy is good' is not"),
        ("base: walk_base.yaml\nboard: [stm32f999]\n", "s.yaml:2: board: point 0 (board=stm32f999"),
        (
            "base: walk_base.yaml\nexclude:\n  - {boards: stm32f405}\n",
            "s.yaml:3: exclude[0].boards: 'boards' is not an axis; axes are board, clock_hz, kernels, model, seed",
        ),
        ("base: walk_base.yaml\nexclude:\n  - {board: stm32f405}\n", "s.yaml:2: exclude: every point is excluded"),
        ("base: walk_base.yaml\naxes: [1, 2]\n", "s.yaml:2: axes: must be a mapping of fields"),
        ("base: walk_base.yaml\nseeds: [\n", "s.yaml:3: not valid YAML"),
    ],
)
def test_malformed_sweep_files_name_file_line_and_field(sweep_dir: Path, body: str, expected: str) -> None:
    path = write(sweep_dir, "version: 1\n" + body if not body.startswith("version") else body)
    found = errors_of(path)
    # The version line shifts every line by one: the expected texts count from the line after it.
    line = int(expected.split(":")[1]) + 1
    wanted = f"{sweep_dir}/s.yaml:{line}:{expected.split(':', 2)[2]}"
    assert any(f.startswith(wanted) for f in found), found


def test_axis_paths_select_by_id_type_kind_and_index() -> None:
    data = {
        "sensors": [
            {"id": "imu", "signal": [{"type": "gesture", "kind": "wave"}], "impairments": [{"type": "a", "x": 1}]},
            {"id": "mic", "impairments": [{"type": "b"}, {"type": "b"}]},
        ]
    }
    assert axes.get_value(data, "sensors[imu].impairments[a].x") == 1
    assert axes.get_value(data, "sensors[0].signal[wave].type") == "gesture"
    changed = axes.set_value(data, "sensors[imu].impairments[0].x", 5)
    assert changed["sensors"][0]["impairments"][0]["x"] == 5 and data["sensors"][0]["impairments"][0]["x"] == 1
    added = axes.set_value(data, "sensors[mic].impairments[1].sigma", 0.1)
    assert added["sensors"][1]["impairments"][1] == {"type": "b", "sigma": 0.1}
    with pytest.raises(axes.PathError, match=r"2 items have type 'b' \(\[0\], \[1\]\); select by index"):
        axes.get_value(data, "sensors[mic].impairments[b].sigma")
    with pytest.raises(axes.PathError, match="index out of range"):
        axes.get_value(data, "sensors[5].id")
    with pytest.raises(axes.PathError, match="no such field in the scenario"):
        axes.check_path(data, "sensor[imu].id")
    with pytest.raises(axes.PathError, match="is not a field name"):
        axes.parse_path("sensors[imu]..x")


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(st.floats(allow_nan=False), st.integers(), st.text(max_size=5)),
    which=st.sampled_from(["sensors[imu].impairments[white_noise].sigma", "sensors[0].odr_hz", "duration_s"]),
)
def test_set_then_get_returns_the_value_and_changes_nothing_else(value: object, which: str) -> None:
    base = {
        "duration_s": 8.0,
        "sensors": [{"id": "imu", "odr_hz": 52, "impairments": [{"type": "white_noise", "sigma": 0.01}]}],
    }
    out = axes.set_value(base, which, value)
    assert axes.get_value(out, which) == value
    assert axes.set_value(out, which, axes.get_value(base, which)) == base


def test_product_exclusion_and_zip_counts(sweep_dir: Path) -> None:
    product = write(
        sweep_dir,
        f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.02, 0.05]\n"
        "  sensors[imu].impairments[offset_drift].rate_per_s: [0.0, 0.001]\n"
        f"board: [stm32f405, stm32f205]\nseeds: 2\nexclude:\n  - board: stm32f205\n    {SIGMA}: [0.05]\n",
    )
    plan = plan_sweep(product)
    assert len(plan.points) == 3 * 2 * 2 * 2 - 1 * 2 * 2 and plan.excluded == 4
    assert len(plan.builds) == 2  # one firmware per board, shared by every point on it
    assert len({p.hash for p in plan.points}) == len(plan.points)
    first = plan.points[0].scenario
    assert first["sensors"][0]["impairments"][0]["sigma"] == 0.01 and first["seed"] == 7100
    zipped = write(
        sweep_dir,
        f"version: 1\nbase: walk_base.yaml\ncombine: zip\naxes:\n  {SIGMA}: [0.01, 0.02]\n"
        "  sensors[imu].impairments[offset_drift].rate_per_s: [0.0, 0.001]\n",
        "z.yaml",
    )
    zplan = plan_sweep(zipped)
    assert [(p.values[SIGMA], p.values["sensors[imu].impairments[offset_drift].rate_per_s"]) for p in zplan.points] == [
        (0.01, 0.0),
        (0.02, 0.001),
    ]


def test_hashes_are_stable_and_a_changed_axis_changes_only_its_points(sweep_dir: Path) -> None:
    a = write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.3]\nseeds: 2\n")
    first = {p.hash: p.values[SIGMA] for p in plan_sweep(a).points}
    assert {p.hash for p in plan_sweep(a).points} == set(first)
    # The same hashes in a fresh interpreter (no dependence on PYTHONHASHSEED or dict order).
    code = (
        "import sys\nfrom tinyml_cosim.sweep.plan import plan_sweep\n"
        "print(*(p.hash for p in plan_sweep(sys.argv[1]).points))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(a)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(other) == set(first)
    b = write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.2]\nseeds: 2\n", "b.yaml")
    second = {p.hash: p.values[SIGMA] for p in plan_sweep(b).points}
    kept = set(first) & set(second)
    assert {first[h] for h in kept} == {0.01} and len(kept) == 2
    # The hash covers the whole configuration: the kernel set and the engine change it too.
    scn = plan_sweep(a).points[0].scenario
    assert len({point_hash(scn, "ref", None), point_hash(scn, "cmsis-nn", None), point_hash(scn, "ref", "qemu")}) == 3


def _rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i, (sigma, acc) in enumerate([(0.01, 0.95), (0.05, 0.91), (0.1, 0.5), (0.05, 0.88)]):
        rows.append(
            {"point": f"h{i}", "index": i, SIGMA: sigma, "board": "stm32f405", "status": "done", "accuracy": acc,
             "clock_hz": 168_000_000, "check.timing.deadline_ms": "pass" if i else "fail"}
        )  # fmt: skip
    rows.append({"point": "h4", "index": 4, SIGMA: 0.01, "board": "stm32f205", "status": "error", "error": "boom"})
    return rows


def test_expectations_name_the_failing_points() -> None:
    label = lambda r: f"point {r['index']}"  # noqa: E731
    ok = evaluate(parse_expectation("accuracy >= 0.9 while sigma <= 0.05 and board == stm32f405"), _rows(), label)
    assert not ok.passed and ok.covered == 3 and ok.failures == ["point 3: accuracy = 0.88, expected >= 0.9"]
    lenient = evaluate(parse_expectation("accuracy >= 0.85 while sigma <= 0.05 and board == stm32f405"), _rows(), label)
    assert lenient.passed
    err = evaluate(parse_expectation("accuracy >= 0.1 while board == stm32f205"), _rows(), label)
    assert err.failures == ["point 4: no result (boom)"]
    none = evaluate(parse_expectation("accuracy >= 0.1 while sigma > 5"), _rows(), label)
    assert not none.passed and none.covered == 0
    holds = evaluate(
        parse_expectation("deadline_ms holds while clock_hz >= 80 MHz and board == stm32f405"), _rows(), label
    )
    assert holds.failures == ["point 0: timing.deadline_ms is fail"]
    with pytest.raises(ExpectParseError, match="not a column"):
        evaluate(parse_expectation("acuracy >= 0.9"), _rows(), label)
    with pytest.raises(ExpectParseError, match="unknown unit"):
        parse_expectation("accuracy >= 0.9 while clock_hz >= 80 parsecs")


def test_results_table_has_one_typed_column_per_field(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = _rows()
    columns, norm = normalise(rows)
    assert columns[:3] == ["point", "index", SIGMA] and norm[4]["accuracy"] is None
    files = write_table(tmp_path, rows)
    assert {f.name for f in files} == {"results.csv", "results.parquet"}
    table = pq.read_table(tmp_path / "results.parquet")
    assert table.num_rows == 5 and table.column("accuracy").to_pylist()[:4] == [0.95, 0.91, 0.5, 0.88]
    assert (tmp_path / "results.csv").read_text().splitlines()[0].startswith(f"point,index,{SIGMA},board,status")


def test_cli_validate_and_plan(sweep_dir: Path) -> None:
    good = write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.3]\n")
    runner = CliRunner()
    res = runner.invoke(sweep_app, ["validate", str(good)])
    assert res.exit_code == 0 and "ok: 2 point(s) (0 excluded), 1 firmware build configuration(s)" in res.output
    res = runner.invoke(sweep_app, ["plan", str(good), "--out", str(sweep_dir / "out")])
    assert res.exit_code == 0 and res.output.count(" todo ") == 2
    bad = write(sweep_dir, "version: 1\nbase: walk_base.yaml\nseeds: -1\n", "bad.yaml")
    res = runner.invoke(sweep_app, ["validate", str(bad)])
    assert res.exit_code == 2 and f"error: {bad}:3: seeds: -1 must be at least 1" in res.output
    res = runner.invoke(sweep_app, ["report", str(good), "--out", str(sweep_dir / "none")])
    assert res.exit_code == 2 and "no sweep results here" in res.output


def test_run_without_the_sweep_extra_says_how_to_get_it(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write(sweep_dir, "version: 1\nbase: walk_base.yaml\n")
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    res = CliRunner().invoke(sweep_app, ["run", str(good), "--out", str(sweep_dir / "out")])
    assert res.exit_code == 2
    assert res.output.strip() == "error: cosim sweep run needs the sweep extra: pip install 'tinyml-cosim[sweep]'"


def test_schema_is_current_and_the_example_sweeps_follow_it() -> None:
    import json

    import jsonschema
    import yaml

    from tinyml_cosim.sweep.model import SCHEMA_PATH, schema_text

    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m tinyml_cosim.sweep.model --write"
    schema = json.loads(SCHEMA_PATH.read_text())
    examples = sorted((Path(__file__).parents[1] / "scenarios" / "sweeps").glob("*.yaml"))
    sweeps = [e for e in examples if "base:" in e.read_text()]
    assert sweeps
    for path in sweeps:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
        assert plan_sweep(path).points


_calls: dict[str, int] = {}
_failing: dict[str, str] = {}  # point hash -> "once" or "always"


def _fake_run_point(task, firmware):  # type: ignore[no-untyped-def]
    """A stand-in for pointrun.run_point (module level: dask pickles the task by reference)."""
    _calls[task.hash] = _calls.get(task.hash, 0) + 1
    n = _calls[task.hash]
    mode = _failing.get(task.hash)
    if mode == "always" or (mode == "once" and n == 1):
        from tinyml_cosim.sweep.pointrun import PointEngineError

        raise PointEngineError(f"emulator crashed (attempt {n})")
    return {"hash": task.hash, "status": "done", "metrics": {"verdict": "pass"}, "elf_sha256": firmware.sha256}


def test_a_crashing_point_is_retried_once_then_recorded_as_an_error_point(
    sweep_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machinery alone (workers as threads, no emulator): a point that fails once is retried and done; one that
    always fails becomes an error point in the store and the table; the sweep finishes either way."""
    from tinyml_cosim.sweep import execute
    from tinyml_cosim.sweep.outputs import write_outputs
    from tinyml_cosim.sweep.pointrun import FirmwareBundle
    from tinyml_cosim.sweep.store import PointStore

    plan = plan_sweep(write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.02, 0.3]\n"))
    flaky, broken = plan.points[1].hash, plan.points[2].hash
    _calls.clear()
    _failing.clear()
    _failing.update({flaky: "once", broken: "always"})
    bundle = FirmwareBundle("fake", {"app.elf": b"\x7fELF fake"})
    monkeypatch.setattr(execute, "build_firmware", lambda plan, engine: ({plan.builds[0]: bundle}, 0))
    monkeypatch.setattr(execute, "run_point", _fake_run_point)
    out = sweep_dir / "out"
    stats = execute.run_sweep(plan, out, workers=1, progress=False, processes=False)
    assert (stats.ran, stats.errors) == (3, 1)
    assert _calls == {plan.points[0].hash: 1, flaky: 2, broken: 2}  # retries=1: one more attempt, no more
    stored = PointStore(out).load(broken)
    assert stored is not None and stored["status"] == "error" and "emulator crashed (attempt 2)" in stored["error"]
    assert "point 2 " in stats.error_points[0]
    outputs = write_outputs(plan, out)
    assert [r["status"] for r in outputs.rows] == ["done", "done", "error"] and outputs.exit_code == 3


def test_a_scheduler_without_workers_does_not_hang_the_sweep(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    from tinyml_cosim.core.errors import EngineError
    from tinyml_cosim.sweep import execute
    from tinyml_cosim.sweep.pointrun import FirmwareBundle

    plan = plan_sweep(write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {SIGMA}: [0.01, 0.02]\n"))
    bundle = FirmwareBundle("fake", {"app.elf": b"\x7fELF fake"})
    monkeypatch.setattr(execute, "build_firmware", lambda plan, engine: ({plan.builds[0]: bundle}, 0))
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        address = empty.scheduler_address
        with pytest.raises(EngineError, match=f"no worker connected to the scheduler {address} within 1 s"):
            execute.run_sweep(plan, sweep_dir / "out", scheduler=address, progress=False, no_worker_grace_s=1.0)


class _FakeFuture:
    def __init__(self, done: bool) -> None:
        self._done = done

    def done(self) -> bool:
        return self._done


class _NoWorkersClient:
    def __init__(self) -> None:
        self.cancelled: list[_FakeFuture] = []

    def nthreads(self) -> dict[str, int]:
        return {}

    def cancel(self, futures: list[_FakeFuture]) -> None:
        self.cancelled += futures


def test_the_watchdog_gives_up_pending_points_when_every_worker_is_gone() -> None:
    from tinyml_cosim.sweep.execute import _NoWorkerWatchdog

    client = _NoWorkersClient()
    finished, pending = _FakeFuture(True), _FakeFuture(False)
    dog = _NoWorkerWatchdog(client, [finished, pending], grace_s=0.4)
    dog.start()
    dog.join(timeout=10)
    assert not dog.is_alive() and client.cancelled == [pending]
    assert dog.reason == "no worker connected to the scheduler for 0.4 s"


def test_editing_a_source_file_changes_the_hash_of_its_points_only(sweep_dir: Path) -> None:
    """The hash covers the content of the files a point reads (here its sensor's part file), not only their paths."""
    part = Path(sweep_plan_module.__file__).parents[1] / "sensors" / "parts" / "lsm6dso.yaml"
    for name in ("a", "b"):  # a part file is named after its id: two copies in two directories
        (sweep_dir / name).mkdir()
        shutil.copy(part, sweep_dir / name / "lsm6dso.yaml")
    axis = "sensors[imu].part: [a/lsm6dso.yaml, b/lsm6dso.yaml]"
    path = write(sweep_dir, f"version: 1\nbase: walk_base.yaml\naxes:\n  {axis}\nseeds: 2\n")
    before = {p.hash: Path(p.scenario["sensors"][0]["part"]).parent.name for p in plan_sweep(path).points}
    assert sorted(before.values()) == ["a", "a", "b", "b"]
    edited = sweep_dir / "b" / "lsm6dso.yaml"
    edited.write_text(edited.read_text() + "\n# a comment: new bytes, same part\n")
    after = {p.hash for p in plan_sweep(path).points}
    kept = set(before) & after
    # The points reading a/ keep their hashes (their stored results are skipped); b/'s run again.
    assert {before[h] for h in kept} == {"a"} and len(kept) == 2 and len(after) == 4
