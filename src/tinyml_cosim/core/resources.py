"""Where the package's own data lies, installed or in a checkout: board files, firmware sources and headers,
schemas, sensor part files, golden vectors. Found through importlib.resources, never by walking up from a
module's path, so a wheel installed anywhere finds them. Where builds go: $COSIM_BUILD_DIR, else the user's cache
directory, never the installed tree.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

# The package is installed unzipped (wheels always are), so its resources are ordinary files with a real path:
# the compiler and the emulators need paths, not Traversables.
PACKAGE_DIR = Path(str(files("tinyml_cosim")))
FIRMWARE_DIR = PACKAGE_DIR / "firmware"
PLATFORMS_DIR = PACKAGE_DIR / "platforms"
SCHEMAS_DIR = PACKAGE_DIR / "schemas"
GOLDEN_DIR = PACKAGE_DIR / "golden"
PARTS_DIR = PACKAGE_DIR / "sensors" / "parts"


def build_dir() -> Path:
    """$COSIM_BUILD_DIR, else a per-user cache directory (~/.cache/tinyml-cosim/build on Linux)."""
    explicit = os.environ.get("COSIM_BUILD_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    import platformdirs  # lazy: only builds need it, and every `cosim run ELF` would pay its import (~10 ms)

    return Path(platformdirs.user_cache_dir("tinyml-cosim")) / "build"
