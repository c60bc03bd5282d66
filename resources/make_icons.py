"""Draws the application icon: two stylised lungs and a trachea in a rounded square.

Writes ``pneumo_desktop.png`` (512 px; Linux desktop entry, window icon) and
``pneumo_desktop.ico`` (16-256 px; the Windows executable) beside this file. The committed
files came from this script; rerun it only to change the design:

    .venv/bin/python resources/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 1024  # drawn large, then downsampled: smooth edges at every size
BACKGROUND_TOP = (22, 94, 140)
BACKGROUND_BOTTOM = (14, 58, 92)
LUNG = (236, 244, 250)
AIRWAY = (255, 255, 255)


def _gradient(size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / (size - 1)
        colour = tuple(
            round(a + (b - a) * t) for a, b in zip(BACKGROUND_TOP, BACKGROUND_BOTTOM, strict=True)
        )
        draw.line([(0, y), (size, y)], fill=colour)
    return image


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size / 1024
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        [round(40 * s), round(40 * s), round(984 * s), round(984 * s)],
        radius=round(200 * s),
        fill=255,
    )
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    icon.paste(_gradient(size), (0, 0), mask)

    art = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(art)
    # Lungs: each a tall rounded lobe, flatter on the side that faces the heart.
    for side in (-1, 1):
        cx = 512 + side * 205
        draw.ellipse(
            [round((cx - 160) * s), round(300 * s), round((cx + 160) * s), round(860 * s)], fill=255
        )
        # Carve the cardiac notch out of the inner lower edge.
        notch_x = 512 + side * 40
        draw.ellipse(
            [round((notch_x - 80) * s), round(640 * s), round((notch_x + 80) * s), round(900 * s)],
            fill=0,
        )
    lungs = art.filter(ImageFilter.GaussianBlur(2 * s))
    icon.paste(Image.new("RGBA", (size, size), LUNG + (255,)), (0, 0), lungs)

    airway = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(airway)
    width = round(56 * s)
    # Trachea, then the two main bronchi: a "cross" between the lungs.
    draw.line([(512 * s, 150 * s), (512 * s, 470 * s)], fill=255, width=width)
    for side in (-1, 1):
        draw.line(
            [(512 * s, 450 * s), ((512 + side * 150) * s, 600 * s)], fill=255, width=round(44 * s)
        )
    draw.ellipse(
        [round(484 * s), round(122 * s), round(540 * s), round(178 * s)], fill=255
    )  # rounded top of the trachea
    outline = airway.filter(ImageFilter.MaxFilter(max(3, round(24 * s) | 1)))
    icon.paste(Image.new("RGBA", (size, size), BACKGROUND_BOTTOM + (255,)), (0, 0), outline)
    icon.paste(Image.new("RGBA", (size, size), AIRWAY + (255,)), (0, 0), airway)
    # Keep everything inside the rounded square.
    alpha = Image.composite(icon.getchannel("A"), Image.new("L", (size, size), 0), mask)
    icon.putalpha(alpha)
    return icon


def main() -> None:
    icon = draw_icon()
    icon.resize((512, 512), Image.LANCZOS).save(HERE / "pneumo_desktop.png", optimize=True)
    sizes = [(n, n) for n in (16, 24, 32, 48, 64, 128, 256)]
    icon.resize((256, 256), Image.LANCZOS).save(HERE / "pneumo_desktop.ico", sizes=sizes)


if __name__ == "__main__":
    main()
