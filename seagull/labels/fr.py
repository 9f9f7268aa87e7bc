"""Full-reference scorers with the reference side computed once, and the weight-free one.

A scorer turns (distorted, reference) image pairs into quality scores on [0, 1] (1 = identical)
and is split so that whatever depends only on the reference is computed once:

- ``reference(x)``: the per-reference work for an image tensor 1×3×H×W (float, [0, 1]);
- ``score(x, ref)``: the score of a distorted tensor against a prepared reference;
- ``replaced_scores(distorted, reference, ref, boxes, masks)``: the score of each "replaced
  image" (the reference with one region pasted from the distorted image) against the reference,
  for the importance label (docs/method.md), computed without a full pass per region where possible.

``GMSDScorer`` is the weight-free fallback; ``seagull.labels.topiq.TopiqScorer`` the learned one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GMSD_T = 170.0  # GMSD's stability constant (for 0…255 intensities)
# GMSD is a deviation: 0 for identical images, rarely above 0.35 for the heaviest distortions
# of natural images. quality = 1 − GMSD / GMSD_SCALE (clipped) puts it on [0, 1], 1 best; with
# this scale the 0.92 "without distortion" rule means GMSD < 0.028 — about where a distortion
# of a photo starts to be visible (measured: docs/regions-labels.md).
GMSD_SCALE = 0.35


@dataclass
class GMSDReference:
    gradient: object  # torch.Tensor 1×3×h×w: gradient magnitude at half resolution
    shape: tuple[int, int]  # full-resolution H, W
    # Half-resolution cells the deviation is pooled over (h×w bool), None for all of them.
    cells: object = None


def mask_cells(mask: np.ndarray) -> np.ndarray:
    """The half-resolution cells of GMSD's similarity map that belong to ``mask`` (H×W bool):
    those whose 2×2 pixel block is at least half inside it; for a mask too thin to fill half
    of any block, every cell it touches."""
    h2, w2 = mask.shape[0] // 2 * 2, mask.shape[1] // 2 * 2
    m = mask[:h2, :w2].astype(np.uint8)
    share = m[0::2, 0::2] + m[1::2, 0::2] + m[0::2, 1::2] + m[1::2, 1::2]
    cells = share >= 2
    return cells if cells.any() else share > 0


class GMSDScorer:
    """Gradient Magnitude Similarity Deviation (Xue et al. 2013) on the three RGB channels.

    Numerically pyiqa's ``gmsd`` with ``test_y_channel=False`` (checked by the tests), split into
    reference and distorted halves. GMSD was chosen as the fallback because it is the fastest of
    pyiqa's weight-free FR metrics (2 ms at 224 px) and *local*: each value of its similarity
    map depends on a 6×6 pixel neighbourhood only, so a replaced image's score can be computed
    exactly from a window around the region (``replaced_scores``). RGB channels rather than
    luma so that colour (colourfulness) changes move the score.
    """

    name = "gmsd-rgb"
    version = "2"  # 2: a region's deviation is pooled over its mask's cells only
    weights_hash = "fallback"
    fallback = True
    # A region is scored on its bounding-box crop with the deviation pooled over the mask's
    # cells (``references(crops, masks)``), not on a zero-padded crop: zeroed pixels are
    # identical in both images, so they would add similarity 1 to the pool and dilute the
    # deviation, and a sparse mask would score higher than a full one inside the same render.
    pools_on_mask = True
    # Half-resolution pixels the similarity map reaches beyond a changed pixel (3×3 gradient).
    _REACH = 1

    def _gradient(self, x):
        """Gradient magnitude (N×3×⌊H/2⌋×⌊W/2⌋) of x (N×3×H×W on [0, 1]).

        The 2×2 mean (odd last row/column dropped, as stride-2 pooling does), then GMSD's Prewitt filters ([1, 0, −1] across, [1, 1, 1]/3 along, zero
        padding) written as shifted differences and sums: the same numbers as the grouped 3×3
        convolution, several times faster on CPU for three channels.
        """
        import torch
        import torch.nn.functional as F

        h2, w2 = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :h2, :w2]
        half = (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2]
                + x[..., 1::2, 1::2]) * (255.0 / 4.0)
        p = F.pad(half, (1, 1, 1, 1))
        across = p[..., :, :-2] - p[..., :, 2:]                    # (h+2)×w
        gx = (across[..., :-2, :] + across[..., 1:-1, :] + across[..., 2:, :]) / 3.0
        along = p[..., :, :-2] + p[..., :, 1:-1] + p[..., :, 2:]  # (h+2)×w
        gy = (along[..., :-2, :] - along[..., 2:, :]) / 3.0
        return torch.sqrt(gx * gx + gy * gy + 1e-12)

    @staticmethod
    def _similarity(g1, g2):
        return (2 * g1 * g2 + GMSD_T) / (g1 ** 2 + g2 ** 2 + GMSD_T)

    @staticmethod
    def to_unit(gmsd: float) -> float:
        return float(np.clip(1.0 - gmsd / GMSD_SCALE, 0.0, 1.0))

    def reference(self, ref) -> GMSDReference:
        return GMSDReference(self._gradient(ref), (ref.shape[-2], ref.shape[-1]))

    def references(self, refs: list, masks: list | None = None) -> list[GMSDReference]:
        """Prepared references; with ``masks`` (one H×W bool per reference, its own size),
        each one's score is pooled over its mask's cells (``mask_cells``)."""
        import torch

        out = [self.reference(r) for r in refs]
        for ref, mask in zip(out, masks or ()):
            cells = mask_cells(np.asarray(mask, dtype=bool))
            if cells.shape != tuple(ref.gradient.shape[-2:]):
                raise ValueError(f"mask of shape {np.shape(mask)} does not match its "
                                 f"reference's {ref.shape}")
            ref.cells = torch.from_numpy(cells)
        return out

    def raw(self, x, ref: GMSDReference) -> float:
        sim = self._similarity(self._gradient(x), ref.gradient)
        if ref.cells is not None:
            sim = sim[..., ref.cells]  # N×3×k: the region's cells of every channel
        return float(sim.flatten().std())

    def score(self, x, ref: GMSDReference) -> float:
        return self.to_unit(self.raw(x, ref))

    def scores(self, xs: list, refs: list[GMSDReference]) -> list[float]:
        return [self.score(x, r) for x, r in zip(xs, refs)]

    def replaced_scores(self, distorted, reference, ref: GMSDReference, boxes, masks,
                        method: str = "window") -> list[float]:
        """Exact score of each replaced image, from a window around its region.

        Outside the region's reach the replaced image's gradients equal the reference's, so
        its similarity map is exactly 1 there; only the window is computed, and the map's
        standard deviation is assembled from sums over the window plus the count of ones.
        ``method="exact"`` computes every replaced image in full (for checking).
        """
        import torch

        out = []
        h2, w2 = ref.gradient.shape[-2:]
        n_total = ref.gradient.numel()
        for (x, y, bw, bh), mask in zip(boxes, masks):
            m = torch.from_numpy(mask)[None, None]
            if method == "exact":
                replaced = torch.where(m, distorted, reference)
                out.append(self.score(replaced, ref))
                continue
            # Half-resolution cells the region changes, widened by the gradient's reach …
            cx0, cy0 = max(0, x // 2 - self._REACH), max(0, y // 2 - self._REACH)
            cx1 = min(w2, (x + bw - 1) // 2 + 1 + self._REACH)
            cy1 = min(h2, (y + bh - 1) // 2 + 1 + self._REACH)
            # … computed from a window one more cell wide, so its zero padding never reaches
            # the kept cells (except at the image border, where the full pass pads the same).
            wx0, wy0 = max(0, cx0 - 1), max(0, cy0 - 1)
            wx1, wy1 = min(w2, cx1 + 1), min(h2, cy1 + 1)
            sl = (slice(None), slice(None), slice(2 * wy0, 2 * wy1), slice(2 * wx0, 2 * wx1))
            window = torch.where(m[sl], distorted[sl], reference[sl])
            g = self._gradient(window)[:, :, cy0 - wy0:cy1 - wy0, cx0 - wx0:cx1 - wx0]
            sim = self._similarity(g, ref.gradient[:, :, cy0:cy1, cx0:cx1]).double()
            k = sim.numel()
            s1 = float(sim.sum()) + (n_total - k)
            s2 = float((sim ** 2).sum()) + (n_total - k)
            var = max(0.0, (s2 - s1 * s1 / n_total) / (n_total - 1))  # unbiased, as torch.std
            out.append(self.to_unit(var ** 0.5))
        return out

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "weights_hash": self.weights_hash,
                "fallback": self.fallback, "unit_scale": f"1 - gmsd / {GMSD_SCALE}"}
