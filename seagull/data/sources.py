"""Finding the RAW sources of a build: a folder, a glob, a list file, or one file; any of them
local or on a pyarrow filesystem URI (s3://, gs://, file://).

- A folder: every file under it, recursively, whose extension names a RAW format libraw reads
  (case-insensitive). Other files are not sources and are skipped.
- A glob (``*``, ``?`` or ``[`` in the last parts): the matching files, whatever their extension.
- A list file (``.txt``, ``.lst`` or ``.list``): one source per line (blank lines and ``#``
  comments skipped); relative entries are relative to the list file's folder.
- Any other file: itself.

Sources that cannot be found (a list entry that does not exist, a symbolic link with a RAW name
whose target is gone, a RAW name on something that is not a regular file) come back as bad
sources, one ``errors`` row each: every file discovery finds is built or reported; files that have a RAW name but do not decode are found later, by the
renderer. Sources are returned sorted by location, so ``max_sources`` picks the same ones on
every run.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from dataclasses import dataclass

import pyarrow.fs as pafs

from seagull.data.ids import source_id
from seagull.data.store import is_hidden, resolve_filesystem
from seagull.errors import InvalidArgumentError

# Extensions of the RAW formats libraw decodes (lower case, with the dot).
RAW_EXTENSIONS: frozenset[str] = frozenset({
    ".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng",
    ".eip", ".erf", ".fff", ".gpr", ".iiq", ".k25", ".kdc", ".mdc", ".mef", ".mos", ".mrw",
    ".nef", ".nrw", ".orf", ".pef", ".ptx", ".raf", ".raw", ".rw2", ".rwl", ".rwz", ".sr2",
    ".srf", ".srw", ".x3f",
})
LIST_EXTENSIONS: frozenset[str] = frozenset({".txt", ".lst", ".list"})
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Source:
    """One input RAW: its location as given (or as listed), and its id."""

    location: str  # a local path or a URI; what errors rows and manifests show
    size: int | None

    @property
    def source_id(self) -> str:
        return source_id(self.location, self.size)


@dataclass(frozen=True)
class BadSource:
    location: str
    stage: str
    error: str
    message: str

    @property
    def source_id(self) -> str:
        return source_id(self.location, None)

    def row(self) -> dict:
        return {"source": self.location, "source_id": self.source_id, "stage": self.stage,
                "error": self.error, "message": self.message}


def is_raw_name(name: str) -> bool:
    return posixpath.splitext(name)[1].lower() in RAW_EXTENSIONS


def _location(spec: str, fs_path: str) -> str:
    """The user-facing location of ``fs_path`` found under ``spec`` (keep the URI scheme)."""
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        return f"{scheme}://{fs_path.lstrip('/')}" if scheme != "file" else f"file://{fs_path}"
    return fs_path


def _walk(fs: pafs.FileSystem, folder: str) -> list[pafs.FileInfo]:
    return fs.get_file_info(pafs.FileSelector(folder, recursive=True))


def _not_files(spec: str, fs: pafs.FileSystem, infos: list[pafs.FileInfo], base: str,
               wanted) -> list[BadSource]:
    """Bad sources among what a listing of ``base`` found: entries ``wanted`` by name that are
    not regular files (a FIFO, a device) and, on a local disk, symbolic links whose target does
    not exist (the listing leaves those out altogether, so the folder is walked once more)."""
    bad = [BadSource(_location(spec, i.path), "discover", "OSError",
                     f"{_location(spec, i.path)}: not a regular file")
           for i in infos if i.type not in (pafs.FileType.File, pafs.FileType.Directory)
           and wanted(i.path)]
    if isinstance(fs, pafs.LocalFileSystem):
        for folder, _, names in os.walk(base):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.islink(path) and not os.path.exists(path) and wanted(path):
                    bad.append(BadSource(_location(spec, path), "discover", "FileNotFoundError",
                                         f"{_location(spec, path)}: a symbolic link to "
                                         f"{os.readlink(path)}, which does not exist"))
    return bad


def _glob(spec: str) -> tuple[list[Source], list[BadSource]]:
    """Files matching a glob: list the deepest folder without glob characters, then match."""
    fs, path = resolve_filesystem(spec)
    parts = path.split("/")
    fixed = []
    for part in parts:
        if any(c in part for c in GLOB_CHARS):
            break
        fixed.append(part)
    base = "/".join(fixed) or "/"
    if fs.get_file_info(base).type != pafs.FileType.Directory:
        return [], []
    recursive = "**" in path or len(fixed) < len(parts) - 1
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=recursive))
    pattern = path.replace("**/", "*")

    def wanted(p: str) -> bool:
        return fnmatch.fnmatchcase(p, pattern) and not is_hidden(posixpath.basename(p))

    good = [Source(_location(spec, i.path), i.size) for i in infos
            if i.type == pafs.FileType.File and wanted(i.path)]
    return good, _not_files(spec, fs, infos, base, wanted)


def discover_sources(spec: str, max_sources: int | None = None
                     ) -> tuple[list[Source], list[BadSource]]:
    """The sources named by ``spec`` (sorted by location) and the bad ones.

    Raises ``InvalidArgumentError`` when ``spec`` names nothing at all (no such folder or file,
    or a glob that matches nothing), since a build of nothing is a mistake, not a bad source.
    """
    if max_sources is not None and max_sources <= 0:
        raise InvalidArgumentError(f"max_sources must be positive, got {max_sources}")
    good: list[Source] = []
    bad: list[BadSource] = []
    tail = spec.rsplit("://", 1)[-1]
    if any(c in tail for c in GLOB_CHARS):
        good, bad = _glob(spec)
        if not good and not bad:
            raise InvalidArgumentError(f"{spec}: the pattern matches no file")
    else:
        fs, path = resolve_filesystem(spec)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            def wanted(p: str) -> bool:
                name = posixpath.basename(p)
                return is_raw_name(name) and not is_hidden(name)

            infos = _walk(fs, path)
            good = [Source(_location(spec, i.path), i.size) for i in infos
                    if i.type == pafs.FileType.File and wanted(i.path)]
            bad = _not_files(spec, fs, infos, path, wanted)
            if not good and not bad:
                raise InvalidArgumentError(f"{spec}: the folder holds no RAW file "
                                           f"(extensions {', '.join(sorted(RAW_EXTENSIONS))})")
        elif info.type == pafs.FileType.File:
            if posixpath.splitext(path)[1].lower() in LIST_EXTENSIONS:
                good, bad = _read_list(spec, fs, path)
            else:
                good = [Source(spec, info.size)]
        else:
            raise InvalidArgumentError(f"{spec}: no such file or folder")
    good.sort(key=lambda s: s.location)
    bad.sort(key=lambda s: s.location)
    if max_sources is not None:
        good = good[:max_sources]
        bad = bad[: max(0, max_sources - len(good))]
    return good, bad


def _read_list(spec: str, fs: pafs.FileSystem, path: str) -> tuple[list[Source], list[BadSource]]:
    with fs.open_input_stream(path) as fh:
        lines = fh.read().decode("utf-8", errors="replace").splitlines()
    base_spec = spec.rsplit("/", 1)[0] if "/" in spec else "."
    good, bad, seen = [], [], set()
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#") or entry in seen:
            continue
        seen.add(entry)
        location = entry if ("://" in entry or entry.startswith("/")) else f"{base_spec}/{entry}"
        try:
            efs, epath = resolve_filesystem(location)
            info = efs.get_file_info(epath)
        except OSError as exc:
            bad.append(BadSource(location, "discover", type(exc).__name__, str(exc)))
            continue
        if info.type != pafs.FileType.File:
            what = "is a folder" if info.type == pafs.FileType.Directory else "does not exist"
            bad.append(BadSource(location, "discover", "FileNotFoundError",
                                 f"{location}: listed in {spec} but {what}"))
            continue
        good.append(Source(location, info.size))
    return good, bad


def read_source_bytes(location: str) -> bytes:
    """All bytes of a source (local path or URI)."""
    fs, path = resolve_filesystem(location)
    with fs.open_input_stream(path) as fh:
        return fh.read()
