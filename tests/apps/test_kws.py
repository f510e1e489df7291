"""The keyword-spotting reference application (firmware/apps/keyword_spotter, models/kws, scenarios/kws).

Host: the fixed-point log-mel features, C compiled for the host vs the Python reference (bit for bit) and vs float
(error bounds). QEMU: the scenarios, the firmware's decisions against the host model of its pipeline, the
sensor-fault state within two windows of each fault's onset, no overruns at 168 MHz and counted overruns at a
tightened clock, deterministic decision streams. Long: held-out accuracy against the model card, the ten-minute
run, and the committed model re-evaluated on its held-out set.
"""

from __future__ import annotations

import json
import shutil
import sys
import wave
from functools import cache
from pathlib import Path
from typing import Any

import audio_twin as audio
import numpy as np
import pytest
import yaml
from cosim_dsp.fft import hann_q15, rfft_power_q15
from cosim_testing import cycles_unavailable, needs_qemu, needs_toolchain
from hostc import DSP_INCLUDE, build_shared, dsp_sources, load_shared

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.run.session import RunRequest, run_firmware
from tinyml_cosim.scenario import load_scenario
from tinyml_cosim.scenario.delivery import data_service_for
from tinyml_cosim.verdicts.decisions import decisions_from_record

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # models/kws is not an installed package

from models.kws import stream_sim  # noqa: E402

APP_DIR = ROOT / "src" / "tinyml_cosim" / "firmware" / "apps" / "keyword_spotter"
SCENARIOS = ROOT / "scenarios" / "kws"
MODEL = ROOT / "src" / "tinyml_cosim" / "firmware" / "apps" / "keyword_spotter" / "kws_int8.tflite"
METRICS = json.loads((ROOT / "models" / "kws" / "metrics.json").read_text())
FEATURE_CDEF = f"""
typedef struct {{ int32_t work[{2 * audio.FRAME_LEN}]; uint64_t power[{audio.N_BINS}]; }} kws_feature_scratch_t;
int kws_frame_features(const int16_t *frame, int8_t *out, kws_feature_scratch_t *scratch);
"""


# --- features on the host ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cfeatures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build the keyword spotter's features for the host")
    lib = build_shared(
        Path(tmp_path_factory.mktemp("kws")) / "libkws.so",
        [*dsp_sources(), APP_DIR / "kws_features.c"],
        [DSP_INCLUDE, APP_DIR],
    )
    return load_shared(lib, FEATURE_CDEF)


def c_features(cf: tuple[Any, Any], frames: np.ndarray) -> np.ndarray:
    ffi, lib = cf
    scratch = ffi.new("kws_feature_scratch_t *")
    out = ffi.new(f"int8_t[{audio.N_MEL}]")
    res = np.empty((len(frames), audio.N_MEL), dtype=np.int8)
    for i, f in enumerate(np.ascontiguousarray(frames, dtype=np.int16)):
        assert lib.kws_frame_features(ffi.from_buffer("int16_t[]", f), out, scratch) == 0
        res[i] = np.frombuffer(ffi.buffer(out), dtype=np.int8)
    return res


def media_pcm() -> np.ndarray:
    """Every committed clip at 16 kHz int16, scaled like a loud and a quiet talker."""
    out = []
    for p in sorted((SCENARIOS / "media").glob("*.wav")):
        with wave.open(str(p)) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        out += [x * 3.0, x * 0.05]
    return np.clip(np.rint(np.concatenate(out)), -32768, 32767).astype(np.int16)


