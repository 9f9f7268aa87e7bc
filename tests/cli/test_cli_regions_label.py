from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from seagull.regions import MIN_REGION_AREA, rle
from seagull_cli import main


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from skimage import data, transform

    folder = tmp_path_factory.mktemp("cli-images")
    img = (transform.resize(data.astronaut(), (160, 192), anti_aliasing=True) * 255
           ).astype(np.uint8)
    Image.fromarray(img).save(folder / "ref.png")
    Image.fromarray(img).filter(ImageFilter.GaussianBlur(2)).save(folder / "dist.png")
    Image.fromarray(img).save(folder / "copy.png")
    return folder


def test_regions_then_label(images, tmp_path, capsys):
    out = tmp_path / "regions.json"
    overlay = tmp_path / "overlay.png"
    assert main(["regions", str(images / "ref.png"), "--out", str(out), "--overlay",
                 str(overlay), "--points", "12", "--seed", "1"]) == 0
    assert "using the fallback" in capsys.readouterr().err
    regions = json.loads(out.read_text())
    assert regions
    for entry in regions:
        assert set(entry) == {"segmentation", "bbox", "area", "kind"}
        assert entry["segmentation"]["size"] == [160, 192]
        assert isinstance(entry["segmentation"]["counts"], str)
        assert entry["area"] == rle.area(entry["segmentation"]) >= MIN_REGION_AREA
        assert entry["bbox"] == rle.bbox(entry["segmentation"])
        assert entry["kind"] in ("object", "component")
    meta = json.loads((tmp_path / "regions.meta.json").read_text())
    assert meta["segmenter"]["weights_hash"] == "fallback"
    assert Image.open(overlay).size == (192, 160)

    labels_path = tmp_path / "labels.json"
    assert main(["label", "--reference", str(images / "ref.png"), "--distorted",
                 str(images / "dist.png"), "--regions", str(out), "--distortion", "blur",
                 "--out", str(labels_path)]) == 0
    labels = json.loads(labels_path.read_text())
    assert len(labels) == len(regions)
    for lab in labels:
        assert set(lab) == {"quality", "importance", "importance_pair", "distortions",
                            "with_distortion"}
        assert 0 <= lab["quality"] <= 1
        assert lab["with_distortion"] == bool(lab["distortions"])
        for d in lab["distortions"]:
            assert set(d) == {"type", "severity", "level"} and d["type"] == "blur"
    assert json.loads((tmp_path / "labels.meta.json").read_text())["labeller"]["fallback"]


def test_label_accepts_a_hand_written_regions_file(images, tmp_path):
    mask = np.zeros((160, 192), bool)
    mask[20:100, 30:150] = True
    regions = tmp_path / "mine.json"
    regions.write_text(json.dumps([{"segmentation": rle.encode(mask)}]))
    out = tmp_path / "labels.json"
    assert main(["label", "--reference", str(images / "ref.png"), "--distorted",
                 str(images / "copy.png"), "--regions", str(regions), "--distortion", "noise",
                 "--out", str(out)]) == 0
    (lab,) = json.loads(out.read_text())
    assert lab["quality"] >= 0.92 and lab["distortions"] == [] and lab["importance"] is None


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ('{"a": 1}', "expected a JSON list"),
    ('[{"bbox": [0, 0, 1, 1]}]', "no 'segmentation'"),
    ('[{"segmentation": {"size": [160, 192], "counts": "x"}}]', "region 0"),
    ('[{"segmentation": {"size": [10, 10], "counts": [100]}}]', "region 0"),
])
def test_bad_regions_files_are_one_line_errors(images, tmp_path, capsys, content, message):
    regions = tmp_path / "bad.json"
    regions.write_text(content)
    code = main(["label", "--reference", str(images / "ref.png"), "--distorted",
                 str(images / "dist.png"), "--regions", str(regions), "--distortion", "blur",
                 "--out", str(tmp_path / "labels.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_regions_of_a_non_image_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert main(["regions", str(bad), "--out", str(tmp_path / "r.json")]) == 2
    assert f"{bad}: not an image" in capsys.readouterr().err
