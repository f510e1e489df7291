"""`cosim scenario validate|export|render` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinyml_cosim.cli.scenario import app
from tinyml_cosim.sensors import resd

DATA = Path(__file__).parent / "data" / "scenarios"
PUMP = DATA / "valid" / "pump_bearing.yaml"
runner = CliRunner()


def test_validate_ok_and_bad() -> None:
    ok = runner.invoke(app, ["validate", str(PUMP)])
    assert ok.exit_code == 0 and ok.stdout.strip().endswith("pump_bearing.yaml: ok")
    bad = DATA / "malformed" / "range_not_offered.yaml"
    res = runner.invoke(app, ["validate", str(PUMP), str(bad), str(DATA / "malformed" / "not_yaml.yaml")])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert lines[0] == f"{bad}:12: sensors[0].range_g: 3 is not one of 2, 4, 8, 16"
    assert "not valid YAML" in lines[1]
    assert "Traceback" not in res.output


def test_validate_missing_file() -> None:
    res = runner.invoke(app, ["validate", "does/not/exist.yaml"])
    assert res.exit_code == 2 and res.stderr.strip() == "does/not/exist.yaml: no such file"


@pytest.mark.parametrize("fmt", ["npy", "csv", "resd"])
def test_export_prints_the_same_hash_for_the_same_seed(fmt: str, tmp_path: Path) -> None:
    a = runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path / "a"), "--format", fmt])
    b = runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path / "b"), "--format", fmt])
    c = runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path / "c"), "--format", fmt, "--seed", "2"])
    assert a.exit_code == b.exit_code == c.exit_code == 0, a.stderr
    assert a.stdout == b.stdout != c.stdout
    assert (tmp_path / "a" / "timeline.csv").read_text().splitlines()[1:] == ["0,2,healthy", "2,4,outer_race_fault"]
    assert (tmp_path / "a" / "manifest.json").exists()


def test_export_npy_and_resd_contents(tmp_path: Path) -> None:
    from tinyml_cosim.scenario import load_scenario

    streams = load_scenario(PUMP).generate()
    assert runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path)]).exit_code == 0
    assert np.array_equal(np.load(tmp_path / "accel.npy"), streams["accel"].raw)
    assert np.array_equal(np.load(tmp_path / "accel.timestamps_ns.npy"), streams["accel"].timestamps_ns)
    assert runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path), "--format", "resd"]).exit_code == 0
    accel, temp = resd.read(tmp_path / "pump_bearing.resd")
    assert accel.sample_type == resd.SampleType.ACCELERATION and accel.period_ns is None  # dropouts: timestamps
    # LIS2DW12 at 4 g: 488 ug per code, so Renode's (int)(ug / 488) gives back exactly our codes
    assert np.array_equal(accel.samples, streams["accel"].codes * 488)
    assert temp.sample_type == resd.SampleType.VOLTAGE and temp.period_ns == 100_000_000
    assert np.array_equal(np.rint(temp.samples // 1000 * 4095 / 3300), streams["temp"].codes[:, 0])


def test_export_csv_has_raw_words(tmp_path: Path) -> None:
    assert runner.invoke(app, ["export", str(PUMP), "--out", str(tmp_path), "--format", "csv"]).exit_code == 0
    header, first = (tmp_path / "accel.csv").read_text().splitlines()[:2]
    assert header == "index,timestamp_ns,label,x,y,z"
    assert first.startswith("0,0,healthy,")


def test_render_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    res = runner.invoke(app, ["render", str(PUMP), "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(app, ["render", str(PUMP), "-o", str(tmp_path / "plot.nope")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_bad_input_and_internal_error_exit_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", str(DATA / "malformed" / "unknown_board.yaml"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "board: 'stm32f999' is not one of" in res.stderr

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr("tinyml_cosim.scenario.model.Scenario.generate", boom)
    res = runner.invoke(app, ["render", str(PUMP), "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 3
    assert res.stderr.strip() == "internal error: RuntimeError: kaput"
    assert "Traceback" not in res.output
