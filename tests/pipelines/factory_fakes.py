"""Small stand-ins for the ISP, the segmenter and the labeller, used only by the factory's
tests so that the pipeline can be exercised on its own. The real build uses seagull.isp,
seagull.regions and seagull.labels."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from seagull.errors import RawDecodeError

Render = namedtuple("Render", "distortion level image encoded params")
FAKE_ISP_VERSION = "fake-isp-1"
ALL_TYPES = ("blur", "colorfulness", "compression", "contrast", "exposure", "noise")


def encode_png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _decode(source) -> np.ndarray:
    """The real decoder's checks (a bad file fails as it would in the real ISP), then libraw's
    own quick render."""
    import rawpy

    from seagull.isp.decode import open_raw

    opened = open_raw(source)
    try:
        return opened.raw.postprocess(use_camera_wb=True, half_size=True)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise RawDecodeError(f"not a readable RAW ({type(exc).__name__})") from None
    finally:
        opened.close()


def render_variants(source, *, types=None, levels=None, long_side=None, seed=0):
    """Reference first, then each (type, level); decode errors before the first yield."""
    from PIL import Image

    rgb = _decode(source)
    if long_side:
        h, w = rgb.shape[:2]
        scale = long_side / max(h, w)
        if scale < 1:
            rgb = np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale))))
    yield Render("reference", None, rgb, None, {"seed": seed})
    for dist in types or ALL_TYPES:
        for level in levels or range(20):
            rng = np.random.default_rng([seed, level])
            strength = (level + 1) / 20
            if dist == "noise":
                img = np.clip(rgb + rng.normal(0, 40 * strength, rgb.shape), 0, 255)
            elif dist == "exposure":
                img = np.clip(rgb * (1 + strength), 0, 255)
            else:
                img = np.clip(rgb * (1 - 0.5 * strength) + 60 * strength, 0, 255)
            img = img.astype(np.uint8)
            encoded = None
            if dist == "compression":
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG", quality=max(5, 95 - 4 * level))
                encoded = buf.getvalue()
                img = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
            yield Render(dist, level, img, encoded, {"type": dist, "level": level, "seed": seed})


class Region:
    def __init__(self, mask: np.ndarray, kind: str) -> None:
        self.mask, self.kind = mask, kind
        ys, xs = np.nonzero(mask)
        self.area = int(mask.sum())
        self.bbox = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                     int(ys.max() - ys.min() + 1))

    def rle(self) -> dict:
        from pycocotools import mask as mask_utils

        rle = mask_utils.encode(np.asfortranarray(self.mask.astype(np.uint8)))
        return {"size": list(rle["size"]), "counts": rle["counts"].decode()}


class FakeSegmenter:
    name, version, weights_hash = "fake-grid", "1", None

    def propose(self, image, n_points=32, seed=0):
        h, w = image.shape[:2]
        out = []
        for kind, n in (("object", 2), ("component", 3)):
            for i in range(n):
                mask = np.zeros((h, w), bool)
                mask[i * h // n:(i + 1) * h // n, : w // 2 + i] = True
                if mask.sum() >= 1024:
                    out.append(Region(mask, kind))
        return out


class FakeLabeller:
    name, version, weights_hash = "fake-mad", "1", "abc123"

    def prepare(self, reference, masks):
        return {"reference": reference.astype(np.float32), "masks": masks}

    def label(self, ctx, distorted, distortion):
        ref = ctx["reference"]
        diff = np.abs(distorted.astype(np.float32) - ref).mean(axis=2)
        whole = float(diff.mean())
        out = []
        for mask in ctx["masks"]:
            quality = float(np.clip(1 - diff[mask].mean() / 64, 0, 1))
            clean = quality > 0.92
            share = None if whole < 1e-3 else float(min(1.0, diff[mask].sum() / diff.sum()))
            from seagull.labels.levels import level_word

            dists = [] if clean else [{"type": distortion, "severity": quality,
                                       "level": level_word("severity", quality)}]
            out.append({"quality": quality, "importance": share,
                        "importance_pair": [1 - whole / 64, 1.0], "distortions": dists,
                        "with_distortion": not clean})
        return out


class GatedLabeller(FakeLabeller):
    """The fake labeller, holding every source but the first for ``hold`` seconds.

    Which source came first is decided across actor processes by an exclusive file in ``gate``
    (the first source's reference digest). A build killed as soon as one shard is written is
    then really part-way, however fast the machine and however the sources are scheduled.
    """

    def __init__(self, gate: str, hold: float) -> None:
        self.gate, self.hold = Path(gate), hold

    def prepare(self, reference, masks):
        digest = hashlib.sha1(np.ascontiguousarray(reference).tobytes()).hexdigest()
        self.gate.mkdir(parents=True, exist_ok=True)
        first = self.gate / "first"
        try:
            fd = os.open(first, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            if first.read_text().strip() != digest:
                time.sleep(self.hold)
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(digest)
        return super().prepare(reference, masks)


def build_segmenter():
    return FakeSegmenter()


def build_labeller():
    return FakeLabeller()


def components(gate: str | None = None, hold: float = 60.0):
    """The fakes as the factory's ``Components``; with ``gate``, the labeller holds every
    source but the first for ``hold`` seconds (``GatedLabeller``)."""
    from seagull.data.factory import Components

    labeller = build_labeller if gate is None else functools.partial(GatedLabeller, gate, hold)
    return Components(render_variants=render_variants, encode_png=encode_png,
                      isp_version=FAKE_ISP_VERSION, build_segmenter=build_segmenter,
                      build_labeller=labeller)
