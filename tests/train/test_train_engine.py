"""DeepSpeed around the tiny model in one process (no Ray): steps train only the trainable
parameters, and a saved state restores weights, optimizer and schedule."""

import os

import pytest
import torch

from seagull.model import SeagullModel, build_batch
from seagull.model.config import get_preset
from seagull.train import deepspeed_on_cpu
from seagull.train import engine as eng
from seagull.train.config import train_config
from seagull.train.examples import records_for_stage, to_sample


@pytest.fixture(scope="module")
def single_process_group():
    """DeepSpeed in a plain process: launcher variables and a one-rank gloo group."""
    import torch.distributed as dist

    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                            "MASTER_PORT", "DS_ACCELERATOR")}
    os.environ.update(MASTER_PORT="29631")
    deepspeed_on_cpu.prepare()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _batch(model, root, n=4):
    import pyarrow.parquet as pq

    rows = pq.read_table(f"{root}/rois/part-00000.parquet").to_pylist()
    records = [r for row in rows[:2] for r in records_for_stage(row, 1, 0)][:n]
    samples = [to_sample(r, 1, 0, 0) for r in records]
    return build_batch(samples, model.prompts, model.config, max_len=256)


def test_prepare_sets_the_cpu_accelerator_and_skips_the_shm_build(single_process_group):
    import importlib

    ds_torch = importlib.import_module("deepspeed.comm.torch")

    assert os.environ["DS_ACCELERATOR"] == "cpu"
    assert {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"} <= set(os.environ)
    assert ds_torch.build_shm_op() is None


def test_steps_train_only_trainables_and_state_round_trips(single_process_group, rois_dataset,
                                                           tmp_path):
    torch.manual_seed(0)
    model = SeagullModel.from_preset("tiny")
    model.train()
    cfg = train_config(1, get_preset("tiny"), workers=1, global_batch=4, micro_batch=4,
                       max_steps=10)
    engine = eng.build_engine(model, cfg, total_steps=10)
    frozen_before = {n: p.detach().clone() for n, p in model.named_parameters()
                     if not p.requires_grad}
    train_before = {n: p.detach().clone() for n, p in model.named_parameters()
                    if p.requires_grad}
    batch = eng.to_device(_batch(model, rois_dataset), engine)
    losses = []
    for _ in range(3):
        loss = eng.forward_loss(engine, batch)
        engine.backward(loss)
        engine.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]  # the same batch thrice: the loss must fall
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], v) for n, v in frozen_before.items())
    changed = [n for n, v in train_before.items() if not torch.equal(params[n], v)]
    assert any("lora_" in n for n in changed) and any(n.startswith("mfe.") for n in changed)
    assert any(n.startswith("projector.") for n in changed)

    eng.save_state(engine, tmp_path / "state", {"step": 3})
    saved = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    lr_saved = eng.current_lr(engine)
    loss = eng.forward_loss(engine, batch)  # a fourth step moves away from the saved state
    engine.backward(loss)
    engine.step()
    assert not all(torch.equal(params[n], v) for n, v in saved.items())
    client = eng.load_state(engine, tmp_path / "state")
    assert client["step"] == 3
    assert all(torch.equal(params[n], v) for n, v in saved.items())
    assert eng.current_lr(engine) == pytest.approx(lr_saved)
    # Only the trainable tensors were written (frozen ones are rebuilt, not checkpointed).
    files = list((tmp_path / "state" / eng.STATE_TAG).glob("*model_states.pt"))
    state = torch.load(files[0], weights_only=False, map_location="cpu")["module"]
    assert set(state) == set(saved)
