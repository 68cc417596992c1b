"""`train.report_to: [wandb]` in W&B's offline mode (no network): metrics, the config and a table of sampled
episodes with their images land in the run's offline W&B folder. Skipped when wandb is not installed."""

from __future__ import annotations

import json

import pytest

from mmrl.config import ConfigError, load_config
from mmrl.logger import RunLogger
from mmrl.samples import ImageStore, episode_rows
from tests.test_samples import _episode, _image


def test_report_to_names_only_known_reporters():
    assert load_config(None, ["train.report_to=[wandb]"]).train.report_to == ["wandb"]
    with pytest.raises(ConfigError, match=r"train.report_to\[1\].*tensorboard"):
        load_config(None, ["train.report_to=[wandb, tensorbord]"])


def test_wandb_offline_gets_metrics_config_and_an_episode_table_with_images(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install 'mmrl-vlm[wandb]')")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # nothing written to the home folder
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    run = tmp_path / "run"
    run.mkdir()
    logger = RunLogger(run, None, 2, False, ["wandb"], {"train": {"total_steps": 2, "run_name": "wandb-check"}})
    logger.log(1, {"train/return_mean": 0.5, "train/success_rate": 1.0})
    rows = episode_rows([_episode(_image(1)), _episode(None)], ["env"], 1, "train", ImageStore(run, 10**6), 2)
    logger.log_samples(rows)
    logger.log(2, {"train/return_mean": 0.75})
    logger.close()
    import wandb

    wandb.teardown()  # the W&B service writes the offline records out when it stops
    assert not (run / "tensorboard").exists()  # only the reporters asked for
    assert len(json.loads((run / "samples.jsonl").read_text().splitlines()[0])["turns"]) == 1
    (offline,) = (run / "wandb").glob("offline-run-*")
    (record,) = offline.glob("run-*.wandb")
    data = record.read_bytes()
    for needed in (b"train/return_mean", b"train/success_rate", b"total_steps", b"wandb-check"):
        assert needed in data, needed
    (table_file,) = (offline / "files" / "media" / "table" / "samples").glob("train_1_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][5] == "image" and len(table["data"]) == 2
    assert table["data"][0][5] is not None and table["data"][1][5] is None  # the text turn has no image
    image_name = rows[0]["turns"][0]["image"].split("/")[-1]
    assert b"media/images/" in data and image_name.encode() in data  # the table's image, staged
    assert (run / "wandb_run_id").read_text().strip() in offline.name  # a resume continues this W&B run
