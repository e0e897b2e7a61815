"""How every competition writes its prepared files, so all split and write them the same way:
deterministic CSVs, the answers with their seeded public/private ``Usage``, and the sample
submission. (Re-exported by :mod:`harness.data.kit`, the authors' toolkit.)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition
from harness.data.preparation import ANSWERS, PRIVATE, PUBLIC, SAMPLE_SUBMISSION, USAGE

if TYPE_CHECKING:
    import pandas as pd


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV: no index, ``\\n`` line ends, UTF-8."""
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def assign_usage(n: int, comp: Competition, stratify: Any = None) -> list[str]:
    """``Public``/``Private`` for ``n`` test rows: ``comp.public_fraction`` public, seeded."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    public_rows, _ = train_test_split(
        rows, train_size=comp.public_fraction, random_state=comp.seed, stratify=stratify
    )
    usage = np.full(n, PRIVATE, dtype=object)
    usage[public_rows] = PUBLIC
    return list(usage)


def write_answers(
    private: Path, answers: pd.DataFrame, comp: Competition, stratify: Any = None
) -> None:
    """``private/answers.csv``: the id column, the target columns and ``Usage``."""
    answers = answers[list(comp.submission_columns)].reset_index(drop=True)
    answers[USAGE] = assign_usage(len(answers), comp, stratify)
    write_csv(answers, private / ANSWERS)


def write_sample_submission(public: Path, ids: Any, comp: Competition, value: Any) -> None:
    """``public/sample_submission.csv``: every test id with one constant prediction."""
    import pandas as pd

    frame = pd.DataFrame({comp.id_column: list(ids)})
    for column in comp.target_columns:
        frame[column] = value
    write_csv(frame, public / SAMPLE_SUBMISSION)
