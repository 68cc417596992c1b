"""What a model corrector is asked and how its reply is read (shared by the OpenAI-compatible and local HF ones).

The request follows GTR's corrector: given the task the agent saw (text, and the image when the corrector takes
images) and the agent's response, answer in JSON whether the thought is right and, if not, a corrected thought.
The reply is untrusted text: it is parsed as JSON, never evaluated, and anything unreadable means no verdict.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from mmrl.correctors.base import Correction
from mmrl.formats import ResponseFormat, last_json_object

SYSTEM = (
    "You check the reasoning of an agent playing a game. Read the task the agent saw (and its image, when one is "
    "given) and its response. Decide "
    "whether its thoughts recognise the state correctly and lead to a correct action. Reply with one JSON object: "
    '{"evaluation": "YES" or "NO", "on_solution_path": true or false, "correction": "a corrected version of the '
    'thoughts (when the evaluation is NO), ending with the action to take"}'
)


def observation_image(observation: Any) -> Image.Image | None:
    """The image of an observation (``{"text", "image"}``; an array or a PIL image), or None."""
    image = observation.get("image") if isinstance(observation, dict) else None
    if image is None or isinstance(image, Image.Image):
        return image
    return Image.fromarray(np.asarray(image, dtype=np.uint8))


def image_data_url(image: Image.Image) -> str:
    """The image as a PNG ``data:`` URL, what an OpenAI-compatible endpoint's ``image_url`` content takes."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def correction_messages(observation: Any, response: str, info: dict[str, Any], response_format: ResponseFormat,
                        image: str | None = None) -> list[dict[str, Any]]:
    """Chat messages (OpenAI format) asking for a verdict on `response`. `image`: how the observation's image is
    attached, if it has one: ``"image_url"`` (OpenAI content part with a data URL), ``"placeholder"`` (an
    ``{"type": "image"}`` part, for a local VL model's chat template; the image goes to its processor), or None
    (text only)."""
    task = observation.get("text", "") if isinstance(observation, dict) else str(observation)
    user = f"Task the agent saw:\n{task}\n\nAgent's response:\n{response}\n\nAgent's thoughts: {response_format.thought(response)}"
    hint = info.get("expert_thought")
    if hint:  # GTR gives its corrector a solver tool; an env's expert thought plays that part here
        user += f"\n\nA known solution path (from a solver): {hint}"
    picture = observation_image(observation) if image else None
    if picture is None:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    part = ({"type": "image_url", "image_url": {"url": image_data_url(picture)}} if image == "image_url"
            else {"type": "image"})
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": [part, {"type": "text", "text": user}]}]


def parse_verdict(reply: Any, response: str, response_format: ResponseFormat) -> Correction | None:
    """The corrector's reply as a Correction; None when it is not a readable verdict."""
    if not isinstance(reply, str):
        return None
    obj = last_json_object(reply)
    if obj is None or not isinstance(obj.get("evaluation"), str):
        return None
    verdict = obj["evaluation"].strip().upper()
    if verdict not in ("YES", "NO"):
        return None
    off_path = obj.get("on_solution_path") is False or response_format.action(response) is None
    if verdict == "YES":
        return Correction(correct=True, off_path=off_path)
    thought = obj.get("correction")
    if not isinstance(thought, str) or not thought.strip():
        return Correction(correct=False, off_path=off_path)
    thought = thought.strip()[:4000]
    return Correction(correct=False, thought=thought, response=response_format.with_thought(response, thought), off_path=off_path)
