"""Format, width and height of a JPEG or PNG from its header, without decoding it.

A guard against decompression bombs: a 292 KB PNG can claim 10000x10000 pixels and cost a decoder
hundreds of MB before anyone can look at its size. ``read_header`` reads the PNG ``IHDR`` chunk or walks
the JPEG marker segments to the first frame header (``SOFn``), in pure Python on a memoryview of the
data (nothing is copied or decoded). Anything else raises ``ValueError`` naming what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range but do not
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field


@dataclass(frozen=True)
class ImageHeader:
    """What the header says: ``format`` ("jpeg" or "png"), ``width`` and ``height`` in pixels."""

    format: str
    width: int
    height: int


def sniff_format(data) -> str:
    """"png" or "jpeg" by the file signature, "" for anything else."""
    head = bytes(memoryview(data).cast("B")[:8])
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(JPEG_SOI):
        return "jpeg"
    return ""


def read_header(data) -> ImageHeader:
    """Format and size from the header of a JPEG or PNG (bytes, bytearray, array('B') or a uint8 array).

    Raises ValueError when the data is neither, or when its header is truncated or malformed.
    """
    view = memoryview(data).cast("B")
    fmt = sniff_format(view)
    if fmt == "png":
        return _png(view)
    if fmt == "jpeg":
        return _jpeg(view)
    raise ValueError(f"neither JPEG nor PNG (first bytes {bytes(view[:8]).hex() or 'none'})")


def _png(view: memoryview) -> ImageHeader:
    # signature (8), then the first chunk must be IHDR: length (4) "IHDR" width (4) height (4)
    if len(view) < 24:
        raise ValueError(f"PNG header truncated ({len(view)} bytes)")
    length, kind, width, height = struct.unpack(">I4sII", view[8:24])
    if kind != b"IHDR" or length != 13:
        raise ValueError(f"PNG does not start with an IHDR chunk (found {kind!r}, length {length})")
    return ImageHeader("png", width, height)


def _jpeg(view: memoryview) -> ImageHeader:
    pos, end = 2, len(view)
    while pos < end:
        if view[pos] != 0xFF:
            raise ValueError(f"JPEG marker expected at byte {pos}, found 0x{view[pos]:02x}")
        while pos < end and view[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= end:
            break
        marker = view[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            raise ValueError(f"JPEG has no frame header (SOFn) before marker 0x{marker:02x}")
        if pos + 2 > end:
            break
        (length,) = struct.unpack(">H", view[pos:pos + 2])
        if length < 2:
            raise ValueError(f"JPEG segment 0x{marker:02x} has an invalid length {length}")
        if marker in _JPEG_SOF:
            if pos + 7 > end:
                break
            height, width = struct.unpack(">HH", view[pos + 3:pos + 7])  # after length (2) and precision (1)
            if height == 0:
                raise ValueError("JPEG frame header gives height 0 (DNL-defined height is not supported)")
            return ImageHeader("jpeg", width, height)
        pos += length
    raise ValueError(f"JPEG header truncated: no frame header (SOFn) in {end} bytes")
