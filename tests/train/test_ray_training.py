"""Training on a local Ray: two CPU workers, tiny preset, DeepSpeed ZeRO over gloo.

One stage-1 run (module fixture) is shared by the tests that read its results; the resume and
worker-failure tests run their own, and really kill a driver or a worker process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from process_tree import kill_tree

from pipelines.train import RAY_RUN_NAME
from seagull.train.metrics_log import read_metrics

REPO = Path(__file__).resolve().parents[2]


def _config(data, out, *extra):
    """The train recipe's config as ``seagull train`` builds it from these flags."""
    from pipelines.train import TrainRunConfig
    from seagull_cli._config import add_config_arguments, from_args

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, TrainRunConfig)
    argv = ["--preset", "tiny", "--data", str(data), "--out", str(out), *extra]
    return from_args(TrainRunConfig, parser.parse_args(argv))


def _train(data, out, *extra) -> dict:
    from pipelines.train import run

    return run(_config(data, out, *extra))


def _trainables(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _quality_scores(model, rois_dataset) -> list[float]:
    from seagull.train.validation import load_validation, predict_quality

    return predict_quality(model, load_validation(rois_dataset, "test", 6))


@pytest.fixture(scope="module")
def stage1_run(ray_session, rois_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1")
    summary = _train(rois_dataset, out, "--stage", "1", "--max-steps", "12",
                     "--checkpoint-every", "6", "--val-split", "test",
                     "--val-max-regions", "6")
    return out, summary


def test_stage1_loss_falls_and_logs_every_step(stage1_run):
    out, summary = stage1_run
    rows = read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert summary["steps"] == 12 and summary["resumed_from"] == 0
    losses = [r["loss"] for r in rows]
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    assert all(r["samples_per_s"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert all(0 <= r["data_s"] <= r["step_s"] for r in rows)  # a share of the step
    # Warm-up then cosine decay: the last step's rate is the lowest after the peak.
    lrs = [r["lr"] for r in rows]
    assert max(lrs) == pytest.approx(2e-3) and lrs[-1] < lrs[len(lrs) // 2] < max(lrs)
    # Validation at each checkpoint (steps 6 and 12), and TensorBoard events.
    assert [r["step"] for r in rows if r["val_srocc"] is not None] == [6, 12]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_rerunning_a_finished_run_trains_nothing(stage1_run, rois_dataset):
    out, _ = stage1_run
    before = (out / "metrics.csv").read_text()
    again = _train(rois_dataset, out, "--stage", "1", "--max-steps", "12",
                   "--checkpoint-every", "6", "--val-split", "test", "--val-max-regions", "6")
    assert again == json.loads((out / "summary.json").read_text())
    assert again["steps"] == 12 and (out / "metrics.csv").read_text() == before


def test_rerunning_with_other_settings_is_refused_not_stitched_on(stage1_run, rois_dataset,
                                                                  capsys):
    from seagull_cli import main

    out, _ = stage1_run
    before = (out / "metrics.csv").read_text()
    base = ["train", "--preset", "tiny", "--stage", "1", "--data", rois_dataset, "--out", str(out),
            "--checkpoint-every", "6", "--val-split", "test", "--val-max-regions", "6"]
    # More steps: the finished run's schedule ended at step 12; extending it would start
    # step 13 at the old schedule's last rate. Another learning rate: another run.
    assert main([*base, "--max-steps", "16"]) == 2
    err = capsys.readouterr().err
    assert "holds a run trained with other settings (max_steps 12 → 16, total_steps 12 → 16)" \
        in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--max-steps", "12", "--lr", "0.5"]) == 2
    assert "lr 0.002 → 0.5" in capsys.readouterr().err
    # What only decides saving and reporting may change: the finished run is reported.
    assert main([*base[:-6], "--max-steps", "12", "--checkpoint-every", "4"]) == 0
    assert (out / "metrics.csv").read_text() == before


def test_inputs_that_cannot_train_are_refused_before_training(ray_session, rois_dataset,
                                                               tmp_path, capsys):
    from seagull_cli import main

    a_file = tmp_path / "afile"
    a_file.write_text("")
    assert main(["train", "--preset", "tiny", "--stage", "1", "--data", rois_dataset,
                 "--out", str(a_file)]) == 2
    assert f"--out {a_file}: a file, not a run folder" in capsys.readouterr().err
    # A value the config refuses: one line, exit 2, before Ray starts anything.
    assert main(["train", "--preset", "tiny", "--stage", "1", "--data", rois_dataset,
                 "--out", str(tmp_path / "r"), "--max-failures", "-1"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "seagull train: error: --max-failures must be 0 or more, got -1"]
    from seagull.train.synthetic import write_rois_dataset

    only_train = write_rois_dataset(tmp_path / "only-train", n_images=4, test_images=0)
    rc = main(["train", "--preset", "tiny", "--stage", "1", "--data", str(only_train),
               "--out", str(tmp_path / "v"), "--val-split", "test"])
    assert rc == 2
    assert "--val-split test: " in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_exported_model_equals_the_last_training_state(stage1_run, rois_dataset):
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    from seagull.model import SeagullModel
    from seagull.train.engine import STATE_TAG

    out, summary = stage1_run
    exported = SeagullModel.from_pretrained(out / "model")
    last = Path(summary["checkpoint"])
    assert last.parent == out / "ray" and (last / "model").is_dir()
    state = get_fp32_state_dict_from_zero_checkpoint(str(last / "state"), tag=STATE_TAG)
    trained = _trainables(exported)
    assert set(state) == set(trained)
    assert all(torch.equal(state[n], trained[n]) for n in trained)
    rebuilt = SeagullModel.from_pretrained(out / "model")
    with torch.no_grad():
        for name, param in rebuilt.named_parameters():
            if name in state:
                param.copy_(torch.randn_like(param))  # forget, then restore from DeepSpeed
        rebuilt.load_state_dict(state, strict=False)
    assert _quality_scores(exported, rois_dataset) == _quality_scores(rebuilt, rois_dataset)
    # The best-by-SROCC copy is a loadable model too.
    assert (out / "best" / "trainable.safetensors").is_file()
    SeagullModel.from_pretrained(out / "best")


def test_stage2_starts_from_stage1_weights(stage1_run, rois_dataset, tmp_path, capsys):
    from seagull.model import SeagullModel

    out1, _ = stage1_run
    stage1 = SeagullModel.from_pretrained(out1 / "model")
    # A vanishing learning rate: what stage 2 exports is what it started from. ZeRO-3 here,
    # so that partitioned parameters are loaded, trained, gathered and exported once too.
    summary = _train(rois_dataset, tmp_path, "--stage", "2", "--init", str(out1 / "model"),
                     "--max-steps", "2", "--lr", "1e-12", "--checkpoint-every", "2",
                     "--zero", "3")
    assert summary["steps"] == 2
    stage2 = SeagullModel.from_pretrained(tmp_path / "model")
    s1, s2 = _trainables(stage1), _trainables(stage2)
    assert set(s1) == set(s2)
    assert all(torch.allclose(s1[n], s2[n], atol=1e-6) for n in s1)
    frozen1 = {n: p for n, p in stage1.named_parameters() if not p.requires_grad}
    frozen2 = dict(stage2.named_parameters())
    assert all(torch.equal(p, frozen2[n]) for n, p in frozen1.items())
    torch.manual_seed(0)
    fresh = _trainables(SeagullModel.from_preset("tiny"))
    assert not all(torch.allclose(fresh[n], s2[n], atol=1e-6) for n in s2)
    assert read_metrics(tmp_path / "metrics.csv")[0]["step"] == 1
    # Progress on the driver's console, one line per step, from metrics.csv.
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in printed] == ["1/2", "2/2"]


def test_stage2_without_init_is_a_one_line_error(rois_dataset, tmp_path, capsys):
    from seagull_cli import main

    rc = main(["train", "--preset", "tiny", "--stage", "2", "--data", rois_dataset,
               "--out", str(tmp_path)])
    assert rc == 2
    assert "--init" in capsys.readouterr().err


def test_data_without_manifest_is_a_one_line_error(tmp_path, capsys):
    from seagull_cli import main

    rc = main(["train", "--preset", "tiny", "--stage", "1", "--data", str(tmp_path),
               "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "manifest.json" in capsys.readouterr().err


def _wait_for_step(csv_path: Path, step: int, proc=None, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"training exited early with {proc.returncode}")
        if csv_path.is_file():
            rows = read_metrics(csv_path)
            if rows and rows[-1]["step"] >= step:
                return
        time.sleep(0.5)
    raise AssertionError(f"step {step} not reached in {timeout} s")


def _wait_for_registered_checkpoint(run_dir: Path, step: int, timeout: float = 300) -> None:
    """Until Ray Train has registered a checkpoint of ``step`` or later in its snapshot.

    A worker saves and reports a checkpoint, the controller registers it at its next poll
    (seconds later); a run that dies in between resumes from the checkpoint before.
    """
    snapshot = run_dir / RAY_RUN_NAME / "checkpoint_manager_snapshot.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            results = json.loads(snapshot.read_text())["checkpoint_results"]
        except (OSError, ValueError, KeyError):
            results = []
        if any(r["metrics"].get("step", 0) >= step for r in results):
            return
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of step {step} registered in {timeout} s")


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(ray_session, rois_dataset, tmp_path):
    out = tmp_path / "run"
    argv = ["--preset", "tiny", "--stage", "1", "--data", rois_dataset, "--out", str(out),
            "--max-steps", "15",
            "--checkpoint-every", "3"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.train", *argv], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_for_step(out / "metrics.csv", 5, proc)
        _wait_for_registered_checkpoint(out, 3)
    finally:
        kill_tree(proc.pid)  # the whole run dies mid-way, Ray's workers too, as on a power cut
        proc.wait()
    before = read_metrics(out / "metrics.csv")
    assert before[-1]["step"] < 15

    summary = _train(rois_dataset, out, "--stage", "1", "--max-steps", "15",
                     "--checkpoint-every", "3")
    resumed = summary["resumed_from"]
    assert resumed in (3, 6, 9, 12) and resumed <= before[-1]["step"]  # a checkpoint, not zero
    rows = read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, 16))
    assert rows[:resumed] == before[:resumed]  # the steps before the checkpoint were not redone


@pytest.mark.slow
def test_killed_worker_is_replaced_and_training_completes(ray_session, rois_dataset, tmp_path):
    import psutil

    killed: list[int] = []

    def kill_one_worker():
        _wait_for_step(tmp_path / "metrics.csv", 4)
        _wait_for_registered_checkpoint(tmp_path, 3)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if any("RayTrainWorker" in part for part in proc.info["cmdline"] or []):
                proc.kill()
                killed.append(proc.info["pid"])
                return

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    summary = _train(rois_dataset, tmp_path, "--stage", "1", "--max-steps", "14",
                     "--checkpoint-every", "3", "--max-failures", "2")
    killer.join(timeout=5)
    assert killed, "no training worker was found to kill"
    assert summary["steps"] == 14
    assert summary["resumed_from"] in (3, 6, 9, 12)  # restarted from a checkpoint after the kill
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, 15))
