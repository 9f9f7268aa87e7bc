import json

import pytest
import torch

from seagull.errors import WeightsMismatchError, WeightsNotFoundError
from seagull.model import SeagullModel, SeagullPredictor
from seagull.model.seagull_model import FROZEN_FILE, TRAINABLE_FILE, map_released_name


@pytest.fixture(scope="module")
def trained_copy(tiny_tokenizer):
    """A tiny model whose trainables moved away from their initial values."""
    torch.manual_seed(3)
    model = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer).eval()
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model


def _scores(model, image, masks):
    p = SeagullPredictor(model)
    p.set_image(image)
    return torch.cat([p.level_probabilities(masks, t) for t in ("quality", "importance")])


def test_save_and_load_round_trip_gives_identical_scores(trained_copy, image, masks, tmp_path):
    out = trained_copy.save_pretrained(tmp_path / "m")
    assert (out / TRAINABLE_FILE).is_file() and (out / FROZEN_FILE).is_file()
    assert (out / "tokenizer").is_dir()
    torch.manual_seed(12345)  # a different seed must not matter
    loaded = SeagullModel.from_pretrained(out)
    before = _scores(trained_copy, image, masks[:3])
    after = _scores(loaded, image, masks[:3])
    assert torch.equal(before, after)
    for (k, a), (k2, b) in zip(trained_copy.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert loaded.tokenizer.get_vocab() == trained_copy.tokenizer.get_vocab()


def test_ablation_switches_survive_save_and_load(tiny_tokenizer, tmp_path):
    model = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer, use_global=False)
    loaded = SeagullModel.from_pretrained(model.save_pretrained(tmp_path / "m"))
    assert loaded.config.use_global is False and loaded.mfe.use_global is False


