"""The Renode backend (Renode 1.16): see docs/renode.md and tinyml_cosim/engines/renode_facts.py."""

from tinyml_cosim.engines.renode.engine import RenodeEngine

__all__ = ["RenodeEngine"]
