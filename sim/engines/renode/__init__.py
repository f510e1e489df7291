"""The Renode backend (Renode 1.16): see docs/renode.md and sim/engines/renode_facts.py."""

from sim.engines.renode.engine import RenodeEngine

__all__ = ["RenodeEngine"]
