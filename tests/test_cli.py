"""The seagull command line: help, version, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seagull import __version__
from seagull_cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seagull", *args], check=False,
                          capture_output=True, text=True, timeout=300)


def test_help_and_version():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "doctor" in out.stdout and "samples" in out.stdout
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"seagull {__version__}"


def test_help_does_not_import_the_heavy_stack():
    code = ("import sys; from seagull_cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'ray', 'pyiqa', 'transformers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "[]"


def test_samples_make_into_a_file_path_fails_on_one_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    out = run_cli("samples", "make", str(blocker / "out"))
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert str(blocker / "out") in lines[0] and "error" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("seed", ["abc", "-1", str(2**32)])
def test_samples_make_rejects_a_bad_seed(tmp_path, seed, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["samples", "make", str(tmp_path), "--seed", seed])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "seed" in err and seed in err
    assert not any(tmp_path.iterdir()), "nothing written on bad input"


def test_samples_make_unknown_name_is_one_line(tmp_path, capsys):
    assert main(["samples", "make", str(tmp_path), "--only", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nosuch" in err


def test_samples_make_writes_dngs(tmp_path, capsys):
    assert main(["samples", "make", str(tmp_path), "--only", "chelsea"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["chelsea.dng"]
    assert "1/1" in capsys.readouterr().out
