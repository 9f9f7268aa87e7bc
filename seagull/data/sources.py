"""Finding the RAW sources of a build: a folder, a glob, a list file, or one file; any of them
local or on a pyarrow filesystem URI (s3://, gs://, file://).

- A folder: every file under it, recursively, whose extension names a RAW format libraw reads
  (case-insensitive). Other files are not sources and are skipped.
- A glob (``*``, ``?`` or ``[`` in the last parts): the matching files, whatever their extension.
- A list file (``.txt``, ``.lst`` or ``.list``): one source per line (blank lines and ``#``
  comments skipped); relative entries are relative to the list file's folder.
- Any other file: itself.

Ids are content-addressed (``hash_sources``): a source's id is the SHA-256 of its bytes, so the
same RAWs in another folder or bucket build the same rows, and each source keeps a ``name``, its
path relative to what found it (the folder, the list file's folder, the pattern's fixed part),
which the split groups follow for the same reason. Two files with the same bytes are one source:
the second is a bad source naming the first.

Sources that cannot be found (a list entry that does not exist, a symbolic link with a RAW name
whose target is gone, a RAW name on something that is not a regular file) come back as bad
sources, one ``errors`` row each: every file discovery finds is built or reported; files that have a RAW name but do not decode are found later, by the
renderer. Sources are returned sorted by location, so ``max_sources`` picks the same ones on
every run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import posixpath
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow.fs as pafs

from seagull.data.ids import duplicate_source_id, source_id, unread_source_id
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
HASH_CHUNK = 8 << 20  # bytes read at a time while hashing
HASH_THREADS = 8  # files hashed at once (reads overlap; hashlib releases the GIL)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One input RAW: its location as discovery found it (a link's own path), its name relative
    to what found it, and, once ``hash_sources`` has read it, the SHA-256 of its bytes."""

    location: str  # a local path or a URI; what the images and errors tables show
    size: int | None
    name: str = ""  # relative to the folder, list or pattern (split groups follow it)
    mtime_ns: int | None = None
    sha256: str | None = None

    @property
    def source_id(self) -> str:
        if self.sha256 is None:
            raise ValueError(f"{self.location}: not hashed yet (hash_sources)")
        return source_id(self.sha256)

    def record(self) -> dict:
        """What the manifest keeps of it (``hash_sources`` reuses the hash while the size and
        modification time stay the same)."""
        return {"source_id": self.source_id, "sha256": self.sha256, "size": self.size,
                "mtime_ns": self.mtime_ns}


@dataclass(frozen=True)
class BadSource:
    location: str
    stage: str
    error: str
    message: str
    name: str = ""
    sha256: str | None = None  # a duplicate's content (the first source of it holds its id)

    @property
    def source_id(self) -> str:
        if self.sha256 is not None:
            return duplicate_source_id(self.name, self.sha256)
        return unread_source_id(self.name or self.location)

    def record(self) -> dict:
        return {"source_id": self.source_id, "error": self.error}

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


def _relative(path: str, base: str) -> str:
    """``path`` relative to the folder ``base`` (POSIX separators); its file name when it is not
    under ``base``."""
    base = base.rstrip("/")
    if base and path.startswith(base + "/"):
        return path[len(base) + 1:]
    return posixpath.basename(path)


def _walk(fs: pafs.FileSystem, folder: str) -> list[pafs.FileInfo]:
    return fs.get_file_info(pafs.FileSelector(folder, recursive=True))