def test_frames() -> np.ndarray:
    """Speech, noise at 1 … 10 000 LSB rms, tones up to full scale, both rails, zeros, an impulse, random words."""
    rng = np.random.default_rng(20261125)
    n = audio.FRAME_LEN
    t = np.arange(n)
    parts = [audio.frame_view(media_pcm())[::3]]
    parts += [rng.normal(0, lvl, (40, n)) for lvl in (0.7, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000)]
    parts += [
        a * np.sin(2 * np.pi * f * t / 16000 + rng.uniform(0, 6)) for a in (5, 300, 32767) for f in (60, 997, 7000)
    ]
    parts += [np.full(n, v) for v in (32767, -32768, 0, 1)]
    parts += [np.eye(1, n, n // 2)[0] * 32767, rng.integers(-32768, 32768, (40, n))]
    rows = [np.atleast_2d(p) for p in parts]
    return np.clip(np.rint(np.concatenate(rows)), -32768, 32767).astype(np.int16)


test_frames.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def test_mel_tables_header_is_fresh() -> None:
    assert (APP_DIR / "kws_mel_tables.h").read_text() == audio.render_tables_h(), "run make generated"


def test_batched_fft_is_the_dsp_reference() -> None:
    frames = test_frames()[::7]
    mine = audio.power_spectrum_q15(frames)
    ref = np.stack([rfft_power_q15(f, hann_q15(audio.FRAME_LEN)) for f in frames])
    assert mine.dtype == np.uint64 and np.array_equal(mine, ref)


def test_features_bit_exact_with_the_c(cfeatures: tuple[Any, Any]) -> None:
    frames = test_frames()
    assert len(frames) > 800
    py, c = audio.frame_features_q(frames), c_features(cfeatures, frames)
    assert np.array_equal(py, c), f"{int((py != c).sum())} of {py.size} values differ"
    # the features span the int8 range the model sees (a degenerate mapping would pass the equality too)
    assert py.min() == -128 and py.max() > 80 and len(np.unique(py)) > 200


def test_features_within_float_bounds() -> None:
    """Against float math: within one int8 step (≈ 0.5 dB; the floor of the mapping costs up to 1, fixed point
    0.05 more) for every band within 50 dB of its frame's strongest band and above -95 (2^-7.5 LSB² of band
    energy, below the microphone's own noise: under it the FFT's rounding and the power >> 12 truncation show)."""
    frames = test_frames()
    q, f = audio.frame_features_q(frames).astype(np.float64), audio.float_log_mel(frames)
    near = (f >= f.max(axis=1, keepdims=True) - 100) & (f > -95) & (f < 127)
    err = (q - f)[near]
    assert near.sum() > 10000
    assert err.min() >= -1.05 and err.max() <= 0.01, (err.min(), err.max())
    # below the clamp the feature is exactly -128; above it, 127
    assert (q[f < -129] == -128).all() and (q[f > 128] == 127).all()


def test_stream_features_are_the_clip_features() -> None:
    """The host pipeline model frames a stream as the firmware does: frame j ends at sample 320·j."""
    pcm = media_pcm()[: 3 * 16000]
    feats = stream_sim.stream_features(pcm)
    j = 60
    window = feats[j - audio.N_FRAMES : j]
    start = audio.HOP_LEN * j - (audio.N_FRAMES - 1) * audio.HOP_LEN - audio.FRAME_LEN
    clip = audio.clip_features(pcm[start : start + 16000][None])[0]
    assert np.array_equal(window, clip)


# --- the firmware on QEMU ---------------------------------------------------------------------------------------


def run_app(
    scenario: Path, board: str | Path = "stm32f405", slack_s: float = 0.5, build_root: Path | None = None
) -> RunRecord:
    """Run the app on a scenario's stream until it exits at the end of the stream (0.5 s of slack by default)."""
    scn = load_scenario(scenario)
    b = load_board(board)
    elf = build(b, "keyword_spotter", model=MODEL, out_root=build_root).elf
    data = data_service_for(scn, board=b)
    rec = run_firmware(RunRequest(elf, board, duration_s=scn.duration_s + slack_s, data=data, scenario=scenario))
    assert rec.status.value == "exited" and rec.exit_code == 0, rec.diagnosis
    return rec


@cache
def cached_run(name: str) -> RunRecord:
    return run_app(SCENARIOS / name)


def marks(rec: RunRecord, name: str) -> list[tuple[float, int]]:
    return [
        (e.instructions / rec.clock_hz, int(e.fields["value"]))
        for e in rec.events
        if e.kind == "MARK" and e.fields.get("name") == name
    ]


def timeline(scenario: Path) -> list[tuple[float, float, str]]:
    data = yaml.safe_load(scenario.read_text())
    return [(s["start_s"], s["end_s"], s["label"]) for s in data["timeline"]]


def only_the_estimated_deadline_fails(outcome) -> None:  # type: ignore[no-untyped-def]
    """Every expectation of a keyword-spotter scenario holds but, on estimated cycles, the deadline.

    The cycle model (issue 15) puts the own-kernel build's longest inference at about 222 ms of its 240 ms stride on
    an STM32F405 at 168 MHz; at the band's upper end (the model's measured error against silicon) it does not fit:
    that check fails, on the safe side, and says why. Without the cycle plugin on the machine the documented
    fallback (the board's factor) applies and every expectation holds."""
    failed = [c for c in outcome.report.checks if c.status.value == "fail"]
    if cycles_unavailable() is not None:
        assert failed == [], [c.message for c in failed]
        return
    assert [c.id for c in failed] == ["timing.deadline_ms"], [c.message for c in failed]
    t = outcome.report.timing
    assert t is not None and t.time_basis == "estimated cycles" and t.deadline_checked_ms is not None
    assert (t.time_ms["observed_maximum"].value or 0) < 240 < t.deadline_checked_ms
    assert "estimated cycles" in failed[0].message and "upper end" in failed[0].message


@needs_qemu
@needs_toolchain
def test_normal_scenario_passes_and_matches_the_host_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSIM_CYCLES", raising=False)  # the default: the cycle model runs where it can
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / "normal.yaml", out=tmp_path / "rep"))
    only_the_estimated_deadline_fails(outcome)
    rec = RunRecord.model_validate_json((tmp_path / "rep" / "run-seed101.json").read_text())
    assert marks(rec, "window_ms") == [(pytest.approx(0, abs=0.01), 992)]
    assert marks(rec, "debounce_ms")[0][1] == 480
    # 168 MHz keeps up: no overrun, nothing dropped, no sample missing
    assert [m[1] for m in marks(rec, "overruns")] == [0] and [m[1] for m in marks(rec, "dropped")] == [0]
    assert marks(rec, "overrun") == [] and [m[1] for m in marks(rec, "missing")] == [0]
    # the firmware's decision stream is the host model's (bit-exact features, TFLM, the same decision logic)
    scn = load_scenario(SCENARIOS / "normal.yaml")
    pcm = scn.generate()["mic"].raw.reshape(-1).astype(np.int16)
    host = stream_sim.simulate(MODEL, pcm)
    fw = decisions_from_record(rec)
    assert [d.cls for d in fw] == [h[1] for h in host] and [d.score for d in fw] == [h[2] for h in host]
    # each decision comes after the last sample of its window, within one stride
    for d, (t_end, _, _) in zip(fw, host, strict=True):
        assert t_end <= d.t_s < t_end + 0.24
    # every wake output is a keyword decision at the same instant
    wakes = marks(rec, "wake")
    kw = [(d.t_s, d.cls) for d in fw if d.cls in stream_sim.LABELS[2:8]]
    assert len(wakes) == len(kw) > 0
    score = stream_sim.utterance_accuracy([(d.t_s, d.cls) for d in fw], timeline(SCENARIOS / "normal.yaml"))
    assert score.accuracy >= 0.85, score


