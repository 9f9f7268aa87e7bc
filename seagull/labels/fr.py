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
    half: object = None  # torch.Tensor 1×3×h×w: the 2×2 means (×255) the gradient is taken of
    image: object = None  # the reference tensor itself (for the replaced-image gather)


@dataclass
class GMSDRegions:
    """Every region of a source on the reference's half-resolution grid (``GMSDScorer.regions``).

    Built once per source; lets one similarity map per render be pooled over every region with
    one sparse product, and every region's replaced image be scored in one gathered pass.
    """

    boxes: list  # per region (cy0, cy1, cx0, cx1): the half-resolution cells its box touches
    cells: list  # per region: bool tensor (cy1−cy0)×(cx1−cx0), its mask cells in that box
    membership: object  # scipy.sparse CSR, regions × (h·w): 1.0 at each region's mask cells
    counts: np.ndarray  # mask cells per region
    # Replaced images (window method): every (region, cell) pair whose gradient the region
    # can change, with the table indices of its 3×3 half-resolution neighbours.
    replaced: dict | None = None


def mask_cells(mask: np.ndarray) -> np.ndarray:
    """The half-resolution cells of GMSD's similarity map that belong to ``mask`` (H×W bool):
    those whose 2×2 pixel block is at least half inside it; for a mask too thin to fill half
    of any block, every cell it touches."""
    h2, w2 = mask.shape[0] // 2 * 2, mask.shape[1] // 2 * 2
    m = mask[:h2, :w2].astype(np.uint8)
    share = m[0::2, 0::2] + m[1::2, 0::2] + m[0::2, 1::2] + m[1::2, 1::2]
    cells = share >= 2
    return cells if cells.any() else share > 0


def _membership(cells: list, n: int):
    """Regions × n sparse (CSR) matrix: 1.0 at each region's cells (flat indices, sorted)."""
    from scipy import sparse

    counts = [c.size for c in cells]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    return sparse.csr_matrix((np.ones(idx.size), idx, indptr), shape=(len(cells), n))


