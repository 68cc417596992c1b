"""The oracle corrector: judges and corrects thoughts with the env's own expert (a solver, a planner's walkthrough,
basic strategy) instead of a model. Free, exact, and the default for CPU runs and tests.

Verdict: the thought is right when the response's action is one an expert would take here (``info["good_actions"]``
when the env lists every such action, as the points games do, else the expert's one action) and, for JSON answers,
every field it states besides thoughts and action (what it read off the image) equals the expert's. An action
outside that set leaves the solution path (GTR's truncation rule). The correction is the
expert's thought, and for RL4VLM-style JSON answers the expert's recognition fields too (the cards, the current
formula, the position), so a thought that misread the image is corrected as GTR's corrector does. A state without
an expert (a points hand with no solution left) is off the path: GTR truncates such episodes.
"""

from __future__ import annotations

from typing import Any

from mmrl.correctors.base import Correction, thought_of, with_thought
from mmrl.envs.cards.answer import last_json_object, response_action


class OracleCorrector:
    def correct(self, observation: Any, response: str, info: dict[str, Any]) -> Correction | None:
        expert = info.get("expert_action")
        thought = info.get("expert_thought")
        if not expert or not thought:
            return Correction(correct=False, off_path=True)
        good = info.get("good_actions") or [response_action(expert)]
        action = response_action(response)
        fields = {k: v for k, v in (last_json_object(expert) or {}).items() if k not in ("thoughts", "action")}
        stated = last_json_object(response) or {}
        read_right = all(stated.get(k) == v for k, v in fields.items())
        on_path = action is not None and action in good
        if on_path and read_right and thought_of(response).strip():
            return Correction(correct=True)
        fixed = with_thought(response, thought, fields)
        return Correction(correct=False, thought=thought, response=fixed, off_path=not on_path)

    def close(self) -> None:
        pass
