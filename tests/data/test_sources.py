"""Finding RAW sources: folders (recursive, case-insensitive), globs, list files, URIs."""

from __future__ import annotations

import hashlib
from dataclasses import replace

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
    assert [s.name for s in good] == ["a/TWO.NEF", "a/b/three.Cr2", "four.arw", "one.dng"]
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
    assert bad[1].message == "missing.dng: listed in sources.txt but does not exist"
    assert bad[1].row()["source"] == f"{tree}/missing.dng"
    assert [s.name for s in good] == ["a/TWO.NEF", "one.dng"]


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
    assert bad[1].message == (f"gone.dng: a symbolic link to {tree}/moved-away.dng, "
                              "which does not exist")
    assert bad[0].message == "a/b/pipe.nef: not a regular file"
    globbed, bad_globbed = discover_sources(str(tree / "*.dng"))
    assert [b.location for b in bad_globbed] == [str(tree / "gone.dng")]
    assert [s.location for s in globbed] == [str(tree / "alive.dng"), str(tree / "one.dng")]


def test_a_folder_of_nothing_but_dangling_links_is_still_a_build_of_bad_sources(tmp_path):
    (tmp_path / "x.dng").symlink_to(tmp_path / "y.dng")
    good, bad = discover_sources(str(tmp_path))
    assert good == [] and [b.location for b in bad] == [str(tmp_path / "x.dng")]


def _hashed(spec, known=None):
    from seagull.data.sources import hash_sources

    good, bad = discover_sources(spec)
    more_good, duplicates = hash_sources(good, known)
    return more_good, bad + duplicates


def test_ids_follow_the_bytes_not_the_folder(tmp_path):
    import shutil

    for folder in ("one", "two"):
        (tmp_path / folder / "sub").mkdir(parents=True)
    (tmp_path / "one" / "a.dng").write_bytes(b"first photo")
    (tmp_path / "one" / "sub" / "b.nef").write_bytes(b"second photo")
    shutil.copytree(tmp_path / "one", tmp_path / "moved")
    here, _ = _hashed(str(tmp_path / "one"))
    there, _ = _hashed(f"file://{tmp_path}/moved")
    assert [(s.name, s.source_id) for s in here] == [(s.name, s.source_id) for s in there]
    assert here[0].sha256 == hashlib.sha256(b"first photo").hexdigest()
    assert here[0].location != there[0].location
    (tmp_path / "moved" / "a.dng").write_bytes(b"first photo, edited")
    changed, _ = _hashed(str(tmp_path / "moved"))
    assert changed[0].source_id != here[0].source_id and changed[1] == replace(
        there[1], location=changed[1].location)


def test_a_second_file_with_the_same_bytes_is_a_bad_source_naming_the_first(tmp_path):
    (tmp_path / "a.dng").write_bytes(b"photo")
    (tmp_path / "copy of a.dng").write_bytes(b"photo")
    (tmp_path / "b.dng").write_bytes(b"other")
    good, bad = _hashed(str(tmp_path))
    assert [s.name for s in good] == ["a.dng", "b.dng"]
    assert [(b.location, b.stage, b.error) for b in bad] == [
        (str(tmp_path / "copy of a.dng"), "discover", "DuplicateSource")]
    assert bad[0].message.startswith("copy of a.dng: the same bytes as a.dng (sha256 ")
    assert bad[0].source_id not in {s.source_id for s in good}  # its own errors shard


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    from seagull.data import sources

    (tmp_path / "a.dng").write_bytes(b"photo a")
    (tmp_path / "b.dng").write_bytes(b"photo b")
    first, _ = _hashed(str(tmp_path))
    known = {s.location: s.record() for s in first}
    read = []
    real = sources.file_sha256
    monkeypatch.setattr(sources, "file_sha256", lambda loc: read.append(loc) or real(loc))
    again, _ = _hashed(str(tmp_path), known)
    assert again == first and read == []
    import os

    os.utime(tmp_path / "b.dng", ns=(1, 1))  # touched: read again, same bytes, same id
    again, _ = _hashed(str(tmp_path), known)
    assert read == [str(tmp_path / "b.dng")] and again[1].source_id == first[1].source_id
