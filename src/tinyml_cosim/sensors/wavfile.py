"""WAV sources of a scenario, read and checked: PCM at 8, 16, 24 or 32 bits, a rate above 0, at least one channel,
and exactly as many sample bytes as the header declares. Messages name the file and the header field, never the
file's bytes.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_WAV_BYTES, read_input_bytes

WAV_WIDTHS = {1: 8, 2: 16, 3: 24, 4: 32}  # bytes per sample -> bits


def _data_chunk_size(raw: bytes) -> int | None:
    """The size the RIFF `data` chunk declares (the wave module rounds it down to whole frames silently)."""
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], int.from_bytes(raw[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return size
        pos += 8 + size + (size & 1)
    return None


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """PCM WAV (8/16/24/32-bit integer) as float in [-1, 1), shape (frames, channels), and its rate.

    Checked before use: a rate above 0, a sample width of 8, 16, 24 or 32 bits, at least one channel and one frame,
    and as many bytes of samples as the header declares (a truncated or padded file is refused, not half-played)."""
    raw = read_input_bytes(path, what="WAV file", max_bytes=MAX_WAV_BYTES)
    try:
        with wave.open(io.BytesIO(raw), "rb") as w:
            width, nch, rate, declared = w.getsampwidth(), w.getnchannels(), w.getframerate(), w.getnframes()
            frames = w.readframes(declared)
    except (wave.Error, EOFError, struct.error, ValueError) as exc:
        raise BadInput(f"{path}: cannot read as PCM WAV ({exc})") from None
    if rate <= 0:
        raise BadInput(f"{path}: WAV sample rate is {rate} Hz; it must be above 0")
    if width not in WAV_WIDTHS:
        raise BadInput(f"{path}: WAV samples are {8 * width} bits wide; use 8, 16, 24 or 32-bit PCM")
    if nch < 1:
        raise BadInput(f"{path}: WAV header declares {nch} channels")
    if declared < 1:
        raise BadInput(f"{path}: WAV file holds no samples")
    chunk = _data_chunk_size(raw)
    if chunk is not None and chunk % (width * nch):
        raise BadInput(
            f"{path}: WAV data chunk of {chunk} bytes is not a whole number of {width * nch}-byte frames "
            "(a truncated or mis-written file)"
        )
    held = len(frames) // (width * nch)
    if held != declared or len(frames) % (width * nch):
        raise BadInput(
            f"{path}: WAV header declares {declared} frames, the data chunk holds {len(frames) / (width * nch):g} "
            "(a truncated or mis-written file)"
        )
    if width == 1:
        data = (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 3:
        b = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
        v = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16)) << 8
        data = (v >> 8) / float(1 << 23)
    else:
        data = np.frombuffer(frames, dtype={2: "<i2", 4: "<i4"}[width]).astype(np.float64) / float(1 << (8 * width - 1))
    return data.reshape(-1, nch), rate
