"""``seagull build-100w`` argument errors: one line, exit 2, before Ray or any model starts."""

from __future__ import annotations

import pytest

from seagull_cli import main as seagull


@pytest.mark.parametrize("args, message", [
    (["--raw-dir", "{tmp}/nowhere"], "no such file or folder"),
    (["--raw-dir", "{tmp}", "--types", "noise,fog"], "unknown distortion type(s) ['fog']"),
    (["--raw-dir", "{tmp}", "--levels", "0,20"], "levels must be in 0…19"),
    (["--raw-dir", "{tmp}", "--test-fraction", "1.5"], "outside [0, 1]"),
    (["--raw-dir", "{tmp}", "--cpus-per-actor", "0"], "--cpus-per-actor must be positive"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    (tmp_path / "a.dng").write_bytes(b"x")
    argv = ["build-100w", "--out", str(tmp_path / "out"), "--no-progress"]
    argv += [a.format(tmp=tmp_path) for a in args]
    assert seagull(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
