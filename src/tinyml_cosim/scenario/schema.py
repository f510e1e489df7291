"""JSON Schema of scenario files, generated from the pydantic model; docs/scenario.schema.json is its output.

Regenerate after changing the model:  python -m tinyml_cosim.scenario.schema --write
"""

from __future__ import annotations

import sys

from tinyml_cosim.core import resources, schema_files

from .model import Scenario

SCHEMA_PATH = resources.SCHEMAS_DIR / "scenario.schema.json"


def schema_text() -> str:
    return schema_files.schema_text(Scenario, SCHEMA_PATH)


if __name__ == "__main__":
    sys.exit(schema_files.schema_main(sys.argv, Scenario, SCHEMA_PATH))
