"""ALFWorld text games (Shridhar et al., 2021) on the real ``alfworld`` / TextWorld PDDL engine, with a generator
for games from the FloorPlan layouts the wheel ships (``mmrl alfworld generate``) and ``mmrl/ALFWorld-v0``."""

import os
from pathlib import Path

#: Importing ``alfworld`` creates ``$ALFWORLD_DATA`` (default ``~/.cache/alfworld``); set it before any submodule
#: imports alfworld so that a caller's choice (tests use a temporary folder) is respected and documented here.
os.environ.setdefault("ALFWORLD_DATA", str(Path.home() / ".cache" / "alfworld"))
