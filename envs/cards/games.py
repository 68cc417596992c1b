"""The gym-cards games of RL4VLM (Zhai et al., 2024, "Fine-Tuning Large Vision-Language Models as
Decision-Making Agents via Reinforcement Learning") as text-action Gymnasium envs.

``mmrl/NumberLine-v0``, ``mmrl/EZPoints-v0``, ``mmrl/Points24-v0`` and ``mmrl/Blackjack-v0``. The action is the
model's whole response; each env reads the ``"action"`` of the last JSON object in it
(the ``json`` format of :mod:`mmrl.formats`). Rules and rewards follow RL4VLM's ``gym-cards`` package; the formula of the
points games is checked by :mod:`mmrl.envs.cards.formula` (never ``eval``), the expert by
:mod:`mmrl.envs.cards.solver`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.cards import render
from mmrl.envs.cards.formula import reaches_target, tokenize
from mmrl.envs.cards.solver import solve
from mmrl.envs.spaces import text_space
from mmrl.formats import JSON, MAX_RESPONSE_LENGTH
from mmrl.rewards.combine import RewardWeights

SUIT_NAMES = {"H": "hearts", "D": "diamonds", "S": "spades", "C": "clubs"}
DEFAULT_REWARD_WEIGHTS = {"game": 1.0, "format_error": -1.0}
"""The rules' reward plus RL4VLM's -1 for a response without a valid action (``reward_weights`` merge over it)."""


class _CardGameEnv(gym.Env[dict[str, Any], str]):
    """What the four games share: the answer format, the observation, the format penalty, the info keys."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    system_prompt: str | None = None
    response_format = JSON.name
    #: Side of the square image.
    image_size = 300

    def __init__(self, render_image: bool, reward_weights: dict[str, float] | None, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_image = bool(render_image)
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS, reward_weights)
        self.render_mode = render_mode
        observation = {"text": text_space(MAX_RESPONSE_LENGTH)}
        if self.render_image:
            observation["image"] = spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(observation)
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._episode_active = False

    # -- what each game provides --
    def _new_episode(self) -> None:
        raise NotImplementedError

    def _play(self, token: str | None) -> tuple[float, bool, bool, bool]:
        """Apply a parsed action (``None``: no valid action); return (game reward, terminated, truncated,
        format error)."""
        raise NotImplementedError

    def _prompt(self) -> str:
        raise NotImplementedError

    def _draw(self) -> np.ndarray:
        raise NotImplementedError

    def _expert(self) -> tuple[str, str] | None:
        """(next action, thought) of the oracle in the current state, or ``None`` when it has none."""
        raise NotImplementedError

    def _valid_actions(self) -> list[str]:
        raise NotImplementedError

    def _response(self, action: str, thoughts: str) -> str:
        raise NotImplementedError

    def _plain_thought(self, action: str) -> str:
        """The thought of ``admissible_actions``' responses: it may describe the state, never which move is best."""
        return f"I choose {action}."

    def _good_actions(self) -> list[str]:
        """Every action an expert could take now (the GTR oracle's verdict); by default the expert's one."""
        expert = self._expert()
        return [] if expert is None else [expert[0]]

    def _success(self) -> bool:
        raise NotImplementedError

    # -- Gymnasium API --
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._new_episode()
        self._episode_active = True
        return self._observation(), self._info()

    def step(self, action: str):
        if not self._episode_active:
            raise RuntimeError(f"{type(self).__name__}: the episode has ended; call reset() before step()")
        token = JSON.action(action)
        game_reward, terminated, truncated, format_error = self._play(token)
        if terminated or truncated:
            self._episode_active = False
        reward, values = self.rewards.score(action, game=float(game_reward), format_error=format_error)
        info = self._info() | {"format_error": format_error} | RewardWeights.info(values)
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        return self._draw() if self.render_mode == "rgb_array" else None

    def _observation(self) -> dict[str, Any]:
        if self.render_image:
            return {"text": self._prompt(), "image": self._draw()}
        return {"text": self._prompt()}

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"success": self._success(), "expert_action": None, "expert_thought": None,
                                "admissible_actions": []}
        if self._episode_active:
            expert = self._expert()
            if expert is not None:
                info["expert_action"] = self._response(*expert)
                info["expert_thought"] = expert[1]
            info["good_actions"] = self._good_actions()
            info["admissible_actions"] = [self._response(a, self._plain_thought(a)) for a in self._valid_actions()]
        return info


