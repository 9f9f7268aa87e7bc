"""``seagull render``: the files it writes and its one-line errors."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from seagull_cli import main


def test_render_writes_images_params_and_contact_sheet(tmp_path, sample_raw):
    out = tmp_path / "out"
    rc = main(["-q", "render", str(sample_raw), "--out", str(out), "--long-side", "128",
               "--types", "noise,compression", "--levels", "0,19", "--seed", "5",
               "--contact-sheet"])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["compression_00.jpg", "compression_19.jpg", "contact_sheet.png",
                     "noise_00.png", "noise_19.png", "params.json", "reference.png"]
    params = json.loads((out / "params.json").read_text())
    assert params["source"] == sample_raw.name and params["seed"] == 5
    width, height = params["render"]["decoded_size"]
    short = round(min(width, height) * 128 / max(width, height))
    assert sorted(params["render"]["size"]) == [short, 128]
    files = [im["file"] for im in params["images"]]
    assert files == ["reference.png", "noise_00.png", "noise_19.png", "compression_00.jpg",
                     "compression_19.jpg"]
    assert params["images"][3]["quality"] == 92 and params["images"][1]["seed"] == 5
    assert (out / "compression_19.jpg").read_bytes()[:2] == b"\xff\xd8"
    ref = np.asarray(Image.open(out / "reference.png"))
    assert ref.shape == (params["render"]["size"][1], params["render"]["size"][0], 3)
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.width > 3 * 128 and sheet.height > 3 * short


def test_a_rerun_into_the_same_folder_leaves_only_what_it_lists(tmp_path, sample_raw):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # never listed by a render: left alone
    base = ["-q", "render", str(sample_raw), "--out", str(out), "--long-side", "64"]
    assert main([*base, "--types", "blur", "--levels", "0,5", "--contact-sheet"]) == 0
    assert main([*base, "--types", "noise", "--levels", "3"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["noise_03.png", "notes.txt", "params.json", "reference.png"]
    listed = [im["file"] for im in json.loads((out / "params.json").read_text())["images"]]
    assert listed == ["reference.png", "noise_03.png"]


def test_bad_raw_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "broken.nef"
    bad.write_bytes(b"not a raw at all" * 10)
    rc = main(["render", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0 and "broken.nef: not a RAW file" in err
    assert not (tmp_path / "o").exists()


def test_bad_level_is_one_line_error(tmp_path, sample_raw, capsys):
    rc = main(["render", str(sample_raw), "--out", str(tmp_path / "o"), "--levels", "3,25"])
    assert rc == 2
    assert "level 25 is not an integer in 0 … 19" in capsys.readouterr().err
