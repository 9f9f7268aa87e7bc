from __future__ import annotations

import pytest
import torch

from seagull.errors import InvalidInputError, WeightsMismatchError
from seagull.regions import MIN_REGION_AREA, build_segmenter
from seagull.regions.sam import load_sam, sam_config
from seagull.regions.segmenter import SamSegmenter
from seagull.weights import file_sha256


@pytest.fixture(scope="module")
def sam_segmenter(tiny_sam_file):
    torch.set_num_threads(1)
    return build_segmenter(tiny_sam_file)


def test_tiny_sam_loads_through_the_real_path(sam_segmenter, tiny_sam_file):
    seg = sam_segmenter
    assert isinstance(seg, SamSegmenter) and not seg.fallback
    assert seg.weights_hash == file_sha256(tiny_sam_file)
    assert seg.name.startswith("sam-vit_64x2")
    loaded = seg.sam.state_dict()
    saved = torch.load(tiny_sam_file, weights_only=True)
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)


def test_the_sam_path_is_found_from_the_environment(tiny_sam_file, monkeypatch):
    monkeypatch.setenv("SEAGULL_SAM_WEIGHTS", str(tiny_sam_file))
    assert isinstance(build_segmenter(), SamSegmenter)


def test_released_architectures_are_read_off_the_checkpoint():
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        state = sam_model_registry["vit_b"]().state_dict()
    assert sam_config(state, "vit_b") == {
        "encoder_embed_dim": 768, "encoder_depth": 12, "encoder_num_heads": 12,
        "encoder_global_attn_indexes": [2, 5, 8, 11]}


def test_image_is_encoded_once_and_prompts_reuse_it(sam_segmenter, photo, monkeypatch):
    seg = sam_segmenter
    calls = []
    encoder = seg.sam.image_encoder
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda x: calls.append(1) or original(x))
    seg.set_image(photo)
    masks = [seg.predict(point=(100, 80)), seg.predict(box=(10, 10, 120, 90)),
             seg.predict(points=[(100, 80), (200, 150)], labels=[1, 0])]
    assert len(calls) == 1
    assert all(m.shape == (192, 256) and m.dtype == bool for m in masks)
    with pytest.raises(InvalidInputError, match="outside"):
        seg.predict(point=(256, 0))


def test_sam_proposals_are_filtered(sam_segmenter, photo):
    regions = sam_segmenter.propose(photo, n_points=6, seed=1)
    assert all(r.area >= MIN_REGION_AREA for r in regions)
    assert {r.kind for r in regions} <= {"object", "component"}


def test_wrong_weights_are_rejected(tmp_path):
    wrong = tmp_path / "sam_wrong.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": torch.zeros(64, 3, 16, 16)}, wrong)
    with pytest.raises(WeightsMismatchError):
        load_sam(wrong)
    other = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(WeightsMismatchError, match="not a SAM checkpoint"):
        build_segmenter(other)
    pickled = tmp_path / "pickled.pth"
    torch.save({"weights": object()}, pickled)
    with pytest.raises(WeightsMismatchError, match="not a readable weights file"):
        load_sam(pickled)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsMismatchError):
        load_sam(garbage)


def test_a_truncated_sam_is_rejected(tiny_sam_file, tmp_path):
    state = torch.load(tiny_sam_file, weights_only=True)
    state.pop("mask_decoder.iou_prediction_head.layers.0.weight")
    path = tmp_path / "sam_missing.pth"
    torch.save(state, path)
    with pytest.raises(WeightsMismatchError, match="does not fit SAM"):
        load_sam(path)


def test_sam_states_match_segment_anythings_predictor(sam_segmenter, photo):
    """``encode`` + ``predict_with_score(state, …)`` computes what segment-anything's own
    ``SamPredictor`` computes (masks and predicted IoUs equal), for each image of several
    encoded in turn; the state's bytes are its image, embedding and box segmentation."""
    import numpy as np
    from segment_anything import SamPredictor

    from seagull.regions.segmenter import SamState

    seg = sam_segmenter
    other = np.ascontiguousarray(photo[::-1])
    states = [seg.encode(photo), seg.encode(other)]
    reference = SamPredictor(seg.sam)
    for image, state in zip((photo, other), states):
        assert isinstance(state, SamState) and state.size == (192, 256)
        boxes = state.boxes
        assert state.nbytes == (image.nbytes + state.features.numel()
                                * state.features.element_size()
                                + boxes.fine.nbytes + boxes.coarse.nbytes)
        with torch.inference_mode():
            reference.set_image(image)
        assert torch.equal(state.features, reference.features)
        for prompt, single in (({"point": (100, 80)}, True), ({"box": (10, 10, 120, 90)}, False),
                               ({"points": [(100, 80), (200, 150)], "labels": [1, 0]}, False)):
            mask, score = seg.predict_with_score(state, **prompt)
            coords = labels = box = None
            if "point" in prompt:
                coords, labels = np.array([prompt["point"]], float), np.array([1])
            if "points" in prompt:
                coords, labels = np.array(prompt["points"], float), np.array(prompt["labels"])
            if "box" in prompt:
                box = np.array(prompt["box"], float)
            with torch.inference_mode():
                masks, ious, _ = reference.predict(point_coords=coords, point_labels=labels,
                                                   box=box, multimask_output=single)
            best = int(np.argmax(ious))
            assert np.array_equal(mask, masks[best]) and score == float(ious[best])
