"""`cosim run SCENARIO.yaml --kernels`: the app is built with the chosen kernel set, and the timing verdict uses
that kernel set's silicon factor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from hostbuild import cmsis_nn_dir
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
VIBRATION = ROOT / "scenarios" / "vibration" / "normal.yaml"
runner = CliRunner()


def test_an_unknown_kernel_set_is_bad_input(tmp_path: Path) -> None:
    r = runner.invoke(app, ["run", str(VIBRATION), "--kernels", "fast", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2
    assert "--kernels 'fast': choose one of ref, cmsis-nn" in r.output
    assert not (tmp_path / "r").exists()


def test_cmsis_nn_without_a_checkout_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMSIS_NN_DIR", raising=False)
    r = runner.invoke(app, ["run", str(VIBRATION), "--kernels", "cmsis-nn", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2
    assert "CMSIS_NN_DIR" in r.output


def test_kernels_apply_to_scenarios_only(tmp_path: Path) -> None:
    r = runner.invoke(app, ["run", str(tmp_path / "app.elf"), "--board", "stm32f405", "--kernels", "ref"])
    assert r.exit_code == 2 and "apply to scenario files only" in r.output


@needs_qemu
@needs_toolchain
@pytest.mark.skipif(cmsis_nn_dir() is None, reason="CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
def test_cmsis_nn_build_runs_the_scenario_with_its_factor(tmp_path: Path) -> None:
    reports = {}
    for kernels in ("ref", "cmsis-nn"):
        r = runner.invoke(
            app, ["run", str(VIBRATION), "--kernels", kernels, "--json", "--out", str(tmp_path / kernels)]
        )
        assert r.exit_code == 0, r.output
        reports[kernels] = json.loads(r.stdout)
    ref, cmsis = reports["ref"]["timing"], reports["cmsis-nn"]["timing"]
    assert (ref["kernels"], cmsis["kernels"]) == ("ref", "cmsis-nn")
    assert "cmsis-nn kernels" in cmsis["factor_summary"] and "ref kernels" in ref["factor_summary"]
    # the same decisions (bit-exact kernels), fewer instructions per inference
    assert reports["ref"]["decisions"]["confusion"] == reports["cmsis-nn"]["decisions"]["confusion"]
    most = {k: t["instructions"]["observed_maximum"]["value"] for k, t in (("ref", ref), ("cmsis-nn", cmsis))}
    assert most["cmsis-nn"] < most["ref"], most
