import numpy as np
import pytest
import torch

from seagull.errors import InvalidInputError, WeightsMismatchError
from seagull.model.config import get_preset
from seagull.model.encoder import ImageEncoder, preprocess_image


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return ImageEncoder.from_config(get_preset("tiny"))


def test_encoder_gives_four_stages_and_is_frozen(encoder):
    config = get_preset("tiny")
    feats = encoder(torch.randn(2, 3, config.image_size, config.image_size))
    assert [tuple(f.shape) for f in feats] == [
        (2, c, config.stage_size(j + 1), config.stage_size(j + 1))
        for j, c in enumerate(config.encoder_dims)]
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training


def test_open_clip_checkpoint_loads_and_wrong_ones_fail(encoder, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    other = ImageEncoder.from_config(get_preset("tiny"))
    state = {f"visual.trunk.{k}": v.clone() for k, v in other.trunk.state_dict().items()}
    state["visual.head.proj.weight"] = torch.zeros(4, 4)  # CLIP head: ignored
    save_file(state, str(tmp_path / "clip.safetensors"))
    encoder.load_checkpoint(tmp_path / "clip.safetensors")
    x = torch.randn(1, 3, 64, 64)
    assert all(torch.equal(a, b) for a, b in zip(encoder(x), other(x)))
    # A plain timm file through torch.load(weights_only=True) works too.
    torch.save({"state_dict": other.trunk.state_dict()}, tmp_path / "timm.pth")
    encoder.load_checkpoint(tmp_path / "timm.pth")
    bad = dict(state)
    bad["visual.trunk.stem.0.weight"] = torch.zeros(1, 3, 4, 4)
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightsMismatchError, match="shape"):
        encoder.load_checkpoint(tmp_path / "bad.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "none.safetensors"))
    with pytest.raises(WeightsMismatchError, match="trunk"):
        encoder.load_checkpoint(tmp_path / "none.safetensors")


def test_preprocess_image_normalises_and_rejects_wrong_input():
    image = np.full((10, 20, 3), 255, np.uint8)
    x = preprocess_image(image, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert x.shape == (3, 32, 32) and torch.allclose(x, torch.full_like(x, 2.0))
    with pytest.raises(InvalidInputError):
        preprocess_image(np.zeros((10, 20), np.uint8), 32, (0, 0, 0), (1, 1, 1))