def _not_files(spec: str, fs: pafs.FileSystem, infos: list[pafs.FileInfo], base: str,
               wanted) -> list[BadSource]:
    """Bad sources among what a listing of ``base`` found: entries ``wanted`` by name that are
    not regular files (a FIFO, a device) and, on a local disk, symbolic links whose target does
    not exist (the listing leaves those out altogether, so the folder is walked once more)."""
    bad = [BadSource(_location(spec, i.path), "discover", "OSError",
                     f"{_relative(i.path, base)}: not a regular file", _relative(i.path, base))
           for i in infos if i.type not in (pafs.FileType.File, pafs.FileType.Directory)
           and wanted(i.path)]
    if isinstance(fs, pafs.LocalFileSystem):
        for folder, _, names in os.walk(base):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.islink(path) and not os.path.exists(path) and wanted(path):
                    rel = _relative(path, base)
                    bad.append(BadSource(_location(spec, path), "discover", "FileNotFoundError",
                                         f"{rel}: a symbolic link to {os.readlink(path)}, "
                                         "which does not exist", rel))
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

    good = [Source(_location(spec, i.path), i.size, _relative(i.path, base), i.mtime_ns)
            for i in infos if i.type == pafs.FileType.File and wanted(i.path)]
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
            good = [Source(_location(spec, i.path), i.size, _relative(i.path, path), i.mtime_ns)
                    for i in infos if i.type == pafs.FileType.File and wanted(i.path)]
            bad = _not_files(spec, fs, infos, path, wanted)
            if not good and not bad:
                raise InvalidArgumentError(f"{spec}: the folder holds no RAW file "
                                           f"(extensions {', '.join(sorted(RAW_EXTENSIONS))})")
        elif info.type == pafs.FileType.File:
            if posixpath.splitext(path)[1].lower() in LIST_EXTENSIONS:
                good, bad = _read_list(spec, fs, path)
            else:
                good = [Source(spec, info.size, posixpath.basename(path), info.mtime_ns)]
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
    base_path = path.rsplit("/", 1)[0] if "/" in path else ""
    good, bad, seen = [], [], set()
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#") or entry in seen:
            continue
        seen.add(entry)
        relative = not ("://" in entry or entry.startswith("/"))
        location = f"{base_spec}/{entry}" if relative else entry
        name = posixpath.normpath(entry) if relative else None
        try:
            efs, epath = resolve_filesystem(location)
            info = efs.get_file_info(epath)
        except OSError as exc:
            bad.append(BadSource(location, "discover", type(exc).__name__, str(exc),
                                 name or posixpath.basename(location)))
            continue
        name = name or _relative(epath, base_path)
        if info.type != pafs.FileType.File:
            what = "is a folder" if info.type == pafs.FileType.Directory else "does not exist"
            bad.append(BadSource(location, "discover", "FileNotFoundError",
                                 f"{name}: listed in {posixpath.basename(path)} but {what}",
                                 name))
            continue
        good.append(Source(location, info.size, name, info.mtime_ns))
    return good, bad


def file_sha256(location: str) -> str:
    """SHA-256 (hex) of a source's bytes, read in chunks (local path or URI)."""
    fs, path = resolve_filesystem(location)
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_sources(sources: list[Source], known: dict[str, dict] | None = None,
                 progress: Callable[[int, int], None] | None = None
                 ) -> tuple[list[Source], list[BadSource]]:
    """Content ids for ``sources`` (in their order): each file's SHA-256, read once, or taken
    from ``known`` (a manifest's ``sources`` records by location) while its size and
    modification time are what they were. A file with the same bytes as an earlier one is
    returned as a bad source naming it; one that cannot be read, as a bad source saying why.
    ``progress(done, total)`` is called as files are hashed."""
    known = known or {}

    def cached(s: Source) -> str | None:
        rec = known.get(s.location)
        if rec and rec.get("sha256") and rec.get("size") == s.size \
                and s.mtime_ns is not None and rec.get("mtime_ns") == s.mtime_ns:
            return rec["sha256"]
        return None

    digests: dict[str, str | OSError] = {s.location: d for s in sources
                                         if (d := cached(s)) is not None}
    todo = [s for s in sources if s.location not in digests]

    def one(s: Source) -> tuple[str, str | OSError]:
        try:
            return s.location, file_sha256(s.location)
        except OSError as exc:
            return s.location, exc

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        for k, (location, digest) in enumerate(pool.map(one, todo), 1):
            digests[location] = digest
            if progress is not None:
                progress(k, len(todo))
    if todo:
        log.info("hashed %d source files (%.1f GB) in %.1f s; %d unchanged ones from the "
                 "manifest", len(todo), sum(s.size or 0 for s in todo) / 1e9,
                 time.monotonic() - started, len(sources) - len(todo))
    good, bad, first = [], [], {}
    for s in sources:
        digest = digests[s.location]
        if isinstance(digest, OSError):
            bad.append(BadSource(s.location, "discover", type(digest).__name__,
                                 f"{s.name}: cannot be read ({digest.strerror or digest})",
                                 s.name))
        elif digest in first:
            bad.append(BadSource(s.location, "discover", "DuplicateSource",
                                 f"{s.name}: the same bytes as {first[digest].name} "
                                 f"(sha256 {digest[:12]}…); built once, as that one",
                                 s.name, digest))
        else:
            first[digest] = s
            good.append(replace(s, sha256=digest))
    return good, bad


def read_source_bytes(location: str) -> bytes:
    """All bytes of a source (local path or URI)."""
    fs, path = resolve_filesystem(location)
    with fs.open_input_stream(path) as fh:
        return fh.read()