def test_broken_model_folders_are_typed_errors(trained_copy, tmp_path):
    with pytest.raises(WeightsNotFoundError):
        SeagullModel.from_pretrained(tmp_path / "nothing")
    out = trained_copy.save_pretrained(tmp_path / "m")
    (out / FROZEN_FILE).unlink()
    with pytest.raises(WeightsNotFoundError, match=FROZEN_FILE):
        SeagullModel.from_pretrained(out)
    out = trained_copy.save_pretrained(tmp_path / "m2")
    meta = json.loads((out / "seagull_config.json").read_text())
    meta["config"]["mfe_dim"] = 32  # the saved tensors no longer fit
    meta["config"]["mfe_heads"] = 4
    (out / "seagull_config.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsMismatchError):
        SeagullModel.from_pretrained(out)


def test_released_checkpoint_names_map_onto_the_model(tiny_tokenizer, tmp_path):
    from safetensors.torch import save_file

    model = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer)
    own = model.state_dict()
    q = "llm.base_model.model.model.layers.1.self_attn.q_proj.base_layer.weight"
    released = {
        "model.mm_projector.0.weight": torch.full_like(own["projector.fc1.weight"], 0.5),
        "model.mm_projector.2.bias": torch.full_like(own["projector.fc2.bias"], -1.0),
        "model.layers.1.self_attn.q_proj.weight": torch.full_like(own[q], 0.25),
        "model.norm.weight": torch.full_like(own["llm.base_model.model.model.norm.weight"], 2.0),
        "lm_head.weight": torch.full_like(own["llm.base_model.model.lm_head.weight"], 0.1),
        "model.vision_tower.vision_tower.trunk.stem.0.weight":
            torch.full_like(own["encoder.trunk.stem.0.weight"], 0.3),
        "model.mask_extractor.something.weight": torch.zeros(3),
    }
    save_file(released, str(tmp_path / "released.safetensors"))
    report = model.load_released_checkpoint(tmp_path / "released.safetensors")
    assert report == {"loaded": 6, "unmapped": ["model.mask_extractor.something.weight"]}
    state = model.state_dict()
    assert torch.all(state["projector.fc1.weight"] == 0.5)
    assert torch.all(state["projector.fc2.bias"] == -1.0)
    assert torch.all(state[q] == 0.25)
    assert torch.all(state["encoder.trunk.stem.0.weight"] == 0.3)
    with pytest.raises(WeightsMismatchError, match="no counterpart"):
        model.load_released_checkpoint(tmp_path / "released.safetensors", strict=True)
    save_file({"model.mm_projector.0.weight": torch.zeros(2, 2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightsMismatchError, match="shape"):
        model.load_released_checkpoint(tmp_path / "bad.safetensors")
    assert map_released_name("model.layers.0.mlp.down_proj.weight") == \
        "llm.base_model.model.model.layers.0.mlp.down_proj.base_layer.weight"
    assert map_released_name("model.layers.0.input_layernorm.weight") == \
        "llm.base_model.model.model.layers.0.input_layernorm.weight"


SMALL = {"encoder_arch": "convnext_atto", "encoder_depths": (1, 1, 2, 1),
         "encoder_dims": (16, 32, 64, 128), "image_size": 64, "mfe_dim": 64, "mfe_heads": 4,
         "local_size": 64, "hidden_size": 128, "intermediate_size": 256, "num_layers": 2,
         "num_heads": 4, "num_kv_heads": 4, "max_position": 512, "lora_r": 4, "lora_alpha": 8}


def test_paper_path_loads_local_weights_and_reloads_exactly(tiny_tokenizer, image, masks,
                                                            tmp_path):
    """The paper preset's loading code, on a small LLaMA folder and ConvNeXt file made here."""
    from safetensors.torch import save_file

    from seagull.model.config import get_preset
    from seagull.model.encoder import ImageEncoder
    from seagull.model.llm import build_llama

    config = get_preset("paper").replace(**SMALL)
    torch.manual_seed(5)
    llm = build_llama(config, vocab_size=len(tiny_tokenizer) - 3)
    llm.save_pretrained(str(tmp_path / "vicuna"))
    tiny_tokenizer.save_pretrained(str(tmp_path / "vicuna"))
    encoder = ImageEncoder.from_config(config)
    save_file({f"visual.trunk.{k}": v for k, v in encoder.trunk.state_dict().items()},
              str(tmp_path / "convnext.safetensors"))

    torch.manual_seed(6)
    model = SeagullModel.from_preset("paper", llm_path=tmp_path / "vicuna",
                                     encoder_weights=tmp_path / "convnext.safetensors", **SMALL)
    state = model.state_dict()
    q = "model.layers.1.self_attn.q_proj.weight"
    assert torch.equal(state[f"llm.base_model.model.{q[:-6]}base_layer.weight"],
                       llm.state_dict()[q])
    assert torch.equal(state["encoder.trunk.stem.0.weight"],
                       encoder.trunk.state_dict()["stem.0.weight"])
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(0.01 * torch.randn_like(p))
    out = model.save_pretrained(tmp_path / "seagull")
    assert not (out / FROZEN_FILE).exists()  # paper: frozen parts come from their checkpoints
    torch.manual_seed(7)
    loaded = SeagullModel.from_pretrained(out)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert torch.equal(_scores(model, image, masks[:2]), _scores(loaded, image, masks[:2]))

    # The full-size config does not fit this small LLaMA: a typed error, not a crash.
    with pytest.raises(WeightsMismatchError, match="hidden"):
        SeagullModel.from_preset("paper", llm_path=tmp_path / "vicuna",
                                 encoder_weights=tmp_path / "convnext.safetensors")


def _released_mfe_names() -> list[str]:
    """The released MaskExtractor's tensors that its forward pass uses (its layer layout)."""
    layers = [f"res{i}" for i in (2, 3, 4, 5)] + [f"g_res{i}" for i in (2, 3, 4, 5)]
    layers += [f"cross_att_res.{a}.{p}_proj" for a in ("self_attn", "cross_attn")
               for p in ("q", "k", "v", "out")]
    layers += ["cross_att_res.norm1", "cross_att_res.norm2", "cross_att_res.mlp.lin1",
               "cross_att_res.mlp.lin2", "feat_linear", "cross_feat_linear", "final_mlp",
               "global_vit.0", "global_vit.3"]
    layers += [f"sa.{p}_proj" for p in ("q", "k", "v", "out")]
    layers += [f"mlp.layers.{i}" for i in range(3)]
    return [f"mask_extractor.{layer}.{t}" for layer in layers for t in ("weight", "bias")]


def test_every_mfe_tensor_has_its_released_name(tiny_model):
    ours = {k for k in tiny_model.state_dict() if k.startswith("mfe.")}
    mapped = [map_released_name(n) for n in _released_mfe_names()]
    assert None not in mapped and len(set(mapped)) == len(mapped)
    assert set(mapped) == ours


def test_a_released_layout_checkpoint_reproduces_the_model(tiny_tokenizer, image, masks,
                                                           tmp_path):
    """Export the trainables under the released names, load them into a fresh model: same
    scores."""
    from safetensors.torch import save_file

    torch.manual_seed(11)
    source = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer, lora_r=1)
    inverse = {map_released_name(n): n for n in _released_mfe_names()}
    inverse["projector.fc1.weight"] = "model.mm_projector.0.weight"
    inverse["projector.fc1.bias"] = "model.mm_projector.0.bias"
    inverse["projector.fc2.weight"] = "model.mm_projector.2.weight"
    inverse["projector.fc2.bias"] = "model.mm_projector.2.bias"
    state = source.state_dict()
    save_file({inverse[k]: v.contiguous() for k, v in state.items() if k in inverse},
              str(tmp_path / "released.safetensors"))
    torch.manual_seed(12)
    target = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer, lora_r=1)
    # The frozen parts and the LLM come from elsewhere in a real checkpoint; copy them here.
    target.load_state_dict({k: v for k, v in state.items() if k not in inverse}, strict=False)
    assert not torch.equal(_scores(source, image, masks[:2]), _scores(target, image, masks[:2]))
    report = target.load_released_checkpoint(tmp_path / "released.safetensors", strict=True)
    assert report["loaded"] == len(inverse) and report["unmapped"] == []
    assert torch.equal(_scores(source, image, masks[:2]), _scores(target, image, masks[:2]))


