"""Images for the tests, good and hostile, made on the fly."""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(size=(1600, 1200), quality=85) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_with_gps(size=(1600, 1200)) -> bytes:
    """A camera's JPEG: its make and where it was taken in the EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPSInfo
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def png(size=(640, 480), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 40, 90, 128) if mode == "RGBA" else (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width=40_000, height=40_000) -> bytes:
    """A tiny PNG that claims 1.6 billion pixels of zeros (compresses to almost nothing)."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * width
    body = b"".join(raw.compress(row) for _ in range(200)) + raw.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def png_with_huge_chunk(chunk_bytes=3 * 1024 * 1024) -> bytes:
    """A valid small PNG with a private ancillary chunk of ``chunk_bytes`` inserted after IHDR."""
    data = png((64, 64), "RGB")
    ihdr_end = 8 + 8 + 13 + 4
    return data[:ihdr_end] + _chunk(b"zzZz", b"\x00" * chunk_bytes) + data[ihdr_end:]
