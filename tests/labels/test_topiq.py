from __future__ import annotations

import numpy as np
import pytest
import torch

from seagull.errors import WeightsMismatchError
from seagull.labels import build_labeller
from seagull.labels.labeller import to_tensor
from seagull.labels.topiq import TopiqScorer, build_cfanet, features, head, load_cfanet
from seagull.weights import file_sha256


@pytest.fixture(scope="module")
def net(topiq_file):
    torch.set_num_threads(1)
    return load_cfanet(topiq_file)


@pytest.fixture(scope="module")
def small(photo):
    return photo[:96, :128]


def test_split_forward_equals_pyiqa_forward(net, small, blur):
    ref, dist = to_tensor(small), to_tensor(blur(small, 2))
    with torch.inference_mode():
        expected = net(dist, ref).flatten()
        ours = head(net, features(net, dist), features(net, ref))
    assert torch.allclose(ours, expected, atol=1e-5)


def test_weights_load_strictly_and_a_wrong_file_is_rejected(net, topiq_file, tmp_path):
    saved = torch.load(topiq_file, weights_only=True)["params"]
    assert all(torch.equal(net.state_dict()[k], saved[k]) for k in saved)
    missing = dict(saved)
    missing.pop(next(k for k in saved if k.startswith("score_linear")))
    path = tmp_path / "topiq_missing.pth"
    torch.save({"params": missing}, path)
    with pytest.raises(WeightsMismatchError, match="does not fit TOPIQ-FR"):
        load_cfanet(path)
    other = tmp_path / "topiq_other.pth"
    torch.save({"params": torch.nn.Linear(4, 4).state_dict()}, other)
    with pytest.raises(WeightsMismatchError):
        build_labeller(other)


def test_build_labeller_runs_topiq_from_the_file(topiq_file, small, blur, box_mask):
    labeller = build_labeller(topiq_file)
    assert labeller.name == "topiq_fr" and not labeller.fallback
    assert labeller.weights_hash == file_sha256(topiq_file)
    mask = box_mask(small.shape[:2], 20, 20, 100, 80)
    context = labeller.prepare(small, [mask])
    labels = labeller.label(context, blur(small, 2), "blur")
    assert len(labels) == 1 and 0.0 <= labels[0]["quality"] <= 1.0


def test_batched_scores_equal_one_by_one(net, small, blur):
    scorer = TopiqScorer(net, "test", batch_size=4)
    refs = [to_tensor(small[:64, :64]), to_tensor(small[:64, 64:128]), to_tensor(small[:32, :96])]
    dists = [to_tensor(blur(small, 2)[:64, :64]), to_tensor(blur(small, 2)[:64, 64:128]),
             to_tensor(blur(small, 2)[:32, :96])]
    prepared = scorer.references(refs)
    batched = scorer.scores(dists, prepared, raw=True)
    single = [scorer.scores([d], [scorer.reference(r)], raw=True)[0] for d, r in zip(dists, refs)]
    assert np.allclose(batched, single, atol=1e-5)  # batched: a summation order apart
    default = TopiqScorer(net, "test")  # on the CPU: one at a time, so bit-identical
    assert default.batch_size == 1
    alone = default.scores(dists, default.references(refs), raw=True)
    assert alone == single and default.scores(dists[::-1], default.references(refs[::-1]),
                                              raw=True) == single[::-1]


def test_window_importance_is_exact_when_the_window_covers_the_image(net, small, blur,
                                                                    box_mask):
    ref, dist = to_tensor(small), to_tensor(blur(small, 3))
    mask = box_mask(small.shape[:2], 40, 30, 80, 60)
    wide = TopiqScorer(net, "test", margin=64)  # window ⊇ image at 96×128
    prepared = wide.reference(ref)
    box = [[40, 30, 40, 30]]
    window = wide.replaced_scores(dist, ref, prepared, box, [mask], "window", raw=True)
    exact = wide.replaced_scores(dist, ref, prepared, box, [mask], "exact", raw=True)
    assert window[0] == pytest.approx(exact[0], abs=1e-5)
    # a narrow margin is an approximation, but a close one
    narrow = TopiqScorer(net, "test", margin=32)
    approx = narrow.replaced_scores(dist, ref, prepared, box, [mask], "window", raw=True)
    assert approx[0] == pytest.approx(exact[0], abs=0.05)


def test_random_cfanet_builds_offline():
    net = build_cfanet()
    assert sum(p.numel() for p in net.parameters()) > 30e6


def test_local_gating_equals_gating_the_whole_spliced_map(net, photo, blur, box_mask,
                                                          monkeypatch):
    from seagull.labels import topiq

    image = photo[:128, :192]
    ref, dist = to_tensor(image), to_tensor(blur(image, 3))
    mask = box_mask(image.shape[:2], 10, 70, 40, 110)
    scorer = TopiqScorer(net, "test", margin=32)  # the window covers part of the image only
    prepared = scorer.reference(ref)
    box = [[10, 70, 30, 40]]
    local = scorer.replaced_scores(dist, ref, prepared, box, [mask], raw=True)
    # a reach wider than every feature map: the gating is recomputed everywhere
    monkeypatch.setattr(topiq, "GATE_REACH", 1000)
    everywhere = scorer.replaced_scores(dist, ref, prepared, box, [mask], raw=True)
    assert local[0] == pytest.approx(everywhere[0], abs=1e-6)