FAULTS = ["fault_stuck.yaml", "fault_saturated.yaml", "fault_missing.yaml", "fault_zeros.yaml"]


@needs_qemu
@needs_toolchain
@pytest.mark.parametrize("scenario", FAULTS)
def test_sensor_fault_within_two_windows_of_onset(scenario: str) -> None:
    rec = cached_run(scenario)
    ds = decisions_from_record(rec)
    onset, end = 10.0, 14.0  # scenarios/kws/fault_*.yaml: the impairment's window
    faults = [d.t_s for d in ds if d.cls == "sensor_fault"]
    assert faults, [(d.t_s, d.cls) for d in ds]
    assert onset < faults[0] <= onset + 2 * 0.992, faults[0]  # two 992 ms windows
    # reported until the input is plausible again: a run still going at one check counts in the next stride, then
    # the state is held for KWS_FAULT_HOLD = 2 strides (240 ms each)
    assert all(onset < t <= end + 4 * 0.24 for t in faults), faults
    # every decision in between says so: the state does not flicker
    assert all(d.cls == "sensor_fault" for d in ds if faults[0] <= d.t_s <= faults[-1])
    kinds = [v for _, v in marks(rec, "fault_kind")]
    assert kinds and all(k in (1, 2, 3) for k in kinds)
    # after the fault: plausible again, and no keyword decided from the faulty audio still in the window
    after = [d for d in ds if d.t_s > faults[-1]]
    assert after and all(d.cls != "sensor_fault" for d in after)
    assert all(d.cls == "background" for d in after if d.t_s < faults[-1] + 4 * 0.24)


@needs_qemu
@needs_toolchain
def test_fault_kinds_are_told_apart() -> None:
    kinds = {s: {v for _, v in marks(cached_run(s), "fault_kind")} for s in FAULTS}
    assert kinds["fault_saturated.yaml"] == {2}
    assert kinds["fault_missing.yaml"] == {3} and kinds["fault_zeros.yaml"] == {3}
    assert kinds["fault_stuck.yaml"] <= {1, 3}  # stuck at its last code, which may be 0


@needs_qemu
@needs_toolchain
def test_decision_stream_is_deterministic() -> None:
    first = cached_run("fault_stuck.yaml")
    again = run_app(SCENARIOS / "fault_stuck.yaml")

    def stream(r: RunRecord) -> list[tuple[str, int, dict[str, str]]]:
        return [(e.kind, e.instructions, e.fields) for e in r.events if e.kind in ("DECISION", "MARK", "SPAN")]

    assert stream(first) == stream(again) and len([e for e in stream(first) if e[0] == "DECISION"]) > 50
    assert first.instructions == again.instructions


