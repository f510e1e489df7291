"""The JSON Schema files in schemas/ (scenario, sweep, report), generated from their pydantic models.

Each model's module runs `schema_main` as `python -m <module> [--write]`: it prints the schema, or writes it to its
file; a test per file fails when the committed file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel


def schema_text(model: type[BaseModel], path: Path) -> str:
    """`model`'s JSON Schema (draft 2020-12, its `$id` named after `path`), as the committed file holds it."""
    doc = model.model_json_schema(mode="validation")
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["$id"] = f"https://tinyml-cosim/{path.name}"
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def schema_main(argv: list[str], model: type[BaseModel], path: Path) -> int:
    text = schema_text(model, path)
    if argv[1:] == ["--write"]:
        path.write_text(text)
        print(path)
        return 0
    sys.stdout.write(text)
    return 0