def test_small_model_trains_and_round_trips_exactly(tiny_tokenizer, image, masks, tmp_path):
    """The small preset: the pretrained encoder comes from its package (not saved), the LLM
    trained from scratch is saved whole; a few optimiser steps, then an exact reload."""
    from seagull.labels.instructions import quality_answer
    from seagull.model import build_batch
    from seagull.model.feature_cache import FeatureCache

    torch.manual_seed(2)
    model = SeagullModel.from_preset("small", tokenizer=tiny_tokenizer, image_size=192,
                                     hidden_size=64, intermediate_size=128, num_layers=1)
    assert model.sources["encoder"].endswith(".pth")
    assert not any(n.startswith("encoder.") for n in model.trainable_names())
    assert any(n.startswith("llm.") and "lora" not in n for n in model.trainable_names())
    model.feature_cache = FeatureCache()
    model.train()
    samples = [{"image": image, "mask": m, "question": "Analyze the quality of this region.",
                "answer": quality_answer(q), "image_id": "img"}
               for m, q in zip(masks[:2], (0.1, 0.9))]
    batch = build_batch(samples, model.prompts, model.config)
    optimiser = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss = model(**batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert (model.feature_cache.misses, model.feature_cache.hits) == (2, 6)
    model.eval()
    out = model.save_pretrained(tmp_path / "small")
    assert not (out / FROZEN_FILE).exists()  # nothing frozen that its source cannot restore
    torch.manual_seed(99)
    loaded = SeagullModel.from_pretrained(out)
    assert loaded.sources == model.sources
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert torch.equal(_scores(model, image, masks[:3]), _scores(loaded, image, masks[:3]))


def test_a_batch_built_for_cached_images_skips_their_pixels_and_loses_nothing(
        tiny_model, image, masks):
    """``build_batch(cached=…)`` leaves a cached image's encoder input blank; the loss is the
    one of the full batch, and an image that left the cache since is an error, not a blank."""
    import pytest

    from seagull.labels.instructions import quality_answer
    from seagull.model import build_batch
    from seagull.model.feature_cache import FeatureCache

    other = image[::-1].copy()
    samples = [{"image": im, "mask": m, "question": "Analyze the quality of this region.",
                "answer": quality_answer(q), "image_id": key}
               for im, m, q, key in ((image, masks[0], 0.2, "a"), (other, masks[1], 0.7, "b"),
                                     (image, masks[2], 0.9, "a"))]
    config = tiny_model.config
    full = build_batch(samples, tiny_model.prompts, config)
    with torch.no_grad():
        expected = tiny_model(**full).loss
        tiny_model.feature_cache = FeatureCache()
        try:
            tiny_model(**build_batch(samples[:1], tiny_model.prompts, config))  # caches "a"
            cache = tiny_model.feature_cache
            lean = build_batch(samples, tiny_model.prompts, config, cached=cache.__contains__)
            assert lean["cached_images"].tolist() == [True, False, True]
            assert not lean["images"][0].any() and torch.equal(lean["images"][1], full["images"][1])
            # Equal up to float summation order (the encoder saw "a" in a batch of one).
            assert torch.allclose(tiny_model(**lean).loss, expected, rtol=0, atol=1e-5)
            assert (cache.misses, cache.hits) == (2, 2)  # "a" once, "b" once
            tiny_model.feature_cache = FeatureCache()  # "a" is gone
            with pytest.raises(RuntimeError, match="left the cache after their batch"):
                tiny_model(**lean)
            tiny_model.feature_cache = None
            with pytest.raises(ValueError, match="no feature cache"):
                tiny_model(**lean)
        finally:
            tiny_model.feature_cache = None
