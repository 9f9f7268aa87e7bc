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


def test_dangling_links_and_special_files_with_raw_names_are_bad_sources(tree):
    import os

    (tree / "gone.dng").symlink_to(tree / "moved-away.dng")
    (tree / "a" / "b" / "pipe.nef").parent.mkdir(exist_ok=True)
    os.mkfifo(tree / "a" / "b" / "pipe.nef")
    (tree / "a" / "notes-link.txt").symlink_to(tree / "nowhere.txt")  # not a RAW name: skipped
    (tree / "alive.dng").symlink_to(tree / "one.dng")  # a good link is a source
    good, bad = discover_sources(str(tree))
    assert str(tree / "alive.dng") in [s.location for s in good]
    assert [(b.location, b.stage, b.error) for b in bad] == [
        (str(tree / "a/b/pipe.nef"), "discover", "OSError"),
        (str(tree / "gone.dng"), "discover", "FileNotFoundError")]
    assert bad[1].message == (f"{tree}/gone.dng: a symbolic link to {tree}/moved-away.dng, "
                              "which does not exist")
    assert bad[0].message.endswith("not a regular file")
    globbed, bad_globbed = discover_sources(str(tree / "*.dng"))
    assert [b.location for b in bad_globbed] == [str(tree / "gone.dng")]
    assert [s.location for s in globbed] == [str(tree / "alive.dng"), str(tree / "one.dng")]


def test_a_folder_of_nothing_but_dangling_links_is_still_a_build_of_bad_sources(tmp_path):
    (tmp_path / "x.dng").symlink_to(tmp_path / "y.dng")
    good, bad = discover_sources(str(tmp_path))
    assert good == [] and [b.location for b in bad] == [str(tmp_path / "x.dng")]