def _card_text(rank: int, suit: str) -> str:
    return f"{render.rank_name(rank)} of {SUIT_NAMES[suit]}"


class _FormulaGameEnv(_CardGameEnv):
    """Points24 and EZPoints: build a formula from the cards one token per step."""

    operators: str = "+-*/()="

    def __init__(self, num_cards: int, target: int, treat_face_cards_as_10: bool, max_formula_length: int,
                 render_image: bool, reward_weights: dict[str, float] | None, render_mode: str | None) -> None:
        super().__init__(render_image, reward_weights, render_mode)
        self.num_cards = num_cards
        self.target = target
        self.treat_face_cards_as_10 = treat_face_cards_as_10
        self.max_formula_length = max_formula_length
        self.numbers = [str(n) for n in range(1, 11 if treat_face_cards_as_10 else 14)]
        self.cards: list[tuple[int, str]] = []
        self.values: list[int] = []
        self.formula: list[str] = []
        self._slots = 0  # formula tokens plus rejected steps, as RL4VLM's padded formula length
        self._solutions: list[list[str]] = []
        self._success_flag = False

    def _deal(self) -> list[tuple[int, str]]:
        raise NotImplementedError

    def _value(self, rank: int) -> int:
        return min(rank, 10) if self.treat_face_cards_as_10 else rank

    def _new_episode(self) -> None:
        self.cards = self._deal()
        self.values = [self._value(rank) for rank, _ in self.cards]
        self.formula = []
        self._slots = 0
        self._success_flag = False
        allowed = set(self.operators) | set(self.numbers)
        self._solutions = []
        for text in solve(self.values, self.target):
            tokens = tokenize(text)
            if tokens is not None and all(t in allowed for t in tokens):
                self._solutions.append(tokens)

    def _remaining(self) -> list[int]:
        left = list(self.values)
        for token in self.formula:
            if token.isdigit() and int(token) in left:
                left.remove(int(token))
        return left

    def _play(self, token: str | None) -> tuple[float, bool, bool, bool]:
        if self._slots > self.max_formula_length:  # RL4VLM checks the length before reading the action
            return -1.0, False, True, token is None or token not in self.numbers + list(self.operators)
        if token is None or (token not in self.numbers and token not in self.operators):
            self._slots += 1
            return 0.0, False, False, True
        if token in self.numbers:
            if int(token) not in self._remaining():
                self._slots += 1
                return -1.0, False, False, False
        elif token == "=":
            self._success_flag = reaches_target("".join(self.formula), self.values, self.target)
            return (10.0 if self._success_flag else -1.0), True, False, False
        self.formula.append(token)
        self._slots += 1
        return 0.0, False, False, False

    def _success(self) -> bool:
        return self._success_flag

    def _valid_actions(self) -> list[str]:
        remaining = sorted(set(self._remaining()))
        return [str(n) for n in remaining] + list(self.operators)

    def _expert(self) -> tuple[str, str] | None:
        prefix = self.formula
        for tokens in self._solutions:
            if tokens[:len(prefix)] == prefix:
                action = tokens[len(prefix)] if len(tokens) > len(prefix) else "="
                solution = "".join(tokens)
                thought = (f"The cards are {self.values}. {solution} = {self.target} uses every card once. The "
                           f"formula so far is '{''.join(prefix)}', so the next token is '{action}'.")
                return action, thought
        return None

    def _good_actions(self) -> list[str]:
        """The next token of every solution that extends the formula so far ('=' when one is complete)."""
        n = len(self.formula)
        good = {t[n] if len(t) > n else "=" for t in self._solutions if t[:n] == self.formula}
        return sorted(good)

    def _response(self, action: str, thoughts: str) -> str:
        return JSON.compose(thoughts, action, {"cards": self.values, "current formula": "".join(self.formula)})

    def _prompt(self) -> str:
        faces = "'J', 'Q' and 'K' count as 10" if self.treat_face_cards_as_10 else "'J', 'Q' and 'K' count as 11, 12 and 13"
        ops = " ".join(self.operators[:-1])
        text = (
            f"You are playing a cards game. Build a formula that equals {self.target} from the numbers on the "
            f"{self.num_cards} cards, using each card exactly once and the operators {ops}. 'A' counts as 1 "
            f"and {faces}. Each turn you add one token to the formula: a number from a card you have not used "
            f"yet, or an operator; choose '=' when the formula is complete. A number you do not hold costs -1. "
            f"'=' ends the game: +10 if the formula equals {self.target} and uses all cards, else -1. Once the "
            f"formula holds more than {self.max_formula_length} entries (rejected answers count too) the next "
            "turn ends the game with -1.\n"
            "Answer with one JSON object:\n"
            '{"cards": [the numbers on the cards], "current formula": "the formula so far", '
            f'"thoughts": "your reasoning", "action": "one token: a number or one of {" ".join(self.operators)}"}}\n'
        )
        if self.render_image:
            return text + "The cards and the current formula are shown in the image."
        cards = ", ".join(_card_text(rank, suit) for rank, suit in self.cards)
        return (text + f"Cards: {cards} (numbers {', '.join(map(str, self.values))}).\n"
                f"Current formula: {''.join(self.formula)}")

    def _draw(self) -> np.ndarray:
        return render.draw_cards_table(self.cards, "".join(self.formula), self.image_size)


