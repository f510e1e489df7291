"""The reference applications' datasets, training and evaluation scripts (not part of the installed tool).

The Python twins of the apps' fixed-point feature code live beside their C sources in the package's firmware tree
(`motion_twin.py`, `vibration_twin.py`, `audio_twin.py`, `firmware/dsp/cosim_dsp/`); these scripts import them
as top-level modules, so their directories go on the path here, once, for every script of this package.
"""

import sys
from pathlib import Path

_FIRMWARE = Path(__file__).resolve().parents[1] / "src" / "tinyml_cosim" / "firmware"
TWIN_DIRS = [
    _FIRMWARE / "dsp",
    _FIRMWARE / "apps" / "activity_tracker",
    _FIRMWARE / "apps" / "vibration_monitor",
    _FIRMWARE / "apps" / "keyword_spotter",
]
for _d in TWIN_DIRS:
    if str(_d) not in sys.path:
        sys.path.append(str(_d))
