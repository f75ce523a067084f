"""Small thumbnails of the images kept, so the item page never sends an operator the full
file (or the public's camera metadata) just to show what it is."""

from __future__ import annotations

import io
import warnings

from PIL import Image

THUMB_PX = 240
# A decompression bomb (a small file that decodes to gigapixels) is not drawn. Pillow
# refuses past twice its limit and only warns between: here a warning is a refusal too.
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_UNREADABLE = (
    OSError,
    ValueError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def thumbnail(body: bytes) -> bytes | None:
    """A PNG at most THUMB_PX on its longer side (first frame of an animation, no EXIF),
    or None when the image cannot be decoded: the original is then only downloadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _draw(body)
    except _UNREADABLE:
        return None


def _draw(body: bytes) -> bytes:
    with Image.open(io.BytesIO(body)) as img:
        img.seek(0)
        frame = img.convert("RGBA") if img.mode not in ("RGB", "RGBA") else img.copy()
    frame.thumbnail((THUMB_PX, THUMB_PX))
    out = io.BytesIO()
    frame.save(out, format="PNG", optimize=True)
    return out.getvalue()
