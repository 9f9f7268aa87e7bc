"""Regions drawn on their image: the one tint-and-outline renderer (the service's overlay of one
assessed region and ``seagull regions --overlay``'s of all of them). The dataset report draws
its own, larger figure with numbered tags and a label table (``seagull.data.inspect``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_edge(mask: np.ndarray) -> np.ndarray:
    """The mask's inner outline: its pixels with a 4-neighbour outside it (the image's border
    counts as outside)."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def tint_masks(image: np.ndarray, masks: Sequence[np.ndarray], colours: Sequence, *,
               alpha: float = 0.5, outlines: Sequence | None = None) -> np.ndarray:
    """``image`` (H×W×3 uint8) with each mask tinted by its colour (``alpha`` of it) and its
    outline drawn in its ``outlines`` colour (default: the tint), in order, so later masks
    stay visible over earlier ones; returns a new uint8 array."""
    out = image.astype(np.float32)
    outlines = colours if outlines is None else outlines
    for mask, colour, edge_colour in zip(masks, colours, outlines):
        tint = np.asarray(colour, dtype=np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * tint
        out[mask_edge(mask)] = np.asarray(edge_colour, dtype=np.float32)
    return out.clip(0, 255).astype(np.uint8)
