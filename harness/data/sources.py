"""Where raw data comes from: an archive or folder the user names, a previous download, or the
data embedded in the package; and `harness download`: the publisher's official URL (resumed,
checked against a pinned sha256) or the Kaggle API.

Archives are extracted into a temporary directory, refusing any member that would land outside
it (absolute paths, ``..``, links) or is larger than :data:`MAX_MEMBER`, since a downloaded
archive is untrusted input; a raw folder's links to files outside it are refused too.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from harness.competition import Competition
from harness.errors import DownloadError, RawDataError
from harness.files import sha256_file
from harness.settings import Settings

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")

#: The largest archive member (or raw file) read or extracted: the biggest real one, CIFAR-10's
#: whole archive, is 170 MB; a larger member is a zip bomb or the wrong file.
MAX_MEMBER = 1 << 30

#: Links that ``raw_directory`` itself made, to an archive the user named: not "outside".
_OWN_LINKS: set[Path] = set()


@contextlib.contextmanager
def raw_directory(
    comp: Competition,
    settings: Settings,
    raw: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Iterator[tuple[Path, str]]:
    """Yield ``(directory holding the raw files, a note on where they came from)``."""
    say = progress or (lambda _msg: None)
    if raw is None:
        downloaded = settings.raw_dir(comp.id)
        if downloaded.is_dir() and any(_raw_files(downloaded)):
            raw = downloaded
        elif comp.embedded_raw is not None:
            yield comp.embedded_raw, "the data embedded in the package"
            return
        else:
            hint = comp.raw_hint or "an archive or folder"
            raise RawDataError(
                f"{comp.id}: no raw data: pass --raw PATH ({hint}) "
                f"or run `harness download {comp.id}`"
            )
    raw = Path(raw).expanduser()
    if not raw.exists():
        raise RawDataError(f"{raw}: no such file or directory")
    if raw.is_dir():
        inside = _raw_files(raw)
        if not (len(inside) == 1 and inside[0].is_file() and is_archive(inside[0])):
            yield raw, str(raw)
            return
        raw = inside[0]  # a folder holding just the download, e.g. Kaggle's titanic.zip
    if not is_archive(raw):
        raise RawDataError(
            f"{raw}: not a folder or an archive ({', '.join(ARCHIVE_SUFFIXES)})"
            + (f"; expected {comp.raw_hint}" if comp.raw_hint else "")
        )
    if not comp.extract_raw:  # the competition streams the archive itself (walk_raw)
        with tempfile.TemporaryDirectory(
            prefix=f"{comp.id}-{os.getpid()}-raw-", dir=_scratch(settings)
        ) as tmp:
            link = Path(tmp) / raw.name
            link.symlink_to(raw.resolve())
            _OWN_LINKS.add(link)
            try:
                yield Path(tmp), str(raw)
            finally:
                _OWN_LINKS.discard(link)
        return
    with tempfile.TemporaryDirectory(
        prefix=f"{comp.id}-{os.getpid()}-raw-", dir=_scratch(settings)
    ) as tmp:
        say(f"extracting {raw.name}")
        extract(raw, Path(tmp))
        yield Path(tmp), str(raw)


def _raw_files(folder: Path) -> list[Path]:
    """What a raw folder holds, less hidden files and unfinished downloads."""
    return [p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix != ".part"]


def is_archive(path: Path | PurePosixPath) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def extract(archive: Path, dest: Path) -> None:
    """Extract a zip or tar archive into ``dest``, refusing members that would escape it."""
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member(archive, info.filename, dest)
                    _check_size(archive, info.filename, info.file_size)
                zf.extractall(dest)  # zipfile stops each member at its declared size
        else:
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _check_member(archive, member.name, dest)
                    _check_size(archive, member.name, member.size)
                    if member.issym() or member.islnk() or member.isdev():
                        raise RawDataError(
                            f"{archive}: refusing link or device member '{member.name}'"
                        )
                tf.extractall(dest, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, RawDataError):
            raise
        raise RawDataError(f"{archive}: cannot read the archive ({exc})") from exc


def _check_member(archive: Path, name: str, dest: Path) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    target = (dest / posix).resolve()
    if posix.is_absolute() or ".." in posix.parts or not target.is_relative_to(dest.resolve()):
        raise RawDataError(
            f"{archive}: refusing member '{name}', which would be written "
            f"outside the extraction folder"
        )


def walk_raw(root: Path, want: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """``(path, bytes)`` of every file under ``root`` whose path ``want``s, looking inside the
    archives found there too (zip, tar, nested: Kaggle's dogs-vs-cats.zip holds train.zip),
    streamed without extracting anything to disk. Paths inside an archive are its members'."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if is_archive(path):
            _check_inside(root, path)
            with open(path, "rb") as f:
                yield from _walk_archive(f, path.name, want)
        elif want(rel):
            _check_inside(root, path)
            with open(path, "rb") as f:
                yield rel, _read_capped(f, str(root), rel, path.stat().st_size)


def _walk_archive(
    source: BinaryIO, name: str, want: Callable[[str], bool]
) -> Iterator[tuple[str, bytes]]:
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    nested = is_archive(PurePosixPath(info.filename))
                    if not nested and not want(info.filename):
                        continue
                    with zf.open(info) as stream:
                        data = _read_capped(stream, name, info.filename, info.file_size)
                    if nested:
                        yield from _walk_archive(io.BytesIO(data), info.filename, want)
                    else:
                        yield info.filename, data
            return
        with tarfile.open(fileobj=source, mode="r|*") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                handle = tf.extractfile(member)
                assert handle is not None
                if is_archive(PurePosixPath(member.name)):
                    data = _read_capped(handle, name, member.name, member.size)
                    yield from _walk_archive(io.BytesIO(data), member.name, want)
                elif want(member.name):
                    yield member.name, _read_capped(handle, name, member.name, member.size)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise RawDataError(f"{name}: cannot read the archive ({exc})") from exc


def find_file(root: Path, name: str, comp: Competition) -> Path:
    """The one file called ``name`` under ``root`` (Kaggle archives may nest a folder)."""
    matches = sorted(p for p in root.rglob(name) if p.is_file())
    if not matches:
        present = sorted(p.name for p in root.rglob("*") if p.is_file())[:8]
        raise RawDataError(
            f"{comp.id}: no {name} in the raw data (found: "
            f"{', '.join(present) or 'nothing'})"
            + (f"; expected {comp.raw_hint}" if comp.raw_hint else "")
        )
    found = min(matches, key=lambda p: len(p.parts))
    _check_inside(root, found)
    return found


def _check_inside(root: Path, path: Path) -> None:
    """Refuse ``path`` (found under ``root``) if it is a link to a file outside ``root``: a raw
    folder must not smuggle other files of this machine into ``public/``."""
    if path in _OWN_LINKS:
        return
    target = path.resolve()
    if not target.is_relative_to(root.resolve()):
        raise RawDataError(
            f"{path.relative_to(root).as_posix()} is a link to outside the raw folder "
            f"({target}); refusing it"
        )


def _check_size(archive: Path | str, member: str, size: int | None) -> None:
    if size is not None and size > MAX_MEMBER:
        raise RawDataError(
            f"{archive}: member '{member}' is {size:,} bytes, over the {MAX_MEMBER:,}-byte "
            "limit for one member; refusing it"
        )


def _read_capped(source: IO[bytes], archive: str, member: str, declared: int | None) -> bytes:
    """A member's bytes, refused when it declares, or turns out to hold, more than
    :data:`MAX_MEMBER` bytes (read in one go only up to the cap)."""
    _check_size(archive, member, declared)
    want = MAX_MEMBER + 1 if declared is None else min(declared, MAX_MEMBER) + 1
    data = source.read(want)  # a buffered read sets aside `want` bytes: not the cap each time
    if declared is not None and len(data) == want:  # more than it declared
        data += source.read(MAX_MEMBER + 1 - len(data))
    if len(data) > MAX_MEMBER:
        raise RawDataError(
            f"{archive}: member '{member}' is over the {MAX_MEMBER:,}-byte limit for one "
            "member; refusing it"
        )
    return data


def download(
    comp: Competition,
    settings: Settings,
    *,
    force: bool = False,
    url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download the competition's raw data into ``HARNESS_HOME/raw/<id>``.

    From the publisher's official URL when the competition declares one (``url`` names a
    mirror; the pinned checksum still applies), else through the Kaggle API. A competition
    with several official files (MNIST's four) gets each into the raw folder, which is
    returned; ``url`` is then the mirror's folder, holding them under their own names.
    """
    dest = settings.raw_dir(comp.id)
    settings.ensure_home()
    files = comp.downloads
    for official in files:
        target = dest / official.filename
        if force:
            target.unlink(missing_ok=True)
        mirror = url
        if url and len(files) > 1:
            mirror = f"{url.rstrip('/')}/{official.filename}"
        fetched = fetch(
            mirror or official.url,
            target,
            sha256=official.sha256,
            size=official.size,
            progress=progress,
            hint=f"`harness prepare {comp.id} --raw PATH`",
        )
        if len(files) == 1:
            return fetched
    if files:
        return dest
    if dest.is_dir() and any(dest.iterdir()) and not force:
        return dest
    if comp.kaggle_slug is None:
        raise DownloadError(f"{comp.id}: no download source is declared")
    return _kaggle_download(comp, dest)


CHUNK = 1 << 20


def fetch(
    url: str,
    dest: Path,
    *,
    sha256: str,
    size: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    hint: str = "",
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download, and verify it.

    The bytes go to ``<dest>.part`` first; an interrupted download resumes from there with an
    HTTP Range request. ``dest`` appears only once its sha256 matches.
    """
    import urllib.error
    import urllib.request

    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "harness (https://pypi.org/project/harness)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    by_hand = f"download {url} by hand and put it at {dest}" + (f", or run {hint}" if hint else "")
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part file is complete
            response = None
        else:
            raise DownloadError(
                f"{url}: the server answered {exc.code} {exc.reason}; {by_hand}"
            ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot reach {url} ({reason}): this machine looks offline; {by_hand}"
        ) from exc
    if response is not None:
        with response:
            if response.status != 206:  # the server ignored the range: start again
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else size
            done = have
            try:
                with open(part, "ab" if have else "wb") as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            except OSError as exc:
                raise DownloadError(
                    f"{url}: the download broke off after {done:,} bytes "
                    f"({exc}); run the same command again to resume"
                ) from exc
            if total is not None and done < total:
                raise DownloadError(
                    f"{url}: the download broke off after {done:,} of "
                    f"{total:,} bytes; run the same command again to resume"
                )
    digest = sha256_file(part)
    if digest != sha256:
        part.unlink()
        raise DownloadError(
            f"{url}: sha256 {digest} does not match the pinned {sha256}; the "
            "file was deleted: run again, or " + by_hand
        )
    part.replace(dest)
    return dest


def _kaggle_download(comp: Competition, dest: Path) -> Path:
    assert comp.kaggle_slug is not None
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as exc:
        raise DownloadError(
            "the Kaggle API is not installed: `pip install kaggle` (or `harness[kaggle]`), put "
            "your API token in ~/.kaggle/kaggle.json, accept the rules on "
            f"kaggle.com/c/{comp.kaggle_slug}, then run `harness download {comp.id}` again; "
            f"or download {comp.raw_hint or 'the archive'} by hand and run "
            f"`harness prepare {comp.id} --raw PATH`"
        ) from exc
    api = KaggleApi()
    try:
        api.authenticate()
    except (OSError, ValueError) as exc:
        raise DownloadError(
            f"Kaggle API credentials not found or invalid ({exc}): put your API "
            "token in ~/.kaggle/kaggle.json or set KAGGLE_USERNAME and "
            "KAGGLE_KEY"
        ) from exc
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        api.competition_download_files(comp.kaggle_slug, path=str(partial), quiet=False)
    except Exception as exc:  # the Kaggle client raises its own, undocumented, exception types
        shutil.rmtree(partial, ignore_errors=True)
        raise DownloadError(f"downloading '{comp.kaggle_slug}' from Kaggle failed: {exc}") from exc
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest


def _scratch(settings: Settings) -> Path:
    path = settings.staging_dir
    settings.ensure_home()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
