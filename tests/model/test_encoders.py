"""The encoder registry: each encoder loads its checkpoint through the one mapping, strictly."""

import dataclasses

import numpy as np
import pytest
import torch

from seagull.errors import ConfigError, WeightsMismatchError, WeightsNotFoundError
from seagull.model.encoder import ImageEncoder, preprocess_image
from seagull.model.encoders import ENCODERS, get_encoder_spec, load_state_dict_file


@pytest.fixture(scope="module")
def lite0():
    spec = get_encoder_spec("efficientnet_lite0")
    encoder = ImageEncoder(spec)
    encoder.load_checkpoint(spec.weights_file())
    return encoder


def test_pretrained_lite0_classifies_a_sample_photo_right(lite0):
    from skimage import data

    x = preprocess_image(data.chelsea(), 224, lite0.spec.mean, lite0.spec.std)[None]
    with torch.no_grad():
        p = lite0.trunk(x).softmax(-1)[0]
    assert int(p.argmax()) == 285  # ImageNet "Egyptian cat"
    assert float(p[285]) > 0.5
    # F1…F4 at strides 4…32 with the widths the trunk reports.
    feats = lite0(x)
    assert lite0.dims == (24, 40, 112, 320)
    assert [tuple(f.shape) for f in feats] == [(1, c, 224 // s, 224 // s)
                                               for c, s in zip(lite0.dims, (4, 8, 16, 32))]


def test_a_random_lite0_does_not_classify_it(lite0):
    from skimage import data

    torch.manual_seed(0)
    random_encoder = ImageEncoder(lite0.spec)
    x = preprocess_image(data.chelsea(), 224, lite0.spec.mean, lite0.spec.std)[None]
    with torch.no_grad():
        assert float(random_encoder.trunk(x).softmax(-1)[0, 285]) < 0.05


@pytest.mark.parametrize("name,dims", [("efficientnet_lite1", (24, 40, 112, 320)),
                                       ("efficientnet_lite2", (24, 48, 120, 352))])
def test_every_lite_checkpoint_maps_strictly(name, dims):
    spec = get_encoder_spec(name)
    encoder = ImageEncoder(spec)
    before = encoder.trunk.conv_stem.weight.clone()
    encoder.load_checkpoint(spec.weights_file())
    assert encoder.dims == dims
    assert not torch.equal(before, encoder.trunk.conv_stem.weight)
    assert not any(p.requires_grad for p in encoder.parameters())


def test_a_checkpoint_with_a_missing_or_misshaped_tensor_is_a_one_line_error(lite0, tmp_path):
    state = load_state_dict_file(lite0.spec.weights_file())
    missing = dict(state)
    missing.pop("_blocks.3._bn1.running_var")
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(WeightsMismatchError, match="missing.pth") as err:
        ImageEncoder(lite0.spec).load_checkpoint(tmp_path / "missing.pth")
    assert "\n" not in str(err.value)
    misshaped = dict(state)
    misshaped["_blocks.5._depthwise_conv.weight"] = torch.zeros(3, 1, 3, 3)
    torch.save(misshaped, tmp_path / "misshaped.pth")
    with pytest.raises(WeightsMismatchError,
                       match=r"misshaped.pth: _blocks.5._depthwise_conv.weight \(3, 1, 3, 3\)"):
        ImageEncoder(lite0.spec).load_checkpoint(tmp_path / "misshaped.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsMismatchError, match="junk.pth: not a readable weights file"):
        ImageEncoder(lite0.spec).load_checkpoint(tmp_path / "junk.pth")


def test_a_missing_weights_package_names_the_package():
    spec = dataclasses.replace(get_encoder_spec("efficientnet_lite0"),
                               package="no-such-weights", package_module="no_such_weights")
    with pytest.raises(WeightsNotFoundError, match="pip install no-such-weights"):
        spec.weights_file()


def test_unknown_encoder_and_registry_contents():
    with pytest.raises(ConfigError, match="encoders"):
        get_encoder_spec("vit_giant")
    assert {s.weights for s in ENCODERS.values()} == {"checkpoint", "package", "random"}
    assert get_encoder_spec("random_convnext").weights == "random"


def test_feature_cache_reuses_features_in_memory_and_on_disk(lite0, tmp_path):
    from seagull.model.feature_cache import FeatureCache

    rng = np.random.default_rng(0)
    images = torch.stack([preprocess_image(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8), 64,
                                           lite0.spec.mean, lite0.spec.std) for _ in range(3)])
    direct = lite0(images)
    cache = FeatureCache(tmp_path / "features")
    first = cache.features(lite0, images, ["a", "b", "c"], "cpu")
    assert (cache.hits, cache.misses) == (0, 3)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(first, direct))
    again = cache.features(lite0, images[[2, 0]], ["c", "a"], "cpu")
    assert (cache.hits, cache.misses) == (2, 3)
    assert all(torch.equal(a, b[[2, 0]]) for a, b in zip(again, first))
    # Another process (a new cache on the same folder) reads the files, exactly.
    other = FeatureCache(tmp_path / "features", max_bytes=1)  # nothing kept in memory
    from_disk = other.features(lite0, torch.zeros_like(images), ["a", "b", "c"], "cpu")
    assert (other.hits, other.misses) == (3, 0) and len(other) == 0
    assert all(torch.equal(a, b) for a, b in zip(from_disk, first))
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == \
        ["a.safetensors", "b.safetensors", "c.safetensors"]


def test_feature_cache_folders_differ_by_encoder_weights_and_size():
    from seagull.model.config import get_preset
    from seagull.model.feature_cache import cache_key

    config = get_preset("tiny")
    torch.manual_seed(0)
    a = ImageEncoder.from_config(config)
    torch.manual_seed(0)
    same = ImageEncoder.from_config(config)
    torch.manual_seed(1)
    other = ImageEncoder.from_config(config)
    assert cache_key(config, a) == cache_key(config, same)
    assert cache_key(config, a) != cache_key(config, other)
    assert cache_key(config, a) != cache_key(config.replace(image_size=128), a)
