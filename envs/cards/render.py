"""Drawing for the gym-cards games with OpenCV: cards, suits and text are drawn here, no image assets.

All functions return new ``uint8`` RGB arrays of shape ``(H, W, 3)``.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

#: RL4VLM's table colour ``#35654d`` as RGB.
TABLE_GREEN = (0x35, 0x65, 0x4D)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
RED = (200, 20, 30)
CARD_BACK = (40, 60, 150)
SUITS = ("H", "D", "S", "C")
RANK_NAMES = {1: "A", 11: "J", 12: "Q", 13: "K"}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def rank_name(rank: int) -> str:
    """``"A"``, ``"2"``..``"10"``, ``"J"``, ``"Q"``, ``"K"`` for ranks 1..13."""
    return RANK_NAMES.get(rank, str(rank))


def _rounded_rectangle(image: np.ndarray, x: int, y: int, w: int, h: int, radius: int, color) -> None:
    radius = max(1, min(radius, w // 2, h // 2))
    cv2.rectangle(image, (x + radius, y), (x + w - 1 - radius, y + h - 1), color, -1)
    cv2.rectangle(image, (x, y + radius), (x + w - 1, y + h - 1 - radius), color, -1)
    for cx, cy in ((x + radius, y + radius), (x + w - 1 - radius, y + radius),
                   (x + radius, y + h - 1 - radius), (x + w - 1 - radius, y + h - 1 - radius)):
        cv2.circle(image, (cx, cy), radius, color, -1, lineType=cv2.LINE_AA)


def _suit(image: np.ndarray, suit: str, cx: int, cy: int, size: int) -> None:
    """Draw a suit symbol of about ``size`` pixels centred at (cx, cy)."""
    s = max(size, 4)
    r = max(s // 4, 1)
    color = RED if suit in ("H", "D") else BLACK
    aa = cv2.LINE_AA
    if suit == "D":
        points = np.array([[cx, cy - s // 2], [cx + s * 2 // 5, cy], [cx, cy + s // 2], [cx - s * 2 // 5, cy]])
        cv2.fillPoly(image, [points.astype(np.int32)], color, lineType=aa)
    elif suit == "H":
        cv2.circle(image, (cx - r, cy - r // 2), r, color, -1, lineType=aa)
        cv2.circle(image, (cx + r, cy - r // 2), r, color, -1, lineType=aa)
        points = np.array([[cx - 2 * r, cy - r // 4], [cx + 2 * r, cy - r // 4], [cx, cy + s // 2]])
        cv2.fillPoly(image, [points.astype(np.int32)], color, lineType=aa)
    elif suit == "S":
        cv2.circle(image, (cx - r, cy + r // 3), r, color, -1, lineType=aa)
        cv2.circle(image, (cx + r, cy + r // 3), r, color, -1, lineType=aa)
        points = np.array([[cx - 2 * r, cy + r // 6], [cx + 2 * r, cy + r // 6], [cx, cy - s // 2]])
        cv2.fillPoly(image, [points.astype(np.int32)], color, lineType=aa)
        stem = np.array([[cx, cy], [cx + r, cy + s // 2], [cx - r, cy + s // 2]])
        cv2.fillPoly(image, [stem.astype(np.int32)], color, lineType=aa)
    else:  # clubs
        cv2.circle(image, (cx, cy - r), r, color, -1, lineType=aa)
        cv2.circle(image, (cx - r, cy + r // 3), r, color, -1, lineType=aa)
        cv2.circle(image, (cx + r, cy + r // 3), r, color, -1, lineType=aa)
        stem = np.array([[cx, cy], [cx + r, cy + s // 2], [cx - r, cy + s // 2]])
        cv2.fillPoly(image, [stem.astype(np.int32)], color, lineType=aa)


@lru_cache(maxsize=512)
def _card(rank: int, suit: str, width: int, height: int) -> np.ndarray:
    """One face-up card on a table-green background (cached: cards repeat across episodes)."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = TABLE_GREEN
    _rounded_rectangle(image, 0, 0, width, height, width // 8, WHITE)
    color = RED if suit in ("H", "D") else BLACK
    name = rank_name(rank)
    scale = width / 70
    thickness = max(1, round(width / 35))
    (text_w, text_h), _ = cv2.getTextSize(name, FONT, scale, thickness)
    cv2.putText(image, name, (max(2, width // 14), text_h + height // 14), FONT, scale, color, thickness,
                cv2.LINE_AA)
    big = cv2.getTextSize(name, FONT, 2 * scale, 2 * thickness)[0]
    cv2.putText(image, name, ((width - big[0]) // 2, height * 5 // 8 + big[1] // 2), FONT, 2 * scale, color,
                2 * thickness, cv2.LINE_AA)
    _suit(image, suit, width - width // 5, text_h // 2 + height // 14, max(4, width // 5))
    _suit(image, suit, width // 2, height * 5 // 16, max(6, width // 3))
    image.setflags(write=False)
    return image


def _paste(canvas: np.ndarray, tile: np.ndarray, x: int, y: int) -> None:
    h, w = tile.shape[:2]
    canvas[y:y + h, x:x + w] = tile


def _card_back(canvas: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    _rounded_rectangle(canvas, x, y, w, h, w // 8, WHITE)
    _rounded_rectangle(canvas, x + 3, y + 3, w - 6, h - 6, w // 10, CARD_BACK)


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.55, color=WHITE, thickness: int = 1):
    cv2.putText(canvas, text, (x, y), FONT, scale, color, thickness, cv2.LINE_AA)


def draw_cards_table(cards: list[tuple[int, str]], formula: str, size: int = 300) -> np.ndarray:
    """RL4VLM's Points24/EZPoints picture: cards side by side on a green table, "Formula:" and the formula below.

    ``cards`` are (rank 1..13, suit in ``"HDSC"``) pairs.
    """
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = TABLE_GREEN
    slots = max(len(cards), 4)  # two cards are drawn at the four-card size, centred
    width = int(size / slots * 0.9)
    height = int(width * 7 / 5)
    gap = (size - len(cards) * width) // (len(cards) + 1)
    top = max(4, int(size * 0.62) - height - size // 15)
    for i, (rank, suit) in enumerate(cards):
        _paste(canvas, _card(rank, suit, width, height), gap + i * (width + gap), top)
    _text(canvas, "Formula:", 10, int(size * 0.74))
    # Long formulas are cut to the width of the picture, keeping the newest tokens visible.
    text = formula if len(formula) <= 24 else "..." + formula[-21:]
    _text(canvas, text, 10, int(size * 0.86), scale=0.7)
    return canvas


def draw_blackjack(dealer: list[tuple[int, str]], player: list[tuple[int, str]], hide_dealer_hole: bool,
                   size: int = 300) -> np.ndarray:
    """The dealer's cards (the hole card face down while ``hide_dealer_hole``) above the player's cards."""
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = TABLE_GREEN
    for label, cards, top in (("Dealer", dealer, size // 12), ("Player", player, size * 7 // 12)):
        _text(canvas, label, 8, top - 4)
        slots = max(len(cards), 5)
        width = min(int(size / slots * 0.9), size // 6)
        height = int(width * 7 / 5)
        gap = max(1, (size - slots * width) // (slots + 1))
        for i, (rank, suit) in enumerate(cards):
            x = gap + i * (width + gap)
            if x + width > size:
                break
            if label == "Dealer" and i == 1 and hide_dealer_hole:
                _card_back(canvas, x, top + 4, width, height)
            else:
                _paste(canvas, _card(rank, suit, width, height), x, top + 4)
    return canvas


def draw_number_line(position: int, target: int, max_position: int, size: int = 200) -> np.ndarray:
    """NumberLine: "Target: t" and "Current: c" with a number line 0..max, the target ringed, a pointer above."""
    canvas = np.full((size, size, 3), 255, np.uint8)
    _text(canvas, f"Target: {target}", size // 10, size * 3 // 20, scale=size / 300, color=BLACK, thickness=2)
    _text(canvas, f"Current: {position}", size // 10, size * 6 // 20, scale=size / 300, color=BLACK, thickness=2)
    left, right, y = size // 10, size - size // 10, size * 7 // 10
    cv2.line(canvas, (left, y), (right, y), BLACK, 2)
    step = (right - left) / max(max_position, 1)
    for value in range(max_position + 1):
        x = round(left + value * step)
        cv2.line(canvas, (x, y - 5), (x, y + 5), BLACK, 1)
        label_w = cv2.getTextSize(str(value), FONT, size / 500, 1)[0][0]
        _text(canvas, str(value), x - label_w // 2, y + 22, scale=size / 500, color=BLACK)
    tx = round(left + target * step)
    cv2.circle(canvas, (tx, y), 8, (0, 150, 0), 2, cv2.LINE_AA)
    px = round(left + position * step)
    pointer = np.array([[px, y - 8], [px - 7, y - 24], [px + 7, y - 24]], np.int32)
    cv2.fillPoly(canvas, [pointer], RED, lineType=cv2.LINE_AA)
    return canvas
