"""One image conversion for the command line, the service and the Python API: orientation,
bit depth, alpha, and errors that name the file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from seagull.errors import ImageDecodeError
from seagull.image_io import read_image, to_rgb8
from serve.images import decode_image


def _rgb(h=24, w=32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], -1).astype(np.uint8)
    image[2:6, 20:28] = (250, 10, 10)  # a red patch near the top right
    return image


def _save(path, image: Image.Image, **kwargs):
    image.save(path, **kwargs)
    return path


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    values = (np.arange(32 * 24).reshape(24, 32) * 85).astype(np.uint16)  # 0 … 65195
    path = _save(tmp_path / "g16.png", Image.fromarray(values))
    assert Image.open(path).mode.startswith("I")
    out = read_image(path)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], np.rint(values / 257).astype(np.uint8))
    assert (out[..., 0] == out[..., 2]).all()
    assert (out == 255).mean() < 0.01  # Pillow's own conversion made almost all of it white


def test_float_images_read_as_zero_to_one_or_zero_to_255(tmp_path):
    unit = np.linspace(0, 1, 24 * 32, dtype=np.float32).reshape(24, 32)
    out = to_rgb8(Image.fromarray(unit, mode="F"))
    np.testing.assert_array_equal(out[..., 1], np.rint(unit * 255).astype(np.uint8))
    wide = unit * 200
    wide[0, 0] = np.nan
    out = to_rgb8(Image.fromarray(wide, mode="F"))
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 200


def test_exif_orientation_is_applied_as_viewers_show_it(tmp_path):
    image = _rgb()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = _save(tmp_path / "o6.jpg", Image.fromarray(image), exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == (32, 24, 3)
    shown = np.rot90(image, k=-1)  # what a viewer displays
    assert np.abs(out.astype(int) - shown.astype(int)).mean() < 4
    red = np.argwhere((out[..., 0] > 200) & (out[..., 1] < 60))
    # The patch at the top right of the stored image is at the bottom right of the shown one.
    assert red[:, 0].mean() > 16 and red[:, 1].mean() > 12


def test_alpha_is_dropped_and_the_stored_colours_kept(tmp_path):
    image = _rgb()
    alpha = np.zeros(image.shape[:2], np.uint8)
    alpha[:, 16:] = 255
    path = _save(tmp_path / "a.png", Image.fromarray(np.dstack([image, alpha])))
    np.testing.assert_array_equal(read_image(path), image)


@pytest.mark.parametrize("make", ["g16", "float", "rgba", "exif", "palette", "cmyk", "grey"])
def test_the_service_decodes_uploads_to_the_same_pixels_as_the_command_line(tmp_path, make):
    image = _rgb()
    exif = Image.Exif()
    exif[0x0112] = 8
    files = {
        "g16": lambda p: _save(p.with_suffix(".png"), Image.fromarray(
            image[..., 0].astype(np.uint16) * 200)),
        "float": lambda p: _save(p.with_suffix(".tiff"), Image.fromarray(
            image[..., 1].astype(np.float32) / 255, mode="F")),
        "rgba": lambda p: _save(p.with_suffix(".png"), Image.fromarray(image).convert("RGBA")),
        "exif": lambda p: _save(p.with_suffix(".jpg"), Image.fromarray(image), exif=exif),
        "palette": lambda p: _save(p.with_suffix(".png"), Image.fromarray(image).convert("P")),
        "cmyk": lambda p: _save(p.with_suffix(".jpg"), Image.fromarray(image).convert("CMYK")),
        "grey": lambda p: _save(p.with_suffix(".png"), Image.fromarray(image).convert("L")),
    }
    path = files[make](tmp_path / make)
    served = decode_image(path.read_bytes(), max_bytes=10**8, max_pixels=10**8)
    np.testing.assert_array_equal(served, read_image(path))


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    cut = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.fromarray(_rgb(240, 320)).save(buf, format="JPEG")
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    cases = {tmp_path: "a folder, not an image file", tmp_path / "none.png": "no such image file",
             text: "not an image", cut: "not a decodable image (OSError)"}
    for path, message in cases.items():
        with pytest.raises(ImageDecodeError) as err:
            read_image(path)
        assert str(err.value) == f"{path}: {message}"
