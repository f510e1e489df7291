"""CSV sources of a scenario, read and checked: numeric columns, one header, every row as wide as the header.

Each problem is one line naming the file, the line and the column; no message quotes the file's content beyond
the header's column names (a scenario may point at any text file, and its bytes are not ours to print).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_CSV_BYTES, read_input_text

MAX_FIELD_CHARS = 64  # a number needs ~25; a field longer than this is not one
MAX_HEADER_CHARS = 128
MAX_COLUMNS = 1024


def _header(path: Path, row: list[str]) -> list[str]:
    if len(row) > MAX_COLUMNS:
        raise BadInput(f"{path}:1: the header has {len(row)} columns, more than {MAX_COLUMNS}")
    names = [name.strip() for name in row]
    for i, name in enumerate(names, start=1):
        if not name or len(name) > MAX_HEADER_CHARS or not name.isprintable():
            raise BadInput(f"{path}:1: column {i} of the header is not a column name (1 to {MAX_HEADER_CHARS} "
                           "printable characters)")  # fmt: skip
    if len(set(names)) != len(names):
        raise BadInput(f"{path}:1: the header names a column twice")
    return names


def read_csv_columns(
    path: Path, columns: list[str], time_column: str | None, rate_hz: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, data of `columns` as (rows, len(columns))) from the CSV file at `path` (header row required);
    times from `time_column` (strictly increasing) or row index / `rate_hz`."""
    text = read_input_text(path, what="CSV file", max_bytes=MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    wanted = [*columns, *([time_column] if time_column else [])]
    rows: list[list[float]] = []
    lines: list[int] = []  # the file line of each data row
    header: list[str] | None = None
    index: list[int] = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not f.strip() for f in row):
                continue  # blank lines (a trailing newline, spacing between blocks)
            if header is None:
                header = _header(path, row)
                missing = [c for c in wanted if c not in header]
                if missing:
                    raise BadInput(f"{path}:1: no column {missing[0]!r}; columns are {', '.join(header)}")
                index = [header.index(c) for c in wanted]
                continue
            if len(row) != len(header):
                raise BadInput(f"{path}:{line}: has {len(row)} fields, the header has {len(header)}")
            values = []
            for col in index:
                field = row[col].strip()
                try:
                    if len(field) > MAX_FIELD_CHARS:
                        raise ValueError
                    value = float(field)
                except ValueError:
                    raise BadInput(f"{path}:{line}: column {header[col]!r}: not a number") from None
                if not math.isfinite(value):
                    raise BadInput(f"{path}:{line}: column {header[col]!r}: not a finite number")
                values.append(value)
            rows.append(values)
            lines.append(line)
    except csv.Error as exc:
        # The csv module's own complaints (a quote in an unquoted field, a field past its size limit) name no content.
        raise BadInput(f"{path}:{reader.line_num}: not a valid CSV file ({exc})") from None
    if header is None:
        raise BadInput(f"{path}: empty; a CSV source needs a header row and data rows")
    if not rows:
        raise BadInput(f"{path}: no data rows")
    table = np.array(rows, dtype=np.float64)
    data = table[:, : len(columns)]
    if time_column:
        times = table[:, len(columns)]
        step = np.diff(times)
        if len(step) and not (step > 0).all():
            line = lines[int(np.argmax(step <= 0)) + 1]
            raise BadInput(
                f"{path}:{line}: column {time_column!r}: not after the previous row's time (times must increase)"
            )
    else:
        times = np.arange(len(rows)) / float(rate_hz or 1.0)
    return times, data
