"""``seagull assess`` end to end on a saved tiny model."""

import json

import numpy as np
import pytest
from PIL import Image

from seagull_cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    from seagull.model import SeagullModel

    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model")
    SeagullModel.from_preset("tiny").save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def _rle_file(path, mask):
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    path.write_text(json.dumps({"size": list(rle["size"]), "counts": rle["counts"].decode()}))
    return path


def test_assess_with_an_rle_mask_prints_the_assessment(model_dir, image_file, tmp_path, capsys):
    mask = np.zeros((48, 64), bool)
    mask[5:30, 10:40] = True
    rle = _rle_file(tmp_path / "mask.json", mask)
    code = main(["assess", str(image_file), "--mask", str(rle), "--model", str(model_dir),
                 "--tasks", "quality,importance"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"quality", "importance", "text"}
    assert 0 <= result["quality"]["score"] <= 1
    assert sum(result["quality"]["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    # Same answer as the library gives directly.
    from seagull.model import SeagullModel, SeagullPredictor

    p = SeagullPredictor(SeagullModel.from_pretrained(model_dir))
    p.set_image(np.asarray(Image.open(image_file).convert("RGB")))
    direct = p.assess(mask, tasks=("quality",))
    assert result["quality"]["score"] == pytest.approx(direct["quality"]["score"], abs=1e-6)


def test_assess_takes_a_training_run_folder_for_its_model(model_dir, image_file, tmp_path,
                                                          capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(model_dir, run / "model")
    mask = _rle_file(tmp_path / "m.json", np.ones((48, 64), bool))
    args = ["assess", str(image_file), "--mask", str(mask), "--tasks", "quality", "--model"]
    assert main([*args, str(model_dir)]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert main([*args, str(run)]) == 0
    assert json.loads(capsys.readouterr().out) == direct


def test_assess_errors_are_one_line_and_exit_2(model_dir, image_file, tmp_path, capsys):
    empty = _rle_file(tmp_path / "empty.json", np.zeros((48, 64), bool))
    assert main(["assess", str(image_file), "--mask", str(empty), "--model",
                 str(model_dir)]) == 2
    assert "selects no pixel" in capsys.readouterr().err
    wrong = _rle_file(tmp_path / "wrong.json", np.ones((10, 10), bool))
    assert main(["assess", str(image_file), "--mask", str(wrong), "--model",
                 str(model_dir)]) == 2
    assert "10×10" in capsys.readouterr().err
    ok = _rle_file(tmp_path / "ok.json", np.ones((48, 64), bool))
    assert main(["assess", str(image_file), "--mask", str(ok)]) == 2
    assert "--model" in capsys.readouterr().err
    not_image = tmp_path / "x.png"
    not_image.write_text("hello")
    assert main(["assess", str(not_image), "--mask", str(ok), "--model", str(model_dir)]) == 2
    assert f"{not_image}: not an image" in capsys.readouterr().err
    missing = tmp_path / "missing.png"
    assert main(["assess", str(missing), "--mask", str(ok), "--model", str(model_dir)]) == 2
    assert f"{missing}: no such image file" in capsys.readouterr().err
    assert main(["assess", str(image_file), "--mask", str(ok), "--model", str(model_dir),
                 "--tasks", "beauty"]) == 2
    short = tmp_path / "short.json"  # runs that do not cover the image: refused, not padded
    short.write_text(json.dumps({"size": [48, 64], "counts": [10, 20]}))
    assert main(["assess", str(image_file), "--mask", str(short), "--model",
                 str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{short}: RLE: uncompressed counts sum to 30" in err
    assert main(["assess", str(image_file), "--mask", str(tmp_path), "--model",
                 str(model_dir)]) == 2
    assert f"{tmp_path}: cannot read the mask" in capsys.readouterr().err
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    assert main(["assess", str(tiny), "--mask", str(ok), "--model", str(model_dir)]) == 2
    assert f"{tiny}: 1×1 is too small" in capsys.readouterr().err


@pytest.mark.parametrize("prompt", [["--point", "20,15"], ["--box", "5,5,40,30"]])
def test_assess_with_a_point_or_box_segments_first(model_dir, image_file, prompt, capsys):
    code = main(["assess", str(image_file), *prompt, "--model", str(model_dir),
                 "--tasks", "quality"])
    assert code == 0
    assert 0 <= json.loads(capsys.readouterr().out)["quality"]["score"] <= 1
