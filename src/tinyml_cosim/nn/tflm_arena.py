"""TFLM's whole tensor arena on a 32-bit Cortex-M: its non-persistent plan (head) plus its persistent part (tail).

`tflm_arena_bytes` elsewhere is TFLM's head only; sizing TFLM's arena from it fails ("missing: 6640" on KWS). The
tail holds the interpreter's own structures, whose sizes depend on the pointer width, so the 64-bit figure that the
tflite-micro Python package measures on the host does not apply to the board. This module replays TFLM's persistent
allocations, in TFLM's order and with its alignments, using the 32-bit struct sizes that arm-none-eabi-g++
(-mcpu=cortex-m4) gives for tflite-micro 90b983c2b3f1 (the sizes were read with `sizeof`/`alignof` from a build of
the TFLM headers; no TFLM code is here).

Checked against TFLM itself, built for Cortex-M4 and run in QEMU (mps2-an386, reference kernels, MicroAllocator with
the greedy planner): the computed `arena_used_bytes()` and the smallest working arena (a multiple of 16) are equal to
the measured ones on the three MLPerf Tiny models (tests/test_models_tflm_arena.py holds the measured figures).
Variable tensors (LSTM, SVDF state) are persistent: TFLM allocates each, 16-aligned, just before it plans.
Operators whose TFLM structs were not read (LOGISTIC, TANH, CONCATENATION, PAD, the Signal library, ...) get the
largest measured sizes and the result names them (`unmeasured`, `exact` False): the figure is then approximate, not a
bound, as some kernels allocate more in Prepare (the int16 SOFTMAX's tables, SignalRfft's FFT state). LEAKY_RELU,
MAXIMUM and MINIMUM use their sizeof values but are not in a measured model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyml_cosim.nn.tflite_reader import RawModel

ALIGN = 16  # MicroArenaBufferAlignment(): kernels' persistent buffers and the planner's arena

# Interpreter structures (sizeof on Cortex-M4, arm-none-eabi-g++ 12.2, TF_LITE_STATIC_MEMORY).
EVAL_TENSOR = 12  # TfLiteEvalTensor
NODE_AND_REGISTRATION = 32
TFLITE_TENSOR = 32  # a persistent TfLiteTensor for each model input and output
AFFINE_QUANTIZATION = 12  # TfLiteAffineQuantization of such a tensor (+ its zero-point TfLiteIntArray)
SCRATCH_HANDLE = 4
SCRATCH_REQUEST = 8  # ScratchBufferRequest, in the head while operators prepare
MAX_SCRATCH_PER_OP = 12  # kMaxScratchBuffersPerOp: the head reserves room for this many more requests
ALLOCATION_INFO = 24  # one per tensor and scratch buffer, temporary, while the plan is made
GREEDY_PER_BUFFER = 40  # GreedyMemoryPlanner::per_buffer_size()
# SingleArenaBufferAllocator, GreedyMemoryPlanner, MicroAllocator, MicroBuiltinDataAllocator, SubgraphAllocations
FIXED_OBJECTS = (36, 44, 36, 8, 8)
# Measured on ad01 (the one model whose peak is the planning phase): TFLM needs 48 bytes more while planning than
# the allocations above account for; kept as measured rather than guessed away.
PLANNING_ALLOWANCE = 48

# Per operator: (builtin-options struct bytes, its alignment), kernel OpData bytes (16-aligned), scratch requests.
BUILTIN_DATA: dict[str, tuple[int, int]] = {
    "CONV_2D": (28, 4),
    "DEPTHWISE_CONV_2D": (28, 4),
    "FULLY_CONNECTED": (5, 1),
    "AVERAGE_POOL_2D": (40, 4),
    "MAX_POOL_2D": (40, 4),
    "SOFTMAX": (4, 4),
    "RESHAPE": (36, 4),
    "ADD": (2, 1),
    "MUL": (1, 1),
    "MEAN": (1, 1),
    "QUANTIZE": (0, 1),
    "DEQUANTIZE": (0, 1),
    "LEAKY_RELU": (4, 4),
    "MAXIMUM": (0, 1),  # no options, no Init or Prepare in TFLM's kernel
    "MINIMUM": (0, 1),
}
OP_DATA: dict[str, int] = {
    "CONV_2D": 56,  # OpDataConv (+ per-channel multipliers and shifts, 4 B x channels each)
    "DEPTHWISE_CONV_2D": 56,
    "FULLY_CONNECTED": 48,  # OpDataFullyConnected (+ per-channel arrays when the filter is per-channel)
    "AVERAGE_POOL_2D": 32,
    "MAX_POOL_2D": 32,
    "SOFTMAX": 56,  # SoftmaxParams
    "ADD": 60,
    "MUL": 36,
    "MEAN": 44,  # OpDataReduce
    "QUANTIZE": 32,
    "DEQUANTIZE": 32,
    "RESHAPE": 0,
    "LEAKY_RELU": 24,  # LeakyReluOpData (sizeof only: not in the measured models)
    "MAXIMUM": 0,
    "MINIMUM": 0,
}
SCRATCH_REQUESTS: dict[str, int] = {"MEAN": 3}  # int8 MEAN: accumulator, input iterator, resolved axes
# Operators not measured: the largest OpData and options of the measured set (their Prepare may allocate more).
UNMEASURED_BUILTIN = (40, 4)
UNMEASURED_OP_DATA = 64


@dataclass(frozen=True)
class TflmArena32:
    head: int  # TFLM's planned non-persistent arena (activations and kernels' scratch buffers)
    persistent: int  # interpreter structures, kernels' OpData, per-channel quantization, I/O tensors
    planning_peak: int  # what AllocateTensors needs while the plan is made (persistent so far + planner memory)
    unmeasured: tuple[str, ...] = ()  # the model's operators whose structs were not read (sized as the largest)

    @property
    def exact(self) -> bool:
        """Every operator's structs are known (sizeof on Cortex-M4); False: the figure is approximate."""
        return not self.unmeasured

    @property
    def total(self) -> int:
        """The arena to give TFLM's MicroInterpreter on the board (a multiple of 16, 16-aligned)."""
        need = max(self.head + self.persistent, self.planning_peak)
        return (need + ALIGN - 1) // ALIGN * ALIGN


