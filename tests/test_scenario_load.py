"""Scenario validation: every malformed file yields exactly the messages in its `# expect:` header lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.scenario import load_scenario, problems, scenario_from_dict
from tinyml_cosim.scenario.schema import SCHEMA_PATH, schema_text

DATA = Path(__file__).parent / "data" / "scenarios"
MALFORMED = sorted((DATA / "malformed").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml"))


def expected(path: Path) -> list[str]:
    return [line.removeprefix("# expect: ") for line in path.read_text().splitlines() if line.startswith("# expect: ")]


def test_there_are_at_least_30_malformed_files() -> None:
    assert len(MALFORMED) >= 30
    assert all(expected(p) for p in MALFORMED)


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_file_messages(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)  # messages then start with the bare file name, as written in the header
    name = Path(path.name)
    try:
        got = problems(name)
    except BadInput as exc:  # not YAML at all
        got = str(exc).splitlines()
    assert got == expected(path)
    with pytest.raises(BadInput) as info:
        load_scenario(name)
    assert str(info.value).splitlines() == expected(path)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_files_load(path: Path) -> None:
    assert problems(path) == []
    scn = load_scenario(path)
    assert scn.sensors and scn.path == path.resolve()


def test_example_message_from_the_brief() -> None:
    got = problems(DATA / "malformed" / "range_not_offered.yaml")
    assert got[0].endswith(":12: sensors[0].range_g: 3 is not one of 2, 4, 8, 16")


def test_expect_block_is_reserved_and_loose() -> None:
    base = {
        "board": "stm32f405",
        "app": "x",
        "seed": 1,
        "duration_s": 1.0,
        "sensors": [{"id": "a", "part": "lis2dw12", "signal": [{"type": "gravity"}]}],
    }
    scn = scenario_from_dict(
        {
            **base,
            "expect": {
                "decision": {"label": "fall", "within_ms": 200},
                "timing": [{"max_inference_ms": 30}],
                "memory": {"ram_kib": 96},
            },
        }
    )
    assert scn.expect is not None and scn.expect.decision == {"label": "fall", "within_ms": 200}
    with pytest.raises(BadInput, match="allowed fields are decision, memory, timing"):
        scenario_from_dict({**base, "expect": {"latency": {}}})


def test_user_part_file_next_to_the_scenario(tmp_path: Path) -> None:
    part = (Path(__file__).parents[1] / "src" / "tinyml_cosim" / "sensors" / "parts" / "tmp36_adc12.yaml").read_text()
    (tmp_path / "my_probe.yaml").write_text(
        part.replace("id: tmp36_adc12", "id: my_probe").replace("gain: 0.01", "gain: 0.02")
    )
    scn = tmp_path / "s.yaml"
    scn.write_text(
        "board: stm32f405\napp: x\nseed: 1\nduration_s: 1\nsensors:\n"
        "  - {id: t, part: my_probe.yaml, signal: [{type: constant, value: 10}]}\n"
    )
    s = load_scenario(scn).generate()["t"]
    assert s.part == "my_probe" and s.codes[0, 0] == round(700 / 3300 * 4095)  # 0.02 V/degC * 10 + 0.5 V


def test_published_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m tinyml_cosim.scenario.schema --write"
    doc = json.loads(SCHEMA_PATH.read_text())
    assert {"board", "seed", "duration_s", "sensors"} <= set(doc["required"])
    assert "expect" in doc["properties"]
