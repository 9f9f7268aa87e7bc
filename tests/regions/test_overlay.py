"""The one tint-and-outline renderer of regions."""

from __future__ import annotations

import numpy as np

from seagull.regions.overlay import mask_edge, tint_masks


def test_masks_are_tinted_and_outlined_in_order():
    image = np.full((8, 10, 3), 100, np.uint8)
    a = np.zeros((8, 10), bool)
    a[1:6, 1:6] = True
    b = np.zeros((8, 10), bool)
    b[3:5, 3:9] = True
    out = tint_masks(image, [a, b], [(200, 0, 0), (0, 0, 200)], alpha=0.5,
                     outlines=[(255, 255, 255), (0, 0, 200)])
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert tuple(out[2, 2]) == (150, 50, 50)          # inside a only: half its tint
    assert tuple(out[1, 1]) == (255, 255, 255)       # a's outline
    assert tuple(out[0, 0]) == (100, 100, 100)       # outside both: untouched
    assert tuple(out[3, 8]) == (0, 0, 200)           # b's outline, drawn after a
    assert (image == 100).all()                      # the input is not changed


def test_the_edge_is_the_inner_4_neighbour_outline_and_the_border_counts_as_outside():
    m = np.zeros((5, 5), bool)
    m[1:4, 1:4] = True
    assert mask_edge(m).sum() == 8 and not mask_edge(m)[2, 2]
    full = np.ones((3, 3), bool)
    assert mask_edge(full).sum() == 8  # the image's border is an edge
