"""The AI2-THOR FloorPlan scenes the ``alfworld`` wheel ships (``alfworld/gen/layouts``), read without a simulator.

Each scene has ``FloorPlanN-objects.json`` (object and receptacle types present), ``FloorPlanN-openable.json``
(receptacle id -> the agent pose ``[x, z, rotation, horizon]`` from which it is used; the id carries the
receptacle's own ``x|y|z``) and ``FloorPlanN-layout.npy`` (reachable floor points ``(x, z)`` on a 0.25 m grid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import alfworld.gen.constants as constants
import numpy as np

LAYOUT_DIR = Path(constants.__file__).parent / "layouts"
#: AI2-THOR's grid step (metres): PDDL locations are poses in these units.
GRID = 0.25
#: Receptacles whose usable part is a "basin" object in ALFWorld's games (named ``sinkbasin 1``).
BASINS = {"Sink": "SinkBasin", "Bathtub": "BathtubBasin"}


@dataclass(frozen=True)
class Receptacle:
    """A receptacle instance: ``rid`` is the AI2-THOR id (``Type|x|y|z``), ``rtype`` its type, ``pose`` the agent
    pose ``(x, z, rotation, horizon)`` in grid units from which it is reached."""

    rid: str
    rtype: str
    pose: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    name: str
    receptacles: tuple[Receptacle, ...]
    object_types: tuple[str, ...]
    floor: np.ndarray  # (N, 2) reachable (x, z) points in metres

    def receptacle_types(self) -> set[str]:
        return {r.rtype for r in self.receptacles}


def scene_names() -> list[str]:
    """Every FloorPlan the wheel ships, e.g. ``["FloorPlan1", ...]``, sorted by number."""
    names = {p.name.split("-")[0] for p in LAYOUT_DIR.glob("FloorPlan*-openable.json")}
    return sorted(names, key=lambda n: int(n.removeprefix("FloorPlan")))


@lru_cache(maxsize=256)
def load_scene(name: str) -> Scene:
    """The receptacles (only types ALFWorld's rules let hold something), object types and floor of ``name``."""
    openable = json.loads((LAYOUT_DIR / f"{name}-openable.json").read_text())
    object_types = json.loads((LAYOUT_DIR / f"{name}-objects.json").read_text())
    receptacles = []
    for rid, (x, z, rotation, horizon) in sorted(openable.items()):
        rtype = rid.split("|")[0]
        if rtype in BASINS:
            rtype = BASINS[rtype]
            rid = rid if rid.endswith(f"|{rtype}") else f"{rid}|{rtype}"
        if rtype not in constants.VAL_RECEPTACLE_OBJECTS or rtype in constants.MOVABLE_RECEPTACLES_SET:
            continue
        pose = (round(x / GRID), round(z / GRID), int(rotation) // 90, int(horizon))
        receptacles.append(Receptacle(rid, rtype, pose))
    floor = np.load(LAYOUT_DIR / f"{name}-layout.npy").astype(np.float64).reshape(-1, 2)
    kept = tuple(t for t in object_types if t in constants.OBJECTS)
    return Scene(name, tuple(receptacles), kept, floor)


def can_hold(rtype: str, otype: str) -> bool:
    """ALFWorld's placement rule (``gen/constants.py``): may a ``rtype`` receptacle hold a ``otype`` object?"""
    return otype in constants.VAL_RECEPTACLE_OBJECTS.get(rtype, ())


def has_action(kind: str, otype: str) -> bool:
    """Is ``otype`` ``Cleanable``/``Heatable``/``Coolable``/``Toggleable`` in ALFWorld's rules?"""
    return otype in constants.VAL_ACTION_OBJECTS[kind]
