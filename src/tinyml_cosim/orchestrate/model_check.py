"""Run a compiled model inside the emulator: the model_runner firmware app, built once per (board, model, kernels).

`build_runner` compiles the .tflite into a content-addressed directory `build/models/<board>/<model>-<kernels>-<hash>/`
(model.c, model.h) and builds firmware/apps/model_runner with `-DCOSIM_MODEL_DIR=<that dir>` in EXTRA_CFLAGS. The
directory name carries a hash of the generated C, and build/firmware.py keys builds by their EXTRA_CFLAGS, so a changed
model (or compiler) gets a new build and an unchanged one reuses the cached ELF — one build per configuration, never
one per test case. `run_runner` then feeds any number of input tensors in a single emulator run.

Data channel contract (firmware/apps/model_runner/main.c): stream 0 configuration, stream 1 inputs (one tensor per
read), stream 2 outputs, stream 3 intermediates as (u32 layer, u32 bytes, bytes) records.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyml_cosim.build.firmware import BuildResult, build
from tinyml_cosim.core import resources
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import CompiledModel, tflm_arena_fields
from tinyml_cosim.nn.golden import run_tflm, run_tflm_sequence, tflm_available
from tinyml_cosim.nn.prepare import prepare_model
from tinyml_cosim.nn.reference import run_graph_outputs, run_numpy
from tinyml_cosim.orchestrate.model_inputs import ModelInput, packed, seeded_inputs
from tinyml_cosim.orchestrate.model_profile import cycle_fields, layer_profile
from tinyml_cosim.protocol.datachannel import DataService, ReadResult
from tinyml_cosim.protocol.frames import NO_MORE
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.run.session import RunRequest, run_firmware

APP = "model_runner"
RUNNER_MAGIC = 0x31524D43  # "CMR1"
FLAG_INTERMEDIATES = 1
FLAG_PROFILE = 2
STREAM_CONFIG, STREAM_INPUT, STREAM_OUTPUT, STREAM_LAYERS = 0, 1, 2, 3


@dataclass
class RunnerBuild:
    model: CompiledModel
    model_dir: Path
    build: BuildResult
    kernels: str

    @property
    def elf(self) -> Path:
        return self.build.elf


def build_runner(path: Path, board: Board, kernels: str = "ref", extra_cflags: list[str] | None = None) -> RunnerBuild:
    # CMSIS-NN's scratch buffers are part of the model's arena plan (sized for the board's core), so the kernel
    # build needs nothing per model beyond the model directory.
    cm, model_dir = prepare_model(path, board, kernels)
    flags = [f"-DCOSIM_MODEL_DIR={model_dir}"]
    result = build(board, APP, kernels=kernels, extra_cflags=[*flags, *(extra_cflags or [])])
    return RunnerBuild(cm, model_dir, result, kernels)


@dataclass
class TensorStream:
    """One whole tensor per read, all due at once (a batch, not a paced sensor); end of stream with the last."""

    tensors: list[bytes]
    next_index: int = 0

    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        if self.next_index >= len(self.tensors):
            return ReadResult(b"", NO_MORE, True)
        t = self.tensors[self.next_index]
        if len(t) > max_bytes:
            # the firmware asks for exactly one tensor; a mismatch means it was built for another model
            raise BadInput(f"input tensor of {len(t)} bytes, but the firmware reads at most {max_bytes}")
        self.next_index += 1
        done = self.next_index >= len(self.tensors)
        return ReadResult(t, NO_MORE if done else 0, done)


@dataclass
class ByteSink:
    data: bytearray = field(default_factory=bytearray)

    def __call__(self, chunk: bytes) -> None:
        self.data += chunk


@dataclass
class RunnerResult:
    record: RunRecord
    outputs: list[bytes]
    intermediates: list[dict[int, bytes]]  # per inference: layer index -> that layer's output bytes (when asked)
    instructions: list[int]  # per inference, from the "inference" spans
    marks: dict[str, int] = field(default_factory=dict)  # the runner's MARK events: inferences, nn_fallbacks
    layer_instructions: list[list[int]] = field(default_factory=list)  # per inference, per layer (when profiling)

    @property
    def ok(self) -> bool:
        return self.record.succeeded


def _split_layers(data: bytes, n_layers: int) -> list[dict[int, bytes]]:
    """Stream 3 as records; a new inference starts whenever the layer index does not increase."""
    runs: list[dict[int, bytes]] = []
    pos, last = 0, n_layers
    while pos + 8 <= len(data):
        layer, nbytes = struct.unpack_from("<II", data, pos)
        pos += 8
        if layer <= last:
            runs.append({})
        runs[-1][layer] = data[pos : pos + nbytes]
        pos += nbytes
        last = layer
    return runs


def run_runner(
    rb: RunnerBuild,
    board: Board,
    inputs: Sequence[ModelInput | bytes],
    intermediates: bool = False,
    engine: str | None = None,
    timeout_s: float | None = None,
    profile: bool = False,
) -> RunnerResult:
    """Run every input through the model in one emulator session. `intermediates`: every layer's output comes back
    (stream 3); `profile`: every layer runs in its own span (the inference spans then include the reporting)."""
    want = rb.model.input_bytes
    tensors = [x if isinstance(x, bytes) else packed(x) for x in inputs]
    for i, t in enumerate(tensors):
        if len(t) != want:
            shapes = " + ".join(str(q.shape) for q in rb.model.inputs)
            raise BadInput(f"input {i} has {len(t)} bytes; {rb.model.name} takes {want} ({shapes})")
    out, layers = ByteSink(), ByteSink()
    flags = (FLAG_INTERMEDIATES if intermediates else 0) | (FLAG_PROFILE if profile else 0)
    config = struct.pack("<II", RUNNER_MAGIC, flags)
    svc = DataService(
        streams={STREAM_CONFIG: TensorStream([config]), STREAM_INPUT: TensorStream(tensors)},
        sinks={STREAM_OUTPUT: out, STREAM_LAYERS: layers},
    )
    if timeout_s is None:
        timeout_s = float(os.environ.get("COSIM_MODEL_TIMEOUT", 60 + 30 * len(tensors)))
    record = run_firmware(RunRequest(elf=rb.elf, board=board.id, engine=engine, data=svc, timeout_s=timeout_s))
    ob = rb.model.output_bytes
    outputs = [bytes(out.data[i : i + ob]) for i in range(0, len(out.data) - ob + 1, ob)]
    spans = [s.end - s.begin for s in record.spans if s.name == "inference"]
    marks = {
        e.fields["name"]: int(e.fields["value"]) for e in record.events if e.kind == "MARK" and "value" in e.fields
    }
    per_layer = _split_layers(bytes(layers.data), len(rb.model.layers)) if intermediates else []
    profile_runs: list[list[int]] = []
    if profile:  # "layer" spans nest inside "inference": layer i is the i-th of its inference
        n = len(rb.model.layers)
        costs = [s.end - s.begin for s in record.spans if s.name == "layer"]
        profile_runs = [costs[i : i + n] for i in range(0, len(costs) - n + 1, n)]
    return RunnerResult(record, outputs, per_layer, spans, marks, profile_runs)


# ---------------------------------------------------------------------------------------------------------------
# Inputs and goldens

GOLDEN_DIR = resources.GOLDEN_DIR


def golden_outputs(cm: CompiledModel, xs: list[ModelInput]) -> tuple[list[bytes], str]:
    """TFLM when installed; else the committed vectors (matched by input); else the numpy golden. Each output is
    every output tensor of the model, packed. A stateful model (LSTM, SVDF) carries its state from input to input
    in the runner, so its golden runs the inputs in a row on one interpreter (one numpy state) too."""
    assert cm.graph is not None
    if any(t.variable for t in cm.graph.tensors.values()):
        if tflm_available():
            return [packed(y) for y in run_tflm_sequence(cm.source, xs)], "tflite-micro (one interpreter, in a row)"
        state: dict[int, np.ndarray] = {}
        return [packed(run_graph_outputs(cm.graph, x, state=state)) for x in xs], "numpy (state carried)"
    if tflm_available():
        return [packed(run_tflm(cm.source, x)) for x in xs], "tflite-micro"
    committed: dict[bytes, bytes] = {}
    f = GOLDEN_DIR / f"mlperf_{Path(cm.source).stem}.npz"
    if f.is_file():
        with np.load(f) as z:
            committed = {x.tobytes(): y.tobytes() for x, y in zip(z["inputs"], z["outputs"], strict=True)}
    outs, sources = [], set()
    for x in xs:
        y = committed.get(packed(x))
        if y is None:
            y = packed(run_graph_outputs(cm.graph, x))
            sources.add("numpy")
        else:
            sources.add("committed-tflm-vectors")
        outs.append(y)
    return outs, "+".join(sorted(sources))


def _layer_dtype(cm: CompiledModel, layer: int) -> np.dtype:
    assert cm.graph is not None
    t = cm.graph.tensors[cm.graph.layers[layer].output]
    return np.dtype(np.float32 if t.dtype == "float32" else np.int8)


def first_layer_difference(cm: CompiledModel, x: ModelInput, got: dict[int, bytes]) -> dict[str, object] | None:
    """The first layer (and element) where the firmware's intermediates differ from the numpy golden's."""
    assert cm.graph is not None
    want = run_numpy(cm.graph, x, intermediates=True)[1:]
    for i, w in enumerate(want):
        dt = _layer_dtype(cm, i)
        exp = np.ascontiguousarray(w).reshape(-1).astype(dt)
        act_b = got.get(i)
        info: dict[str, object] = {"layer": i, "operator": cm.layers[i].op, "op_index": cm.layers[i].op_index}
        if act_b is None:
            return {**info, "element": None, "expected": None, "actual": None, "note": "layer output missing"}
        act = np.frombuffer(act_b, dt)
        if act.shape != exp.shape:
            return {**info, "element": None, "expected": int(exp.size), "actual": int(act.size), "note": "size"}
        diff = np.flatnonzero(
            act.view(np.uint8 if dt == np.int8 else np.uint32) != exp.view(np.uint8 if dt == np.int8 else np.uint32)
        )
        if diff.size:
            e = int(diff[0])
            return {
                **info,
                "element": e,
                "expected": exp[e].item(),
                "actual": act[e].item(),
                "differing_elements": int(diff.size),
                "elements": int(exp.size),
            }
    return None


# ---------------------------------------------------------------------------------------------------------------
# Code size from the linker map


def code_sizes(build_dir: Path, model_dir: Path | None = None, cmsis_dir: Path | None = None) -> dict[str, int]:
    """Bytes of flash each part of the firmware occupies in the linked image (after --gc-sections), from app.map:
    kernels (firmware/nn, and CMSIS-NN's sources), model (model.c: constants + invoke), runtime (everything else)."""
    text = (build_dir / "app.map").read_text(errors="replace")
    start = text.find("Linker script and memory map")
    sizes = {"kernels": 0, "model": 0, "runtime": 0}
    pending: str | None = None
    for line in text[start:].splitlines():
        parts = line.split()
        if not parts:
            continue
        # an input section: " .text.f  0xADDR  0xSIZE  file.o" (long names wrap the numbers onto the next line)
        if len(parts) == 1 and parts[0].startswith("."):
            pending = parts[0]
            continue
        if pending is not None and len(parts) >= 3 and parts[0].startswith("0x"):
            parts = [pending, *parts]
        pending = None
        if len(parts) < 4 or not parts[1].startswith("0x") or not parts[2].startswith("0x"):
            continue
        sec, obj = parts[0], parts[3]
        if not sec.startswith((".text", ".rodata", ".data", ".isr_vector", ".ARM")) or not obj.endswith(".o"):
            continue
        size = int(parts[2], 16)
        if "/nn/" in obj or (cmsis_dir is not None and str(cmsis_dir) in obj):
            sizes["kernels"] += size
        elif obj.endswith("/model.o"):
            sizes["model"] += size
        else:
            sizes["runtime"] += size
    return sizes


# ---------------------------------------------------------------------------------------------------------------
# check / diff


def check_model(
    path: Path,
    board: Board,
    kernels: str = "ref",
    vectors: int = 20,
    seed: int = 0,
    engine: str | None = None,
    extra_cflags: list[str] | None = None,
    profile: bool = False,
) -> dict[str, object]:
    """Compile, build, run `vectors` seeded inputs in the emulator and compare each output byte for byte with the
    golden. The report is the JSON contract of `cosim model check`. `profile`: one more run of the first input with
    every layer in its own span: per layer its exact instructions and (cycle model) estimated cycles."""
    if vectors < 1:
        raise BadInput(f"--vectors must be at least 1, got {vectors}")
    rb = build_runner(path, board, kernels, extra_cflags)
    cm = rb.model
    xs = [seeded_inputs(cm, seed + k) for k in range(vectors)]
    want, golden = golden_outputs(cm, xs)
    res = run_runner(rb, board, xs, engine=engine)
    mismatched = [k for k in range(vectors) if k >= len(res.outputs) or res.outputs[k] != want[k]]
    first: dict[str, object] | None = None
    if mismatched:
        k = mismatched[0]
        if res.ok and k < len(res.outputs):
            again = run_runner(rb, board, [xs[k]], intermediates=True, engine=engine)
            layers = again.intermediates[0] if again.intermediates else {}
            first = first_layer_difference(cm, xs[k], layers)
            if first is None:  # every layer agrees with numpy: the difference is between numpy and TFLM
                out_dt = _layer_dtype(cm, len(cm.layers) - 1)
                a, e = np.frombuffer(res.outputs[k], out_dt), np.frombuffer(want[k], out_dt)
                j = int(np.flatnonzero(a != e)[0])
                last = len(cm.layers) - 1
                first = {
                    "layer": last,
                    "operator": cm.layers[last].op,
                    "op_index": cm.layers[last].op_index,
                    "element": j,
                    "expected": e[j].item(),
                    "actual": a[j].item(),
                    "note": "intermediates match the numpy golden; the output differs from " + golden,
                }
            first = {"vector": k, "seed": seed + k, **first}
        else:
            first = {
                "vector": k,
                "seed": seed + k,
                "layer": None,
                "operator": None,
                "element": None,
                "expected": None,
                "actual": None,
                "note": f"run ended early: {res.record.diagnosis}",
            }
    cmsis = Path(os.environ["CMSIS_NN_DIR"]) if kernels == "cmsis-nn" and os.environ.get("CMSIS_NN_DIR") else None
    sizes = code_sizes(rb.build.out_dir, rb.model_dir, cmsis)
    return {
        "model": cm.name,
        "source": str(cm.source),
        "board": board.id,
        "engine": res.record.engine,
        "kernels": kernels,
        "bit_exact": not mismatched and res.ok,
        "vectors": vectors,
        "seed": seed,
        "golden": golden,
        "mismatched_vectors": mismatched,
        "first_mismatch": first,
        "arena_bytes": cm.arena_bytes,
        "arena_bytes_without_scratch": cm.arena_bytes_without_scratch,
        **tflm_arena_fields(cm),
        "flash_bytes_model": cm.flash_bytes,
        "flash_bytes_linked": sizes,
        "macs": (macs := cm.total_macs),
        "instructions_per_inference": res.instructions,
        # a model of copies only (PAD, SLICE, ...) has no MAC: no ratio
        "instructions_per_mac": round(res.instructions[0] / macs, 3) if res.instructions and macs else None,
        "kernel_fallbacks": res.marks.get("nn_fallbacks"),
        **cycle_fields(res.record),
        "layers_profile": layer_profile(rb, board, xs[0], engine) if profile else None,
        "run_status": res.record.status.value,
        "run_diagnosis": res.record.diagnosis,
        "elf": str(rb.elf),
    }


def diff_model(
    path: Path,
    board: Board,
    kernels: str = "ref",
    seed: int = 0,
    engine: str | None = None,
    extra_cflags: list[str] | None = None,
) -> dict[str, object]:
    """One seeded input with every intermediate tensor: the first layer and element where the firmware differs
    from the numpy golden (itself checked against TFLM), or null."""
    rb = build_runner(path, board, kernels, extra_cflags)
    cm = rb.model
    x = seeded_inputs(cm, seed)
    res = run_runner(rb, board, [x], intermediates=True, engine=engine)
    if not res.ok or not res.intermediates:
        raise BadInput(f"the model runner did not complete: {res.record.diagnosis}")
    first = first_layer_difference(cm, x, res.intermediates[0])
    return {
        "model": cm.name,
        "board": board.id,
        "kernels": kernels,
        "seed": seed,
        "layers": len(cm.layers),
        "identical": first is None,
        "first_difference": first,
    }
