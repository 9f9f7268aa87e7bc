import numpy as np
import pytest
import torch

from seagull.errors import EmptyMaskError, MaskShapeError
from seagull.model.mfe import (
    MaskFeatureExtractor,
    as_bool_mask,
    crop_region,
    mask_box,
    mask_pool,
    resize_mask,
)


def test_mask_pool_averages_the_features_inside_the_region():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 4)
    coverage = torch.zeros(2, 8, 8)
    coverage[0, :4, :4] = 1  # exactly the top-left 2×2 cells at 4×4
    coverage[1, 4:, 2:8] = 1  # bottom rows, cells x = 1…3
    pooled = mask_pool(features, coverage)
    assert torch.allclose(pooled[0], features[0, :, :2, :2].mean((1, 2)))
    assert torch.allclose(pooled[1], features[1, :, 2:, 1:].mean((1, 2)))


def test_mask_pool_keeps_a_region_smaller_than_one_cell():
    features = torch.arange(16.0).view(1, 1, 4, 4)
    coverage = torch.zeros(1, 16, 16)
    coverage[0, 5, 9] = 1  # one pixel inside cell (1, 2)
    assert torch.allclose(mask_pool(features, coverage), torch.tensor([[6.0]]))


def test_resize_mask_gives_area_fractions():
    mask = np.zeros((4, 6), bool)
    mask[:2, :3] = True
    cov = resize_mask(mask, 2)
    assert torch.allclose(cov, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    mask[2, 3] = True  # one pixel of the 6 in cell (1, 1)
    assert float(resize_mask(mask, 2)[1, 1]) == pytest.approx(1 / 6)


def test_empty_and_misshapen_masks_are_typed_errors():
    with pytest.raises(EmptyMaskError):
        as_bool_mask(np.zeros((5, 5), bool))
    with pytest.raises(MaskShapeError):
        as_bool_mask(np.ones((2, 3, 4), bool))
    with pytest.raises(MaskShapeError):
        crop_region(np.zeros((8, 8, 3), np.uint8), np.ones((4, 4), bool), 16, (0, 0, 0),
                    (1, 1, 1))


def test_crop_region_is_the_bounding_box_of_the_full_image():
    image = np.zeros((20, 30, 3), np.uint8)
    image[5:9, 10:20] = 255
    mask = np.zeros((20, 30), bool)
    mask[5:9, 10:20] = True
    mask[6, 12] = False  # holes do not change the box
    assert mask_box(mask) == (10, 5, 20, 9)
    crop = crop_region(image, mask, 16, (0, 0, 0), (1, 1, 1))
    assert crop.shape == (3, 16, 16) and torch.allclose(crop, torch.ones_like(crop))


@pytest.fixture(scope="module")
def mfe_and_features():
    from seagull.model.config import get_preset

    torch.manual_seed(1)
    config = get_preset("tiny").replace(vocab_size=100)
    mfe = MaskFeatureExtractor(config, config.encoder_dims).eval()
    features = [torch.randn(2, c, config.stage_size(j + 1), config.stage_size(j + 1))
                for j, c in enumerate(config.encoder_dims)]
    return config, mfe, features


@pytest.mark.parametrize("regions", [1, 3, 7])
def test_mfe_gives_one_global_and_one_local_token_per_region(mfe_and_features, regions):
    config, mfe, features = mfe_and_features
    S, L = config.image_size, config.local_size
    coverage = torch.zeros(regions, S, S)
    for r in range(regions):
        coverage[r, r:r + 9, 2 * r:2 * r + 5] = 1
    crops = torch.randn(regions, 3, L, L)
    index = torch.tensor([r % 2 for r in range(regions)])
    with torch.no_grad():
        gvt, lvt = mfe(features, coverage, crops, index)
    assert gvt.shape == lvt.shape == (regions, config.hidden_size)
    assert torch.isfinite(gvt).all() and torch.isfinite(lvt).all()
    # Each region alone, on its own image, gives the same tokens as in the batch.
    with torch.no_grad():
        g0, l0 = mfe([f[index[-1:]] for f in features], coverage[-1:], crops[-1:])
    assert torch.allclose(g0, gvt[-1:], atol=1e-5) and torch.allclose(l0, lvt[-1:], atol=1e-5)


def test_mfe_rejects_an_empty_region(mfe_and_features):
    config, mfe, features = mfe_and_features
    S, L = config.image_size, config.local_size
    with pytest.raises(EmptyMaskError):
        mfe(features, torch.zeros(1, S, S), torch.zeros(1, 3, L, L))


def test_ablation_switches_zero_the_dropped_token(mfe_and_features):
    config, _, features = mfe_and_features
    S, L = config.image_size, config.local_size
    coverage = torch.ones(1, S, S)
    crops = torch.randn(1, 3, L, L)
    for flag in ("use_global", "use_local"):
        mfe = MaskFeatureExtractor(config.replace(**{flag: False}), config.encoder_dims).eval()
        gvt, lvt = mfe([f[:1] for f in features], coverage, crops)
        dropped, kept = (gvt, lvt) if flag == "use_global" else (lvt, gvt)
        assert torch.count_nonzero(dropped) == 0 and torch.count_nonzero(kept) > 0


def test_region_geometry_is_the_share_and_the_box_of_the_region():
    from seagull.model.mfe import region_geometry

    cover = torch.zeros(3, 8, 8)
    cover[0, 2:4, :] = 1  # two full rows
    cover[1] = 1  # everything
    cover[2, 6, 1] = 0.5  # half of one cell
    g = region_geometry(cover)
    share = torch.tensor([0.25, 1.0, 0.5 / 64])
    assert torch.allclose(g[:, 0], share.log() / 10) and torch.allclose(g[:, 1], share.sqrt())
    assert torch.allclose(g[0, 2:], torch.tensor([0.5, 0.375, 1.0, 0.25]))
    assert torch.allclose(g[1, 2:], torch.tensor([0.5, 0.5, 1.0, 1.0]))
    assert torch.allclose(g[2, 2:], torch.tensor([1.5 / 8, 6.5 / 8, 1 / 8, 1 / 8]))


def test_region_geometry_lets_the_global_view_tell_sizes_apart(mfe_and_features):
    """Mask pooling averages: on a uniform image a small and a large region of it give the same
    global token. With ``mfe_region_geometry`` their tokens differ; the paper's MFE has no such
    weights (its released names stay complete)."""
    config, _, _ = mfe_and_features
    S, L = config.image_size, config.local_size
    features = [torch.ones(1, c, config.stage_size(j + 1), config.stage_size(j + 1))
                for j, c in enumerate(config.encoder_dims)]
    coverage = torch.zeros(2, S, S)
    coverage[0, :16, :16] = 1
    coverage[1, :48, :48] = 1
    crops = torch.zeros(2, 3, L, L)
    index = torch.zeros(2, dtype=torch.long)
    torch.manual_seed(3)
    plain = MaskFeatureExtractor(config, config.encoder_dims).eval()
    torch.manual_seed(3)
    sized = MaskFeatureExtractor(config.replace(mfe_region_geometry=True),
                                 config.encoder_dims).eval()
    with torch.no_grad():
        a, _ = plain(features, coverage, crops, index)
        b, _ = sized(features, coverage, crops, index)
    assert torch.allclose(a[0], a[1], atol=1e-5)
    assert not torch.allclose(b[0], b[1], atol=1e-3)
    assert not any(name.startswith("geometry") for name, _ in plain.named_parameters())
    assert {n for n, _ in sized.named_parameters()} - {n for n, _ in plain.named_parameters()} \
        == {"geometry.weight", "geometry.bias"}
