"""The original a buyer receives: the same image, shown the same way, none of its metadata
(issue 22, finding 5)."""
import io
import struct

import pytest
from PIL import Image, ImageOps

from shared.media.images import Rejected, clean_original, process

GPS = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}


def _photo(fmt: str, orientation: int = 1, **extra) -> bytes:
    image = Image.new("RGB", (64, 48))
    for x in range(64):
        image.putpixel((x, x % 48), (x * 4, 255 - x * 4, 128))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = GPS  # GPSInfo
    if orientation != 1:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), **extra)
    return out.getvalue()


def _opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _clean(data: bytes) -> bytes:
    """As processing does it: the format is the one Pillow reports."""
    cleaned, _ = clean_original(data, process(data, max_pixels=10**8, formats=("webp",)).source_format)
    return cleaned


def _png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "48.85N 2.29E")
    return _photo("PNG", pnginfo=info)


@pytest.mark.parametrize("data", [
    pytest.param(_photo("JPEG", quality=90, comment=b"shot at home"), id="jpeg"),
    pytest.param(_photo("JPEG", quality=90, progressive=True), id="progressive-jpeg"),
    pytest.param(_png_with_text(), id="png"),
    pytest.param(_photo("WEBP", lossless=True, xmp=b"<x:xmpmeta>Author: Ada</x:xmpmeta>"), id="webp"),
    pytest.param(_photo("AVIF", quality=90), id="avif"),
])
def test_metadata_goes_pixels_stay(data):
    assert b"SecretCam" in data  # the camera's name is in the upload
    source = _opened(data)
    cleaned = _clean(data)
    reopened = _opened(cleaned)
    assert reopened.format == source.format and reopened.size == (64, 48)
    assert not reopened.getexif() and b"SecretCam" not in cleaned and b"Ada" not in cleaned
    assert b"48.85N" not in cleaned and b"shot at home" not in cleaned
    if source.format != "AVIF":  # the image data itself, untouched
        assert reopened.convert("RGB").tobytes() == source.convert("RGB").tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "AVIF"])
def test_a_portrait_photo_stays_a_portrait(fmt):
    """The EXIF orientation (a phone held upright) is the one tag written back."""
    data = _photo(fmt, orientation=6, **({"quality": 90} if fmt != "PNG" else {}))
    cleaned = _clean(data)
    assert ImageOps.exif_transpose(_opened(cleaned)).size == ImageOps.exif_transpose(_opened(data)).size == (48, 64)
    assert b"SecretCam" not in cleaned


def test_a_jpeg_keeps_its_colour_profile_and_loses_what_follows_its_end():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _photo("JPEG", icc_profile=profile)
    trailer = _photo("JPEG")  # a second picture after the end of image, EXIF and all (as MPF has)
    cleaned, fmt = clean_original(data + trailer, "MPO")
    assert fmt == "JPEG" and _opened(cleaned).info.get("icc_profile") == profile
    assert cleaned.endswith(b"\xff\xd9") and b"SecretCam" not in cleaned


def test_metadata_between_progressive_scans_goes_too():
    data = _photo("JPEG", quality=90, progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    comment = b"hidden between scans"
    planted = data[:second_scan] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[second_scan:]
    assert _opened(planted).size == (64, 48)
    cleaned, _ = clean_original(planted, "JPEG")
    assert comment not in cleaned and _opened(cleaned).convert("RGB").tobytes() == \
        _opened(data).convert("RGB").tobytes()


def test_unknown_webp_chunks_do_not_survive():
    data = _photo("WEBP", lossless=True, xmp=b"<x/>")  # has VP8X: extra chunks are allowed
    gps = b"GPS " + struct.pack("<I", 8) + b"48N2E..."
    planted = data[:4] + struct.pack("<I", len(data) - 8 + len(gps)) + data[8:] + gps
    cleaned, _ = clean_original(planted, "WEBP")
    assert b"48N2E" not in cleaned and _opened(cleaned).size == (64, 48)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_broken_structure_is_a_rejection(fmt):
    data = _photo(fmt)
    broken = data[: len(data) // 3] if fmt != "JPEG" else data[:2] + b"\x00" + data[3:]
    with pytest.raises(Rejected):
        clean_original(broken, fmt)
