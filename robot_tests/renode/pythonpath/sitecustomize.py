"""For a checkout: renode-test runs Renode's own Python (with its Robot Framework 6.1); with this directory on
PYTHONPATH that Python also finds tinyml_cosim and its dependencies in the checkout's venv (`.venv`, or
$COSIM_VENV), added *behind* its own packages, so Renode's Robot Framework stays the one in use. The two Pythons must
be the same minor version (compiled dependencies such as numpy). An installed tinyml-cosim needs none of this."""

import os
import site
import sys
from pathlib import Path

_venv = Path(os.environ.get("COSIM_VENV") or Path(__file__).resolve().parents[3] / ".venv")
_site = _venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
if _site.is_dir():
    site.addsitedir(str(_site))
