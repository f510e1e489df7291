"""Impairments, checked statistically against their documented formulas (docs/sensors.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from tinyml_cosim.scenario import scenario_from_dict

HERE = Path(__file__).parent


def run(
    impairments: list[dict],
    signal: list[dict] | None = None,
    part: str = "lis2dw12",
    duration: float = 10.0,
    seed: int = 5,
    **sensor: object,
):
    doc = {
        "board": "stm32f405",
        "app": "test",
        "seed": seed,
        "duration_s": duration,
        "sensors": [
            {
                "id": "s",
                "part": part,
                "intrinsic_noise": False,
                "odr_hz": sensor.pop("odr_hz", 400),
                "signal": signal or [{"type": "constant", "value": 0.0}],
                "impairments": impairments,
                **sensor,
            }
        ],
    }
    return scenario_from_dict(doc, HERE).generate()["s"]


def test_white_noise_sigma_and_independence() -> None:
    s = run([{"type": "white_noise", "sigma": 0.05}], range_g=2)
    x = s.physical
    assert x.std(axis=0) == pytest.approx([0.05] * 3, rel=0.03)
    assert abs(np.corrcoef(x[:-1, 0], x[1:, 0])[0, 1]) < 0.03


def test_pink_noise_psd_slope_is_minus_one() -> None:
    s = run([{"type": "pink_noise", "sigma": 0.05, "channels": ["x"]}], duration=40.0)
    f, p = welch(s.physical[:, 0], fs=400, nperseg=4096)
    band = (f > 0.5) & (f < 100)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.12)
    assert np.abs(s.physical[:, 1:]).max() == 0  # only the chosen channel


def test_linear_offset_drift_slope_and_hold() -> None:
    s = run([{"type": "offset_drift", "model": "linear", "rate_per_s": 0.01, "start_s": 2, "duration_s": 5}])
    t = s.timestamps_ns / 1e9
    x = s.physical[:, 0]
    assert np.abs(x[t < 2]).max() == 0
    inside = (t >= 2) & (t < 7)
    assert np.polyfit(t[inside], x[inside], 1)[0] == pytest.approx(0.01, rel=1e-6)
    assert x[t >= 7] == pytest.approx(0.05)  # the drift stays after the window


def test_temperature_driven_offset_and_gain() -> None:
    profile = [[0, 25], [10, 65]]
    s = run(
        [
            {"type": "offset_drift", "model": "temperature", "coeff_per_degc": 0.001, "temperature_profile": profile},
            {
                "type": "gain_drift",
                "model": "temperature",
                "coeff_per_degc": 0.002,
                "temperature_profile": profile,
                "channels": ["z"],
            },
        ],
        signal=[{"type": "gravity"}],
    )
    t = s.timestamps_ns / 1e9
    temp = 25 + 4 * t
    assert s.physical[:, 0] == pytest.approx(0.001 * (temp - 25))
    assert s.physical[:, 2] == pytest.approx((1 + 0.001 * (temp - 25)) * (1 + 0.002 * (temp - 25)))


def test_random_walk_variance_grows_linearly() -> None:
    finals = []
    for seed in range(200):
        s = run(
            [{"type": "offset_drift", "model": "random_walk", "sigma_per_sqrt_s": 0.01}],
            duration=4.0,
            seed=seed,
            odr_hz=50,
        )
        finals.append(s.physical[[99, -1], 0])
    var = np.var(np.array(finals), axis=0)
    assert var[0] == pytest.approx(0.01**2 * 2.0, rel=0.25)
    assert var[1] == pytest.approx(0.01**2 * 4.0, rel=0.25)


def test_ageing_follows_square_root_of_hours() -> None:
    s = run(
        [{"type": "ageing", "hours_per_second": 100, "offset_per_sqrt_hour": 0.001, "gain_loss_per_sqrt_hour": 0.002}],
        signal=[{"type": "gravity"}],
    )
    t = s.timestamps_ns / 1e9
    root = np.sqrt(100 * t)
    assert s.physical[:, 2] == pytest.approx(1 - 0.002 * root + 0.001 * root)


def test_dropout_rate_and_modes() -> None:
    s = run([{"type": "dropout", "rate": 0.1, "start_s": 5}], duration=20.0)
    t_nominal = s.index / 400
    delivered_after = np.count_nonzero(t_nominal >= 5)
    assert 1 - delivered_after / (15 * 400) == pytest.approx(0.1, abs=0.01)
    assert len(s) - delivered_after == 5 * 400  # nothing lost before the window
    b = run([{"type": "dropout", "rate": 0.2, "burst_samples": 20}], duration=20.0)
    assert 1 - len(b) / 8000 == pytest.approx(0.2, abs=0.05)
    gaps = np.diff(b.index)
    assert gaps.max() > 10  # bursts, not isolated losses
    h = run(
        [{"type": "dropout", "rate": 0.3, "mode": "hold"}],
        signal=[{"type": "ramp", "amplitude": 1.0, "rise_s": 10.0}],
        range_g=2,
    )
    assert len(h) == 4000 and np.count_nonzero(np.diff(h.codes[:, 0]) == 0) > 900


def test_spikes_count_matches_rate() -> None:
    s = run(
        [{"type": "spikes", "rate_hz": 5, "amplitude": 1.0, "polarity": "positive", "channels": ["y"]}], duration=40.0
    )
    hits = np.count_nonzero(s.physical[:, 1] > 0.5)
    assert hits == pytest.approx(200, abs=45)  # Poisson, sd ~14


def test_clipping_and_part_saturation_at_full_scale() -> None:
    sine = [{"type": "sine", "amplitude": 6.0, "freq_hz": 3}]
    s = run([], signal=sine, range_g=4)
    assert s.codes[:, 0].max() == 8191 and s.codes[:, 0].min() == -8192
    assert s.raw[:, 0].max() == 8191 << 2
    c = run([{"type": "clipping", "level": 1.5}], signal=sine, range_g=4)
    assert c.physical[:, 0].max() == 1.5 and c.physical[:, 0].min() == -1.5
    assert c.codes[:, 0].max() == int(1.5e6 / 488)


def test_jitter_and_clock_drift() -> None:
    j = run([{"type": "jitter", "sigma_s": 1e-5}], duration=10.0)
    err = j.timestamps_ns / 1e9 - j.index / 400
    assert err.std() == pytest.approx(1e-5, rel=0.05)
    d = run([{"type": "clock_drift", "ppm": 200}], duration=10.0)
    err = d.timestamps_ns / 1e9 - d.index / 400
    assert np.polyfit(d.index / 400, err, 1)[0] == pytest.approx(-200e-6, rel=1e-3)


def test_bit_flips_change_one_data_bit() -> None:
    clean = run([], signal=[{"type": "constant", "value": [0.3, -0.2, 1.0]}], range_g=2)
    s = run(
        [{"type": "bit_flip", "probability": 0.05}], signal=[{"type": "constant", "value": [0.3, -0.2, 1.0]}], range_g=2
    )
    diff = (s.codes ^ clean.codes) & 0x3FFF
    flipped = diff != 0
    assert flipped.mean() == pytest.approx(0.05, abs=0.01)
    assert np.all(np.bitwise_count(diff[flipped].astype(np.uint64)) == 1)
    assert s.codes.min() >= -8192 and s.codes.max() <= 8191
    assert np.all(s.raw.astype(np.int64) & 0b11 == 0)  # padding bits of the left-justified word stay 0


def test_stuck_at_and_disconnect() -> None:
    sine = [{"type": "sine", "amplitude": 0.5, "freq_hz": 1}]
    s = run(
        [
            {"type": "stuck_at", "start_s": 1, "duration_s": 1},
            {"type": "disconnect", "start_s": 3, "duration_s": 1, "reads": "full_scale", "channels": ["x"]},
            {"type": "disconnect", "start_s": 5, "duration_s": 1, "reads": "zero"},
            {"type": "stuck_at", "start_s": 7, "duration_s": 1, "value": 123},
        ],
        signal=sine,
        range_g=2,
    )
    x = s.codes[:, 0]
    assert len(set(x[400:800].tolist())) == 1 and x[400] == x[400]
    assert np.all(x[1200:1600] == 8191) and np.all(s.codes[1200:1600, 1] == 0)
    assert np.all(s.codes[2000:2400] == 0)
    assert np.all(x[2800:3200] == 123)
    assert len(set(x[3200:3600].tolist())) > 10
    kinds = [(f.kind, f.start_s, f.end_s) for f in s.fault_windows]
    assert ("disconnect", 3, 4) in kinds


def test_mounting_rotation_tilts_gravity() -> None:
    s = run([{"type": "mounting_rotation", "roll_deg": 30, "start_s": 5}], signal=[{"type": "gravity"}], duration=6.0)
    assert s.physical[0] == pytest.approx([0, 0, 1])
    # Same convention as the gravity source: a part rolled by +30 degrees sees gravity at +y.
    assert s.physical[-1] == pytest.approx([0, 0.5, np.sqrt(3) / 2])
    tilted = run([], signal=[{"type": "gravity", "roll_deg": 30}], duration=1.0)
    assert tilted.physical[0] == pytest.approx(s.physical[-1])
    assert np.linalg.norm(s.physical, axis=1) == pytest.approx(1.0)
