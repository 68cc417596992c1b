"""Weights & Biases reporting (`train.report_to: [..., wandb]`): the run's metrics, its resolved config, and a
table of the sampled episodes with their images. Optional: `pip install 'mmrl-vlm[wandb]'`.

W&B's own environment variables apply (`WANDB_PROJECT`, default here `mmrl`; `WANDB_MODE=offline` writes the run
under `<run>/wandb/` without any network, `wandb sync` uploads it later). A resumed run continues the same W&B run:
its id is kept in `<run>/wandb_run_id`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from mmrl.config import UserError

RUN_ID_FILE = "wandb_run_id"
TABLE_COLUMNS = ["step", "kind", "env", "seed", "turn", "image", "prompt", "response", "reward", "return",
                 "success"]


class WandbReporter:
    def __init__(self, run_dir: Path, config: dict):
        try:
            import wandb
        except ImportError:
            raise UserError("train.report_to names wandb, which is not installed: pip install 'mmrl-vlm[wandb]'"
                            ) from None
        self.wandb = wandb
        self.run_dir = Path(run_dir)
        id_path = self.run_dir / RUN_ID_FILE
        run_id = id_path.read_text().strip() if id_path.is_file() else uuid.uuid4().hex[:12]
        id_path.write_text(run_id + "\n")
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "mmrl"), name=self.run_dir.name,
                              dir=str(self.run_dir), config=config, id=run_id, resume="allow")

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self.run.log(scalars, step=step)

    def log_episodes(self, rows: list[dict]) -> None:
        """One table per logged batch (`samples/<kind>`), a row per turn, its image shown by W&B."""
        by_kind: dict[str, list[list]] = {}
        for row in rows:
            for t, turn in enumerate(row["turns"]):
                image = turn.get("image")
                by_kind.setdefault(row.get("kind", "train"), []).append([
                    row["step"], row.get("kind", "train"), row["env"], row["seed"], t,
                    self.wandb.Image(str(self.run_dir / image)) if image else None,
                    turn["prompt"], turn["response"], turn["reward"], row["return"], row["success"],
                ])
        step = rows[0]["step"]
        self.run.log({f"samples/{kind}": self.wandb.Table(columns=TABLE_COLUMNS, data=data)
                      for kind, data in by_kind.items()}, step=step)

    def close(self) -> None:
        self.run.finish()