def _align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


class _Tail:
    """TFLM's tail: grows down from the 16-aligned arena end, each allocation aligned down to its alignment."""

    def __init__(self) -> None:
        self.end = 1 << 32
        self.ptr = self.end

    def alloc(self, size: int, align: int) -> None:
        self.ptr = (self.ptr - size) // align * align

    @property
    def used(self) -> int:
        return self.end - self.ptr


def tflm_arena_32bit(raw: RawModel, head: int) -> TflmArena32:
    """TFLM's whole arena for `raw` on a 32-bit target, given TFLM's planned head (measured by the tflite-micro
    package, or TFLM's greedy order on the same buffers)."""
    ops = raw.operators
    unmeasured = tuple(sorted({op.name for op in ops if op.name not in OP_DATA}))
    tail = _Tail()
    for size in FIXED_OBJECTS:  # MicroAllocator::Create, StartModelAllocation
        tail.alloc(size, 4)
    tail.alloc(EVAL_TENSOR * len(raw.tensors), 4)
    tail.alloc(NODE_AND_REGISTRATION * len(ops), 4)
    for op in ops:  # builtin options, parsed for every operator before any Init
        size, align = BUILTIN_DATA.get(op.name, UNMEASURED_BUILTIN)
        if size:
            tail.alloc(size, align)
    for op in ops:  # each kernel's Init: its OpData
        size = OP_DATA.get(op.name, UNMEASURED_OP_DATA)
        if size:
            tail.alloc(size, ALIGN)
    requests = 0
    for op in ops:  # each kernel's Prepare: per-channel multipliers and shifts
        requests += SCRATCH_REQUESTS.get(op.name, 0)
        channels = _per_channel_count(raw, op.name, op.inputs)
        if channels:
            tail.alloc(4 * channels, ALIGN)
            tail.alloc(4 * channels, ALIGN)
    if requests:
        tail.alloc(SCRATCH_HANDLE * requests, 4)
    for var in raw.tensors:  # CommitStaticMemoryPlan -> AllocateVariables: each variable tensor, before planning
        if var.variable:
            tail.alloc(int(np.prod(var.shape, dtype=np.int64)) * np.dtype(var.dtype).itemsize, ALIGN)
    at_planning = tail.used
    temp = _align_up(SCRATCH_REQUEST * (requests + MAX_SCRATCH_PER_OP), 4) + 4  # + subgraph offsets
    temp = _align_up(temp + ALLOCATION_INFO * (len(raw.tensors) + requests), ALIGN)
    planned = sum(1 for t in raw.tensors if t.data is None) + requests
    planning_peak = at_planning + temp + GREEDY_PER_BUFFER * planned + PLANNING_ALLOWANCE
    for group in (raw.inputs, raw.outputs):  # MicroInterpreter: persistent TfLiteTensors for the model I/O
        tail.alloc(4 * len(group), ALIGN)
        for t in group:
            tail.alloc(TFLITE_TENSOR, 4)
            tensor = raw.tensors[t]
            if tensor.scales and tensor.zero_points:
                tail.alloc(AFFINE_QUANTIZATION, 4)
                tail.alloc(4 + 4 * len(tensor.zero_points), 4)
    return TflmArena32(head=head, persistent=tail.used, planning_peak=planning_peak, unmeasured=unmeasured)


def _per_channel_count(raw: RawModel, name: str, inputs: list[int]) -> int:
    if len(inputs) < 2 or inputs[1] < 0:
        return 0
    f = raw.tensors[inputs[1]]
    if name == "CONV_2D" and f.shape:
        return f.shape[0]
    if name == "DEPTHWISE_CONV_2D" and f.shape:
        return f.shape[-1]
    if name == "FULLY_CONNECTED" and len(f.scales) > 1:
        return len(f.scales)
    return 0
