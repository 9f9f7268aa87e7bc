from __future__ import annotations

import pytest
import torch

from seagull.errors import WeightsMismatchError
from seagull.regions import build_segmenter
from seagull.regions.detector import TorchvisionDetector, load_detector
from seagull.weights import file_sha256


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=5)
    path = tmp_path_factory.mktemp("det") / "detector_mobilenet_320.pth"
    torch.save(model.state_dict(), path)
    return path


def test_detector_loads_strictly_from_local_weights(detector_file, photo):
    torch.set_num_threads(1)
    det = load_detector(detector_file, score_threshold=0.0)
    assert isinstance(det, TorchvisionDetector)
    assert det.arch == "fasterrcnn_mobilenet_v3_large_320_fpn"
    assert det.weights_hash == file_sha256(detector_file)
    saved = torch.load(detector_file, weights_only=True)
    loaded = det.model.state_dict()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    boxes = det.detect(photo)
    for (x0, y0, x1, y1), score in boxes:
        assert 0 <= x0 <= x1 <= 256 and 0 <= y0 <= y1 <= 192 and 0 <= score <= 1


def test_detector_weights_are_recorded_by_the_segmenter(detector_file):
    seg = build_segmenter(detector_weights=detector_file)
    assert seg.weights_hash == file_sha256(detector_file)
    assert "fasterrcnn_mobilenet_v3_large_320_fpn" in seg.name


def test_a_wrong_detector_file_is_rejected(detector_file, tmp_path):
    state = torch.load(detector_file, weights_only=True)
    state["roi_heads.box_predictor.cls_score.weight"] = torch.zeros(5, 7)
    bad = tmp_path / "detector_bad.pth"
    torch.save(state, bad)
    with pytest.raises(WeightsMismatchError, match="fits no torchvision detector"):
        load_detector(bad)
    unrelated = tmp_path / "detector_unrelated.pth"
    torch.save(torch.nn.Linear(3, 3).state_dict(), unrelated)
    with pytest.raises(WeightsMismatchError, match="not a torchvision detection"):
        load_detector(unrelated)
