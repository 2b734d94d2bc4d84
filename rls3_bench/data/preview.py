"""Contact sheets: a grid of rendered samples with their captions, for looking at the data."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from rls3_bench.labels.sample import Sample


def contact_sheet(samples: Sequence[Sample], cols: int = 4, tile: int = 256) -> Image.Image:
    """A ``cols``-wide grid: each image upscaled to ``tile`` px (nearest, so pixels stay honest),
    with its room and caption below it."""
    font = ImageFont.load_default(size=13)
    text_h = 64
    rows = -(-len(samples) // cols)
    sheet = Image.new("RGB", (cols * tile, rows * (tile + text_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, s in enumerate(samples):
        x, y = (k % cols) * tile, (k // cols) * (tile + text_h)
        sheet.paste(Image.fromarray(s.image).resize((tile, tile), Image.NEAREST), (x, y))
        lines = [f"[{s.spec.room}]"] + textwrap.wrap(s.caption, width=tile // 7)
        draw.multiline_text((x + 4, y + tile + 2), "\n".join(lines[:4]), fill="black", font=font, spacing=1)
    return sheet
