"""Who calls a function, as far as the linked code says: its direct callers (BL and tail-call B to its first
instruction), decoded from the ELF's Thumb code. A diagnosis names a caller chain only where every link is the one
direct caller there is; calls through function pointers are invisible here, so the chain says "direct"."""

from __future__ import annotations

from pathlib import Path

from tinyml_cosim.core.boards import Board

_CACHE: dict[tuple[Path, int, str], dict[str, frozenset[str]]] = {}


def _direct_callers(path: Path, board: Board, mtime_ns: int) -> dict[str, frozenset[str]]:
    key = (path, mtime_ns, board.id)  # a Board holds lists: not hashable itself
    if key not in _CACHE:
        _CACHE[key] = _decode_callers(path, board)
    return _CACHE[key]


def _decode_callers(path: Path, board: Board) -> dict[str, frozenset[str]]:
    # capstone (~75 ms) only when a diagnosis names callers, not on every run's import path
    from tinyml_cosim.elf.thumb import code_at, read_linked_code, scan_thumb

    linked = read_linked_code(path, board)
    callers: dict[str, set[str]] = {}
    for name, (addr, size) in linked.funcs.items():
        if size <= 0 or linked.starts.get(addr, [name])[0] != name:
            continue  # aliases share one body: decode it once
        _down, targets, _indirect = scan_thumb(code_at(linked, addr, size), addr)
        for target in set(targets):
            for callee in linked.starts.get(target, []):
                if target != addr:
                    callers.setdefault(callee, set()).add(name)
    return {k: frozenset(v) for k, v in callers.items()}


def only_caller_chain(path: Path, board: Board, function: str, depth: int = 6) -> list[str]:
    """[caller, its caller, ...] for as long as each has exactly one direct caller in the ELF; [] when the function
    has none or several (or the ELF's code cannot be read)."""
    try:
        callers = _direct_callers(Path(path), board, Path(path).stat().st_mtime_ns)
    except (OSError, ValueError):
        return []
    chain: list[str] = []
    current = function
    while len(chain) < depth:
        found = callers.get(current, frozenset())
        if len(found) != 1:
            break
        (current,) = found
        if current in chain or current == function:
            break  # recursion: the chain is a cycle
        chain.append(current)
    return chain
