"""Object detectors that give object-level boxes, behind one small interface.

A detector is any object with ``name``, ``weights_hash`` and
``detect(image_uint8_hwc) -> list[((x0, y0, x1, y1), score)]`` (pixels, score in [0, 1]).
``TorchvisionDetector`` ships with the project: a torchvision detection model whose weights are
a local state dict. Another detector (SEEM, an open-vocabulary model …) plugs in by providing
the same three members.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from seagull.errors import WeightsMismatchError

Box = tuple[float, float, float, float]


class Detector(Protocol):
    name: str
    weights_hash: str

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """Boxes (x0, y0, x1, y1) in pixels with scores in [0, 1], best first."""
        ...


# torchvision builders tried, in order, against a weights file; a name hint in the file name
# ("mobilenet", "320", "retinanet" …) is tried first. Both mobilenet variants share tensors
# and differ only in input size; without a "320" in the file name the full-size one is used.
ARCHITECTURES: tuple[str, ...] = (
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn", "retinanet_resnet50_fpn",
)


def _num_classes(state: dict) -> int | None:
    if "roi_heads.box_predictor.cls_score.weight" in state:
        return int(state["roi_heads.box_predictor.cls_score.weight"].shape[0])
    if "head.classification_head.cls_logits.weight" in state:
        anchors = 9  # torchvision's RetinaNet: 3 scales × 3 ratios per location
        return int(state["head.classification_head.cls_logits.weight"].shape[0]) // anchors
    return None


def _candidates(path: Path, state: dict) -> list[str]:
    name = path.name.lower()
    keys = state.keys()
    if any(k.startswith("head.classification_head") for k in keys):
        family = ["retinanet_resnet50_fpn"]
    elif any(k.startswith("roi_heads.mask_predictor") for k in keys):
        family = ["maskrcnn_resnet50_fpn"]
    elif any(k.startswith("backbone.body.layer1") for k in keys):
        family = ["fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2"]
    else:
        family = (["fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn"]
                  if "320" in name else
                  ["fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn"])
    return family


class TorchvisionDetector:
    """A torchvision detection model from a local state dict (loaded strictly)."""

    def __init__(self, model, arch: str, weights_hash: str, *, score_threshold: float = 0.5,
                 max_boxes: int = 32, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.arch = arch
        self.name = f"torchvision-{arch}"
        self.weights_hash = weights_hash
        self.score_threshold = score_threshold
        self.max_boxes = max_boxes
        self.device = device

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
        with torch.inference_mode():
            out = self.model([tensor.to(self.device)])[0]
        keep = out["scores"] >= self.score_threshold
        boxes = out["boxes"][keep][: self.max_boxes].cpu().numpy()
        scores = out["scores"][keep][: self.max_boxes].cpu().numpy()
        return [(tuple(float(v) for v in b), float(s)) for b, s in zip(boxes, scores)]


def load_detector(path: str | Path, *, arch: str | None = None, device: str = "cpu",
                  score_threshold: float = 0.5) -> TorchvisionDetector:
    """A ``TorchvisionDetector`` from a local weights file; a file no builder accepts strictly
    is a ``WeightsMismatchError``."""
    import torchvision

    from seagull.checkpoints import read_state_dict
    from seagull.weights import file_sha256

    path = Path(path)
    state = read_state_dict(path)
    num_classes = _num_classes(state)
    if num_classes is None:
        raise WeightsMismatchError(f"{path}: not a torchvision detection state dict "
                                   f"(no box predictor or classification head)")
    names = [arch] if arch else _candidates(path, state)
    errors = []
    for name in names:
        builder = getattr(torchvision.models.detection, name, None)
        if builder is None:
            raise WeightsMismatchError(f"detector architecture {name!r} is not in torchvision")
        model = builder(weights=None, weights_backbone=None, num_classes=num_classes)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            errors.append(f"{name}: {str(exc).splitlines()[0][:100]}")
            continue
        return TorchvisionDetector(model, name, file_sha256(path),
                                   score_threshold=score_threshold, device=device)
    raise WeightsMismatchError(f"{path}: fits no torchvision detector tried ({'; '.join(errors)})")
