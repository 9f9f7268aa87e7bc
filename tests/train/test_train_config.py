"""Training settings from presets, the batch split, the schedule and the DeepSpeed config."""

import itertools
import math

import pytest

from seagull.errors import ConfigError
from seagull.model.config import get_preset
from seagull.train.config import train_config
from seagull.train.deepspeed_config import deepspeed_config
from seagull.train.schedule import cosine_with_warmup


def test_paper_defaults_follow_the_paper():
    paper = get_preset("paper")
    s1 = train_config(1, paper, workers=8)
    s2 = train_config(2, paper, workers=8)
    assert (s1.lr, s1.epochs, s1.global_batch, s1.max_seq_len) == (4e-5, 1, 32, 2048)
    assert (s2.lr, s2.epochs, s2.global_batch) == (1e-5, 5, 32)
    # 8 GPUs × 4 samples reach 32 without accumulation; 2 GPUs accumulate 4 micro-batches.
    assert (s1.micro_batch, s1.grad_accum) == (4, 1)
    two = train_config(1, paper, workers=2)
    assert two.micro_batch * two.workers * two.grad_accum == 32
    assert two.grad_accum == 4


def test_tiny_has_its_own_defaults_and_overrides_win():
    tiny = get_preset("tiny")
    cfg = train_config(1, tiny, workers=2)
    assert cfg.lr == tiny.training.stage1_lr != 4e-5
    cfg = train_config(1, tiny, workers=2, lr=0.5, epochs=3, global_batch=12, micro_batch=3,
                       max_steps=7, warmup_ratio=None)
    assert (cfg.lr, cfg.epochs, cfg.global_batch, cfg.grad_accum, cfg.max_steps) == \
        (0.5, 3, 12, 2, 7)
    assert cfg.warmup_ratio == tiny.training.warmup_ratio  # None means "the default"


def test_batch_that_does_not_split_is_a_config_error():
    with pytest.raises(ConfigError, match="not a multiple"):
        train_config(1, get_preset("tiny"), workers=3, global_batch=8, micro_batch=2)
    with pytest.raises(ConfigError, match="stage"):
        train_config(3, get_preset("tiny"), workers=1)


def test_steps_per_epoch_drop_the_ragged_tail_and_max_steps_overrides_epochs():
    cfg = train_config(1, get_preset("tiny"), workers=2, global_batch=8, micro_batch=2,
                       epochs=3)
    assert cfg.grad_accum == 2
    # 20 rows per worker → 10 micro-batches of 2 → 5 steps of 2 accumulated; 1 row dropped.
    assert cfg.steps_per_epoch(41) == 5
    assert cfg.steps_per_epoch(47) == 5  # 23 per worker: the 3 left over are dropped
    assert cfg.total_steps(41) == 15
    with pytest.raises(ConfigError, match="fewer than one global batch"):
        cfg.steps_per_epoch(7)
    capped = train_config(1, get_preset("tiny"), workers=2, global_batch=8, max_steps=100)
    assert capped.total_steps(41) == 100


def test_cosine_with_warmup():
    total, warm = 100, 10
    assert cosine_with_warmup(0, total, warm) == pytest.approx(1 / 11)
    assert cosine_with_warmup(9, total, warm) == pytest.approx(10 / 11)
    assert cosine_with_warmup(10, total, warm) == pytest.approx(1.0)
    assert cosine_with_warmup(55, total, warm) == pytest.approx(0.5)
    assert cosine_with_warmup(100, total, warm) == pytest.approx(0.0, abs=1e-12)
    assert cosine_with_warmup(150, total, warm) == pytest.approx(0.0, abs=1e-12)
    values = [cosine_with_warmup(s, total, warm) for s in range(warm, total)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert cosine_with_warmup(3, 20, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 20)))


def test_deepspeed_config():
    cfg = train_config(1, get_preset("paper"), workers=2, zero_stage=3, bf16=True)
    ds = deepspeed_config(cfg)
    assert ds["train_batch_size"] == 32
    assert ds["train_micro_batch_size_per_gpu"] * 2 * ds["gradient_accumulation_steps"] == 32
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_param_persistence_threshold"] == 0
    assert ds["bf16"]["enabled"] is True
    assert ds["zero_optimization"]["contiguous_gradients"] is True  # GPU memory unfragmented
    cpu = deepspeed_config(train_config(1, get_preset("tiny"), workers=2))
    assert cpu["zero_optimization"]["stage"] == 2 and cpu["bf16"]["enabled"] is False
    assert cpu["zero_optimization"]["contiguous_gradients"] is False  # a copy for nothing
    assert "optimizer" not in cpu  # torch AdamW is built by the engine (no compiled op)
    with pytest.raises(ConfigError, match="ZeRO"):
        train_config(1, get_preset("tiny"), workers=2, zero_stage=1)
