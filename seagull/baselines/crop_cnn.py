"""The crop-based vision baseline: a CNN that scores a region from its crop alone.

The paper's vision baselines (HyperIQA, DBCNN, QualiCLIP, PromptIQA) take the region's crop and
nothing else, so they cannot see how the region relates to the whole image; that is what this
baseline measures against Seagull. The crop is made the way the labeller makes it: the region's
bounding rectangle, with the pixels outside the mask zeroed, resized to ``crop_size``².

Architecture: a timm backbone (random init, ``resnet10t`` by default: a ResNet, as in HyperIQA
and DBCNN) → pooled features → four linear heads:

- quality, importance: 5 level logits each; the score is Q-Align's expected score over the
  five levels (``seagull.labels.levels.LEVEL_WEIGHTS``), as Seagull's closed-set score;
- types: 6 independent logits (one per distortion type), a type is predicted above 0.5, none
  predicted means "clean";
- severity: 6 × 5 level logits, read for the predicted types.

Training (``train_crop_baseline``) is a plain PyTorch loop over the crops of a split, held in
memory (small datasets: the mini reproduction; at full scale, a Ray Train job would stream
them). Loss = cross-entropy of the level bins + squared error of the expected scores (quality,
importance where labelled) + binary cross-entropy of the types + cross-entropy of the severity
bin of each present type.

Files: ``crop_baseline.json`` (config) and ``crop_baseline.safetensors`` (all tensors), loaded
strictly (``WeightsMismatchError`` on a mismatch).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seagull.errors import (
    ConfigError,
    DatasetError,
    EmptyMaskError,
    MaskShapeError,
    OutputError,
    WeightsMismatchError,
    WeightsNotFoundError,
)
from seagull.labels.levels import DISTORTION_TYPES, LEVEL_WEIGHTS, WORDS, discretise

log = logging.getLogger(__name__)

CONFIG_FILE = "crop_baseline.json"
WEIGHTS_FILE = "crop_baseline.safetensors"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CropBaselineConfig:
    """``arch``: a timm model name (random init); ``crop_size``: side of the square crop (px)."""

    arch: str = "resnet10t"
    crop_size: int = 64

    def __post_init__(self):
        if self.crop_size < 16:
            raise ConfigError(f"crop_size {self.crop_size} is below 16 px")


def region_crop(image: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """The region's crop: bounding rectangle of ``mask``, zero outside it, resized.

    ``image`` H×W×3 uint8, ``mask`` H×W bool → size×size×3 float32 on [0, 1].
    """
    from PIL import Image

    if mask.shape != image.shape[:2]:
        raise MaskShapeError(f"mask {mask.shape} does not match the image {image.shape[:2]}")
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise EmptyMaskError("empty mask: the region has no pixel")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = image[y0:y1, x0:x1] * mask[y0:y1, x0:x1, None]
    resized = Image.fromarray(crop.astype(np.uint8)).resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0


def _build_network(config: CropBaselineConfig):
    import timm
    import torch
    from torch import nn

    class CropScorer(nn.Module):
        """B×3×S×S crops (normalised) → dict of logits: quality B×5, importance B×5,
        types B×6, severity B×6×5."""

        def __init__(self):
            super().__init__()
            self.backbone = timm.create_model(config.arch, pretrained=False, num_classes=0)
            width = self.backbone.num_features
            self.quality = nn.Linear(width, 5)
            self.importance = nn.Linear(width, 5)
            self.types = nn.Linear(width, len(DISTORTION_TYPES))
            self.severity = nn.Linear(width, len(DISTORTION_TYPES) * 5)
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

        def forward(self, crops: torch.Tensor) -> dict:
            feats = self.backbone((crops - self.mean) / self.std)
            return {"quality": self.quality(feats), "importance": self.importance(feats),
                    "types": self.types(feats),
                    "severity": self.severity(feats).view(-1, len(DISTORTION_TYPES), 5)}

    return CropScorer()


class CropBaseline:
    """The crop-only baseline as an assessor (``seagull.evaluation.Assessor``)."""

    def __init__(self, config: CropBaselineConfig, network=None):
        self.config = config
        self.network = network if network is not None else _build_network(config)

    # ---- saving and loading -------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, extra: dict | None = None) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {directory}: {exc.strerror}") from None
        state = {k: v.detach().contiguous().cpu() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE))
        meta = {"model": "crop_baseline", "config": dataclasses.asdict(self.config),
                **(extra or {})}
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=1))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> CropBaseline:
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise WeightsNotFoundError(f"crop baseline {directory}: no {CONFIG_FILE}")
        try:
            config = CropBaselineConfig(**json.loads((directory / CONFIG_FILE).read_text())
                                        ["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"crop baseline {directory}: bad {CONFIG_FILE} ({exc})") from None
        if not (directory / WEIGHTS_FILE).is_file():
            raise WeightsNotFoundError(f"crop baseline {directory}: {WEIGHTS_FILE} is missing")
        baseline = cls(config)
        state = load_file(str(directory / WEIGHTS_FILE))
        own = baseline.network.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        bad_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
        if missing or unexpected or bad_shape:
            raise WeightsMismatchError(
                f"{directory / WEIGHTS_FILE}: {len(missing)} missing, {len(unexpected)} "
                f"unexpected, {len(bad_shape)} mis-shaped tensor(s) (e.g. "
                f"{(missing + unexpected + bad_shape)[:2]})")
        baseline.network.load_state_dict(state, strict=True)
        baseline.network.eval()
        return baseline

    # ---- inference ----------------------------------------------------------------------
    def predict_crops(self, crops: np.ndarray) -> list[dict]:
        """N×S×S×3 float crops on [0, 1] → N results (``seagull.evaluation`` shape)."""
        import torch

        self.network.eval()
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
            out = self.network(x)
            q = torch.softmax(out["quality"], -1).numpy()
            imp = torch.softmax(out["importance"], -1).numpy()
            types = torch.sigmoid(out["types"]).numpy()
            sev = torch.softmax(out["severity"], -1).numpy()
        weights = np.asarray(LEVEL_WEIGHTS)
        results = []
        for i in range(len(crops)):
            distortions = []
            for t, name in enumerate(DISTORTION_TYPES):
                if types[i, t] > 0.5:
                    distortions.append({"type": name, "severity": float(sev[i, t] @ weights),
                                        "level": WORDS["severity"][int(sev[i, t].argmax())]})
            results.append({
                "quality": _level("quality", q[i]), "importance": _level("importance", imp[i]),
                "distortions": distortions, "text": None})
        return results

    def assess_regions(self, image: np.ndarray, masks: Sequence[np.ndarray]) -> list[dict]:
        if not masks:
            return []
        crops = np.stack([region_crop(image, m, self.config.crop_size) for m in masks])
        return self.predict_crops(crops)


def _level(scale: str, probs: np.ndarray) -> dict:
    probs = [float(p) for p in probs]
    return {"level": WORDS[scale][int(np.argmax(probs))],
            "score": float(np.dot(probs, LEVEL_WEIGHTS)), "probabilities": probs}


# ---- training -------------------------------------------------------------------------------
@dataclass
class CropTargets:
    """Training targets of N regions: scores (NaN where unlabelled), bins, type flags N×6,
    severity bins N×6 (-1 where the type is absent)."""

    quality: np.ndarray
    importance: np.ndarray
    types: np.ndarray
    severity: np.ndarray


def crops_and_targets(samples, crop_size: int) -> tuple[np.ndarray, CropTargets]:
    """Decoded ``seagull.data.reader.Sample``s → N×S×S×3 crops and their targets."""
    crops, quality, importance, types, severity = [], [], [], [], []
    for s in samples:
        crops.append(region_crop(s.image, s.mask, crop_size))
        quality.append(np.nan if s.quality is None else float(s.quality))
        importance.append(np.nan if s.importance is None else float(s.importance))
        flags = np.zeros(len(DISTORTION_TYPES), np.float32)
        bins = np.full(len(DISTORTION_TYPES), -1, np.int64)
        for d in s.distortions:
            t = DISTORTION_TYPES.index(d["type"])
            flags[t] = 1.0
            bins[t] = WORDS["severity"].index(d["level"])
        types.append(flags)
        severity.append(bins)
    if not crops:
        raise DatasetError("no region to train the crop baseline on")
    return np.stack(crops), CropTargets(np.asarray(quality), np.asarray(importance),
                                        np.stack(types), np.stack(severity))


def _loss(out: dict, t: dict):
    import torch
    import torch.nn.functional as F

    weights = torch.tensor(LEVEL_WEIGHTS)
    total = out["types"].new_zeros(())
    for task in ("quality", "importance"):
        score = t[task]
        keep = torch.isfinite(score)
        if keep.any():
            logits = out[task][keep]
            bins = torch.tensor([discretise(float(v)) for v in score[keep].clamp(0, 1)])
            expected = torch.softmax(logits, -1) @ weights
            total = total + F.cross_entropy(logits, bins) + 4 * F.mse_loss(expected, score[keep])
    total = total + F.binary_cross_entropy_with_logits(out["types"], t["types"])
    present = t["severity"] >= 0
    if present.any():
        total = total + F.cross_entropy(out["severity"][present], t["severity"][present])
    return total


def train_crop_baseline(data_root: str, out_dir: str | Path, *, steps: int = 200,
                        batch_size: int = 16, lr: float = 1e-3, seed: int = 0,
                        split: str = "train", config: CropBaselineConfig | None = None,
                        threads: int | None = None) -> CropBaseline:
    """Train the crop baseline on ``split`` of the dataset at ``data_root`` and save it to
    ``out_dir`` (``steps`` AdamW steps of ``batch_size`` random regions)."""
    import torch

    from seagull.data.reader import iter_samples

    config = config or CropBaselineConfig()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    crops, targets = crops_and_targets(iter_samples(data_root, split=split), config.crop_size)
    baseline = CropBaseline(config)
    net = baseline.network
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    x_all = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()
    t_all = {"quality": torch.from_numpy(targets.quality).float(),
             "importance": torch.from_numpy(targets.importance).float(),
             "types": torch.from_numpy(targets.types), "severity": torch.from_numpy(targets.severity)}
    n = len(crops)
    losses = []
    for step in range(steps):
        idx = torch.from_numpy(rng.choice(n, size=min(batch_size, n), replace=n < batch_size))
        x = x_all[idx]
        if rng.random() < 0.5:  # horizontal flips: quality does not depend on handedness
            x = x.flip(-1)
        loss = _loss(net(x), {k: v[idx] for k, v in t_all.items()})
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"crop baseline loss is {losses[-1]} at step {step}")
    net.eval()
    log.info("crop baseline: %d regions, %d steps, loss %.3f → %.3f", n, steps,
             float(np.mean(losses[:10])), float(np.mean(losses[-10:])))
    baseline.save_pretrained(out_dir, extra={"train": {
        "data": str(data_root), "split": split, "regions": n, "steps": steps,
        "batch_size": batch_size, "lr": lr, "seed": seed,
        "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:]))}})
    return baseline
