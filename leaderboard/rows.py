"""Each entry's per-row metric values (``Metric.rows``), kept in the host's cache for the
bootstrap, the shake-up forecast and the ladder.

A submission's public values are written when it is scored; its private values only once
private scores may be computed (practice mode, or after the end). They are keyed by the
preparation and the submitted file's sha256 under ``HARNESS_HOME/cache/rows/<competition>/``;
an entry whose values are missing (recorded elsewhere, an older harness, a cleared cache) is
regraded from its MLflow artifact, on the machine that holds the answers. The cache is derived
data: deleting it loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from harness.competition import Competition
from harness.errors import HarnessError
from harness.settings import Settings

Fetch = Callable[[str, str, Path], Path]  # (run id, file name, into) -> the artifact's path


class RowStore:
    def __init__(self, comp: Competition, settings: Settings, preparation: str) -> None:
        self.comp, self.settings, self.preparation = comp, settings, preparation
        self.folder = settings.cache_dir / "rows" / comp.id / (preparation[:16] or "unknown")

    def _path(self, sha256: str, half: str) -> Path:
        return self.folder / f"{sha256}.{half}.npy"

    def get(self, sha256: str, half: str) -> np.ndarray | None:
        try:
            return np.load(self._path(sha256, half), allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put(self, sha256: str, half: str, values: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(sha256, half)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(values, dtype=np.float32), allow_pickle=False)
        tmp.replace(path)

    def values(
        self,
        entries: Iterable[tuple[str, str, str]],
        half: str,
        fetch: Fetch | None,
    ) -> dict[str, np.ndarray | None]:
        """The ``half`` values of each ``(run id, sha256, file name)``: from the cache, else
        regraded from the artifact (``fetch``) when the answers are here; None if neither."""
        out: dict[str, np.ndarray | None] = {}
        missing: list[tuple[str, str, str]] = []
        for run_id, sha, name in entries:
            out[run_id] = got = self.get(sha, half)
            if got is None:
                missing.append((run_id, sha, name))
        if missing and fetch is not None and self._answers_here():
            with tempfile.TemporaryDirectory(dir=self.settings.staging_dir) as tmp:
                for run_id, sha, name in missing:
                    out[run_id] = self._regrade(run_id, sha, name, half, fetch, Path(tmp))
        return out

    def _answers_here(self) -> bool:
        from harness.data.preparation import digest_of, manifest_or_none

        manifest = manifest_or_none(self.comp, self.settings)
        return manifest is not None and digest_of(manifest) == self.preparation

    def _regrade(
        self, run_id: str, sha: str, name: str, half: str, fetch: Fetch, tmp: Path
    ) -> np.ndarray | None:
        from harness.data.scoring import score
        from harness.data.validation import validate

        with contextlib.suppress(HarnessError, OSError, ValueError):
            folder = tmp / run_id
            folder.mkdir()
            path = fetch(run_id, name, folder)
            aligned = validate(self.comp, self.settings, path, name=name)
            scores = score(self.comp, self.settings, aligned, private=half == "private")
            for got_half, values in scores.rows.items():
                self.put(sha, got_half, values)
            return scores.rows.get(half)
        return None
