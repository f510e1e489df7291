"""A keyword for suites that drive Renode with Renode's own keywords (renode-test): the platform of the board that
tinyml_cosim.robot drives, as the project's engine loads it (`tinyml_cosim.engines.renode.platform.overlay_text`:
the stock STM32F4 description corrected to the datasheet, and loadable offline, which the stock file is not: its
init section downloads an SVD file from the network)."""

from __future__ import annotations

from pathlib import Path

from robot.api.deco import keyword
from robot.libraries.BuiltIn import BuiltIn

from tinyml_cosim.engines.renode.platform import overlay_text

ROBOT_LIBRARY_SCOPE = "GLOBAL"


@keyword
def write_renode_platform_of_the_board(directory: str) -> str:
    """Writes the board's Renode platform (``<board>-cosim.repl``) into ``directory`` and returns its absolute path,
    for ``Execute Command    machine LoadPlatformDescription @${path}``. The board is the one tinyml_cosim.robot
    drives (``${BOARD}``, the library's ``board=``, else the loaded scenario's), so load the scenario first."""
    board = BuiltIn().get_library_instance("tinyml_cosim.robot").ctx.board.board
    path = Path(directory).resolve() / f"{board.id}-cosim.repl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(overlay_text(board))
    return str(path)