_FORMULA_DOC = """

    ## Action Space
    ``text_space(8192)``: the model's whole response. The env reads the ``"action"`` of the last JSON object
    in it (text around it is ignored), the answer format of RL4VLM::

        {{"cards": [1, 10, 10, 7], "current formula": "(10+", "thoughts": "...", "action": "10"}}

    The action is one token: a number (``"1"``..``"10"``, or ``"1"``..``"13"`` with
    ``treat_face_cards_as_10=False``; a JSON integer is accepted too) or an operator among ``{operators}``. A
    response with no parsable JSON object, no ``"action"``, or an action outside these tokens is a format error.

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (300, 300, 3), uint8))``: the image is RL4VLM's green table (``#35654d``)
    with the cards and, under them, ``Formula:`` and the formula so far. ``text`` is the prompt: the rules, the
    answer format, and either "The cards and the current formula are shown in the image." or, with
    ``render_image=False`` (then the observation is ``Dict(text=Text)`` only), the cards and the formula in words.
    ``system_prompt`` is None.

    ## Rewards
    ``reward/game`` - ``reward/format_error``: ``=`` gives +10 when the formula equals the target and uses every card
    exactly once (checked with exact fractions by :func:`mmrl.envs.cards.formula.reaches_target`), else -1; a
    number that is not among the remaining cards -1 (the episode goes on); the length limit -1; other steps 0.
    A format error adds the ``format_error`` reward's weight (-1 by default) and the episode goes on. Components
    (``reward/game``, ``reward/format_error``) are the registered rewards ``game`` and ``format_error`` weighted by
    ``reward_weights`` merged over ``{{game: 1, format_error: -1}}``; any registered reward (``module:name`` too) can
    be added.

    ## Episode End
    Terminated by ``=``. Truncated (-1) at the first step after the formula holds more than
    ``max_formula_length`` entries, where (as in RL4VLM) rejected numbers and format errors each count as an
    entry. Stepping after the end raises ``RuntimeError``.

    Info (reset and step): ``success`` (the episode was won by ``=``), ``expert_action`` (a JSON response whose
    action is the next token of the first solver formula that extends the formula so far; ``"="`` once it is
    complete; ``None`` when no solution extends it or the episode is over), ``expert_thought``,
    ``admissible_actions`` (a JSON response for each token that is not penalised: the remaining numbers, then
    the operators). Step info adds ``format_error``, ``reward/game`` and ``reward/format_error``.
"""


