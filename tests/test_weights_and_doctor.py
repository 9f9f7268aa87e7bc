"""Weights lookup and ``seagull doctor``: fallbacks when nothing is configured, files found
where the configuration says, and a broken configuration reported as broken."""

from __future__ import annotations

import pytest

from seagull import weights
from seagull.errors import ConfigError, WeightsNotFoundError
from seagull_cli import main


def test_nothing_configured_means_fallback(caplog):
    for name in weights.COMPONENTS:
        assert weights.locate(name).found is False
    with caplog.at_level("WARNING"):
        assert weights.resolve("sam") is None
    assert "fallback" in caplog.text
    with pytest.raises(WeightsNotFoundError, match="--strict"):
        weights.resolve("sam", strict=True)


def test_env_config_and_folder_are_found(tmp_path, monkeypatch):
    sam = tmp_path / "my_sam.pth"
    sam.write_bytes(b"weights")
    monkeypatch.setenv("SEAGULL_SAM_WEIGHTS", str(sam))
    assert weights.locate("sam") == weights.WeightsLocation("sam", sam, "env")

    topiq = tmp_path / "topiq.pth"
    topiq.write_bytes(b"weights")
    config = tmp_path / "config.yaml"
    config.write_text(f"weights:\n  topiq_fr: {topiq}\n")
    monkeypatch.setenv("SEAGULL_CONFIG", str(config))
    assert weights.locate("topiq_fr").path == topiq
    assert weights.locate("topiq_fr").source == "config"

    folder = tmp_path / "weights"
    (folder / "vicuna-7b-v1.5").mkdir(parents=True)
    (folder / "convnext_large_d_320.safetensors").write_bytes(b"w")
    monkeypatch.setenv("SEAGULL_WEIGHTS_DIR", str(folder))
    assert weights.locate("llm").path == folder / "vicuna-7b-v1.5"
    assert weights.locate("encoder").path == folder / "convnext_large_d_320.safetensors"
    assert weights.locate("detector").found is False


def test_explicit_but_missing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAGULL_SAM_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsNotFoundError, match="missing.pth"):
        weights.locate("sam")
    with pytest.raises(WeightsNotFoundError):
        weights.resolve("topiq_fr", explicit=tmp_path / "nope.pth")


def test_bad_config_file(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("weights:\n  sammy: /x\n")
    monkeypatch.setenv("SEAGULL_CONFIG", str(config))
    with pytest.raises(ConfigError, match="sammy"):
        weights.locate("sam")


def test_file_sha256_of_file_and_folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"abc")
    import hashlib

    assert weights.file_sha256(tmp_path / "d" / "a") == hashlib.sha256(b"abc").hexdigest()
    first = weights.file_sha256(tmp_path / "d")
    (tmp_path / "d" / "a").write_bytes(b"abd")
    assert weights.file_sha256(tmp_path / "d") != first


def test_doctor_reports_fallbacks(capsys):
    assert main(["doctor", "--no-ray"]) == 0
    out = capsys.readouterr().out
    for name in weights.COMPONENTS:
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert "fallback:" in line
    assert "ready" in out


def test_doctor_finds_placed_weights_and_flags_broken_ones(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "sam_vit_b_01ec64.pth").write_bytes(b"w")
    monkeypatch.setenv("SEAGULL_WEIGHTS_DIR", str(folder))
    assert main(["doctor", "--no-ray"]) == 0
    out = capsys.readouterr().out
    sam_line = next(line for line in out.splitlines() if line.strip().startswith("sam "))
    assert "found" in sam_line and "sam_vit_b_01ec64.pth" in sam_line

    monkeypatch.setenv("SEAGULL_LLM_WEIGHTS", str(tmp_path / "no-such-llm"))
    assert main(["doctor", "--no-ray"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "no-such-llm" in out


@pytest.mark.slow
def test_doctor_starts_ray(capsys):
    assert main(["doctor"]) == 0
    assert "local start        ok" in capsys.readouterr().out
