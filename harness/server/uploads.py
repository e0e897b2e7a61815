"""A submission upload, staged and submitted: the one path the API and the pages share.

The file is written, in chunks, under a name of our own (``upload`` plus the suffix of its
compression, so the validator opens it right); the client's own name is kept only as text
(the run's ``harness.file`` tag and the messages), never as a path."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from harness.competition import Competition
from harness.settings import Settings

#: What an uploaded file may be called on disk: the first of these that ends the client's name.
SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.xz", ".gz", ".bz2", ".xz", ".zip", ".csv")


def submit_upload(
    comp: Competition,
    settings: Settings,
    upload: Any,
    *,
    participant: str,
    message: str,
    cv: float | None,
) -> dict[str, Any]:
    """Stage ``upload`` (a FastAPI ``UploadFile``) and submit it as ``participant``; return the
    result as :meth:`leaderboard.submit.SubmissionResult.as_dict` gives it."""
    from leaderboard.submit import submit

    client_name = (upload.filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1]
    suffix = next((s for s in SUFFIXES if client_name.lower().endswith(s)), ".csv")
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.staging_dir) as tmp:
        path = Path(tmp) / f"upload{suffix}"  # never the client's name
        with open(path, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
        result = submit(
            comp,
            settings,
            path,
            participant=participant,
            message=message,
            cv=cv,
            display_name=client_name[:200] or "upload.csv",
        )
    return dict(result.as_dict(comp))
