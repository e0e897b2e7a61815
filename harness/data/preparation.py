"""Raw data → ``public/`` + ``private/``, with checksums, atomically and idempotently.

A competition's own ``prepare(comp, raw, public, private)`` writes into two empty staging
directories; this module then adds ``description.md``, hashes every file into
``private/<id>/MANIFEST.json`` and moves both directories into place. The manifest is written
last and removed first, so a preparation killed midway is simply "not prepared"; the staging
folder it leaves (``.staging/<id>-<pid>-…``, 0700) is removed by the next ``prepare``. The move
holds ``.locks/<id>.swap`` exclusively and readers (:func:`read_manifest`, :func:`verify`,
:func:`prepared_file`) hold it shared, so a reader sees the old preparation or the new one.

What a competition's ``prepare`` uses to write its files is :mod:`harness.data.kit`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition
from harness.errors import IntegrityError, NotPrepared
from harness.files import cached_sha256, file_lock, pid_alive, process_pool, sha256_file
from harness.settings import Settings

if TYPE_CHECKING:
    pass

MANIFEST = "MANIFEST.json"
ANSWERS = "answers.csv"
SAMPLE_SUBMISSION = "sample_submission.csv"
DESCRIPTION = "description.md"
USAGE = "Usage"
PUBLIC, PRIVATE = "Public", "Private"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Preparation:
    competition: str
    public: Path
    private: Path
    manifest: dict[str, Any]
    skipped: bool  # already prepared: nothing was done


def prepare(
    comp: Competition,
    settings: Settings,
    *,
    raw: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Preparation:
    """Prepare ``comp`` from ``raw`` (an archive or folder; default: downloaded, then embedded)."""
    import multiprocessing

    from harness.data import sources

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # A pool worker (started fresh, see harness.files.process_pool) re-imports the main
        # script; were it to prepare too, it would wait for the lock its parent holds.
        raise RuntimeError(
            "harness.prepare() was called while a worker process imported the main script: "
            "put the script's code under `if __name__ == '__main__':`"
        )
    say = progress or (lambda _msg: None)
    public, private = settings.public_dir(comp.id), settings.private_dir(comp.id)
    settings.ensure_home()
    # two prepares never interleave
    with file_lock(settings.locks_dir / f"{comp.id}.lock", notify=say):
        manifest = None if force else manifest_or_none(comp, settings)
        if manifest is not None and manifest.get("version") == comp.version:
            verify(comp, settings)
            return Preparation(comp.id, public, private, manifest, skipped=True)
        _remove_dead_staging(comp.id, settings.staging_dir, say)
        settings.staging_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # <id>-<pid>-<random>: the pid says when it is left by a dead run; 0700: it holds answers
        staging = settings.staging_dir / f"{comp.id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=0o700)
        try:
            stage_public, stage_private = staging / "public", staging / "private"
            stage_public.mkdir(parents=True)
            stage_private.mkdir(parents=True)
            with sources.raw_directory(comp, settings, raw, progress=say) as (raw_dir, origin):
                say(f"preparing {comp.id} from {origin}")
                notes = comp.prepare(comp, raw_dir, stage_public, stage_private) or []
            _check_layout(comp, stage_public, stage_private)
            (stage_public / DESCRIPTION).write_text(describe(comp, stage_public), encoding="utf-8")
            say("computing checksums")
            manifest = {
                "competition": comp.id,
                "version": comp.version,
                "raw": origin,
                "notes": notes,
                "prepared_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "rows": {
                    "train": _csv_rows(stage_public / "train.csv"),
                    "test": _csv_rows(stage_private / ANSWERS),
                },
                "files": {
                    **_hash_tree(stage_public, "public"),
                    **_hash_tree(stage_private, "private"),
                },
            }
            _write_json(stage_private / MANIFEST, manifest)
            with _swap_lock(comp.id, settings, shared=False):
                _swap_into_place(staging, public, private)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Preparation(comp.id, public, private, manifest, skipped=False)


def is_prepared(comp: Competition, settings: Settings) -> bool:
    with reading(comp, settings):
        return (settings.private_dir(comp.id) / MANIFEST).is_file()


def manifest_or_none(comp: Competition, settings: Settings) -> dict[str, Any] | None:
    """The preparation's manifest, or None when ``comp`` is not prepared."""
    with reading(comp, settings):
        return _read_manifest_or_none(settings.private_dir(comp.id))