class Points24Env(_FormulaGameEnv):
    """Make 24 from four cards.

    ## Description
    RL4VLM's Points24: four cards, ranks uniform in 1..13 with replacement and uniform suits; 'A' is 1 and
    J/Q/K count 10 (``treat_face_cards_as_10``). The agent writes a formula over the cards' numbers with
    ``+ - * / ( )``, one token per step, and ends it with ``=``. About a quarter of the deals (with J/Q/K as 10:
    149 of the 715 multisets of 1..10) have no solution.
    {formula_doc}
    ## Arguments
    ``target`` (24), ``treat_face_cards_as_10`` (True), ``max_formula_length`` (20), ``render_image`` (True),
    ``reward_weights`` (merged over ``{{game: 1.0, format_error: -1.0}}``), ``render_mode`` (None or
    ``"rgb_array"``).

    ## Version History
    * v0: initial version.
    """

    def __init__(self, target: int = 24, treat_face_cards_as_10: bool = True, max_formula_length: int = 20,
                 render_image: bool = True, reward_weights: dict[str, float] | None = None, render_mode: str | None = None) -> None:
        super().__init__(4, target, treat_face_cards_as_10, max_formula_length, render_image, reward_weights,
                         render_mode)

    def _deal(self) -> list[tuple[int, str]]:
        ranks = self.np_random.integers(1, 14, size=self.num_cards)
        suits = self.np_random.integers(0, 4, size=self.num_cards)
        return [(int(r), render.SUITS[int(s)]) for r, s in zip(ranks, suits)]


class EZPointsEnv(_FormulaGameEnv):
    """Make 12 from two cards with ``+`` and ``*``.

    ## Description
    RL4VLM's EZPoints: the first card's rank is uniform in 2..13 (J/Q/K count 10); the second card completes
    12: when the first value divides 12 (2, 3, 4, 6), with probability 1/2 it is ``12 / first``, else
    ``12 - first``; the two cards are then swapped with probability 1/2. So every deal is solvable. Operators
    are ``+``, ``*`` and ``=`` only.
    {formula_doc}
    ## Arguments
    ``target`` (12), ``max_formula_length`` (5), ``render_image`` (True), ``reward_weights`` (merged over ``{{game: 1.0, format_error: -1.0}}``),
    ``render_mode`` (None or ``"rgb_array"``).

    ## Version History
    * v0: initial version.
    """

    operators = "+*="

    def __init__(self, target: int = 12, max_formula_length: int = 5, render_image: bool = True,
                 reward_weights: dict[str, float] | None = None, render_mode: str | None = None) -> None:
        super().__init__(2, target, True, max_formula_length, render_image, reward_weights, render_mode)

    def _deal(self) -> list[tuple[int, str]]:
        first = int(self.np_random.integers(2, 14))
        value = min(first, 10)
        if self.target % value == 0 and value in (2, 3, 4, 6) and self.np_random.random() <= 0.5:
            second = self.target // value
        else:
            second = self.target - value
        suits = self.np_random.integers(0, 4, size=2)
        cards = [(first, render.SUITS[int(suits[0])]), (second, render.SUITS[int(suits[1])])]
        if self.np_random.random() <= 0.5:
            cards.reverse()
        return cards


