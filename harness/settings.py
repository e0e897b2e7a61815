"""Where Harness keeps its data and which MLflow store it talks to.

``HARNESS_HOME`` (default: ``$XDG_DATA_HOME/harness``, i.e. ``~/.local/share/harness``) holds::

    public/<competition>/     what participants read: train.csv, test.csv, sample_submission.csv, …
    private/<competition>/    answers.csv (ids, truth, Usage), MANIFEST.json (sha256 of each file)
    raw/<competition>/        downloads
    mlflow.db, mlartifacts/   the default leaderboard store
    cache/                    derived leaderboard indexes (rebuildable from MLflow alone)

The *Harness database* holds what MLflow does not: hosted participants' hashed tokens, and the
lock under which a rule's check and its record are one step. It is ``HARNESS_DATABASE`` if set,
else the tracking URI when that is ``postgresql://`` (one PostgreSQL for everything), else
``sqlite:///<home>/private/harness.db`` (one machine; the write lock is then a file lock).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "HARNESS_HOME"
DATABASE_ENV = "HARNESS_DATABASE"  # hosted mode: participants' tokens and the rules' lock
DEFAULT_HOME_HELP = "$XDG_DATA_HOME/harness (default ~/.local/share/harness)"


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(base) / "harness"


@dataclass(frozen=True)
class Settings:
    home: Path
    tracking_uri: str

    @classmethod
    def resolve(
        cls, home: str | os.PathLike[str] | None = None, tracking_uri: str | None = None
    ) -> Settings:
        """Explicit arguments, then ``HARNESS_HOME`` / ``MLFLOW_TRACKING_URI``, then defaults."""
        root = Path(home or os.environ.get(HOME_ENV) or default_home()).expanduser().absolute()
        uri = (
            tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root}/mlflow.db"
        )
        return cls(home=root, tracking_uri=uri)

    def ensure_home(self) -> Path:
        """Create the home, readable by its owner only (it holds the answers, the leaderboard
        and everyone's predictions), if it does not exist; an existing one is left as it is."""
        if not self.home.is_dir():
            self.home.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.home.mkdir(mode=0o700)
            except FileExistsError:  # created meanwhile by another process
                pass
            else:
                self.home.chmod(0o700)  # mkdir's mode is masked by the umask
        return self.home

    def public_dir(self, competition: str) -> Path:
        return self.home / "public" / competition

    def private_dir(self, competition: str) -> Path:
        return self.home / "private" / competition

    def raw_dir(self, competition: str) -> Path:
        return self.home / "raw" / competition

    def optuna_journal(self, competition: str) -> Path:
        """The default Optuna study storage: one journal file per competition."""
        return self.home / "optuna" / f"{competition}.journal"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def staging_dir(self) -> Path:
        """Work in progress (preparations, DataFrames written for validation), on the same
        file system as the home, so a finished piece is moved into place atomically."""
        return self.home / ".staging"

    @property
    def locks_dir(self) -> Path:
        return self.home / ".locks"

    @property
    def database_uri(self) -> str:
        """The Harness database (see the module's docstring)."""
        explicit = os.environ.get(DATABASE_ENV)
        if explicit:
            return explicit
        if self.tracking_uri.startswith(("postgresql:", "postgresql+")):
            return self.tracking_uri
        return f"sqlite:///{self.home}/private/harness.db"

    @property
    def artifact_root(self) -> Path:
        return self.home / "mlartifacts"