def read_manifest(comp: Competition, settings: Settings) -> dict[str, Any]:
    with reading(comp, settings):
        return _read_manifest(comp, settings)


@contextlib.contextmanager
def reading(comp: Competition, settings: Settings) -> Iterator[None]:
    """Hold off ``prepare`` from swapping a new preparation in while the block reads the
    prepared files, so it sees the old preparation or the new one, never a mix or neither.
    (What the readers here hold while they look; a caller may hold it across several reads.)"""
    with _swap_lock(comp.id, settings, shared=True):
        yield


def verify(comp: Competition, settings: Settings, files: Iterable[str] | None = None) -> None:
    """Check prepared files (``"public/train.csv"``…; default all) against the manifest."""
    with reading(comp, settings):
        _verify(comp, settings, files)


def _read_manifest(comp: Competition, settings: Settings) -> dict[str, Any]:
    manifest = _read_manifest_or_none(settings.private_dir(comp.id))
    if manifest is None:
        raise NotPrepared(comp.id, settings.home)
    return manifest


def _verify(comp: Competition, settings: Settings, files: Iterable[str] | None) -> None:
    recorded: dict[str, str] = _read_manifest(comp, settings)["files"]
    wanted = recorded if files is None else {f: recorded.get(f, "") for f in files}
    bad = []
    for rel, digest in wanted.items():
        path = settings.home / rel.split("/", 1)[0] / comp.id / rel.split("/", 1)[1]
        if not path.is_file():
            bad.append(f"{rel} is missing")
        elif not digest:
            bad.append(f"{rel} is not in the manifest")
        elif cached_sha256(path) != digest:
            bad.append(f"{rel} changed since it was prepared")
    if bad:
        raise IntegrityError(
            f"{comp.id}: "
            + "; ".join(bad)
            + f" — run `harness prepare {comp.id} --force` to prepare it again"
        )


def prepared_file(comp: Competition, settings: Settings, rel: str) -> Path:
    """Path to a prepared file (``"private/answers.csv"``), checked against its checksum."""
    with reading(comp, settings):
        _verify(comp, settings, [rel])
        side, name = rel.split("/", 1)
        return settings.home / side / comp.id / name


