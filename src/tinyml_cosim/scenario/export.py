"""Write a scenario's sample streams to a folder as .npy, .csv or RESD, with the label timeline and a manifest."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.sensors import resd
from tinyml_cosim.sensors.stream import SampleStream, streams_sha256

from .generate import part_model
from .model import Scenario

Format = Literal["npy", "csv", "resd"]


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    total_hash: str = ""


def _manifest(scn: Scenario, seed: int, streams: dict[str, SampleStream], fmt: Format) -> dict[str, object]:
    return {
        "scenario": scn.name or (scn.path.stem if scn.path else ""),
        "seed": seed,
        "duration_s": scn.duration_s,
        "format": fmt,
        "sha256": streams_sha256(streams),
        "sensors": {
            sid: {
                "part": s.part,
                "kind": s.kind,
                "unit": s.unit,
                "channels": list(s.channels),
                "odr_hz": s.odr_hz,
                "dtype": s.raw.dtype.str,
                "shift": s.shift,
                "unit_per_code": s.sensitivity,
                "samples": len(s),
                "label_names": list(s.label_names),
                "sha256": s.sha256(),
                "faults": [[f.kind, f.start_s, f.end_s] for f in s.fault_windows],
            }
            for sid, s in streams.items()
        },
    }


def _write_timeline(scn: Scenario, streams: dict[str, SampleStream], out: Path) -> list[Path]:
    timeline = out / "timeline.csv"
    with timeline.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["start_s", "end_s", "label"])
        for seg in scn.timeline:
            w.writerow([f"{seg.start_s:g}", f"{seg.stop_s:g}", seg.label])
    faults = out / "faults.csv"
    with faults.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sensor", "impairment", "start_s", "end_s"])
        for sid, s in streams.items():
            for f in s.fault_windows:
                w.writerow([sid, f.kind, f"{f.start_s:g}", f"{f.end_s:g}"])
    return [timeline, faults]


def _resd_blocks(scn: Scenario, seed: int, streams: dict[str, SampleStream]) -> tuple[list[resd.Block], list[str]]:
    blocks: list[resd.Block] = []
    notes: list[str] = []
    next_channel: dict[str, int] = {}
    for spec in scn.sensors:
        s = streams[spec.id]
        model = part_model(scn, spec, seed)
        renode = model.part.renode
        if renode is None:
            notes.append(f"{spec.id}: no Renode model reads RESD for part {s.part}; not in the RESD file")
            continue
        values, lossy = model.resd_values(s.codes)
        if lossy:
            notes.append(f"{spec.id}: {lossy} code(s) cannot be reproduced exactly through Renode's RESD conversion")
        sample_type = resd.SampleType[renode.resd_sample_type]
        channel = next_channel.get(sample_type.name, 0)
        next_channel[sample_type.name] = channel + 1
        period = 1e9 / s.odr_hz
        nominal = np.rint(s.index * period).astype(np.int64)
        uniform = (
            float(period).is_integer()
            and np.array_equal(s.index, np.arange(len(s)))
            and np.array_equal(s.timestamps_ns, nominal)
        )
        meta: dict[str, tuple[int, resd.MetadataValue]] = {
            "sensor": (resd.META_STRING, spec.id),
            "part": (resd.META_STRING, s.part),
        }
        if uniform:
            block = resd.Block(sample_type, values, channel, 0, int(period), None, meta)
        else:
            block = resd.Block(sample_type, values, channel, 0, None, s.timestamps_ns, meta)
        blocks.append(block)
        notes.append(f"{spec.id}: RESD {sample_type.name} channel {channel} ({renode.model})")
    return blocks, notes


def export(scn: Scenario, out: Path, fmt: Format = "npy", seed: int | None = None) -> ExportResult:
    seed = scn.seed if seed is None else seed
    streams = scn.generate(seed)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{out}: cannot create the output folder ({exc.strerror})") from None
    result = ExportResult(hashes={sid: s.sha256() for sid, s in streams.items()}, total_hash=streams_sha256(streams))
    for sid, s in streams.items():
        if fmt == "npy":
            for suffix, arr in (
                ("", s.raw),
                (".timestamps_ns", s.timestamps_ns),
                (".index", s.index),
                (".labels", s.labels),
            ):
                path = out / f"{sid}{suffix}.npy"
                np.save(path, arr, allow_pickle=False)
                result.files.append(path)
        elif fmt == "csv":
            path = out / f"{sid}.csv"
            with path.open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["index", "timestamp_ns", "label", *s.channels])
                for i in range(len(s)):
                    w.writerow([int(s.index[i]), int(s.timestamps_ns[i]), s.label_at(i), *s.raw[i].tolist()])
            result.files.append(path)
    if fmt == "resd":
        blocks, notes = _resd_blocks(scn, seed, streams)
        result.notes += notes
        if blocks:
            path = out / f"{scn.path.stem if scn.path else 'scenario'}.resd"
            resd.write(path, blocks)
            result.files.append(path)
    result.files += _write_timeline(scn, streams, out)
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps(_manifest(scn, seed, streams, fmt), indent=2) + "\n")
    result.files.append(manifest)
    return result
