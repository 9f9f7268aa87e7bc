"""TOPIQ-FR (pyiqa ``topiq_fr``, the CFANet architecture) split into backbone and head.

pyiqa's ``CFANet.forward`` runs the ResNet-50 backbone on both images and then its attention
head. Labelling needs the halves apart: the reference's backbone features are shared by every
region crop and every render of a source, and a replaced image's features can be assembled from
the reference's plus a window around the region. ``features`` and ``head`` below are that split;
together they give exactly ``CFANet.forward`` (the tests check it). This is the one module that
reaches into pyiqa's internals; if pyiqa exposes the split itself, it can go.

Weights are a local file (``{"params": state_dict}`` as pyiqa ships them, or a bare state
dict), read with ``torch.load(weights_only=True)`` and loaded strictly, so a wrong file is a
``WeightsMismatchError`` (pyiqa's own ``pretrained_model_path`` loads non-strictly and unpickles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seagull.errors import WeightsMismatchError

# Backbone strides of the five feature levels (ResNet-50, features_only).
ALIGN = 32
# Arithmetic the scorer runs in: fp32, or bf16 autocast (the default on GPUs: bench/build_cost.py
# measures how far it moves the scores from fp32, docs/dataset.md).
PRECISIONS = ("fp32", "bf16")
# Pixels of context around a region recomputed for a replaced image (see replaced_scores).
DEFAULT_MARGIN = 96


def build_cfanet():
    """A TOPIQ-FR network with random weights, built offline (eval mode)."""
    from pyiqa.archs.topiq_arch import CFANet
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    opts = dict(DEFAULT_CONFIGS["topiq_fr"]["metric_opts"])
    opts.pop("type")
    net = CFANet(**opts, pretrained=False, backbone_pretrain=False)
    return net.eval()


def load_cfanet(path: str | Path, device: str = "cpu"):
    """TOPIQ-FR with weights from ``path``, loaded strictly.

    The network is built on the meta device (no random initialisation to pay for) and the
    file's tensors are assigned to it; anything the file does not fill is a mismatch.
    """
    import torch

    from seagull.checkpoints import read_state_dict

    state = read_state_dict(path)
    with torch.device("meta"):
        net = build_cfanet()
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0][:160]
        raise WeightsMismatchError(f"{path}: does not fit TOPIQ-FR ({first})") from None
    if any(t.is_meta for t in list(net.parameters()) + list(net.buffers())):
        raise WeightsMismatchError(f"{path}: leaves TOPIQ-FR tensors unset")
    return net.to(device).eval()


def features(net, x) -> list:
    """Backbone features of x (N×3×H×W on [0, 1]): five levels at strides 2…32."""
    return net.semantic_model(net.preprocess(x))


def gate(net, level: int, dist, ref):
    """Gated local features of one level: [dist, ref, |dist − ref|] × weight_pool(|dist − ref|).

    weight_pool is a 1×1 then two 3×3 convolutions: a gated cell depends on the features
    within 2 cells of it, which lets a replaced image's gating be recomputed locally.
    """
    import torch

    diff = net.dist_func(dist, ref)
    return torch.cat([dist, ref, diff], dim=1) * net.weight_pool[level](diff)


# Cells of a level that one changed cell reaches through weight_pool's two 3×3 convolutions.
GATE_REACH = 2


def head_from_gated(net, gated: list):
    """TOPIQ-FR score (N,) from the five gated feature maps (``gate`` of each level)."""
    import torch
    import torch.nn.functional as F

    _, _, th, tw = gated[-1].shape
    pos_emb = torch.cat((net.h_emb.repeat(1, 1, 1, net.w_emb.shape[3]),
                         net.w_emb.repeat(1, 1, net.h_emb.shape[2], 1)), dim=1)
    tokens = []
    for i in reversed(range(len(gated))):
        feat = gated[i]
        if feat.shape[2] > th and feat.shape[3] > tw:
            feat = F.adaptive_avg_pool2d(feat, (th, tw))
        pos = F.interpolate(pos_emb, size=feat.shape[2:], mode="bicubic", align_corners=False)
        feat = net.dim_reduce[i](feat).flatten(2).permute(2, 0, 1)
        feat = feat + pos.flatten(2).permute(2, 0, 1)
        tokens.append(net.sa_attn_blks[i](feat))
    query = tokens[0]
    for i in range(len(tokens) - 1):
        query = net.attn_blks[i](query, tokens[i + 1])
    score = net.score_linear(net.attn_pool(query).mean(dim=0))
    # dist_to_mos for one class is the identity (score × 1).
    return score[:, 0]


def head(net, dist_feats: list, ref_feats: list):
    """TOPIQ-FR score (N,) from the backbone features of distorted and reference images.

    The remainder of ``CFANet.forward_cross_attention`` after the backbone, for a CNN backbone
    without test-time resizing or multi-crop (the ``topiq_fr`` configuration).
    """
    return head_from_gated(net, [gate(net, i, d, r)
                                 for i, (d, r) in enumerate(zip(dist_feats, ref_feats))])


@dataclass
class TopiqReference:
    features: list  # five tensors 1×C×h×w
    shape: tuple[int, int]  # H, W of the image
    gated: list | None = None  # gate(ref, ref) per level, made on first use (replaced images)


class TopiqScorer:
    """TOPIQ-FR scores on [0, 1] (its output clipped) with the reference side shared."""

    name = "topiq_fr"
    version = "1"
    fallback = False

    def __init__(self, net, weights_hash: str, *, margin: int = DEFAULT_MARGIN,
                 batch_size: int | None = None, precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        self.net = net.eval()
        self.weights_hash = weights_hash
        self.margin = margin
        # Crops and replaced images per pass. On the CPU one at a time: a batch changes the
        # convolutions' summation order (by ~1e-7), and a region's fp32 labels must not depend
        # on which regions it shares a batch with; batching buys little on a CPU anyway. On a
        # GPU, 8 (labels then agree with the one-by-one pass to a tolerance, not bit for bit).
        cuda = next(self.net.parameters()).device.type == "cuda"
        self.batch_size = batch_size or (8 if cuda else 1)
        self.precision = precision

    def _mode(self):
        """Inference, under bfloat16 autocast where ``precision`` says so (the weights stay
        fp32; convolutions and matrix products run in bf16)."""
        import contextlib

        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.precision == "bf16":
            device = next(self.net.parameters()).device.type
            stack.enter_context(torch.autocast(device, dtype=torch.bfloat16))
        return stack

    @staticmethod
    def to_unit(raw: float) -> float:
        return float(np.clip(raw, 0.0, 1.0))

    def _device(self, x):
        return x.to(next(self.net.parameters()).device)

    def reference(self, ref) -> TopiqReference:

        with self._mode():
            return TopiqReference(features(self.net, self._device(ref)), tuple(ref.shape[-2:]))

    def references(self, refs: list) -> list[TopiqReference]:
        """Prepared references; equal-sized images go through the backbone together."""
        import torch

        out: list = [None] * len(refs)
        for group in _same_shape_groups(refs, self.batch_size):
            with self._mode():
                feats = features(self.net, self._device(torch.cat([refs[i] for i in group])))
            for j, i in enumerate(group):
                out[i] = TopiqReference([f[j:j + 1] for f in feats], tuple(refs[i].shape[-2:]))
        return out

    def score(self, x, ref: TopiqReference) -> float:
        return self.scores([x], [ref])[0]

    def scores(self, xs: list, refs: list[TopiqReference], *, raw: bool = False) -> list[float]:
        """Scores of distorted tensors against prepared references, batched by size
        (``raw``: TOPIQ's output before clipping to [0, 1])."""
        import torch

        out: list = [None] * len(xs)
        for group in _same_shape_groups(xs, self.batch_size):
            with self._mode():
                dist = features(self.net, self._device(torch.cat([xs[i] for i in group])))
                ref = [torch.cat([refs[i].features[level] for i in group])
                       for level in range(len(dist))]
                values = head(self.net, dist, ref)
            for j, i in enumerate(group):
                out[i] = float(values[j]) if raw else self.to_unit(float(values[j]))
        return out

    def replaced_scores(self, distorted, reference, ref: TopiqReference, boxes, masks,
                        method: str = "window", *, raw: bool = False) -> list[float]:
        """Scores of the replaced images (reference with one region pasted from ``distorted``).

        ``method="exact"``: every replaced image through the backbone in full.
        ``method="window"``: the backbone runs only on a window around the region — its
        bounding box widened by ``margin`` pixels, plus ``margin`` more of context, aligned to
        the 32-pixel stride so the feature grids line up — and the window's features (less the
        outer context) replace the reference's there; the head then runs on the spliced
        features. The error is that of ignoring the backbone's response beyond ``margin``
        pixels; ``bench/labels.py`` measures it against the exact pass.
        """
        return self.replaced_scores_many([distorted], reference, ref, boxes, masks, method,
                                         raw=raw)[0]

    def replaced_scores_many(self, distorted: list, reference, ref: TopiqReference, boxes,
                             masks, method: str = "window", *, raw: bool = False
                             ) -> list[list[float]]:
        """``replaced_scores`` of several renders of the source (1×3×H×W each), per render.

        A region's window has the same box in every render, so its windows of all renders go
        through the backbone together, ``batch_size`` at a time (and the head runs on
        ``batch_size`` replaced images at a time, across regions and renders). With
        ``batch_size`` 1 (the CPU's default) every pass is one image: the same numbers as one
        call per render.
        """
        import torch

        H, W = ref.shape
        m = self.margin
        n = len(distorted)
        if not n:
            return []
        stacked = torch.cat(distorted)
        out = [[None] * len(boxes) for _ in range(n)]
        pending: list = []  # (region, renders, five gated maps with one row per render)
        if method != "exact" and ref.gated is None:
            with self._mode():  # reference-side, shared by every render
                ref.gated = [gate(self.net, i, f, f) for i, f in enumerate(ref.features)]

        def flush():
            if not pending:
                return
            with self._mode():
                gated = [torch.cat([p[2][level] for p in pending])
                         for level in range(len(ref.features))]
                values = [float(v) for v in head_from_gated(self.net, gated)]
            j = 0
            for region, renders, _ in pending:
                for k in renders:
                    out[k][region] = values[j] if raw else self.to_unit(values[j])
                    j += 1
            pending.clear()

        bs = self.batch_size
        for region, ((x, y, bw, bh), mask) in enumerate(zip(boxes, masks)):
            mask_t = torch.from_numpy(mask)[None, None]
            for k0 in range(0, n, bs):
                renders = range(k0, min(n, k0 + bs))
                dist = stacked[k0:k0 + bs]
                with self._mode():
                    if method == "exact":
                        replaced = torch.where(mask_t, dist, reference)
                        feats = features(self.net, self._device(replaced))
                        gated = [gate(self.net, i, f, r.expand_as(f))
                                 for i, (f, r) in enumerate(zip(feats, ref.features))]
                    else:
                        gated = self._window_gated(dist, reference, ref, x, y, bw, bh, mask_t,
                                                   H, W, m)
                pending.append((region, renders, gated))
                if sum(len(p[1]) for p in pending) >= bs:
                    flush()
        flush()
        return out

    def _window_gated(self, distorted, reference, ref, x, y, bw, bh, mask_t, H, W, m):
        """The replaced images' gated maps (a row per render of ``distorted``, N×3×H×W): the
        reference's, recomputed around the region.

        Backbone: on the window (inner box + ``m`` context), its features inside the inner box
        (region box + ``m``, 32-aligned) replace the reference's. Gating: recomputed on the
        changed cells ± ``GATE_REACH`` (from a block ± 2·GATE_REACH, so no padding reaches
        them); elsewhere the reference's own gated map is exact.
        """
        import torch

        ix0, iy0 = _floor(max(0, x - m)), _floor(max(0, y - m))
        ix1, iy1 = min(W, _ceil(x + bw + m)), min(H, _ceil(y + bh + m))
        wx0, wy0 = _floor(max(0, ix0 - m)), _floor(max(0, iy0 - m))
        wx1, wy1 = min(W, _ceil(ix1 + m)), min(H, _ceil(iy1 + m))
        sl = (slice(None), slice(None), slice(wy0, wy1), slice(wx0, wx1))
        window = torch.where(mask_t[sl], distorted[sl], reference[sl])  # a row per render
        win_feats = features(self.net, self._device(window))
        n = window.shape[0]
        gated = []
        for level, (full, part) in enumerate(zip(ref.features, win_feats)):
            s = 2 ** (level + 1)
            h, w = full.shape[2:]
            r0, r1 = iy0 // s, min(h, -(-iy1 // s))
            c0, c1 = ix0 // s, min(w, -(-ix1 // s))
            reach = GATE_REACH
            a0, a1 = max(0, r0 - 2 * reach), min(h, r1 + 2 * reach)
            b0, b1 = max(0, c0 - 2 * reach), min(w, c1 + 2 * reach)
            block_ref = full[:, :, a0:a1, b0:b1].expand(n, -1, -1, -1)
            block = block_ref.clone()
            block[:, :, r0 - a0:r1 - a0, c0 - b0:c1 - b0] = part[
                :, :, r0 - wy0 // s:r1 - wy0 // s, c0 - wx0 // s:c1 - wx0 // s]
            block_gated = gate(self.net, level, block, block_ref)
            k0, k1 = max(0, r0 - reach), min(h, r1 + reach)
            l0, l1 = max(0, c0 - reach), min(w, c1 + reach)
            g = ref.gated[level].expand(n, -1, -1, -1).clone()
            g[:, :, k0:k1, l0:l1] = block_gated[:, :, k0 - a0:k1 - a0, l0 - b0:l1 - b0]
            gated.append(g)
        return gated

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "weights_hash": self.weights_hash,
                "fallback": self.fallback, "unit_scale": "clip(topiq_fr, 0, 1)",
                "importance_margin_px": self.margin, "precision": self.precision}


def _floor(v: int) -> int:
    return (v // ALIGN) * ALIGN


def _ceil(v: int) -> int:
    return -(-v // ALIGN) * ALIGN


def _same_shape_groups(tensors: list, batch_size: int) -> list[list[int]]:
    groups: dict = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape[-2:]), []).append(i)
    out = []
    for idx in groups.values():
        out += [idx[k:k + batch_size] for k in range(0, len(idx), batch_size)]
    return out
