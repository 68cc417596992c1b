"""Sample one ALFWorld task in a FloorPlan scene and write it as a PDDL problem for ``alfworld/data/alfred.pddl``.

A task is a type (one of :data:`TASK_TYPES`), its ``pddl_params`` (ALFRED's ``object_target``,
``parent_target``, ``toggle_target``) and a placement of objects in the scene's receptacles that follows the
wheel's rules (``gen/constants.py``). Placements never satisfy the goal already (that crashes TextWorld's PDDL
state with ``KeyError: 'val1'``, alfworld issue #21): no target object starts in a receptacle of the goal type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmrl.envs.alfworld.scenes import GRID, Scene, can_hold, constants, has_action

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
#: Receptacle a state-change task needs in the scene.
NEEDS = {"pick_clean_then_place_in_recep": ("Cleanable", "SinkBasin"),
         "pick_heat_then_place_in_recep": ("Heatable", "Microwave"),
         "pick_cool_then_place_in_recep": ("Coolable", "Fridge")}
LAMPS = ("DeskLamp", "FloorLamp")
#: Surfaces a lamp stands on (the wheel's rules list no receptacle for lamps).
LAMP_SURFACES = ("Desk", "SideTable", "Dresser", "Shelf", "CoffeeTable", "DiningTable", "TVStand", "CounterTop")


class NoTask(ValueError):
    """The scene cannot host the requested task type."""


@dataclass
class Task:
    task_type: str
    scene: Scene
    object_target: str
    parent_target: str
    toggle_target: str = ""
    #: object id -> receptacle id
    placement: dict[str, str] = field(default_factory=dict)
    agent_pose: tuple[int, int, int, int] = (0, 0, 0, 30)

    def pddl_params(self) -> dict:
        return {"object_target": self.object_target, "parent_target": self.parent_target,
                "toggle_target": self.toggle_target, "mrecep_target": "", "object_sliced": False}


def _pickable_types(scene: Scene) -> list[str]:
    rtypes = scene.receptacle_types()
    return sorted(t for t in scene.object_types
                  if t not in constants.RECEPTACLES or t in constants.MOVABLE_RECEPTACLES_SET
                  if t not in LAMPS and any(can_hold(r, t) for r in rtypes))


def sample_task(scene: Scene, task_type: str, rng: np.random.Generator, n_distractors: int = 4) -> Task:
    """A random task of ``task_type`` in ``scene``; raises :class:`NoTask` when the scene cannot host it."""
    rtypes = sorted(scene.receptacle_types())
    candidates = _pickable_types(scene)
    toggle = ""
    if task_type in NEEDS:
        kind, needed = NEEDS[task_type]
        if needed not in rtypes:
            raise NoTask(f"{scene.name} has no {needed}")
        candidates = [t for t in candidates if has_action(kind, t)]
    if task_type == "look_at_obj_in_light":
        lamps = [t for t in LAMPS if t in scene.object_types]
        surfaces = [r for r in scene.receptacles if r.rtype in LAMP_SURFACES]
        if not lamps or not surfaces:
            raise NoTask(f"{scene.name} has no lamp on a surface")
        toggle = lamps[int(rng.integers(len(lamps)))]
    pairs = []
    for otype in candidates:
        sources = [r for r in scene.receptacles if can_hold(r.rtype, otype)]
        for parent in rtypes:
            if task_type == "look_at_obj_in_light":
                parent = ""
            elif not can_hold(parent, otype) or parent == NEEDS.get(task_type, ("", ""))[1]:
                continue
            if any(r.rtype != parent for r in sources):
                pairs.append((otype, parent))
            if task_type == "look_at_obj_in_light":
                break
    if not pairs:
        raise NoTask(f"{scene.name} has no object/receptacle pair for {task_type}")
    otype, parent = pairs[int(rng.integers(len(pairs)))]
    task = Task(task_type, scene, otype, parent, toggle)
    n_targets = 2 if task_type == "pick_two_obj_and_place" else int(rng.integers(1, 3))
    _place(task, otype, n_targets, rng, avoid=parent)
    others = [t for t in _pickable_types(scene) if t != otype]
    for index in rng.permutation(len(others))[:n_distractors]:
        _place(task, others[int(index)], 1, rng, avoid=parent if task_type == "pick_two_obj_and_place" else "")
    if toggle:
        surfaces = [r for r in scene.receptacles if r.rtype in LAMP_SURFACES]
        task.placement[_object_id(toggle, surfaces[0].rid, 0)] = surfaces[int(rng.integers(len(surfaces)))].rid
    # The agent starts on a floor point from which no receptacle is used: its first move is a "go to".
    used = {r.pose[:2] for r in scene.receptacles}
    free = [(x, z) for x, z in scene.floor if (round(x / GRID), round(z / GRID)) not in used] or list(scene.floor)
    x, z = free[int(rng.integers(len(free)))]
    task.agent_pose = (round(x / GRID), round(z / GRID), int(rng.integers(4)), 30)
    return task


def _object_id(otype: str, rid: str, k: int) -> str:
    """An AI2-THOR-style id ``Type|x|y|z`` near the receptacle (ids carry positions, as the official games')."""
    _, x, y, z = (rid.split("|") + ["0", "0", "0"])[:4]
    try:
        x_, y_, z_ = float(x) + 0.05 * (k + 1), float(y) + 0.1, float(z) - 0.05 * (k + 1)
    except ValueError:
        x_, y_, z_ = 0.0, 0.0, 0.0
    return f"{otype}|{x_:+06.2f}|{y_:+06.2f}|{z_:+06.2f}"


def _place(task: Task, otype: str, count: int, rng: np.random.Generator, avoid: str) -> None:
    sources = [r for r in task.scene.receptacles if can_hold(r.rtype, otype) and r.rtype != avoid]
    for _ in range(count):
        rec = sources[int(rng.integers(len(sources)))]
        k = 0
        while _object_id(otype, rec.rid, k) in task.placement:
            k += 1
        task.placement[_object_id(otype, rec.rid, k)] = rec.rid


def _name(entity: str) -> str:
    """A PDDL-safe name, by alfworld's own substitutions (its demangler reverses them)."""
    for old, new in (("-", "_minus_"), ("|", "_bar_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_")):
        entity = entity.replace(old, new)
    return entity


def _loc(pose: tuple[int, int, int, int]) -> str:
    return _name("loc|{}|{}|{}|{}".format(*pose))


def pddl_problem(task: Task, goal_pddl: str) -> str:
    """The PDDL problem text of ``task``; ``goal_pddl`` is ``goal_library.gdict[type]["pddl"]`` (closes the define)."""
    recs = task.scene.receptacles
    objs = sorted(task.placement)
    otypes = sorted({o.split("|")[0] for o in objs} | {task.object_target} | ({task.toggle_target} - {""}))
    rtypes = sorted({r.rtype for r in recs} | ({task.parent_target} - {""}))
    locations = sorted({_loc(r.pose) for r in recs} | {_loc(task.agent_pose)})
    lines = ["(define (problem plan_mmrl)", "  (:domain alfred)", "  (:objects", "    agent1 - agent"]
    lines += [f"    {_name(r.rid)} - receptacle" for r in recs]
    lines += [f"    {_name(o)} - object" for o in objs]
    lines += [f"    {loc} - location" for loc in locations]
    lines += [f"    {t}Type - otype" for t in otypes] + [f"    {t}Type - rtype" for t in rtypes] + ["  )"]
    init = ["(= (total-cost) 0)", f"(atLocation agent1 {_loc(task.agent_pose)})"]
    for r in recs:
        init += [f"(receptacleType {_name(r.rid)} {r.rtype}Type)",
                 f"(receptacleAtLocation {_name(r.rid)} {_loc(r.pose)})"]
        if r.rtype in constants.OPENABLE_CLASS_SET:
            init.append(f"(openable {_name(r.rid)})")
    poses = {r.rid: r.pose for r in recs}
    for o in objs:
        otype, rid = o.split("|")[0], task.placement[o]
        init += [f"(objectType {_name(o)} {otype}Type)", f"(inReceptacle {_name(o)} {_name(rid)})",
                 f"(objectAtLocation {_name(o)} {_loc(poses[rid])})"]
        if otype in LAMPS:
            init.append(f"(toggleable {_name(o)})")
            continue
        init.append(f"(pickupable {_name(o)})")
        for kind, pred in (("Cleanable", "cleanable"), ("Heatable", "heatable"), ("Coolable", "coolable")):
            if has_action(kind, otype):
                init.append(f"({pred} {_name(o)})")
    init += [f"(canContain {r}Type {t}Type)" for r in rtypes for t in otypes if can_hold(r, t)]
    goal = goal_pddl.format(obj=task.object_target, recep=task.parent_target, toggle=task.toggle_target,
                            mrecep="").replace("#", "-")
    return "\n".join(lines + ["  (:init"] + [f"    {fact}" for fact in init] + ["  )", goal.strip()]) + "\n"