if Points24Env.__doc__ and EZPointsEnv.__doc__:  # absent under python -OO
    Points24Env.__doc__ = Points24Env.__doc__.format(formula_doc=_FORMULA_DOC.format(operators="+ - * / ( ) ="))
    EZPointsEnv.__doc__ = EZPointsEnv.__doc__.format(formula_doc=_FORMULA_DOC.format(operators="+ * ="))


class NumberLineEnv(_CardGameEnv):
    """Move a pointer along a number line to a target.

    ## Description
    RL4VLM's NumberLine: positions 0..``max_position``; the start and the target are uniform and different.
    Each step moves the pointer one to the right (``"+"``) or left (``"-"``), staying inside the line.

    ## Action Space
    ``text_space(8192)``: the model's whole response; the env reads the ``"action"`` of the last JSON object::

        {"current number": 2, "target number": 4, "thoughts": "...", "action": "+"}

    An action other than ``"+"``/``"-"``, or no parsable JSON object, is a format error (the pointer stays).

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (200, 200, 3), uint8))``: the image writes "Target: t" and
    "Current: c" (as RL4VLM's) above a drawn number line with the target ringed and a pointer at the current
    position. ``text``: the rules and the answer format, plus the two numbers in words with
    ``render_image=False`` (then ``Dict(text=Text)`` only). ``system_prompt`` is None.

    ## Rewards
    ``reward/game``: +1 on reaching the target, -1 for a move that does not bring the pointer closer (including
    pushing against an end), else 0. ``reward/format_error``: 1 on a format error, weighted -1.

    ## Episode End
    Terminated at the target; truncated after ``2 * max_position`` steps (format errors count).

    Info: ``success`` (reached the target), ``expert_action`` (the JSON response moving towards the target),
    ``expert_thought``, ``admissible_actions`` (responses for ``"+"`` and ``"-"``, both with the thought "The target t
    is greater/less than the current number c.": it reads the state but picks no move); step info adds
    ``format_error``, ``reward/game``, ``reward/format_error``.

    ## Arguments
    ``max_position`` (5), ``render_image`` (True), ``reward_weights`` (merged over ``{game: 1.0, format_error: -1.0}``),
    ``render_mode``.

    ## Version History
    * v0: initial version.
    """

    image_size = 200

    def __init__(self, max_position: int = 5, render_image: bool = True, reward_weights: dict[str, float] | None = None,
                 render_mode: str | None = None) -> None:
        if not (isinstance(max_position, int) and max_position >= 1):
            raise ValueError(f"max_position must be an int >= 1, got {max_position!r}")
        super().__init__(render_image, reward_weights, render_mode)
        self.max_position = max_position
        self.position = 0
        self.target = 1
        self.steps_made = 0

    def _new_episode(self) -> None:
        self.position = int(self.np_random.integers(0, self.max_position + 1))
        target = int(self.np_random.integers(0, self.max_position))  # max_position choices besides the start
        self.target = target + (target >= self.position)
        self.steps_made = 0

    def _play(self, token: str | None) -> tuple[float, bool, bool, bool]:
        self.steps_made += 1
        truncated = self.steps_made >= 2 * self.max_position
        if token not in ("+", "-"):
            return 0.0, False, truncated, True
        before = abs(self.position - self.target)
        move = 1 if token == "+" else -1
        self.position = min(max(self.position + move, 0), self.max_position)
        after = abs(self.position - self.target)
        if after == 0:
            return 1.0, True, False, False
        return (-1.0 if after >= before else 0.0), False, truncated, False

    def _success(self) -> bool:
        return self.position == self.target

    def _valid_actions(self) -> list[str]:
        return ["+", "-"]

    def _expert(self) -> tuple[str, str]:
        action = "+" if self.target > self.position else "-"
        direction = "right" if action == "+" else "left"
        return action, (f"The current number is {self.position} and the target is {self.target}, so I move "
                        f"{direction} with '{action}'.")

    def _plain_thought(self, action: str) -> str:
        order = "greater" if self.target > self.position else "less"
        return f"The target {self.target} is {order} than the current number {self.position}."

    def _response(self, action: str, thoughts: str) -> str:
        return JSON.compose(thoughts, action, {"current number": self.position, "target number": self.target})

    def _prompt(self) -> str:
        text = (
            f"You are playing a game on a number line from 0 to {self.max_position}. Move the current number "
            "to the target number: '+' adds 1, '-' subtracts 1. Reaching the target gives +1; a move that does "
            f"not get closer gives -1. You have {2 * self.max_position} moves.\n"
            "Answer with one JSON object:\n"
            '{"current number": x, "target number": y, "thoughts": "your reasoning", "action": "+" or "-"}\n'
        )
        if self.render_image:
            return text + "The current number and the target number are shown in the image."
        return text + f"Current number: {self.position}. Target number: {self.target}."

    def _draw(self) -> np.ndarray:
        return render.draw_number_line(self.position, self.target, self.max_position, self.image_size)


