"""`harness export ID --format kaggle|hf|codabench` and `harness import PATH` (those three and
mle-bench folders): one writer and one reader per format (:mod:`.kaggle`, :mod:`.hf`,
:mod:`.codabench`, :mod:`.mlebench`) over what :mod:`.bundles` shares.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.authoring import codabench, hf, kaggle, mlebench
from harness.authoring.bundles import FORMATS, SIDE, detect, gather, opened
from harness.authoring.create import Created, Declared, create, remove
from harness.competitions.folder import shown
from harness.errors import HarnessError, RawDataError
from harness.settings import Settings

__all__ = ["FORMATS", "export", "import_bundle"]


def export(competition: str, settings: Settings, fmt: str, out: Path | None = None) -> Path:
    """Write ``competition`` (prepared) in format ``fmt`` to ``out`` (a folder, or a zip for
    Codabench); return where it went. An existing ``out`` is refused, never overwritten."""
    writers = {"kaggle": kaggle.export, "hf": hf.export, "codabench": codabench.export}
    if fmt not in writers:
        raise RawDataError(f"unknown format '{shown(fmt)}' (known: {', '.join(FORMATS)})")
    source = gather(competition, settings)
    default = f"{source.comp.id}-{fmt}" + (".zip" if fmt == "codabench" else "")
    target = Path(out) if out is not None else Path(default)
    if target.exists():
        raise RawDataError(f"{target}: exists already; name another --out")
    with tempfile.TemporaryDirectory(prefix="harness-export-", dir=target.parent) as tmp:
        stage = Path(tmp) / "bundle"
        stage.mkdir()
        writers[fmt](source, stage)
        (stage / SIDE).write_text(json.dumps(source.side, indent=1) + "\n", encoding="utf-8")
        if target.suffix == ".zip":
            archive = shutil.make_archive(str(Path(tmp) / "bundle"), "zip", stage)
            Path(archive).replace(target)
        else:
            stage.replace(target)
    return target


def import_bundle(
    path: Path,
    settings: Settings,
    *,
    competition: str | None = None,
    data: Path | None = None,
    declared: Mapping[str, Any] | None = None,
    progress: Any = None,
) -> tuple[Created, str, list[str]]:
    """Import the bundle at ``path`` as ``competition`` (default: the id it carries); return
    the created competition, the format and notes. ``data``: an mle-bench competition's
    prepared folder. ``declared``: what the host adds (a metric file's direction)."""
    from harness.board.rules import Rules
    from harness.board.service import Board

    readers = {
        "kaggle": kaggle.read,
        "hf": hf.read,
        "codabench": codabench.read,
        "mlebench": mlebench.read,
    }
    with opened(path) as root, tempfile.TemporaryDirectory(prefix="harness-import-") as tmp:
        fmt = detect(root)
        side = _side(root)
        incoming = readers[fmt](root, Path(tmp), side, data)
        name = competition or side.get("id") or incoming.declared.extra.get("id")
        if not name:
            name = _slug(root.name if path.is_dir() else Path(path).stem)
        changes = {k: v for k, v in incoming.rules.items() if v is not None}
        try:  # the bundle's rules checked before anything is created
            Rules().changed(**changes)
        except (ValueError, TypeError, HarnessError) as exc:
            raise RawDataError(f"{Path(path).name}: its rules do not read: {exc}") from None
        fields = {**incoming.declared.__dict__, **(declared or {})}
        fields["extra"] = {k: v for k, v in fields["extra"].items() if k != "id"}
        done = create(
            str(name),
            incoming.source,
            settings,
            Declared(**fields),
            extra_files=incoming.extra_files,
            progress=progress,
        )
    if changes:
        try:
            Board(done.competition, settings).set_rules(**changes)
        except BaseException:
            remove(done.competition, settings)  # a competition without its rules is not made
            raise
    return done, fmt, incoming.notes


def _side(root: Path) -> dict[str, Any]:
    path = root / SIDE
    if not path.is_file():
        return {}
    try:
        side: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RawDataError(f"{SIDE}: not JSON: {exc}") from None
    return side


def _slug(text: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:63] or "imported"
