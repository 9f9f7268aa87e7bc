import pytest

from seagull.errors import ConfigError
from seagull.model.config import PRESETS, SeagullConfig, get_preset


def test_paper_preset_matches_the_paper():
    import torch

    from seagull.model.encoder import ImageEncoder

    c = get_preset("paper")
    assert c.encoder == "convnext" and c.image_size == 512
    with torch.device("meta"):
        assert ImageEncoder.from_config(c).dims == (192, 384, 768, 1536)
    assert (c.lora_r, c.lora_alpha) == (128, 256)
    assert (c.hidden_size, c.num_layers, c.vocab_size) == (4096, 32, 32000)
    # The released code's image tokens: third stage, 32×32 = 1,024 tokens of 768 channels.
    assert c.image_token_stage == 3 and c.num_image_tokens == 1024
    assert [c.stage_size(j) for j in (1, 2, 3, 4)] == [128, 64, 32, 16]
    # Local view: 512 → pool 4 → pool 4 → 32×32 = 1,024 values.
    assert c.local_tokens_dim == 1024
    assert c.training.stage1_lr == 4e-5 and c.training.stage2_lr == 1e-5
    assert c.training.batch_size == 32 and c.training.stage2_epochs == 5


def test_tiny_preset_is_small_and_has_its_own_training_defaults():
    tiny, paper = get_preset("tiny"), get_preset("paper")
    assert tiny.image_size <= 128 and tiny.hidden_size <= 256 and tiny.num_layers <= 4
    assert tiny.num_image_tokens == (64 // 16) ** 2
    assert tiny.train_lm_head and not paper.train_lm_head
    assert tiny.training.stage1_lr > 10 * paper.training.stage1_lr


def test_config_round_trips_through_a_dict():
    for config in PRESETS.values():
        assert SeagullConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("change", [{"image_token_stage": 5}, {"image_size": 100},
                                    {"encoder_dims": (1, 2, 3)}, {"mfe_heads": 7}])
def test_bad_configs_are_config_errors(change):
    with pytest.raises(ConfigError):
        get_preset("tiny").replace(**change)


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match="presets"):
        get_preset("huge")
    with pytest.raises(ConfigError, match="colour"):
        SeagullConfig.from_dict({**get_preset("tiny").to_dict(), "colour": 1})
