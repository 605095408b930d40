"""Image validation and variants with Pillow: pure functions over bytes.

The real type comes from the content (Pillow's decoders, restricted to the accepted
formats), never from the name or the declared type. Everything that is not a sound,
reasonably sized JPEG, PNG, WebP or AVIF is rejected with a reason. Variants are
oriented, stripped of all metadata (EXIF, GPS, XMP, ICC) and never upscaled.

The file a buyer pays for (an artwork's original) is delivered as ``clean_original`` makes
it: the image data as the camera encoded it (JPEG, PNG, WebP) with every metadata segment
left out but the EXIF orientation; AVIF, whose metadata sits in item tables, re-encoded at
full quality. No EXIF, GPS, XMP or comment reaches the buyer.
"""
from __future__ import annotations

import base64
import io
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

SOURCE_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")
LONG_EDGES = (256, 1024, 2048)
# Encoder settings; AVIF speed was chosen from the size-vs-time table of bench/images.py.
ENCODERS = {
    "webp": {"quality": 80, "method": 4},
    "avif": {"quality": 55, "speed": 8},
}
MAX_ANCILLARY_CHUNK = 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Rejected(ValueError):
    """The upload is not an acceptable image; the message says why."""


@dataclass(frozen=True)
class Rendition:
    format: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Processed:
    source_format: str
    width: int
    height: int
    renditions: list[Rendition]
    placeholder: str
    dominant_color: str


