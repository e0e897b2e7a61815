"""A submission upload, staged: the one path the API and the pages share.

The file is written, in chunks, under a name of our own (``upload`` plus the suffix of its
compression, so the validator opens it right); the client's own name is kept only as text
(the run's ``harness.file`` tag and the messages), never as a path."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.settings import Settings

#: What an uploaded file may be called on disk: the first of these that ends the client's name.
SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.xz", ".gz", ".bz2", ".xz", ".zip", ".csv")
CODE_SUFFIXES = (".py", ".ipynb")  # a code submission's


@contextlib.contextmanager
def staged(
    upload: Any, settings: Settings, suffixes: tuple[str, ...] = SUFFIXES
) -> Iterator[tuple[Path, str]]:
    """``upload`` (a FastAPI ``UploadFile``) written to a staging file of our own name; yields
    its path and the name the client gave (for messages only), and removes it after."""
    client_name = (upload.filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1]
    suffix = next((s for s in suffixes if client_name.lower().endswith(s)), suffixes[-1])
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.staging_dir) as tmp:
        path = Path(tmp) / f"upload{suffix}"  # never the client's name
        with open(path, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
        yield path, client_name[:200] or "upload.csv"
