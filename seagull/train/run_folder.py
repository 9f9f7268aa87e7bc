"""A training run's folder: its settings, whether it has finished, and its exported models.

    RUN_DIR/train_config.json   the settings it trains with (checked on every rerun)
    RUN_DIR/<checkpoints>/      the trainer's checkpoints and state (its name is the trainer's)
    RUN_DIR/metrics.csv, tensorboard/   (seagull.train.metrics_log)
    RUN_DIR/model/, best/       save_pretrained folders: the last and the best checkpoint
    RUN_DIR/summary.json        what the finished run reports

Rerunning with the same folder resumes the run there, or reports it when finished; with other
settings it is refused (docs/training.md, "Resuming").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from seagull.errors import ConfigError, OutputError

# Settings a rerun may change: they decide when to save and what to report, not what trains.
RESUMABLE_CHANGES = ("checkpoint_every", "val_split", "val_max_regions", "log_every")
SETTINGS = "train_config.json"
SUMMARY = "summary.json"


class RunFolder:
    """``path`` as a run folder; ``checkpoints`` names the subfolder the trainer keeps its
    checkpoints in (its presence means something has trained there)."""

    def __init__(self, path: str | Path, checkpoints: str = "checkpoints"):
        self.path = Path(path).expanduser().absolute()
        self.checkpoints = self.path / checkpoints
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"--out {path}: a file, not a run folder")

    def refuse_other_settings(self, settings: dict) -> None:
        """``ConfigError`` when the folder holds a run that has trained with other settings.

        A rerun resumes (or, when finished, reports) the run already there; with another
        learning rate, step count, batch, dataset or seed it would silently be a different run
        stitched onto the first (a resumed cosine schedule would even start from the old run's
        last rate). Only ``RESUMABLE_CHANGES`` may differ.
        """
        path = self.path / SETTINGS
        if not path.is_file() or not self.checkpoints.is_dir():
            return  # nothing trained there yet
        before = json.loads(path.read_text())

        def flat(d: dict) -> dict:
            out = {k: v for k, v in d.items() if k != "train"}
            out.update({k: v for k, v in d.get("train", {}).items()
                        if k not in RESUMABLE_CHANGES})
            return out

        # Compared as they are written (JSON: tuples read back as lists).
        old, new = flat(before), flat(json.loads(json.dumps(settings)))
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            detail = ", ".join(f"{k} {old.get(k)!r} → {new.get(k)!r}" for k in changed[:4])
            raise ConfigError(f"{self.path} holds a run trained with other settings ({detail}); "
                              "rerun with its settings to resume, or give another --out (to "
                              "continue from its model: --init RUN_DIR/model)")

    def finished(self, total_steps: int) -> dict | None:
        """The summary of a run here that already reached ``total_steps``, else None."""
        path = self.path / SUMMARY
        if not (path.is_file() and (self.path / "model").is_dir()):
            return None
        summary = json.loads(path.read_text())
        return summary if summary.get("steps") == total_steps else None

    def write_settings(self, settings: dict) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / SETTINGS).write_text(json.dumps(settings, indent=1))
        except OSError as exc:
            raise OutputError(f"--out {self.path}: cannot write the run there "
                              f"({exc.strerror or exc})") from None

    def export(self, model_dir: str | Path, name: str = "model") -> Path:
        """Copy the ``save_pretrained`` folder ``model_dir`` to ``RUN_DIR/name``, replacing
        what was there whole (a reader never sees half of one model and half of another)."""
        target = self.path / name
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(model_dir, tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return target

    def write_summary(self, summary: dict) -> None:
        (self.path / SUMMARY).write_text(json.dumps(summary, indent=1))
