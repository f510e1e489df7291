"""Virtual sensors: physical signal sources, impairments and part models that produce the bytes a part delivers.

from tinyml_cosim.sensors import load_part, PartModel, SampleStream, bearing_frequencies
"""

from tinyml_cosim.sensors.model import PartModel
from tinyml_cosim.sensors.parts import Part, available_parts, load_part
from tinyml_cosim.sensors.signals import bearing_frequencies
from tinyml_cosim.sensors.stream import FaultWindow, SampleStream, streams_sha256

__all__ = [
    "FaultWindow",
    "Part",
    "PartModel",
    "SampleStream",
    "available_parts",
    "bearing_frequencies",
    "load_part",
    "streams_sha256",
]
