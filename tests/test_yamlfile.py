"""core.yamlfile: one parse per file gives both the data and the line of every field, and errors name the line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.yamlfile import load_yaml


def test_one_parse_yields_data_and_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("base: &b {odr_hz: 100, range_g: 4}\nsensors:\n  - <<: *b\n    id: accel\n  - id: mic\n")
    parses = []
    real = yaml.SafeLoader.__init__

    def counting(self, stream):  # type: ignore[no-untyped-def]
        parses.append(stream)
        real(self, stream)

    monkeypatch.setattr(yaml.SafeLoader, "__init__", counting)
    data, lines = load_yaml(f)
    assert len(parses) == 1
    assert data == {"base": {"odr_hz": 100, "range_g": 4}, "sensors": [{"odr_hz": 100, "range_g": 4, "id": "accel"},
                                                                      {"id": "mic"}]}  # fmt: skip
    assert lines[("sensors",)] == 2 and lines[("sensors", 0, "id")] == 4 and lines[("sensors", 1, "id")] == 5
    assert lines[("base", "range_g")] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: [1, 2\n", "x.yaml:3: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a: 1\nb: !!python/object:os.system x\n", "x.yaml:2: not valid YAML: could not determine a constructor"),
        ("a: 1\n? [1, 2]\n: v\n", "x.yaml:2: not valid YAML: found unhashable key"),
        ("a: 1\n---\nb: 2\n", "x.yaml:2: not valid YAML: but found another document"),
    ],
)
def test_syntax_and_construction_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "x.yaml"
    f.write_text(text)
    with pytest.raises(BadInput) as info:
        load_yaml(f)
    assert str(info.value).startswith(f"{tmp_path / message}")


def test_empty_file_is_none_without_lines(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text("# nothing\n")
    assert load_yaml(tmp_path / "e.yaml") == (None, {})