def _hand_value(ranks: list[int]) -> tuple[int, bool]:
    """(best total, usable ace) of a blackjack hand, gymnasium's rule: one ace counts 11 if that stays <= 21."""
    total = sum(min(rank, 10) for rank in ranks)
    if 1 in ranks and total + 10 <= 21:
        return total + 10, True
    return total, False


def basic_strategy(player_total: int, usable_ace: bool, dealer_value: int) -> str:
    """Simplified basic strategy for hit/stand (no doubling or splitting); ``dealer_value`` 1 is an ace."""
    dealer = 11 if dealer_value == 1 else dealer_value
    if usable_ace:
        if player_total >= 19:
            return "stand"
        if player_total == 18:
            return "stand" if dealer <= 8 else "hit"
        return "hit"
    if player_total >= 17:
        return "stand"
    if player_total >= 13:
        return "stand" if dealer <= 6 else "hit"
    if player_total == 12:
        return "stand" if 4 <= dealer <= 6 else "hit"
    return "hit"


class BlackjackEnv(_CardGameEnv):
    """Beat the dealer at blackjack, with gymnasium's ``Blackjack-v1`` rules.

    ## Description
    Cards are drawn with replacement from an infinite deck (ranks uniform in 1..13, J/Q/K worth 10, an ace 1
    or 11). The player and the dealer get two cards; one dealer card is face up. The player hits (takes a
    card) or stands; a total over 21 busts. On ``stand`` the dealer draws until reaching 17 or more.
    ``natural=False``, ``sab=False`` as gymnasium's defaults: a natural blackjack wins +1 like any other win.

    ## Action Space
    ``text_space(8192)``: the model's whole response; the env reads the ``"action"`` of the last JSON object::

        {"thoughts": "...", "action": "stand"}

    ``"stand"`` or ``"hit"`` (case-insensitive). Anything else is a format error (nothing happens).

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (300, 300, 3), uint8))``: the dealer's cards (the hole card face down
    until the end) above the player's cards on the green table. ``text``: the rules and the answer format, plus
    the cards and totals in words with ``render_image=False`` (then ``Dict(text=Text)`` only).
    ``system_prompt`` is None.

    ## Rewards
    ``reward/game``: at the end +1 win, 0 draw, -1 loss (a bust is a loss); 0 otherwise.
    ``reward/format_error``: 1 on a format error, weighted -1.

    ## Episode End
    Terminated on ``stand`` or a bust; truncated after ``max_steps`` steps (only format errors get there).

    Info: ``success`` (the player won), ``expert_action`` (the JSON response of :func:`basic_strategy`),
    ``expert_thought``, ``admissible_actions`` (responses for ``"stand"`` and ``"hit"``); step info adds
    ``format_error``, ``reward/game``, ``reward/format_error``.

    ## Arguments
    ``render_image`` (True), ``reward_weights`` (merged over ``{game: 1.0, format_error: -1.0}``), ``max_steps``
    (16), ``render_mode``.

    ## Version History
    * v0: initial version.
    """

    def __init__(self, render_image: bool = True, reward_weights: dict[str, float] | None = None, max_steps: int = 16,
                 render_mode: str | None = None) -> None:
        super().__init__(render_image, reward_weights, render_mode)
        self.max_steps = max_steps
        self.player: list[tuple[int, str]] = []
        self.dealer: list[tuple[int, str]] = []
        self._steps = 0
        self._won = False
        self._over = False

    def _draw_card(self) -> tuple[int, str]:
        return int(self.np_random.integers(1, 14)), render.SUITS[int(self.np_random.integers(0, 4))]

    def _new_episode(self) -> None:
        self.dealer = [self._draw_card(), self._draw_card()]
        self.player = [self._draw_card(), self._draw_card()]
        self._steps = 0
        self._won = False
        self._over = False

    def _totals(self) -> tuple[int, bool, int]:
        total, usable = _hand_value([rank for rank, _ in self.player])
        return total, usable, min(self.dealer[0][0], 10)

    def _play(self, token: str | None) -> tuple[float, bool, bool, bool]:
        self._steps += 1
        action = None if token is None else token.lower()
        if action not in ("stand", "hit"):
            return 0.0, False, self._steps >= self.max_steps, True
        if action == "hit":
            self.player.append(self._draw_card())
            if _hand_value([rank for rank, _ in self.player])[0] > 21:
                self._over = True
                return -1.0, True, False, False
            return 0.0, False, self._steps >= self.max_steps, False
        while _hand_value([rank for rank, _ in self.dealer])[0] < 17:
            self.dealer.append(self._draw_card())
        player = _hand_value([rank for rank, _ in self.player])[0]
        dealer = _hand_value([rank for rank, _ in self.dealer])[0]
        dealer = 0 if dealer > 21 else dealer
        self._over = True
        self._won = player > dealer
        return float((player > dealer) - (player < dealer)), True, False, False

    def _success(self) -> bool:
        return self._won

    def _valid_actions(self) -> list[str]:
        return ["stand", "hit"]

    def _expert(self) -> tuple[str, str]:
        total, usable, dealer = self._totals()
        action = basic_strategy(total, usable, dealer)
        kind = "soft" if usable else "hard"
        shown = "an ace" if dealer == 1 else str(dealer)
        return action, f"My total is {kind} {total} and the dealer shows {shown}; basic strategy says {action}."

    def _response(self, action: str, thoughts: str) -> str:
        return JSON.compose(thoughts, action)

    def _prompt(self) -> str:
        text = (
            "You are a blackjack player. Get a total closer to 21 than the dealer without going over. Number "
            "cards count their number, J, Q and K count 10, an ace counts 1 or 11. 'hit' takes another card; "
            "'stand' ends your turn, then the dealer draws until reaching 17 or more. A win gives +1, a draw 0, "
            "a loss or going over 21 -1.\n"
            "Answer with one JSON object:\n"
            '{"thoughts": "your reasoning", "action": "stand" or "hit"}\n'
        )
        if self.render_image:
            return text + "The dealer's cards (one face down) and your cards are shown in the image."
        total, usable, _ = self._totals()
        dealer_cards = (", ".join(_card_text(*card) for card in self.dealer) if self._over
                        else _card_text(*self.dealer[0]) + " and one face-down card")
        mine = ", ".join(_card_text(*card) for card in self.player)
        return (text + f"Dealer: {dealer_cards}.\nYour cards: {mine} (total {total}"
                f"{', with a usable ace' if usable else ''}).")

    def _draw(self) -> np.ndarray:
        return render.draw_blackjack(self.dealer, self.player, hide_dealer_hole=not self._over,
                                     size=self.image_size)
