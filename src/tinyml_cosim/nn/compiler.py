"""int8 model compiler: .tflite -> C (weights in flash, a static arena plan, plain kernel calls).

compile_model(path, board, out_dir, kernels="ref") -> CompiledModel   writes model.c / model.h
  kernels="cmsis": CMSIS-NN's scratch buffers are planned into the arena, sized for the board's core
tinyml_cosim.nn.golden.run_tflm(path, inputs)                                TFLM's reference kernels (the golden)
tinyml_cosim.nn.reference.run_numpy(path, inputs)                            TFLM's integer arithmetic in numpy
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.emitter import emit
from tinyml_cosim.nn.golden import tflm_arena, tflm_available
from tinyml_cosim.nn.graph import Graph, Tensor, load_graph
from tinyml_cosim.nn.planner import plan_memory, tflm_greedy_bytes
from tinyml_cosim.nn.scratch import graph_scratch

__all__ = ["CompiledModel", "LayerStats", "QuantInfo", "compile_graph", "compile_model"]


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
    input: QuantInfo
    output: QuantInfo
    planner: str
    tflm_greedy_arena_bytes: int  # TFLM's greedy-by-size order applied to our buffers (scratch included)
    arena_bytes_without_scratch: int = 0  # the same plan without the scratch buffers (= arena_bytes for "ref")
    scratch_dsp: bool | None = None  # kernels="cmsis": scratch sized for CMSIS-NN with (True) or without DSP
    tflm_arena_head: int | None = None  # RecordingMicroAllocator, when tflite-micro is installed
    tflm_arena_total: int | None = None
    files: list[Path] = field(default_factory=list)
    graph: Graph | None = field(default=None, repr=False)

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
) -> CompiledModel:
    """Plan and emit a lowered graph. kernels="cmsis" plans every layer's CMSIS-NN scratch buffer into the arena,
    sized for CMSIS-NN built with the DSP extension (`dsp`; default: the board's `dsp`, or False — the plain-C
    build of the host tests — without a board)."""
    if kernels not in ("ref", "cmsis"):
        raise BadInput(f"unknown kernel set {kernels!r}: use 'ref' or 'cmsis'")
    if len(graph.inputs) != 1:
        raise BadInput(
            f"{graph.path.name}: the model has {len(graph.inputs)} input tensors; cosim_model_invoke takes exactly one"
        )
    scratch: dict[int, int] = {}
    scratch_dsp: bool | None = None
    if kernels == "cmsis":
        # firmware/nn/cmsis adapters over CMSIS-NN replace the ref files of the same name; their working buffers
        # live in the arena, each only while its layer runs (the planner overlaps them with dead tensors).
        scratch_dsp = dsp if dsp is not None else (board.dsp if board is not None else False)
        scratch = graph_scratch(graph, scratch_dsp)
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
        planner=plan.strategy,
        tflm_greedy_arena_bytes=tflm_greedy_bytes(graph, scratch),
        arena_bytes_without_scratch=plan_memory(graph).arena_bytes if scratch else plan.arena_bytes,
        scratch_dsp=scratch_dsp,
        graph=graph,
    )
    if board is not None:
        flash, ram = board.memory.flash.size, board.memory.ram.size
        if cm.flash_bytes > flash:
            raise BadInput(
                f"model {graph.path.name} needs {cm.flash_bytes} bytes of flash for its constants; board "
                f"{board.id} has {flash} bytes of flash"
            )
        if cm.arena_bytes > ram:
            raise BadInput(
                f"model {graph.path.name} needs a {cm.arena_bytes}-byte tensor arena; board {board.id} has "
                f"{ram} bytes of RAM"
            )
    if compare_tflm and tflm_available():
        a = tflm_arena(graph.path)
        cm.tflm_arena_head, cm.tflm_arena_total = a.head, a.total
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "model.c").write_text(emitted.model_c)
        (out_dir / "model.h").write_text(emitted.model_h)
        cm.files = [out_dir / "model.c", out_dir / "model.h"]
    return cm


def compile_model(
    path: Path, board: Board, out_dir: Path, kernels: str = "ref", compare_tflm: bool = True, dsp: bool | None = None
) -> CompiledModel:
    """Compile a .tflite file for `board`; writes out_dir/model.c and model.h. Raises BadInput with a clear message
    for a float model, an unsupported operator, a corrupt file, or a model too large for the board."""
    return compile_graph(load_graph(Path(path)), out_dir, kernels, board, compare_tflm, dsp)
