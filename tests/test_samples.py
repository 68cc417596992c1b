"""samples.jsonl rows keep their images as PNG files: deduplicated, bounded per batch and by a size cap."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from mmrl.formats import THINK_ANSWER
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn
from mmrl.samples import ImageStore, episode_rows, spread


def _image(value: int, size: int = 24) -> Image.Image:
    rng = np.random.default_rng(value)  # noise: PNGs of a few KB each, so the cap is reached quickly
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def _episode(image: Image.Image | None, seed: int = 0, env_index: int = 0) -> Episode:
    prompt = Prompt([], "say it", torch.zeros(1, dtype=torch.long), [image] if image is not None else [])
    turn = Turn(prompt, Completion([1, 2], "<think>hm</think><answer>red</answer>", True), 1.0,
                {"success": True, "reward/exact_match": 1.0})
    return Episode(EpisodeRequest(env_index, seed), {}, [turn], response_format=THINK_ANSWER)


def test_equal_images_are_stored_once_and_rows_point_at_them(tmp_path):
    store = ImageStore(tmp_path, 10**6)
    rows = episode_rows([_episode(_image(1)), _episode(_image(1)), _episode(_image(2))], ["env"], 3, "eval", store, 3)
    paths = [r["turns"][0]["image"] for r in rows]
    assert paths[0] == paths[1] != paths[2]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted({p.split("/")[1] for p in paths})
    assert np.array_equal(np.asarray(Image.open(tmp_path / paths[2])), np.asarray(_image(2)))
    assert rows[0]["kind"] == "eval" and rows[0]["step"] == 3 and rows[0]["format"] == "think_answer"
    # A new store (a resumed run) finds the files already there and writes nothing again.
    again = ImageStore(tmp_path, 10**6)
    assert again.total_bytes == store.total_bytes > 0 and again.put(_image(1)) == paths[0]


def test_only_the_first_episodes_of_a_batch_keep_images_and_the_cap_holds(tmp_path):
    rows = episode_rows([_episode(_image(i)) for i in range(4)], ["env"], 1, "train", ImageStore(tmp_path, 10**6), 2)
    assert [r["turns"][0]["image"] is not None for r in rows] == [True, True, False, False]
    assert rows[3]["turns"][0]["image_omitted"] == "per-step bound"

    one = len(_png_bytes(_image(0)))
    capped = ImageStore(tmp_path / "capped", int(2.5 * one))
    rows = episode_rows([_episode(_image(i)) for i in range(4)], ["env"], 1, "train", capped, 4)
    assert [r["turns"][0]["image"] is not None for r in rows] == [True, True, False, False]
    assert rows[2]["turns"][0]["image_omitted"] == "size cap"
    assert sum(p.stat().st_size for p in (tmp_path / "capped" / "images").iterdir()) <= 2.5 * one
    assert not list((tmp_path / "capped" / "images").glob(".*"))  # no temporary file left behind
    text = episode_rows([_episode(None)], ["env"], 1, "train", capped, 4)
    assert text[0]["turns"][0]["image"] is None and "image_omitted" not in text[0]["turns"][0]


def test_spread_takes_the_same_positions_every_time():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9] and spread([1, 2], 4) == [1, 2]


def _png_bytes(image: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
