"""``mmrl/ALFWorld-v0``: ALFWorld's text household games on TextWorld's PDDL engine, as a text-action Gymnasium env."""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.alfworld import goals, render
from mmrl.envs.alfworld.game import ENGINE_LOCK, GAME_FILE, TRAJ_FILE, find_games, make_engine
from mmrl.envs.alfworld.problem import TASK_TYPES
from mmrl.envs.alfworld.scenes import LAYOUT_DIR
from mmrl.envs.spaces import TEXT_CHARSET, text_space
from mmrl.formats import ACTION_TAG, JSON, MAX_RESPONSE_LENGTH, ResponseFormat, get_format
from mmrl.rewards.combine import RewardWeights

#: Environment variable naming the default game folder.
DATA_ENV_VAR = "MMRL_ALFWORLD_DATA"
#: Default reward weights per preset (``reward_weights`` merge over them): RL4VLM's and verl-agent's.
REWARD_PRESETS = {
    "rl4vlm": {"won": 50.0, "goal_condition": 1.0, "invalid_action": -1.0},
    "verl_agent": {"won": 10.0, "goal_condition": 0.0, "invalid_action": -0.1},
}
MAX_TEXT_LENGTH = 16384
#: Loaded games kept per env.
ENGINE_CACHE = 8
MAX_ACTION_LENGTH = 300
NOTHING = "Nothing happens."
_CHARSET = frozenset(TEXT_CHARSET)
#: Predicates that change no world state (looking, examining); they do not take the agent off the walkthrough.
NO_STATE = {"checked", "examined"}


def normalize_command(text: str) -> str:
    """Lower case, single spaces, no surrounding quotes or final full stop; ``put/place X in/on Y`` becomes the
    0.4.x grammar's ``move X to Y``."""
    command = re.sub(r"\s+", " ", text.lower()).strip().strip("\"'`").strip().rstrip(".!").strip()
    match = re.fullmatch(r"(?:put|place) ([a-z0-9 ]{1,60}?) (?:in|on|into|onto|in/on) ([a-z0-9 ]{1,60})", command)
    return f"move {match.group(1)} to {match.group(2)}" if match else command


def parse_command(response: Any, response_format: ResponseFormat = JSON) -> str | None:
    """The command a response gives in `response_format` (the action of :mod:`mmrl.formats`), normalised;
    ``None`` when it has none or a too long one."""
    action = response_format.action(response)
    if action is None or len(action) > MAX_ACTION_LENGTH:
        return None
    return normalize_command(action)


#: The answer formats the env can ask for, and the instruction that ends its prompt.
FORMAT_INSTRUCTIONS = {
    JSON.name: 'Answer with one JSON object: {"thoughts": "your reasoning", "action": "one admissible action"}',
    ACTION_TAG.name: "Think inside <think> </think>, then give one admissible action inside <action> </action>.",
}