def test_bf16_scores_stay_near_fp32_and_the_precision_is_recorded(net, small, blur, box_mask):
    """bf16 autocast (the GPU default) against fp32 on the same pairs: the raw scores move by
    less than the tolerance docs/dataset.md states (0.01), and the manifest says which ran."""
    ref, dist = to_tensor(small), to_tensor(blur(small, 2))
    fp32, bf16 = TopiqScorer(net, "t"), TopiqScorer(net, "t", precision="bf16")
    mask = box_mask(small.shape[:2], 20, 20, 100, 80)
    box = [[20, 20, 80, 60]]
    a = fp32.scores([dist], [fp32.reference(ref)], raw=True) + fp32.replaced_scores(
        dist, ref, fp32.reference(ref), box, [mask], raw=True)
    b = bf16.scores([dist], [bf16.reference(ref)], raw=True) + bf16.replaced_scores(
        dist, ref, bf16.reference(ref), box, [mask], raw=True)
    assert np.max(np.abs(np.subtract(a, b))) < 0.01
    assert a != b  # bf16 did run
    assert fp32.describe()["precision"] == "fp32" and bf16.describe()["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision 'fp16'"):
        TopiqScorer(net, "t", precision="fp16")


def test_build_labeller_picks_bf16_on_a_gpu_and_fp32_on_the_cpu(topiq_file, monkeypatch):
    assert build_labeller(topiq_file).scorer.precision == "fp32"
    assert build_labeller(topiq_file, precision="bf16").scorer.precision == "bf16"
    seen = {}

    def load_on(path, device="cpu"):
        seen["device"] = device
        return load_cfanet(path)  # on the CPU: this machine may have no GPU to load onto

    monkeypatch.setattr("seagull.labels.topiq.load_cfanet", load_on)
    on_gpu = build_labeller(topiq_file, device="cuda")
    assert seen["device"] == "cuda" and on_gpu.scorer.precision == "bf16"


@pytest.fixture(scope="module")
def shifted(net):
    """The random net with its output moved into (0, 1), so that labels are not all clipped."""
    import copy

    shifted = copy.deepcopy(net)
    last = [m for m in shifted.score_linear.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias += 0.6
    return shifted


def _renders(small, blur):
    return [(blur(small, r), "blur") for r in (1.0, 2.0, 3.5)]


def test_label_many_batches_a_regions_renders_within_1e6_of_one_at_a_time(shifted, small,
                                                                          blur, box_mask):
    """label_many at batch 1 (the CPU default) is one label call per render, bit for bit; at
    batch 4 a region's crops and windows of all renders go through together, and fp32 CPU
    results move by a summation order (measured ~2e-7): within 1e-6."""
    from seagull.labels.labeller import Labeller

    masks = [box_mask(small.shape[:2], 20, 10, 90, 60), box_mask(small.shape[:2], 5, 50, 40, 90),
             box_mask(small.shape[:2], 70, 40, 125, 95)]
    renders = _renders(small, blur)
    # epsilon −1: importance is defined whatever the drop (random weights barely see blur)
    one = Labeller(TopiqScorer(shifted, "test"), epsilon=-1.0)
    assert one.scorer.batch_size == 1
    context = one.prepare(small, masks)
    single = [one.label(context, d, t) for d, t in renders]
    assert one.label_many(context, renders) == single
    assert any(lab["importance"] is not None for r in single for lab in r)
    many = Labeller(TopiqScorer(shifted, "test", batch_size=4), epsilon=-1.0)
    batched = many.label_many(many.prepare(small, masks), renders)
    for rows_a, rows_b in zip(batched, single):
        for a, b in zip(rows_a, rows_b):
            assert a["quality"] == pytest.approx(b["quality"], abs=1e-6)
            assert a["importance_pair"] == pytest.approx(b["importance_pair"], abs=1e-6)
            assert a["image_pair"] == pytest.approx(b["image_pair"], abs=1e-6)


@pytest.mark.parametrize("method", ["window", "exact"])
def test_replaced_scores_many_equal_one_render_at_a_time(net, small, blur, box_mask, method):
    from seagull.regions.rle import mask_bbox

    ref = to_tensor(small)
    dists = [to_tensor(d) for d, _ in _renders(small, blur)]
    masks = [box_mask(small.shape[:2], 20, 10, 90, 60), box_mask(small.shape[:2], 5, 50, 40, 90)]
    boxes = [mask_bbox(m) for m in masks]
    for batch_size in (1, 4):
        scorer = TopiqScorer(net, "test", batch_size=batch_size)
        prepared = scorer.reference(ref)
        many = scorer.replaced_scores_many(dists, ref, prepared, boxes, masks, method, raw=True)
        one = [scorer.replaced_scores(d, ref, prepared, boxes, masks, method, raw=True)
               for d in dists]
        if batch_size == 1:
            assert many == one
        else:
            assert np.allclose(many, one, atol=1e-6)
