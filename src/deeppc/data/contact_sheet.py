"""Contact sheet: flagged images in one PNG, each labelled with its flags."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from deeppc import files

TILE = 128
LABEL = 14


def write(path: Path, items: list[tuple[Path, list[str]]], limit: int) -> None:
    """Tile up to `limit` images (path, flags) into `path`; a note when there are none."""
    items = items[:limit]
    if not items:
        sheet = Image.new("L", (TILE * 3, TILE // 2), 255)
        ImageDraw.Draw(sheet).text((8, TILE // 4 - 6), "no images flagged by the audit", fill=0)
        files.save_png(path, sheet)
        return
    cols = min(8, len(items))
    rows = math.ceil(len(items) / cols)
    sheet = Image.new("L", (cols * TILE, rows * (TILE + LABEL)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (image_path, flags) in enumerate(items):
        x, y = (i % cols) * TILE, (i // cols) * (TILE + LABEL)
        with Image.open(image_path) as im:
            sheet.paste(im.convert("L").resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y))
        text = ",".join(f.split(":")[0] for f in flags)
        draw.text((x + 2, y + TILE + 1), text[:22], fill=0)
    files.save_png(path, sheet)
