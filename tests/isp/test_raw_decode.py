"""Bad RAW inputs give typed errors naming the file and the reason, before any render."""

from __future__ import annotations

import io

import numpy as np
import pytest

from seagull.errors import RawDecodeError, UnsupportedSensorError
from seagull.isp import render_variants
from seagull.isp.decode import open_raw, source_name


def _linear_dng(path) -> None:
    """A DNG holding demosaiced three-plane data (LinearRaw), not a colour filter mosaic."""
    import tifffile

    planes = np.random.default_rng(0).integers(0, 4000, (32, 48, 3)).astype(np.uint16)
    tifffile.imwrite(path, planes, photometric=34892, planarconfig="contig", extratags=[
        (50706, "B", 4, (1, 4, 0, 0), True),        # DNGVersion
        (50717, "I", 1, 4095, True),                # WhiteLevel
        (50721, "2i", 9, [1, 1, 0, 1, 0, 1] * 3, True),  # ColorMatrix1 (identity)
    ])


def test_zero_byte_file(tmp_path):
    bad = tmp_path / "empty.nef"
    bad.write_bytes(b"")
    with pytest.raises(RawDecodeError, match=r"empty\.nef: .*empty \(zero bytes\)"):
        render_variants(bad)


def test_not_a_raw(tmp_path):
    from PIL import Image

    bad = tmp_path / "photo.cr2"
    Image.new("RGB", (16, 16)).save(bad, "PNG")
    with pytest.raises(RawDecodeError, match=r"photo\.cr2: not a RAW file"):
        render_variants(bad)
    with pytest.raises(RawDecodeError, match="not a RAW file"):
        open_raw(io.BytesIO(b"hello, world" * 50))


def test_truncated_raw(tmp_path, sample_raw):
    data = sample_raw.read_bytes()
    bad = tmp_path / "cut.dng"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawDecodeError, match=r"cut\.dng: truncated or corrupt"):
        render_variants(bad)
    with pytest.raises(RawDecodeError, match="truncated"):
        open_raw(io.BytesIO(data[:100]))


def test_unsupported_layout(tmp_path):
    bad = tmp_path / "linear.dng"
    _linear_dng(bad)
    with pytest.raises(UnsupportedSensorError, match=r"linear\.dng: unsupported sensor layout"):
        render_variants(bad)


def test_missing_file_and_wrong_objects(tmp_path):
    with pytest.raises(RawDecodeError, match=r"nothere\.arw: no such file"):
        render_variants(tmp_path / "nothere.arw")
    with pytest.raises(RawDecodeError, match="no such file"):
        open_raw(str(tmp_path / "nothere.arw"))
    with pytest.raises(RawDecodeError, match="binary mode"):
        open_raw(io.StringIO("text"))
    with pytest.raises(RawDecodeError, match="expected a path or a binary file object"):
        open_raw(12345)


def test_errors_come_before_any_yield(tmp_path):
    """The error is raised by the call itself: a caller never holds a half-rendered RAW."""
    bad = tmp_path / "empty.dng"
    bad.write_bytes(b"")
    raised = False
    try:
        render_variants(bad, types=["noise"], levels=[0])
    except RawDecodeError:
        raised = True
    assert raised


def test_file_object_source(sample_raw):
    with open(sample_raw, "rb") as fh:
        opened = open_raw(fh)
    try:
        assert opened.name == sample_raw.name
        assert opened.size_bytes == sample_raw.stat().st_size
        assert opened.raw.raw_image.ndim == 2
    finally:
        opened.close()
    assert source_name(io.BytesIO(b"")) == "<BytesIO>"


@pytest.mark.parametrize("black, white, message", [
    (5000, 4000, "black level 5000 is not below the white level 4000"),
    (4095, 4095, "black level 4095 is not below the white level 4095"),
    (256, 0, r"white level 0 \(must be above 0\)"),
])
def test_corrupt_sensor_levels_are_decode_errors(tmp_path, black, white, message):
    """libraw opens these (it even replaces a white level of 0 by 65535); rendered, they would
    be images of clipped or negative values labelled as photographs."""
    from seagull.isp.dng import write_dng
    from seagull.isp.inverse import SensorModel

    sensor = SensorModel()
    path = tmp_path / "corrupt.dng"
    mosaic = np.full((32, 48), 1000, np.uint16)

    class Levels:  # the sensor with levels its own model refuses, as the file's tags say them
        cfa, color_matrix, as_shot_neutral = sensor.cfa, sensor.color_matrix, \
            sensor.as_shot_neutral
        black_level, white_level = black, white

    write_dng(path, mosaic, Levels)
    with pytest.raises(RawDecodeError, match=rf"corrupt\.dng: corrupt sensor metadata: {message}"):
        open_raw(path)
    write_dng(path, mosaic, sensor)
    open_raw(path).close()  # the same file with sane levels decodes