def describe(comp: Competition, public: Path | None = None) -> str:
    """The competition's description, with evaluation, files and submission format."""
    lines = [
        f"# {comp.title}",
        "",
        comp.description.strip(),
        "",
        "## Evaluation",
        "",
        f"Metric: **{comp.metric.name}** ({comp.metric.direction}): {comp.metric.description}.",
        f"The test rows are split {comp.public_fraction:.0%} public / "
        f"{1 - comp.public_fraction:.0%} private (seed {comp.seed}); the public leaderboard "
        "scores the public part, the private leaderboard is revealed with "
        "`harness leaderboard --private`.",
        "",
        "## Submission format",
        "",
        f"A CSV with the columns `{','.join(comp.submission_columns)}`, one row per test id.",
    ]
    if comp.labels is not None:
        lines.append("Allowed values: " + ", ".join(str(v) for v in comp.labels) + ".")
    if public is not None and (public / SAMPLE_SUBMISSION).is_file():
        with open(public / SAMPLE_SUBMISSION, encoding="utf-8") as f:
            head = [next(f, "").rstrip("\n") for _ in range(4)]
        lines += ["", "```", *[h for h in head if h], "...", "```"]
    if public is not None:
        lines += ["", "## Files", ""]
        for path in sorted(public.iterdir()):
            lines.append(f"- `{path.name}`: {_size_note(path)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


def _check_layout(comp: Competition, public: Path, private: Path) -> None:
    missing = [p for p in (public / SAMPLE_SUBMISSION, private / ANSWERS) if not p.is_file()]
    if missing:  # a bug in the competition's prepare, not a user mistake
        raise RuntimeError(f"{comp.id}: prepare did not write {', '.join(map(str, missing))}")


def _read_manifest_or_none(private: Path) -> dict[str, Any] | None:
    try:
        with open(private / MANIFEST, encoding="utf-8") as f:
            manifest: dict[str, Any] = json.load(f)
            return manifest
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _swap_lock(competition: str, settings: Settings, *, shared: bool) -> Iterator[None]:
    """``.locks/<id>.swap``: held exclusively while a preparation is swapped in, shared while
    one is read. Readers of a home no ``prepare`` ever locked (none yet, or a read-only one)
    read without it: nothing can swap there."""
    with contextlib.ExitStack() as stack:
        if not shared or settings.locks_dir.is_dir():
            try:
                stack.enter_context(
                    file_lock(settings.locks_dir / f"{competition}.swap", shared=shared)
                )
            except OSError:
                if not shared:
                    raise
        yield


def _remove_dead_staging(competition: str, staging: Path, say: Progress) -> None:
    """Remove what runs of ``prepare`` that died (killed, power cut) left in ``staging``: their
    folders (``<id>-<pid>-…``, named by their pid), which may hold a copy of the answers, and
    their extracted raw data."""
    if not staging.is_dir():
        return
    named = re.compile(re.escape(competition) + r"-(\d+)-")
    for path in sorted(staging.iterdir()):
        found = named.match(path.name)
        if found and int(found.group(1)) != os.getpid() and not pid_alive(int(found.group(1))):
            say(f"removing {path.name}, left in {staging} by a preparation that died")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _swap_into_place(staging: Path, public: Path, private: Path) -> None:
    (private / MANIFEST).unlink(missing_ok=True)  # from here on the old preparation is invalid
    trash = staging / "old"
    trash.mkdir()
    for name, target in (("public", public), ("private", private)):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rename(trash / name)
        (staging / name).rename(target)
    if os.name == "posix":
        private.chmod(0o700)  # answers are for the harness, not for other users of the machine


def _hash_tree(root: Path, side: str) -> dict[str, str]:
    """sha256 of every file under ``root``; image folders hold tens of thousands of files, so
    large trees are hashed by one process per core."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    cores = os.cpu_count() or 1
    if len(files) < 2_000 or cores == 1:
        digests = [sha256_file(p) for p in files]
    else:
        with process_pool(min(cores, 8)) as pool:
            digests = list(pool.map(sha256_file, files, chunksize=500))
    return {
        f"{side}/{p.relative_to(root).as_posix()}": d for p, d in zip(files, digests, strict=True)
    }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def _size_note(path: Path) -> str:
    if path.is_dir():
        return f"folder of {sum(1 for p in path.rglob('*') if p.is_file()):,} files"
    if path.suffix == ".csv":
        return f"{_csv_rows(path):,} rows"
    return f"{path.stat().st_size:,} bytes"


def _csv_rows(path: Path) -> int | None:
    """Data rows of a CSV (quoted fields may span lines, so pandas counts them)."""
    if not path.is_file():
        return None
    import pandas as pd

    return len(pd.read_csv(path, usecols=[0], dtype=str, keep_default_na=False))


def preparation_digest(comp: Competition, settings: Settings) -> str:
    """Which preparation entries are scored on now: the sha256 of its answers file (from the
    manifest); raises NotPrepared when there is none."""
    return digest_of(read_manifest(comp, settings))


def digest_of(manifest: Mapping[str, Any]) -> str:
    """A preparation's digest, from its manifest: the sha256 of its answers file."""
    import hashlib
    import json

    files: dict[str, str] = manifest["files"]
    private = {k: v for k, v in files.items() if k.startswith("private/")}
    return (
        files.get("private/answers.csv")
        or hashlib.sha256(json.dumps(private, sort_keys=True).encode()).hexdigest()
    )
