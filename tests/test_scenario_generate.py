"""Scenario generation: determinism within and across processes, labels, data-channel delivery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from tinyml_cosim.protocol.datachannel import RateStream
from tinyml_cosim.scenario import load_scenario, scenario_from_dict
from tinyml_cosim.sensors import streams_sha256

ROOT = Path(__file__).parents[1]
VALID = Path(__file__).parent / "data" / "scenarios" / "valid"
PUMP = VALID / "pump_bearing.yaml"


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    scn = load_scenario(PUMP)
    a, b, c = scn.generate(), scn.generate(), scn.generate(seed=1)
    assert streams_sha256(a) == streams_sha256(b)
    assert a["accel"].to_bytes() == b["accel"].to_bytes()
    assert streams_sha256(a) != streams_sha256(c)


def test_same_seed_same_hash_in_another_process() -> None:
    code = (
        "import sys; from tinyml_cosim.scenario import load_scenario; from tinyml_cosim.sensors import streams_sha256; "
        "print(streams_sha256(load_scenario(sys.argv[1]).generate()))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(PUMP)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == streams_sha256(load_scenario(PUMP).generate())


def test_adding_a_sensor_does_not_change_the_others() -> None:
    doc = yaml.safe_load(PUMP.read_text())
    before = scenario_from_dict(doc, VALID).generate()
    doc["sensors"].insert(0, {"id": "extra", "part": "mp34dt05", "signal": [{"type": "noise", "rms": 0.1}]})
    after = scenario_from_dict(doc, VALID).generate()
    assert before["accel"].sha256() == after["accel"].sha256()


def test_labels_follow_the_timeline() -> None:
    s = load_scenario(PUMP).generate()["accel"]
    t = s.timestamps_ns / 1e9
    assert s.label_names == ("unlabelled", "healthy", "outer_race_fault")
    assert {s.label_at(i) for i in np.nonzero(t < 1.99)[0]} == {"healthy"}
    assert {s.label_at(i) for i in np.nonzero(t >= 2.0)[0]} == {"outer_race_fault"}


def test_every_valid_scenario_generates_streams_of_the_part_format() -> None:
    for path in sorted(VALID.glob("*.yaml")):
        for s in load_scenario(path).generate().values():
            assert s.raw.shape == (len(s), len(s.channels))
            assert len(s.timestamps_ns) == len(s.index) == len(s.labels) == len(s)
            assert len(s.to_bytes()) == len(s) * s.sample_bytes


def test_stream_is_served_through_the_data_channel() -> None:
    s = load_scenario(PUMP).generate()["temp"]  # 10 Hz, no dropouts
    rs = s.rate_stream(clock_hz=168_000_000)
    assert isinstance(rs, RateStream)
    r = rs.read(up_to_instructions=168_000_000, max_bytes=1 << 16)  # 1 s of simulated time
    assert r.data == s.to_bytes()[: 11 * 2] and r.next_due == 11 * 16_800_000 and not r.end_of_stream
