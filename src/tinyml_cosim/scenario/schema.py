"""JSON Schema of scenario files, generated from the pydantic model; docs/scenario.schema.json is its output.

Regenerate after changing the model:  python -m tinyml_cosim.scenario.schema --write
"""

from __future__ import annotations

import json
import sys

from tinyml_cosim.core import resources

from .model import Scenario

SCHEMA_PATH = resources.SCHEMAS_DIR / "scenario.schema.json"


def schema() -> dict[str, object]:
    doc = Scenario.model_json_schema(mode="validation")
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["$id"] = "https://tinyml-cosim/scenario.schema.json"
    return doc


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    if argv[1:] == ["--write"]:
        SCHEMA_PATH.write_text(schema_text())
        print(SCHEMA_PATH)
        return 0
    sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