@needs_qemu
@needs_toolchain
def test_tightened_clock_makes_overruns_appear_and_be_reported(tmp_path: Path) -> None:
    """The same firmware on a board clocked at 24 MHz instead of 168 MHz (a copy of platforms/stm32f405.yaml with
    another clock_hz; QEMU's time model is instructions / f_clk, so the 12 M-instruction inference now takes
    ~0.5 s of a 240 ms stride): the 320 ms DMA ring overflows, and the loss is counted and reported."""
    board = yaml.safe_load((ROOT / "src" / "tinyml_cosim" / "platforms" / "stm32f405.yaml").read_text())
    board["clock_hz"] = 24_000_000
    # the flash wait states of that clock, from the board file's latency table (core/memory_system.py)
    board["cycle_model"]["wait_states"] = next(
        s["wait_states"] for s in board["cycle_model"]["latency"] if s["max_hclk_hz"] >= 24_000_000
    )
    board["id"] = "stm32f405_24mhz"
    board["silicon"] = {"unavailable": "a derived 24 MHz board: no silicon was measured at this clock"}
    path = tmp_path / "stm32f405_24mhz.yaml"
    path.write_text(yaml.safe_dump(board))
    # it ends behind (the ring's backlog): 5 s of slack; the build of a board nobody else uses stays in tmp
    rec = run_app(SCENARIOS / "fault_stuck.yaml", board=path, slack_s=5.0, build_root=tmp_path / "build")
    overruns = marks(rec, "overrun")
    total = {n: marks(rec, n)[0][1] for n in ("overruns", "dropped")}
    assert len(overruns) == total["overruns"] > 5 and sum(v for _, v in overruns) == total["dropped"] > 16000
    assert all(v > 0 for _, v in overruns)
    # and at 168 MHz the same scenario has none
    fast = cached_run("fault_stuck.yaml")
    assert marks(fast, "overrun") == [] and marks(fast, "overruns")[0][1] == 0


@needs_qemu
@needs_toolchain
def test_cortex_m3_board_keeps_up_and_decides_the_same() -> None:
    """On the stm32f205 (Cortex-M3, 120 MHz) the inference takes ~205 ms of each 240 ms stride: no overrun, and the
    integer-only pipeline decides exactly what the host model (and the stm32f405) decides."""
    rec = run_app(SCENARIOS / "normal.yaml", board="stm32f205", slack_s=1.0)
    assert marks(rec, "overruns")[0][1] == 0 and marks(rec, "dropped")[0][1] == 0
    scn = load_scenario(SCENARIOS / "normal.yaml")
    host = stream_sim.simulate(MODEL, scn.generate()["mic"].raw.reshape(-1).astype(np.int16))
    assert [d.cls for d in decisions_from_record(rec)] == [h[1] for h in host]


# --- long ---------------------------------------------------------------------------------------------------------


@pytest.mark.long
@needs_qemu
@needs_toolchain
def test_heldout_accuracy_matches_the_model_card(tmp_path: Path) -> None:
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / "heldout.yaml", out=tmp_path / "rep"))
    only_the_estimated_deadline_fails(outcome)
    rec = RunRecord.model_validate_json((tmp_path / "rep" / "run-seed102.json").read_text())
    ds = [(d.t_s, d.cls) for d in decisions_from_record(rec)]
    score = stream_sim.utterance_accuracy(ds, timeline(SCENARIOS / "heldout.yaml"))
    assert score.events >= 40
    assert score.accuracy >= 0.85, score
    # within 3 points of the card's int8 figures: the clip accuracy on the held-out split (tflite-micro) and the
    # streamed figure of this scenario through the host model of the pipeline (which the firmware reproduces)
    assert abs(score.accuracy - METRICS["int8_accuracy"]) <= 0.03, (score, METRICS["int8_accuracy"])
    stream = METRICS["stream_heldout"]
    assert abs(score.accuracy - stream["utterance_accuracy"]) <= 0.03, (score, stream)
    assert (score.correct, score.false_detections) == (stream["correct"], stream["false_detections"])


@pytest.mark.long
@needs_qemu
@needs_toolchain
@pytest.mark.parametrize("scenario", ["drift.yaml", "long.yaml"])
def test_long_scenarios_pass(tmp_path: Path, scenario: str) -> None:
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / scenario, out=tmp_path / "rep"))
    only_the_estimated_deadline_fails(outcome)


@pytest.mark.long
def test_committed_model_reproduces_its_card() -> None:
    from models.kws import dataset, evaluate

    if not dataset.espeak_available() and not any(dataset.DEFAULT_CACHE.glob("eval-*.npz")):
        pytest.skip("espeak-ng is not installed: the held-out audio cannot be synthesized (apt install espeak-ng)")
    pytest.importorskip("tflite_micro", reason="tflite-micro runs the committed int8 model")
    result = evaluate.evaluate(MODEL)
    assert evaluate.compare(result, METRICS) == []
    assert result["int8_accuracy"] >= 0.85
