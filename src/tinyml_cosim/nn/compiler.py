"""int8 model compiler: .tflite -> C (weights in flash, a static arena plan, plain kernel calls).

compile_model(path, board, out_dir, kernels="ref") -> CompiledModel   writes model.c / model.h
  kernels="cmsis": CMSIS-NN's scratch buffers are planned into the arena, sized for the board's core
tinyml_cosim.nn.golden.run_tflm(path, inputs)                                TFLM's reference kernels (the golden)
tinyml_cosim.nn.reference.run_numpy(path, inputs)                            TFLM's integer arithmetic in numpy
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyml_cosim.core.boards import DEFAULT_STACK_BYTES, Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.emitter import emit
from tinyml_cosim.nn.golden import tflm_arena, tflm_available
from tinyml_cosim.nn.graph import Graph, lower_model
from tinyml_cosim.nn.ir import Tensor
from tinyml_cosim.nn.planner import plan_memory, tflm_greedy_bytes
from tinyml_cosim.nn.scratch import graph_scratch, registry_scratch
from tinyml_cosim.nn.tflite_reader import RawModel, read_tflite
from tinyml_cosim.nn.tflm_arena import TflmArena32, tflm_arena_32bit

# The model runner's static RAM besides the arena and its input/output buffers (runtime state, data channel, config
# block): 232 bytes in the linked stm32f405 model_runner (arm-none-eabi-size .data + .bss + .cosim_config minus the
# three buffers); rounded up for the buffers' 16-byte alignment.
RUNNER_STATIC_RAM_BYTES = 256

__all__ = [
    "CompiledModel",
    "LayerStats",
    "QuantInfo",
    "compile_graph",
    "compile_model",
    "ram_budget",
    "tflm_arena_fields",
]


@dataclass(frozen=True)
class QuantInfo:
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    bytes: int


@dataclass(frozen=True)
class LayerStats:
    index: int
    op_index: int
    op: str
    kernel: str
    macs: int
    params: int
    output_bytes: int
    folded_zero_point: bool
    scratch_bytes: int = 0  # CMSIS-NN working buffer planned into the arena for this layer (kernels="cmsis")


@dataclass
class CompiledModel:
    name: str
    source: Path
    board: str | None
    kernels: str
    arena_bytes: int
    flash_bytes: int  # const data: weights, biases, multipliers/shifts, kernel descriptors, layer table
    layers: list[LayerStats]
    input: QuantInfo  # the first input (the only one of most models); `inputs` has them all
    output: QuantInfo  # the first output; `outputs` has them all
    planner: str
    tflm_greedy_arena_bytes: int  # TFLM's greedy-by-size order applied to our buffers (scratch included)
    arena_bytes_without_scratch: int = 0  # the same plan without the scratch buffers (= arena_bytes for "ref")
    scratch_dsp: bool | None = None  # kernels="cmsis": scratch sized for CMSIS-NN with (True) or without DSP
    tflm_arena_head: int | None = None  # TFLM's non-persistent arena (RecordingMicroAllocator head), with tflite-micro
    tflm_arena_total: int | None = None  # the same recording's whole arena: a 64-bit host figure, not the board's
    tflm_arena32: TflmArena32 | None = None  # TFLM's whole arena on the 32-bit board (computed; see tflm_arena.py)
    ram_budget: dict[str, int] = field(default_factory=dict)  # model runner's RAM by part (with a board)
    files: list[Path] = field(default_factory=list)
    graph: Graph | None = field(default=None, repr=False)
    # Every input and output tensor in the model's order: cosim_model_invoke takes them packed one after another.
    inputs: list[QuantInfo] = field(default_factory=list)
    outputs: list[QuantInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inputs = self.inputs or [self.input]
        self.outputs = self.outputs or [self.output]

    @property
    def state_bytes(self) -> int:
        """Bytes of state (LSTM / SVDF variable tensors) inside the arena, kept between inferences."""
        return sum(t.nbytes for t in self.graph.tensors.values() if t.variable) if self.graph is not None else 0

    @property
    def input_bytes(self) -> int:
        """COSIM_MODEL_INPUT_BYTES: every input tensor, packed."""
        return sum(t.bytes for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        """COSIM_MODEL_OUTPUT_BYTES: every output tensor, packed."""
        return sum(t.bytes for t in self.outputs)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def scratch(self) -> dict[int, int]:
        """Layer index -> planned scratch bytes, for the layers that have a scratch buffer."""
        return {layer.index: layer.scratch_bytes for layer in self.layers if layer.scratch_bytes}

    @property
    def max_scratch_bytes(self) -> int:
        return max(self.scratch.values(), default=0)


def _quant(t: object) -> QuantInfo:
    assert isinstance(t, Tensor)
    return QuantInfo(tuple(t.shape), t.dtype, t.scale, t.zero_point, t.nbytes)


def compile_graph(
    graph: Graph,
    out_dir: Path | None,
    kernels: str = "ref",
    board: Board | None = None,
    compare_tflm: bool = False,
    dsp: bool | None = None,
    raw: RawModel | None = None,
) -> CompiledModel:
    """Plan and emit a lowered graph (`raw`: the model it was lowered from, for TFLM's 32-bit arena figure).
    kernels="cmsis" plans every layer's CMSIS-NN scratch buffer into the arena,
    sized for CMSIS-NN built with the DSP extension (`dsp`; default: the board's `dsp`, or False — the plain-C
    build of the host tests — without a board)."""
    if kernels not in ("ref", "cmsis"):
        raise BadInput(f"unknown kernel set {kernels!r}: use 'ref' or 'cmsis'")
    # working buffers of registry kernels (nn/ops: Operator.scratch), whatever the kernel set
    own_scratch = registry_scratch(graph)
    scratch: dict[int, int] = dict(own_scratch)
    scratch_dsp: bool | None = None
    if kernels == "cmsis":
        # firmware/nn/cmsis adapters over CMSIS-NN replace the ref files of the same name; their working buffers
        # live in the arena, each only while its layer runs (the planner overlaps them with dead tensors).
        scratch_dsp = dsp if dsp is not None else (board.dsp if board is not None else False)
        scratch.update(graph_scratch(graph, scratch_dsp))
    plan = plan_memory(graph, scratch)
    emitted = emit(graph, plan)
    cm = CompiledModel(
        name=graph.name,
        source=graph.path,
        board=board.id if board else None,
        kernels=kernels,
        arena_bytes=plan.arena_bytes,
        flash_bytes=emitted.const_bytes,
        layers=[
            LayerStats(
                i,
                layer.op_index,
                layer.op_name,
                layer.kind,
                layer.macs,
                layer.params,
                graph.tensors[layer.output].nbytes,
                layer.folded_zero_point,
                (plan.scratch(i) or (0, 0))[1],
            )
            for i, layer in enumerate(graph.layers)
        ],
        input=_quant(graph.input_tensor),
        output=_quant(graph.output_tensor),
        inputs=[_quant(graph.tensors[t]) for t in graph.inputs],
        outputs=[_quant(graph.tensors[t]) for t in graph.outputs],
        planner=plan.strategy,
        tflm_greedy_arena_bytes=tflm_greedy_bytes(graph, scratch),
        arena_bytes_without_scratch=(
            plan_memory(graph, own_scratch).arena_bytes if scratch != own_scratch else plan.arena_bytes
        ),
        scratch_dsp=scratch_dsp,
        graph=graph,
    )
    if board is not None:
        _check_fits(cm, graph, board)
    if compare_tflm and tflm_available():
        a = tflm_arena(graph.path)
        cm.tflm_arena_head, cm.tflm_arena_total = a.head, a.total
    if raw is not None:
        # TFLM's head does not depend on the pointer width: the measured one when there is one, else TFLM's greedy
        # order on our buffers (which reproduces the measured head on the MLPerf models).
        head = cm.tflm_arena_head if cm.tflm_arena_head is not None else cm.tflm_greedy_arena_bytes
        cm.tflm_arena32 = tflm_arena_32bit(raw, head)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "model.c").write_text(emitted.model_c)
        (out_dir / "model.h").write_text(emitted.model_h)
        cm.files = [out_dir / "model.c", out_dir / "model.h"]
    return cm


def _check_fits(cm: CompiledModel, graph: Graph, board: Board) -> None:
    """Refuse (exit 2, bytes needed vs available) a model whose constants or whole RAM budget exceed the board's,
    before any build: never raw linker output."""
    flash = board.memory.flash.size
    if cm.flash_bytes > flash:
        raise BadInput(
            f"{graph.path}: the model needs {cm.flash_bytes} bytes of flash for its constants; board "
            f"{board.id} has {flash} bytes of flash"
        )
    cm.ram_budget = ram_budget(cm)
    need, ram = sum(cm.ram_budget.values()), board.memory.ram.size
    if need > ram:
        parts = ", ".join(f"{k} {v}" for k, v in cm.ram_budget.items())
        raise BadInput(
            f"{graph.path}: the model does not fit board {board.id}: it needs {need} bytes of RAM ({parts}), "
            f"the board has {ram}"
        )


def _align16(n: int) -> int:
    return (n + 15) // 16 * 16


def ram_budget(cm: CompiledModel) -> dict[str, int]:
    """The model runner's RAM by part: what must fit the board's RAM, not only the arena."""
    buffers = {}
    if len(cm.inputs) > 1 or len(cm.outputs) > 1:  # one input and one output are read and sent in the arena
        buffers = {"input buffer": _align16(cm.input_bytes), "output buffer": _align16(cm.output_bytes)}
    return {"arena": _align16(cm.arena_bytes), **buffers, "stack": DEFAULT_STACK_BYTES,
            "runner": RUNNER_STATIC_RAM_BYTES}  # fmt: skip


def tflm_arena_fields(cm: CompiledModel) -> dict[str, object]:
    """TFLM's arena figures for reports, each labelled: the non-persistent plan and the whole arena on the board."""
    a = cm.tflm_arena32
    return {
        "tflm_arena_bytes": cm.tflm_arena_head,  # non-persistent part only (kept under its old name)
        "tflm_arena_nonpersistent_bytes": cm.tflm_arena_head,
        "tflm_arena_whole_32bit_bytes": a.total if a else None,
        "tflm_arena_persistent_32bit_bytes": a.persistent if a else None,
        "tflm_arena_32bit_exact": a.exact if a else None,
        "tflm_arena_32bit_unmeasured_ops": list(a.unmeasured) if a else None,  # sized as the largest measured
        "tflm_arena_total_host64_bytes": cm.tflm_arena_total,  # the host (64-bit) recording: not the board's
    }


def compile_model(
    path: Path, board: Board, out_dir: Path, kernels: str = "ref", compare_tflm: bool = True, dsp: bool | None = None
) -> CompiledModel:
    """Compile a .tflite file for `board`; writes out_dir/model.c and model.h. Raises BadInput with a clear message
    for a float model, an unsupported operator, a corrupt file, or a model too large for the board."""
    raw = read_tflite(Path(path))
    return compile_graph(lower_model(raw), out_dir, kernels, board, compare_tflm, dsp, raw)
