"""The oracle corrector: judges and corrects thoughts with the env's own expert (a solver, a planner's walkthrough,
basic strategy) instead of a model. Free, exact, and the default for CPU runs and tests.

Verdict: the thought is right when the response's action is one an expert would take here (``info["good_actions"]``
when the env lists every such action, as the points games do, else the expert's one action) and, for JSON answers,
every field it states besides thoughts and action (what it read off the image) equals the expert's. Thought,
action and fields are read in the env's response format (:mod:`mmrl.formats`). An action
outside that set leaves the solution path (GTR's truncation rule). The correction is the
expert's thought, and for RL4VLM-style JSON answers the expert's recognition fields too (the cards, the current
formula, the position), so a thought that misread the image is corrected as GTR's corrector does. A state without
an expert (a points hand with no solution left) is off the path: GTR truncates such episodes.
"""

from __future__ import annotations

from typing import Any

from mmrl.correctors.base import Correction
from mmrl.formats import ResponseFormat


class OracleCorrector:
    def correct(self, observation: Any, response: str, info: dict[str, Any],
                response_format: ResponseFormat) -> Correction | None:
        expert = info.get("expert_action")
        thought = info.get("expert_thought")
        if not expert or not thought:
            return Correction(correct=False, off_path=True)
        good = info.get("good_actions") or [response_format.action(expert)]
        action = response_format.action(response)
        fields = response_format.fields(expert)
        stated = response_format.fields(response)
        read_right = all(stated.get(k) == v for k, v in fields.items())
        on_path = action is not None and action in good
        if on_path and read_right and response_format.thought(response).strip():
            return Correction(correct=True)
        fixed = response_format.with_thought(response, thought, fields)
        return Correction(correct=False, thought=thought, response=fixed, off_path=not on_path)

    def close(self) -> None:
        pass