def _cell_stats(sim) -> np.ndarray:
    """Per half-resolution cell of a similarity map (1×3×h×w): Σ over channels of d = 1 − sim
    and of d² (float64), as an (h·w)×2 array."""
    d = 1.0 - sim[0].double().reshape(3, -1).numpy()
    return np.stack([d.sum(0), (d * d).sum(0)], 1)


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
    # 2: a region's deviation is pooled over its mask's cells only; 3: on the whole render's
    # similarity map (true neighbours at the box's edges, the image's 2×2 grid), not the crop's
    version = "3"
    weights_hash = "fallback"
    fallback = True
    # A region's deviation is pooled over its mask's cells of the render's similarity map
    # (``regions``, ``region_raws``), not taken on a zero-padded crop: zeroed pixels are
    # identical in both images, so they would add similarity 1 to the pool and dilute the
    # deviation, and a sparse mask would score higher than a full one inside the same render.
    # (``references(crops, masks)`` pools a crop's own map the same way, for one-off use.)
    pools_on_mask = True
    # Half-resolution pixels the similarity map reaches beyond a changed pixel (3×3 gradient).
    _REACH = 1

    def _gradient(self, x):
        """Gradient magnitude (N×3×⌊H/2⌋×⌊W/2⌋) of x (N×3×H×W on [0, 1]).

        The 2×2 mean (odd last row/column dropped, as stride-2 pooling does), then GMSD's Prewitt filters ([1, 0, −1] across, [1, 1, 1]/3 along, zero
        padding) written as shifted differences and sums: the same numbers as the grouped 3×3
        convolution, several times faster on CPU for three channels.
        """
        return self._gradient_of_half(self._half(x))

    @staticmethod
    def _half(x):
        """The 2×2 means of x, ×255 (odd last row/column dropped)."""
        h2, w2 = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :h2, :w2]
        return (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2]
                + x[..., 1::2, 1::2]) * (255.0 / 4.0)

    @staticmethod
    def _gradient_of_half(half):
        import torch
        import torch.nn.functional as F

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
        half = self._half(ref)
        return GMSDReference(self._gradient_of_half(half), (ref.shape[-2], ref.shape[-1]),
                             half=half, image=ref)

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
            # Sums of d = 1 − sim (0 outside the window): small numbers, so the one-pass
            # variance loses nothing to cancellation (sums of sim ≈ the cell count did, ~1e-9).
            d = 1.0 - self._similarity(g, ref.gradient[:, :, cy0:cy1, cx0:cx1]).double()
            s1, s2 = float(d.sum()), float((d * d).sum())
            var = max(0.0, (s2 - s1 * s1 / n_total) / (n_total - 1))  # unbiased, as torch.std
            out.append(self.to_unit(var ** 0.5))
        return out

    # ---- every region of a render at once ------------------------------------------------
    #
    # A region's quality is the deviation of the *render's* similarity map over the region's
    # mask cells (``mask_cells`` of the full-size mask): the map is computed once per render and
    # pooled for every region by one sparse product with a region × cell membership matrix.
    # ``region_raws_reference`` computes the same numbers one region at a time, from a window
    # around the region (the reference path the tests compare against).

    # (Region, cell) pairs of the replaced-image pass per chunk: bounds its memory (a chunk
    # gathers 3 × 9 float32 per pair); a region is never split, so chunks change no result.
    CHUNK_PAIRS = 1 << 18

    def regions(self, masks: list, ref: GMSDReference) -> GMSDRegions:
        """``masks`` (H×W bool each, the reference's size) on the reference's half-resolution
        grid: their cells, the membership matrix, and the replaced-image pass's gather tables.
        Reference-side work, once per source (one pass over the masks)."""
        import torch
        from scipy.ndimage import binary_dilation, binary_erosion

        h2, w2 = ref.gradient.shape[-2:]
        n = h2 * w2
        boxes, cells, indices, counts = [], [], [], []
        touched_cells, changed_cells, bits, interior_cells = [], [], [], []
        for mask in masks:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != tuple(ref.shape):
                raise ValueError(f"mask of shape {mask.shape} does not match the reference's "
                                 f"{ref.shape}")
            # Everything below on a window of cells around the mask (its cells ± 3, so no
            # dilation or erosion reaches the window's edge except at the image's border).
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            a0, a1 = max(0, rows[0] // 2 - 3), min(h2, rows[-1] // 2 + 4)
            b0, b1 = max(0, cols[0] // 2 - 3), min(w2, cols[-1] // 2 + 4)

            def to_global(local, a0=a0, b0=b0, b1=b1):
                ly, lx = np.divmod(np.flatnonzero(local), b1 - b0)
                return (ly + a0) * w2 + (lx + b0)

            m = mask[2 * a0:2 * a1, 2 * b0:2 * b1]
            c = mask_cells(m) if m.any() else np.zeros((a1 - a0, b1 - b0), bool)
            flat = to_global(c)
            indices.append(flat)
            counts.append(flat.size)
            if flat.size:
                ys, xs = np.divmod(flat, w2)
                cy0, cy1 = int(ys.min()), int(ys.max()) + 1
                cx0, cx1 = int(xs.min()), int(xs.max()) + 1
            else:  # the mask lies in the odd last row/column the grid drops
                cy0 = cy1 = cx0 = cx1 = 0
            boxes.append((cy0, cy1, cx0, cx1))
            cells.append(torch.from_numpy(np.ascontiguousarray(
                c[cy0 - a0:cy1 - a0, cx0 - b0:cx1 - b0] if flat.size else c[:0, :0])))
            # Replaced image: the cells whose 2×2 block the mask touches take (partly) the
            # distorted pixels; their gradients, and those of their neighbours, change.
            blocks = np.stack([m[0::2, 0::2], m[1::2, 0::2], m[0::2, 1::2], m[1::2, 1::2]], -1)
            touched = blocks.any(-1)
            # Interior: every cell of the 3×3 neighbourhood wholly in the mask (or beyond the
            # border, zero in both): the replaced gradient is the render's, and so is the
            # similarity, already in the render's map. Only the rest is gathered.
            interior = binary_erosion(blocks.all(-1), np.ones((3, 3), bool), border_value=1)
            edge = binary_dilation(touched, np.ones((3, 3), bool)) & ~interior
            needed = touched & binary_dilation(edge, np.ones((3, 3), bool))
            touched_cells.append(to_global(needed))
            bits.append(blocks[needed])
            changed_cells.append(to_global(edge))
            interior_cells.append(to_global(interior))
        counts = np.asarray(counts, dtype=np.int64)
        membership = _membership(indices, n)
        replaced = self._replaced_tables(touched_cells, bits, changed_cells, h2, w2, ref)
        replaced["interior"] = _membership(interior_cells, n)
        return GMSDRegions(boxes, cells, membership, counts, replaced)

    def _replaced_tables(self, touched_cells, bits, changed_cells, h2, w2, ref) -> dict:
        """Gather tables for ``replaced_scores_batched``, in chunks of whole regions.

        Per chunk: ``t_cell`` and ``bits`` (the touched cells and which of their 4 pixels are
        in the mask), ``d_cell`` (the cells whose gradient may change), ``nbr`` (for each of
        those, 9 indices into [reference half | replaced half of the touched cells | 0]), and
        ``region``/``first`` (which region each changed cell belongs to).
        """
        import torch

        n = h2 * w2
        chunks, current = [], []

        def close():
            if not current:
                return
            t_cell, t_bits, d_cell, nbr, region = [], [], [], [], []
            offset = 0
            for r in current:
                t, d = touched_cells[r], changed_cells[r]  # both sorted
                dy, dx = np.divmod(d, w2)
                cols = []
                for oy in (-1, 0, 1):
                    for ox in (-1, 0, 1):
                        y, x = dy + oy, dx + ox
                        inside = (y >= 0) & (y < h2) & (x >= 0) & (x < w2)
                        flat = np.where(inside, y * w2 + x, 0)
                        at = np.minimum(np.searchsorted(t, flat), max(t.size - 1, 0))
                        hit = (t[at] == flat) if t.size else np.zeros(flat.shape, bool)
                        idx = np.where(hit, at + n + offset, flat)
                        cols.append(np.where(inside, idx, -1))
                nbr.append(np.stack(cols, 1))
                t_cell.append(t)
                t_bits.append(bits[r])
                d_cell.append(d)
                region.append(np.full(d.size, r, np.int64))
                offset += t.size
            zero = n + offset  # the zero padding's slot
            nbr_all = np.concatenate(nbr)
            nbr_all[nbr_all < 0] = zero
            chunks.append({"regions": list(current),
                           "t_cell": torch.from_numpy(np.concatenate(t_cell)),
                           "bits": torch.from_numpy(np.concatenate(t_bits)),
                           "d_cell": torch.from_numpy(np.concatenate(d_cell)),
                           "nbr": torch.from_numpy(nbr_all),
                           "region": np.concatenate(region)})
            current.clear()

        size = 0
        for r in range(len(changed_cells)):
            if current and size + changed_cells[r].size > self.CHUNK_PAIRS:
                close()
                size = 0
            current.append(r)
            size += changed_cells[r].size
        close()
        return {"chunks": chunks, "n_changed": np.array([d.size for d in changed_cells]),
                "ref_blocks": self._blocks(ref.image)}

    @staticmethod
    def _blocks(x):
        """3×(h·w)×4: each half-resolution cell's 4 pixels, in ``_half``'s order."""
        import torch

        h2, w2 = x.shape[-2] // 2, x.shape[-1] // 2
        x = x[0, :, :2 * h2, :2 * w2]
        return torch.stack([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                            x[:, 1::2, 1::2]], -1).reshape(3, h2 * w2, 4)

    def similarity_map(self, x, ref: GMSDReference):
        """The render's gradient-magnitude similarity map (1×3×h×w) against the reference."""
        return self._similarity(self._gradient(x), ref.gradient)

    @staticmethod
    def region_raws(sim, regions: GMSDRegions) -> np.ndarray:
        """Every region's GMSD from the render's similarity map: one sparse product.

        The deviation of the 3·k values of a region's k cells, from sums of d = 1 − sim and d²
        (float64; d is small, so the one-pass formula loses nothing). Each region's sums run
        over its own cells only, in order: bit-identical whichever regions share the matrix.
        """
        sums = regions.membership @ _cell_stats(sim)
        n = 3.0 * regions.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (sums[:, 1] - sums[:, 0] ** 2 / n) / (n - 1)
        return np.sqrt(np.maximum(var, 0.0))

    def region_raws_reference(self, x, ref: GMSDReference, regions: GMSDRegions) -> list[float]:
        """The same GMSDs as ``region_raws``, one region at a time (the reference path).

        The render's gradients on the region's cells are computed from a window of the region's
        cells ± 1 (so zero padding reaches them only at the image's border, as in the full map;
        the values are the full map's, bit for bit), and the deviation is torch's float32 std.
        """
        h2, w2 = ref.gradient.shape[-2:]
        out = []
        for (cy0, cy1, cx0, cx1), cells in zip(regions.boxes, regions.cells):
            wy0, wx0 = max(0, cy0 - 1), max(0, cx0 - 1)
            wy1, wx1 = min(h2, cy1 + 1), min(w2, cx1 + 1)
            window = x[..., 2 * wy0:2 * wy1, 2 * wx0:2 * wx1]
            g = self._gradient(window)[..., cy0 - wy0:cy1 - wy0, cx0 - wx0:cx1 - wx0]
            sim = self._similarity(g, ref.gradient[..., cy0:cy1, cx0:cx1])
            out.append(float(sim[..., cells].flatten().std()))
        return out

    def replaced_scores_batched(self, distorted, ref: GMSDReference, regions: GMSDRegions,
                                sim=None) -> list[float]:
        """``replaced_scores(…, method="window")`` for every region in one gathered pass.

        A replaced image differs from the reference only in the cells its mask touches; its
        gradient differs only there and one cell around. For all (region, cell) pairs of those
        at once: the touched cells' 2×2 means from the mask's pixels, the 3×3 stencil from
        gathered neighbours (the reference's half-resolution values elsewhere, 0 beyond the
        border), the similarity, and per-region sums of d = 1 − sim and d² (0 everywhere else).
        Cells whose whole neighbourhood is in the mask take the render's own similarity
        (``sim``, the render's map, computed here if not given), summed by a sparse product.
        The gradients are the windowed pass's bit for bit (the same float32 operations in the
        same order); only the float64 sums are grouped differently.
        """
        import torch

        tab = regions.replaced
        h2, w2 = ref.gradient.shape[-2:]
        n = h2 * w2
        n_total = 3 * n
        dist_blocks = self._blocks(distorted)
        ref_half = ref.half[0].reshape(3, n)
        ref_grad = ref.gradient[0].reshape(3, n)
        if sim is None:
            sim = self.similarity_map(distorted, ref)
        inner = tab["interior"] @ _cell_stats(sim)
        s1, s2 = inner[:, 0].copy(), inner[:, 1].copy()
        for chunk in tab["chunks"]:
            t = chunk["t_cell"]
            p = torch.where(chunk["bits"][None], dist_blocks[:, t], tab["ref_blocks"][:, t])
            half = (p[..., 0] + p[..., 1] + p[..., 2] + p[..., 3]) * (255.0 / 4.0)
            table = torch.cat([ref_half, half, torch.zeros(3, 1)], 1)
            q = table[:, chunk["nbr"]]  # 3 × pairs × 9 (row-major 3×3 neighbourhood)
            across = [q[..., 3 * k] - q[..., 3 * k + 2] for k in range(3)]
            along = [q[..., 3 * k] + q[..., 3 * k + 1] + q[..., 3 * k + 2] for k in range(3)]
            gx = (across[0] + across[1] + across[2]) / 3.0
            gy = (along[0] - along[2]) / 3.0
            g = torch.sqrt(gx * gx + gy * gy + 1e-12)
            d = 1.0 - self._similarity(g, ref_grad[:, chunk["d_cell"]]).double().numpy()
            s1 += np.bincount(chunk["region"], d.sum(0), minlength=s1.size)
            s2 += np.bincount(chunk["region"], (d * d).sum(0), minlength=s2.size)
        var = np.maximum(0.0, (s2 - s1 * s1 / n_total) / (n_total - 1))
        return [self.to_unit(v) for v in np.sqrt(var)]

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "weights_hash": self.weights_hash,
                "fallback": self.fallback, "unit_scale": f"1 - gmsd / {GMSD_SCALE}"}
