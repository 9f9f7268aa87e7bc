"""Finding RAW sources: folders (recursive, case-insensitive), globs, list files, URIs."""

from __future__ import annotations

import pytest

from seagull.data.sources import discover_sources
from seagull.errors import InvalidArgumentError


@pytest.fixture()
def tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("one.dng", "a/TWO.NEF", "a/b/three.Cr2", "a/notes.txt", "a/photo.jpg",
                 "a/b/.hidden.dng", "four.arw"):
        (tmp_path / name).write_bytes(b"x" * 10)
    return tmp_path


def test_a_folder_gives_every_raw_under_it_sorted(tree):
    good, bad = discover_sources(str(tree))
    assert [s.location for s in good] == [str(tree / n) for n in
                                          ("a/TWO.NEF", "a/b/three.Cr2", "four.arw", "one.dng")]
    assert bad == [] and all(s.size == 10 for s in good)
    assert len({s.source_id for s in good}) == 4
    first_two, _ = discover_sources(str(tree), max_sources=2)
    assert first_two == good[:2]


def test_uri_and_glob(tree):
    good, _ = discover_sources(f"file://{tree}")
    assert good[0].location == f"file://{tree}/a/TWO.NEF"
    globbed, _ = discover_sources(str(tree / "a" / "*"))
    assert [s.location for s in globbed] == [str(tree / "a" / n) for n in
                                             ("TWO.NEF", "notes.txt", "photo.jpg")]
    with pytest.raises(InvalidArgumentError, match="matches no file"):
        discover_sources(str(tree / "zzz*"))


def test_list_file_with_relative_entries_and_missing_ones(tree):
    listing = tree / "sources.txt"
    listing.write_text(f"# RAWs\none.dng\n\n{tree}/a/TWO.NEF\nmissing.dng\na\n")
    good, bad = discover_sources(str(listing))
    assert [s.location for s in good] == [f"{tree}/a/TWO.NEF", f"{tree}/one.dng"]
    assert [(b.location, b.stage, b.error) for b in bad] == [
        (f"{tree}/a", "discover", "FileNotFoundError"),
        (f"{tree}/missing.dng", "discover", "FileNotFoundError")]
    assert "does not exist" in bad[1].message and bad[1].row()["source"] == f"{tree}/missing.dng"


def test_nothing_to_build_is_an_argument_error(tmp_path):
    with pytest.raises(InvalidArgumentError, match="no such file or folder"):
        discover_sources(str(tmp_path / "nope"))
    (tmp_path / "x.txt.bak").write_text("")
    with pytest.raises(InvalidArgumentError, match="holds no RAW"):
        discover_sources(str(tmp_path))
