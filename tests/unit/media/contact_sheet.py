"""Contact sheet of the renditions made from the corpus, for a human to look at (not a test).

    .venv/bin/python tests/unit/media/contact_sheet.py [OUT.png] [--slot gallery]

Each cell: the gallery/main rendition on a grey frame (so white padding is visible), the file
name, and the outcome (colours and background, or the error code). Written outside the repo by
default (/tmp/media-contact-sheet.png); never commit the output.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from shangjia.media import process_image

CELL = 260
THUMB = 220


def font(size: int):
    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                 "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                 "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="/tmp/media-contact-sheet.png")
    ap.add_argument("--slot", default="gallery")
    ap.add_argument("--corpus", default=os.environ.get("SHANGJIA_CORPUS",
                                                       str(Path(__file__).resolve().parents[3].parent / "shared" / "corpus")))
    args = ap.parse_args(argv)
    files = sorted(p for p in (Path(args.corpus) / "images").iterdir() if p.is_file())
    cols = 6
    rows = (len(files) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * CELL, rows * (CELL + 40)), (90, 90, 90))
    d = ImageDraw.Draw(sheet)
    small = font(11)
    for i, path in enumerate(files):
        r = process_image(path.read_bytes(), name=path.name, slot=args.slot)
        x, y = (i % cols) * CELL, (i // cols) * (CELL + 40)
        big = next((x for x in r.renditions if x.name in ("main", "gallery", "detail")), None)
        if big is not None:
            im = Image.open(io.BytesIO(big.data)).convert("RGB")
            im.thumbnail((THUMB, THUMB))
            sheet.paste(im, (x + (CELL - im.width) // 2, y + 8))
            note = f"{r.width}x{r.height} {'/'.join(r.tags.get('colors', [])[:2])} {r.tags.get('background')}"
        else:
            d.rectangle((x + 20, y + 8, x + CELL - 20, y + 8 + THUMB), outline=(200, 60, 60), width=2)
            note = r.error.code if r.error else "?"
        d.text((x + 6, y + THUMB + 12), path.name[:40], fill=(255, 255, 255), font=small)
        d.text((x + 6, y + THUMB + 28), note[:44], fill=(255, 230, 120), font=small)
    sheet.save(args.out)
    print(args.out, f"{len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
