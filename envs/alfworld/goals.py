"""Goal conditions of ALFWorld's six task types, read from the PDDL state's facts (ALFRED's goal-condition rate).

The rate is the share of a task's sub-goals that hold, e.g. for "heat some apple and put it in sinkbasin": an
apple is hot; a hot apple is in a sinkbasin. It is 1 exactly when the game is won (for the six types here).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATE = {"pick_clean_then_place_in_recep": "isclean", "pick_heat_then_place_in_recep": "ishot",
         "pick_cool_then_place_in_recep": "iscool"}


def _pairs(facts: Iterable[Any], predicate: str) -> set[tuple[str, ...]]:
    return {tuple(a.name for a in f.arguments) for f in facts if f.name == predicate}


def goal_conditions(facts: Iterable[Any], traj: dict[str, Any]) -> list[bool]:
    """Which sub-goals of ``traj``'s task hold in ``facts`` (TextWorld propositions; lower-case names)."""
    facts = list(facts)
    params = traj.get("pddl_params", {})
    task_type = traj.get("task_type", "")
    obj = str(params.get("object_target", "")).lower() + "type"
    recep = str(params.get("parent_target", "")).lower() + "type"
    toggle = str(params.get("toggle_target", "")).lower() + "type"
    of_type = _pairs(facts, "objecttype")
    targets = {o for o, t in of_type if t == obj}
    receps = {r for r, t in _pairs(facts, "receptacletype") if t == recep}
    placed = {o for o, r in _pairs(facts, "inreceptacle") if o in targets and r in receps}
    if task_type == "look_at_obj_in_light":
        held = {o for _, o in _pairs(facts, "holds")}
        lamps = {o for o, t in of_type if t == toggle}
        toggled = {o for (o,) in _pairs(facts, "istoggled")}
        return [bool(held & targets), bool(lamps & toggled)]
    if task_type == "pick_two_obj_and_place":
        return [len(placed) >= 1, len(placed) >= 2]
    if task_type in STATE:
        changed = {o for (o,) in _pairs(facts, STATE[task_type])} & targets
        return [bool(changed), bool(changed & placed)]
    return [bool(placed)]


def goal_condition_rate(facts: Iterable[Any], traj: dict[str, Any]) -> float:
    """Share of :func:`goal_conditions` that hold (0.0 .. 1.0)."""
    conditions = goal_conditions(facts, traj)
    return sum(conditions) / len(conditions)