def _check_png_chunks(stream: BinaryIO) -> None:
    """Refuse PNGs carrying huge ancillary chunks (metadata we would strip anyway)."""
    stream.seek(len(_PNG_SIGNATURE))
    while len(header := stream.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        if kind[:1].islower() and length > MAX_ANCILLARY_CHUNK:
            raise Rejected(f"the PNG carries a {length}-byte {kind.decode('latin-1')} chunk")
        if kind == b"IEND":
            return
        stream.seek(length + 4, io.SEEK_CUR)


def _open(stream: BinaryIO, max_pixels: int, max_edge: int):
    from PIL import Image, UnidentifiedImageError

    head = stream.read(len(_PNG_SIGNATURE))
    if not head:
        raise Rejected("the file is empty")
    if head == _PNG_SIGNATURE:
        _check_png_chunks(stream)
    stream.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream, formats=SOURCE_FORMATS)
        except UnidentifiedImageError:
            raise Rejected("not an image in an accepted format (JPEG, PNG, WebP, AVIF)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Rejected("the image has too many pixels") from None
        width, height = image.size
        if width * height > max_pixels:
            raise Rejected(f"the image has {width * height} pixels; at most {max_pixels} are accepted")
        # JPEG can decode at 1/2..1/8 scale: ask for no more than the largest variant needs
        # (its long edge), which quarters decode time and memory for a 24 MP photo.
        scale = min(1.0, max_edge / max(width, height))
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        try:
            image.load()
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise Rejected(f"the image is corrupt or truncated ({error})") from None
    return image, (width, height)


def _targets(long_edge: int, max_edge: int) -> list[int]:
    return sorted({min(edge, long_edge) for edge in LONG_EDGES if edge <= max_edge}, reverse=True)


def _encode(image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt.upper(), **ENCODERS[fmt])
    return out.getvalue()


def _dominant_color(image) -> str:
    from PIL import Image

    small = image.convert("RGB").resize((64, 64), Image.Resampling.BOX)
    palette_image = small.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    _count, index = max(palette_image.getcolors())
    red, green, blue = palette_image.getpalette()[index * 3:index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def _placeholder(image) -> str:
    from PIL import ImageFilter

    tiny = image.copy()
    tiny.thumbnail((16, 16))
    tiny = tiny.filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    tiny.save(out, format="WEBP", quality=40)
    return "data:image/webp;base64," + base64.b64encode(out.getvalue()).decode()


def process(source: bytes | BinaryIO, *, max_pixels: int, formats: tuple[str, ...] = ("webp", "avif"),
            max_edge: int = LONG_EDGES[-1]) -> Processed:
    """``source`` is the upload's bytes or a seekable binary file (streamed, never held whole);
    no variant's long edge exceeds ``max_edge``."""
    from PIL import Image, ImageOps

    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    image, (width, height) = _open(stream, max_pixels, max_edge)
    source_format = image.format
    decoded = image.size
    ImageOps.exif_transpose(image, in_place=True)  # no second copy of a 24 MP bitmap
    if image.size != decoded:  # rotated by 90 degrees: report the upright dimensions
        width, height = height, width
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    wanted = "RGBA" if has_alpha else "RGB"
    if image.mode != wanted:
        image = image.convert(wanted)
    image.info = {}  # no EXIF, GPS, XMP or ICC profile reaches a variant

    # Sizes come from the full image; pixels from the previous, larger variant (far less
    # work), and the full bitmap is let go as soon as the first variant exists.
    full_width, full_height = image.size
    long_edge = max(full_width, full_height)
    current, image = image, None
    renditions = []
    for edge in _targets(long_edge, max_edge):
        size = (max(1, round(full_width * edge / long_edge)), max(1, round(full_height * edge / long_edge)))
        if size != current.size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        for fmt in formats:
            renditions.append(Rendition(fmt, current.width, current.height, _encode(current, fmt)))
    return Processed(source_format, width, height, renditions, _placeholder(current), _dominant_color(current))


# -- the original, without its metadata ----------------------------------------------------

# JPEG segments that carry metadata: APP1-APP15 (EXIF, XMP, IPTC, MPF, maker data) and
# comments, except the colour information decoders need (an ICC profile in APP2, Adobe's
# colour transform in APP14). APP0 (JFIF) stays.
_JPEG_KEPT_APPS = {0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}
# PNG and WebP chunks that make the image (pixels, transparency, colour, animation); the
# rest (text, EXIF, XMP, time, private chunks) is metadata.
_PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs",
             b"bKGD", b"acTL", b"fcTL", b"fdAT"}
_WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04
ORIENTATION = 0x0112


def clean_original(data: bytes, source_format: str) -> tuple[bytes, str]:
    """The upload as a buyer receives it, and its format: the same image, shown the same way
    (its EXIF orientation, and nothing else of its EXIF, is written back), without metadata.
    Checked: what comes out decodes to the size that went in."""
    fmt = "JPEG" if source_format == "MPO" else source_format  # a JPEG with more pictures after it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            orientation = _orientation_exif(data)
            if fmt == "JPEG":
                cleaned = _clean_jpeg(data, orientation)
            elif fmt == "PNG":
                cleaned = _clean_png(data, orientation)
            elif fmt == "WEBP":
                cleaned = _clean_webp(data, orientation)
            else:
                cleaned = _reencoded(data, fmt)
            _check_same_image(data, cleaned)
    except Rejected:
        raise
    except Exception as error:  # a structure we cannot walk is a file we will not sell
        raise Rejected(f"the {fmt} file's structure is broken ({type(error).__name__}: {error})") from None
    return cleaned, fmt


def _orientation_exif(data: bytes) -> bytes | None:
    """EXIF (TIFF bytes, no 'Exif' header) holding the source's orientation only; None if upright."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        orientation = image.getexif().get(ORIENTATION, 1)
    if orientation == 1 or not isinstance(orientation, int) or not 1 <= orientation <= 8:
        return None
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif.tobytes().removeprefix(b"Exif\x00\x00")


def _check_same_image(source: bytes, cleaned: bytes) -> None:
    from PIL import Image

    def shown(image) -> tuple[int, int]:  # as displayed: orientations 5-8 turn it by 90 degrees
        width, height = image.size
        return (height, width) if image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8) else (width, height)

    with Image.open(io.BytesIO(source)) as before, Image.open(io.BytesIO(cleaned)) as after:
        if shown(after) != shown(before):
            raise Rejected("the file does not survive the removal of its metadata")
        after.draft(after.mode, (64, 64))  # JPEG: decode small; the others in full, as sold
        after.load()


def _clean_jpeg(data: bytes, orientation: bytes | None) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("no start of image")
    out, i = bytearray(data[:2]), 2
    pending = orientation  # written back after APP0, before anything else
    while True:
        if data[i] != 0xFF:
            raise ValueError(f"no marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if pending is not None and marker != 0xE0:
            exif = b"Exif\x00\x00" + pending
            out += b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
            pending = None
        if marker == 0xD9:  # end of image: nothing after it (MPF's second picture, trailers)
            return bytes(out + b"\xff\xd9")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out += data[i:i + 2]
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segment = data[i:i + 2 + length]
        kept_prefix = _JPEG_KEPT_APPS.get(marker)
        metadata = (0xE1 <= marker <= 0xEF or marker == 0xFE) and not (
            kept_prefix and segment[4:].startswith(kept_prefix))
        if not metadata:
            out += segment
        i += 2 + length
        if marker == 0xDA:  # a scan's entropy-coded data, up to the next marker (0xFF00: a data byte)
            end = i
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0x00 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
            out += data[i:end]
            i = end


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _clean_png(data: bytes, orientation: bytes | None) -> bytes:
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError("no PNG signature")
    out, i = bytearray(data[:8]), 8
    while i < len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind in _PNG_KEPT:
            out += data[i:i + 12 + length]
        if kind == b"IHDR" and orientation is not None:
            out += _png_chunk(b"eXIf", orientation)
        i += 12 + length
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("no IEND chunk")


def _clean_webp(data: bytes, orientation: bytes | None) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    end = 8 + struct.unpack("<I", data[4:8])[0]
    body, i = bytearray(), 12
    has_vp8x = data[12:16] == b"VP8X"
    while i < end:
        kind, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if size > end - i - 8:
            raise ValueError(f"the {kind!r} chunk runs past the file")
        chunk = bytearray(data[i:i + 8 + size + (size & 1)])
        if kind == b"VP8X":  # which optional chunks follow: EXIF only if an orientation does
            chunk[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
            chunk[8] |= _VP8X_EXIF if orientation is not None else 0
        if kind in _WEBP_KEPT:
            body += chunk
        i += 8 + size + (size & 1)
    if orientation is not None and has_vp8x:  # the EXIF chunk comes after the image data
        body += b"EXIF" + struct.pack("<I", len(orientation)) + orientation + b"\x00" * (len(orientation) & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + bytes(body)


def _reencoded(data: bytes, source_format: str) -> bytes:
    """Formats whose metadata cannot be cut out (AVIF keeps it in item tables): decoded,
    turned upright, and written again at full quality with only the colour profile."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=(source_format,)) as opened:
        image = ImageOps.exif_transpose(opened)
        icc = opened.info.get("icc_profile")
    image.info = {}
    out = io.BytesIO()
    image.save(out, format=source_format, quality=100, subsampling="4:4:4",
               **({"icc_profile": icc} if icc else {}))
    return out.getvalue()
