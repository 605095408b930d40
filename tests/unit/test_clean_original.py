"""The original a buyer receives: the same image, none of its metadata (issue 22, finding 5)."""
import io

import pytest
from PIL import Image

from shared.media.images import Rejected, clean_original

GPS = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}


def _photo(fmt: str, **extra) -> tuple[bytes, Image.Image]:
    image = Image.new("RGB", (64, 48))
    for x in range(64):
        image.putpixel((x, x % 48), (x * 4, 255 - x * 4, 128))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = GPS  # GPSInfo
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), **extra)
    return out.getvalue(), image


def _reopened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(("fmt", "extra"), [
    ("JPEG", {"quality": 90, "comment": b"shot at home"}),
    ("PNG", {"pnginfo": None}),
    ("WEBP", {"lossless": True, "xmp": b"<x:xmpmeta>Author: Ada</x:xmpmeta>"}),
    ("AVIF", {"quality": 90}),
])
def test_metadata_goes_pixels_stay(fmt, extra):
    from PIL import PngImagePlugin

    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Location", "48.85N 2.29E")
        extra = {"pnginfo": info}
    data, _ = _photo(fmt, **extra)
    assert b"SecretCam" in data or fmt == "AVIF"  # the camera's name is in the upload
    cleaned = clean_original(data, fmt)
    reopened = _reopened(cleaned)
    assert reopened.format == fmt and reopened.size == (64, 48)
    assert not reopened.getexif() and b"SecretCam" not in cleaned and b"Ada" not in cleaned
    assert b"48.85N" not in cleaned and b"shot at home" not in cleaned
    if fmt in ("JPEG", "PNG", "WEBP"):  # the image data itself, untouched
        assert reopened.convert("RGB").tobytes() == _reopened(data).convert("RGB").tobytes()


def test_a_jpeg_keeps_its_colour_profile_and_loses_what_follows_its_end():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data, _ = _photo("JPEG", icc_profile=profile)
    trailer = _photo("JPEG")[0]  # a second picture after the end of image, EXIF and all (as MPF has)
    cleaned = clean_original(data + trailer, "JPEG")
    assert _reopened(cleaned).info.get("icc_profile") == profile
    assert cleaned.endswith(b"\xff\xd9") and b"SecretCam" not in cleaned


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_broken_structure_is_a_rejection(fmt):
    data, _ = _photo(fmt)
    with pytest.raises(Rejected):
        clean_original(data[: len(data) // 3] if fmt != "JPEG" else data[:2] + b"\x00" + data[3:], fmt)
