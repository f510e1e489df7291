"""Static memory planner: every activation tensor (and kernel scratch buffer) gets a fixed offset in one arena.

A buffer lives from the layer that writes it to the last layer that reads it (the model input from before layer 0,
the model output until after the last layer). Two buffers may share bytes only when their lifetimes do not overlap.

TFLM's GreedyMemoryPlanner places buffers in order of decreasing size, each at the lowest offset that does not clash
with an already placed, time-overlapping buffer. We run exactly that ordering and a few others and keep the smallest
arena, so the result is never larger than TFLM's plan for the same buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinyml_cosim.nn.graph import Graph

ALIGN = 16  # TFLM aligns every planned buffer to 16 bytes


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class Buffer:
    key: str  # "t<tensor id>" or "s<layer index>"
    size: int
    first: int
    last: int


@dataclass
class Plan:
    offsets: dict[str, int]
    buffers: list[Buffer]
    arena_bytes: int
    strategy: str

    def tensor_offset(self, tensor_id: int) -> int:
        return self.offsets[f"t{tensor_id}"]

    def scratch_offset(self, layer_index: int) -> int | None:
        return self.offsets.get(f"s{layer_index}")

    def scratch(self, layer_index: int) -> tuple[int, int] | None:
        """(offset, bytes) of the layer's scratch buffer in the arena, or None when it has none."""
        key = f"s{layer_index}"
        for b in self.buffers:
            if b.key == key:
                return self.offsets[key], b.size
        return None


def buffers_of(graph: Graph, scratch: dict[int, int] | None = None) -> list[Buffer]:
    first: dict[int, int] = {t: -1 for t in graph.inputs}
    last: dict[int, int] = {}
    for i, layer in enumerate(graph.layers):
        first.setdefault(layer.output, i)
        last[layer.output] = max(last.get(layer.output, i), i)
        for t in layer.inputs:
            first.setdefault(t, i)
            last[t] = max(last.get(t, i), i)
    for t in graph.outputs:  # copied out after the last layer
        last[t] = len(graph.layers)
    for t, tensor in graph.tensors.items():  # state kept between invocations: live all the time, shared with nothing
        if tensor.variable and t in first:
            first[t], last[t] = -1, len(graph.layers)
    out = [Buffer(f"t{t}", _align(graph.tensors[t].nbytes), first[t], last[t]) for t in first]
    for i, size in (scratch or {}).items():
        if size > 0:
            out.append(Buffer(f"s{i}", _align(size), i, i))
    return out


def _first_fit(order: list[Buffer]) -> tuple[dict[str, int], int]:
    placed: list[tuple[int, int, Buffer]] = []  # (offset, end, buffer)
    offsets: dict[str, int] = {}
    for b in order:
        clashes = sorted((o, e) for o, e, p in placed if not (p.last < b.first or b.last < p.first))
        offset = 0
        for o, e in clashes:
            if offset + b.size <= o:
                break
            offset = max(offset, e)
        placed.append((offset, offset + b.size, b))
        offsets[b.key] = offset
    return offsets, max((e for _, e, _ in placed), default=0)


_ORDERINGS: dict[str, Callable[[Buffer], tuple[int, ...]]] = {
    # TFLM's greedy planner order: biggest first (ties: first needed first)
    "greedy-by-size": lambda b: (-b.size, b.first),
    "by-start": lambda b: (b.first, -b.size),
    "by-area": lambda b: (-(b.size * (b.last - b.first + 1)), b.first),
    "by-length": lambda b: (-(b.last - b.first), -b.size),
}


def plan_memory(graph: Graph, scratch: dict[int, int] | None = None) -> Plan:
    buffers = buffers_of(graph, scratch)
    best: Plan | None = None
    for name, key in _ORDERINGS.items():
        offsets, size = _first_fit(sorted(buffers, key=key))
        if best is None or size < best.arena_bytes:
            best = Plan(offsets, buffers, size, name)
    assert best is not None
    _check(best)
    return best


def tflm_greedy_bytes(graph: Graph, scratch: dict[int, int] | None = None) -> int:
    """The arena TFLM's greedy-by-size planner would need for the same buffers (for comparison)."""
    return _first_fit(sorted(buffers_of(graph, scratch), key=_ORDERINGS["greedy-by-size"]))[1]


def _check(plan: Plan) -> None:
    """No two live-at-once buffers overlap: a cheap proof that the plan is sound."""
    bs = plan.buffers
    for i, a in enumerate(bs):
        oa = plan.offsets[a.key]
        for b in bs[i + 1 :]:
            if a.last < b.first or b.last < a.first:
                continue
            ob = plan.offsets[b.key]
            if oa < ob + b.size and ob < oa + a.size:
                raise AssertionError(f"planner bug: {a.key} and {b.key} overlap")
