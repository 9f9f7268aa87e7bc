"""A contact sheet: every render of a RAW as a small labelled tile on one grid image.

Rows: the reference, then one row per distortion type; columns: the levels. The sheet is for a
person to look at, so tiles are small (``tile`` pixels on their long side) and labelled.
"""

from __future__ import annotations

import numpy as np

from seagull.isp.render import Render

BACKGROUND = (32, 32, 32)
TEXT = (235, 235, 235)


class ContactSheet:
    """Collects thumbnails as renders stream by (so full-size images need not be kept), then
    draws the grid with ``image()``."""

    def __init__(self, tile: int = 128) -> None:
        self.tile = tile
        self.rows: dict[str, dict[int | None, np.ndarray]] = {}

    def add(self, render: Render) -> None:
        from PIL import Image

        im = Image.fromarray(render.image)
        im.thumbnail((self.tile, self.tile), Image.Resampling.BILINEAR)
        self.rows.setdefault(render.distortion, {})[render.level] = np.asarray(im)

    def image(self) -> np.ndarray:
        """The sheet, H×W×3 uint8."""
        from PIL import Image, ImageDraw, ImageFont

        font = ImageFont.load_default()
        levels = sorted({lv for row in self.rows.values() for lv in row if lv is not None})
        columns = [None] + levels if "reference" in self.rows else levels
        any_tile = next(iter(next(iter(self.rows.values())).values()))
        th, tw = any_tile.shape[:2]
        label_w, head_h, gap = 110, 18, 4
        width = label_w + len(columns) * (tw + gap) + gap
        height = head_h + len(self.rows) * (th + gap) + gap
        sheet = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        for j, level in enumerate(columns):
            x = label_w + gap + j * (tw + gap)
            draw.text((x + 2, 3), "ref" if level is None else f"level {level}", fill=TEXT,
                      font=font)
        for i, (name, row) in enumerate(self.rows.items()):
            y = head_h + gap + i * (th + gap)
            draw.text((6, y + th // 2 - 6), name, fill=TEXT, font=font)
            for j, level in enumerate(columns):
                if level in row:
                    x = label_w + gap + j * (tw + gap)
                    sheet.paste(Image.fromarray(row[level]), (x, y))
        return np.asarray(sheet)
