"""`mmrl play`: a person plays an env in the terminal; images are saved and their paths printed."""

from __future__ import annotations

import io

from mmrl.play import play


def test_play_classification_with_typed_and_expert_answers(tmp_path):
    out = io.StringIO()
    total = play("mmrl/Classification-v0", {"source": "shapes", "label": "color", "style": "no_think"}, 3,
                 tmp_path, io.StringIO("\n"), out)  # empty line: the expert's answer
    text = out.getvalue()
    assert "Please choose one from list" in text and "(expert action)" in text
    assert f"[image saved to {tmp_path / 'turn_000.png'}]" in text and (tmp_path / "turn_000.png").stat().st_size > 0
    assert total == 1.0 and "episode over after 1 turn(s): success" in text


def test_play_a_multi_turn_text_game_until_quit(tmp_path):
    out = io.StringIO()
    total = play("mmrl/NumberLine-v0", {"render_image": False}, 0, tmp_path, io.StringIO("not json at all\n"), out)
    text = out.getvalue()
    assert '"format_error": true' in text and "(quit)" in text  # the malformed answer is penalised, then EOF quits
    assert total < 0 and not list(tmp_path.glob("*.png"))