class ALFWorldEnv(gym.Env[dict[str, Any], str]):
    """Text household tasks of ALFWorld (Shridhar et al., 2021, arXiv:2010.03768) on the ``alfworld`` engine.

    ## Description
    Each episode is one game from ``data_path``: any folder in ALFWorld's layout (``traj_data.json`` +
    ``game.tw-pddl``), e.g. ALFWorld's official ``json_2.1.1/train`` or games written by
    ``mmrl alfworld generate``. The agent reads the room and its task ("put a clean cloth in countertop") and acts
    with ALFWorld's commands (``go to cabinet 1``, ``open ...``, ``take X from Y``, ``move X to Y``, ``clean/heat/
    cool X with Y``, ``use desklamp 1``, ``look``, ``inventory``, ``examine``). Six task types:
    ``task_types`` filters them. Games are drawn with the env's generator (``reset(options={"game": i})`` picks
    one); ``self.games`` lists them.

    ## Action Space
    ``text_space(8192)``: the model's whole response, in ``response_format`` (:mod:`mmrl.formats`): ``"json"``
    (default; ``{"thoughts": "...", "action": "go to fridge 1"}``, the answer format of the card games: the command
    is the ``"action"`` of its last JSON object) or ``"action_tag"`` (verl-agent's ``<think>...</think><action>go to
    fridge 1</action>``). It is normalised (:func:`normalize_command`) and
    must then equal an admissible command; otherwise the game answers "Nothing happens." and the step is
    penalised. A response with neither form is a format error (penalised the same way).

    ## Observation Space
    ``Dict(text=Text(16384), image=Box(0, 255, (320, 320, 3), uint8))``; ``render_image=False`` drops the image.
    ``text``: the task, the last ``history_turns`` (command, feedback) pairs, the current feedback, the admissible
    commands and the answer format. ``image``: :func:`mmrl.envs.alfworld.render.draw_schematic`, a top-down map
    of what the agent knows (receptacles, where it has been and what it saw there, what it holds), labelled
    "SCHEMATIC": not a camera view.

    ## Rewards
    Per step, a weighted sum of registered rewards: ``won`` (1 when the goal is reached), ``goal_condition`` (the
    increase of the goal-condition rate, the share of the task's sub-goals met, :mod:`mmrl.envs.alfworld.goals`)
    and ``invalid_action`` (1 for a command that is not admissible or a format error). The preset (``reward``)
    gives the default weights: ``"rl4vlm"`` (RL4VLM, Zhai et al. 2024: 50 * won + goal-condition rate - 1 per
    illegal action; the rate enters as its increase, so an episode's sum holds it once and standing still earns
    nothing) and ``"verl_agent"`` (verl-agent / GiGPO: 10 * won, -0.1 per invalid action, no shaping);
    ``reward_weights`` merge over them (any registered reward, ``module:name`` too). Components are in info:
    ``reward/won``, ``reward/goal_condition``, ``reward/invalid_action``.

    ## Episode End
    Terminated when the goal is met; truncated after ``max_steps`` (50) steps. Info (reset and step): ``success``
    (won), ``expert_action`` (a response in ``response_format`` whose action is the next step of the current plan:
    the game's stored planner walkthrough while the agent follows it; once the agent changes the world off the
    plan: with ``replan=True``, Fast Downward re-plans from the current state (once per new off-plan world state,
    cached in the episode; 1-5 ms in small scenes, seconds in ALFWorld-sized ones, which is why it is off by
    default: an RL policy leaves the plan at almost every step) and the new plan is followed; ``None`` once off
    plan with ``replan=False``, or when no plan reaches the goal),
    ``expert_command``, ``admissible_actions`` (a JSON response per admissible command), ``admissible_commands``,
    ``goal_condition_rate``, ``task_type``, ``game``; step info adds ``format_error`` and ``invalid_action``.

    ## Arguments
    ``data_path`` (folder of games; default ``$MMRL_ALFWORLD_DATA``), ``task_types`` (all six), ``max_steps``
    (50), ``reward`` (``"rl4vlm"``: the preset of default weights), ``reward_weights`` (merged over the preset's),
    ``history_turns`` (3: earlier steps the text recalls; under mmrl the runner passes ``rollout.history_turns``
    and adds no chat history of its own), ``render_image`` (True), ``image_size`` (320), ``response_format``
    (``"json"`` or ``"action_tag"``: the answer format the prompt asks for, the env parses and the expert writes),
    ``replan`` (False; True: re-plan with the game's planner once the agent leaves the plan, e.g. for a DAgger
    warm-start, ``train.sft_beta`` < 1, or GTR's oracle).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}
    system_prompt: str | None = None

    def __init__(self, data_path: str | None = None, task_types: list[str] | None = None, max_steps: int = 50,
                 reward: str = "rl4vlm", reward_weights: dict[str, float] | None = None, history_turns: int = 3,
                 render_image: bool = True,
                 image_size: int = 320, render_mode: str | None = None, response_format: str = JSON.name,
                 replan: bool = False) -> None:
        if response_format not in FORMAT_INSTRUCTIONS:
            raise ValueError(f"response_format must be one of {sorted(FORMAT_INSTRUCTIONS)}, got {response_format!r}")
        self.response_format = response_format
        self._format = get_format(response_format)
        if reward not in REWARD_PRESETS:
            raise ValueError(f"reward must be one of {sorted(REWARD_PRESETS)}, got {reward!r}")
        data_path = data_path or os.environ.get(DATA_ENV_VAR)
        if not data_path:
            raise ValueError(f"ALFWorld needs games: pass data_path=DIR or set ${DATA_ENV_VAR} "
                             "(make some with `mmrl alfworld generate --out DIR --n 20`)")
        wanted = set(task_types or TASK_TYPES)
        self.games = [g for g in find_games(data_path) if _task_type(g) in wanted]
        if not self.games:
            raise ValueError(f"no solvable ALFWorld game of types {sorted(wanted)} under {data_path!r}")
        self.rewards = RewardWeights(REWARD_PRESETS[reward], reward_weights)
        self.max_steps, self.history, self.render_mode = int(max_steps), int(history_turns), render_mode
        self.render_image, self.image_size = bool(render_image), int(image_size)
        self.replan = bool(replan)
        observation = {"text": text_space(MAX_TEXT_LENGTH)}
        if self.render_image:
            observation["image"] = spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(observation)
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._engine = None
        self._engines: OrderedDict[Path, Any] = OrderedDict()  # loaded games, least recently used first
        self._loaded: Path | None = None
        self._game_index: int | None = None
        self._commands: list[str] = []

    # -- Gymnasium API ------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = (options or {}).get("game")
        if index is None:
            index = int(self.np_random.integers(len(self.games)))
        if not 0 <= int(index) < len(self.games):
            raise ValueError(f"options['game'] must be in [0, {len(self.games)}), got {index}")
        with ENGINE_LOCK:
            self._start(int(index))
            return self._observation(), self._info()

    def step(self, action: str):
        if self._game_index is None or not self._active:
            raise RuntimeError("ALFWorldEnv: the episode has ended; call reset() before step()")
        with ENGINE_LOCK:
            return self._step(action)

    def _step(self, action: str):
        if self._engine is None:  # unpickled mid-episode: replay the episode so far
            history, steps = self._history, self._steps
            self._start(self._game_index, replay=list(self._commands))
            self._history, self._steps = history, steps
        command = parse_command(action, self._format)
        format_error = command is None
        admissible = {normalize_command(c): c for c in self._state["admissible_commands"]}
        invalid = command not in admissible
        previous_gc = self._gc
        if invalid:
            self._feedback = NOTHING
        else:
            self._play(admissible[command])
        self._steps += 1
        self._history.append((command if command is not None else "(no action)", self._feedback))
        won = bool(self._state["won"])
        reward, values = self.rewards.score(action, won=won, goal_condition_gain=self._gc - previous_gc,
                                            invalid_action=invalid, format_error=format_error)
        terminated, truncated = won, not won and self._steps >= self.max_steps
        self._active = not (terminated or truncated)
        info = {**self._info(), "format_error": format_error, "invalid_action": invalid,
                **RewardWeights.info(values)}
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        return self._draw() if self.render_mode == "rgb_array" else None

    # -- pickling: TextWorld's engine holds a C library; a clone replays the episode's commands on first use ----
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_engine=None, _engines=OrderedDict(), _loaded=None, _state=None)
        return state

    # -- internals ----------------------------------------------------------------------------------------------
    def _start(self, index: int, replay: list[str] | None = None) -> None:
        folder = self.games[index]
        if self._loaded != folder or self._engine is None:
            # Parsing a game's domain and grammar costs more than a reset: keep the last few games loaded.
            if folder not in self._engines:
                self._engines[folder] = make_engine()
                self._engines[folder].load(str(folder / GAME_FILE))
                while len(self._engines) > ENGINE_CACHE:
                    self._engines.popitem(last=False)
            self._engines.move_to_end(folder)
            self._engine, self._loaded = self._engines[folder], folder
            self._traj = json.loads((folder / TRAJ_FILE).read_text())
            self._walkthrough = list(json.loads((folder / GAME_FILE).read_text()).get("walkthrough") or [])
            self._floor = _floor(self._traj)
        self._game_index, self._active, self._steps = index, True, 0
        self._state = self._engine.reset()
        self._feedback = self._state.feedback.split("-= Welcome to TextWorld, ALFRED! =-")[-1].strip()
        match = re.search(r"Your task is to: [^\n]*", self._feedback)
        self._task = match.group(0) if match else "Your task is to: " + self._traj.get("task_type", "?")
        self._history: list[tuple[str, str]] = []
        self._commands, self._plan_step, self._on_plan = [], 0, True
        self._plan = list(self._walkthrough)
        self._plans: dict[frozenset, list[str]] = {}  # world state -> the planner's plan from it (this episode)
        self._visited: set[str] = set()
        self._gc = goals.goal_condition_rate(self._state["_facts"], self._traj)
        for command in replay or []:
            self._play(command)

    def _play(self, command: str) -> None:
        before = _world(self._state["_facts"])
        self._state, _, _ = self._engine.step(command)
        self._commands.append(command)
        self._feedback = self._state.feedback
        if command.startswith("go to "):
            self._visited.add(command[6:])
        if self._on_plan and self._plan_step < len(self._plan) and command == self._plan[self._plan_step]:
            self._plan_step += 1
        elif _world(self._state["_facts"]) != before:
            self._on_plan = False
        self._gc = goals.goal_condition_rate(self._state["_facts"], self._traj)

    def _expert_command(self) -> str | None:
        """The next command of the current plan; off plan (with ``replan``), the planner's plan from the current
        state becomes the plan (one planner call per new world state)."""
        if not self._active:
            return None
        if not self._on_plan and self.replan:
            world = _world(self._state["_facts"])
            if world not in self._plans:
                self._plans[world] = list(self._engine._pddl_state.replan(self._engine._entity_infos))
            self._plan, self._plan_step, self._on_plan = self._plans[world], 0, True
        if self._on_plan and self._plan_step < len(self._plan):
            return self._plan[self._plan_step]
        return None

    def _info(self) -> dict[str, Any]:
        commands = list(self._state["admissible_commands"]) if self._active else []
        expert = self._expert_command()
        return {
            "success": bool(self._state["won"]),
            "expert_command": expert,
            "expert_action": None if expert is None else self._format.compose(f"Following the plan: {expert}.", expert),
            "admissible_commands": commands,
            "admissible_actions": [self._format.compose(f"I choose to {c}.", c) for c in commands],
            "goal_condition_rate": float(self._gc),
            "task_type": self._traj.get("task_type", ""),
            "game": self._game_index,
        }

    def _observation(self) -> dict[str, Any]:
        lines = ["You are a household agent in a text world. Reach the goal in as few steps as you can.", self._task]
        earlier = self._history[:-1][-self.history:] if self.history > 0 else []
        if earlier:
            lines.append(f"Your {len(earlier)} actions before the last one and what followed:")
            lines += [f"> {c}\n{f}" for c, f in earlier]
        if self._history:
            lines.append(f"Your last action: {self._history[-1][0]}")
        lines.append(f"Current observation: {self._feedback}")
        lines.append(f"Step {self._steps} of {self.max_steps}. Admissible actions: "
                     + ", ".join(f'"{c}"' for c in self._state["admissible_commands"]))
        lines.append(FORMAT_INSTRUCTIONS[self.response_format])
        text = "\n".join(lines)[-MAX_TEXT_LENGTH:]
        # Official games may carry human-written goals: characters outside the space become "?".
        text = "".join(c if c in _CHARSET else "?" for c in text)
        if self.render_image:
            return {"text": text, "image": self._draw()}
        return {"text": text}

    def _draw(self) -> np.ndarray:
        infos = self._state["_entity_infos"]
        facts = self._state["_facts"]
        receptacles = {i.name: render.entity_position(i.id) for i in infos.values() if i.type == "receptacle"}
        names = {key: info.name for key, info in infos.items()}
        seen = {r: [] for r in self._visited if r in receptacles}
        holding = None
        for fact in facts:
            args = [names.get(a.name, a.name) for a in fact.arguments]
            if fact.name == "inreceptacle" and args[1] in seen:
                seen[args[1]].append(args[0])
            elif fact.name == "holds":
                holding = args[1]
        agent_at = next((c[6:] for c in reversed(self._commands) if c.startswith("go to ")), None)
        return render.draw_schematic(receptacles, seen, agent_at, holding, self._floor, self.image_size)


def _task_type(folder: Path) -> str:
    try:
        return json.loads((folder / TRAJ_FILE).read_text()).get("task_type", "")
    except (OSError, ValueError):
        return ""


def _world(facts) -> frozenset:
    return frozenset(str(f) for f in facts if f.name not in NO_STATE)


def _floor(traj: dict[str, Any]) -> np.ndarray | None:
    scene = str(traj.get("scene", {}).get("floor_plan", ""))
    path = LAYOUT_DIR / f"{scene}-layout.npy"
    if not re.fullmatch(r"FloorPlan\d+", scene) or not path.is_file():
        return None
    return np.load(path).astype(np.float64).reshape(-1, 2)
