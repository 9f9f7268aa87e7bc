"""Validation during training: closed-set quality scores on a held-out split → SROCC/PLCC."""

from __future__ import annotations

from itertools import islice


def load_validation(root: str, split: str, max_regions: int) -> list[dict]:
    """The first ``max_regions`` regions of ``split`` with a quality label, decoded:
    ``{image H×W×3 uint8, mask H×W bool, quality float on [0, 1], image_id}``, grouped by
    image (rows come in table order, so a rerun validates on the same regions)."""
    from seagull.data.reader import iter_samples

    regions = (s for s in iter_samples(root, split=split, decode=True) if s.quality is not None)
    return [{"image_id": s.image_id, "image": s.image, "mask": s.mask, "quality": s.quality}
            for s in islice(regions, max_regions)]


def predict_quality(model, regions: list[dict]) -> list[float]:
    """The model's closed-set quality score (on [0, 1]) of each region, in order; the image
    encoder runs once per image (``SeagullPredictor.set_image``)."""
    import torch

    from seagull.model import SeagullPredictor

    was_training = model.training
    model.eval()
    predictor = SeagullPredictor(model)
    scores: list[float] = []
    try:
        with torch.no_grad():
            start = 0
            while start < len(regions):
                end = start
                while end < len(regions) and regions[end]["image_id"] == regions[start]["image_id"]:
                    end += 1
                predictor.set_image(regions[start]["image"])
                answers = predictor.assess([r["mask"] for r in regions[start:end]],
                                           tasks=("quality",))
                scores += [float(a["quality"]["score"]) for a in answers]
                start = end
    finally:
        model.train(was_training)
    return scores


def validation_metrics(labels: list[float], scores: list[float]) -> dict:
    """``{"val_srocc", "val_plcc"}`` between quality labels and predicted scores."""
    from seagull.metrics import plcc, srocc

    return {"val_srocc": float(srocc(scores, labels)), "val_plcc": float(plcc(scores, labels))}
