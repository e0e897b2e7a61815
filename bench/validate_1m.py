"""Benchmark: validating and scoring a 1,000,000-row submission.

The script builds a synthetic binary-label competition in process (``harness.competition.
Competition``: ``Task.TABULAR_CLASSIFICATION``, ``harness.metrics.ACCURACY``, labels ``(0, 1)``,
id column ``id``, target ``label``), whose ``prepare`` writes a small ``public/train.csv``,
``public/test.csv``, ``public/sample_submission.csv`` and ``private/answers.csv`` for
``--rows`` (default 1,000,000) integer test ids with the helpers in ``harness.data.preparation``
(``write_csv``, ``write_answers``, ``write_sample_submission``), and prepares it with
``harness.data.preparation.prepare(comp, Settings.resolve(home=tmp), raw=<an empty folder>)``.

It then times ``harness.data.validation.validate(comp, settings, path)`` followed by
``harness.data.validation.score(comp, settings, aligned)`` on a predictions CSV of random labels,
with the rows in the sample submission's id order and shuffled:

- the first call, with the validator's caches cold (the sha256 of the prepared files and the
  parsed sample submission and answers, both per process). Every ``harness submit`` or
  ``harness validate`` is a new process, so this is what the CLI pays every time;
- then the median/min/max of ``--runs`` (default 5) calls, caches warm (what a notebook
  calling ``harness.submit`` repeatedly pays).

Next to it, the floors: ``pandas.read_csv`` alone on the submission; the same with the
validator's options; and a bare read-merge-score (read the submission and the answers with
pandas, merge on id, accuracy on the public and the private rows). Then a cProfile of one cold
validate + score, to show where the time goes.

Goal (from the issue): validate + score a 1M-row submission in ≤ 1 s.

Run from the repository root::

    .venv/bin/python bench/validate_1m.py
    .venv/bin/python bench/validate_1m.py --rows 100000 --runs 3     # quick
    .venv/bin/python bench/validate_1m.py --md /tmp/validate.md      # tables as Markdown
"""

from __future__ import annotations

import argparse
import cProfile
from pathlib import Path
from typing import Any

import _common as c

GOAL_S = 1.0


def make_competition(rows: int, train_rows: int = 1_000) -> Any:
    import numpy as np
    import pandas as pd

    from harness.competition import Competition, Task
    from harness.data.writers import write_answers, write_csv, write_sample_submission
    from harness.metrics import ACCURACY

    def prepare(raw: Path, public: Path, private: Path) -> None:
        rng = np.random.default_rng(0)
        train = pd.DataFrame({"id": np.arange(train_rows), "x": rng.normal(size=train_rows)})
        train["label"] = (train["x"] > 0).astype(int)
        write_csv(train, public / "train.csv")
        ids = np.arange(10_000_000, 10_000_000 + rows)  # test ids: not the train's
        x = rng.normal(size=rows)
        write_csv(pd.DataFrame({"id": ids, "x": x}), public / "test.csv")
        truth = pd.DataFrame({"id": ids, "label": (x + rng.normal(0, 0.5, rows) > 0).astype(int)})
        write_answers(private, truth, comp)
        write_sample_submission(public, ids, comp, 0)

    comp = Competition(
        id="synthetic-binary-1m",
        title=f"Synthetic binary labels, {rows:,} test rows",
        task=Task.TABULAR_CLASSIFICATION,
        metric=ACCURACY,
        id_column="id",
        target_columns=("label",),
        labels=(0, 1),
        prepare=prepare,
        description="A synthetic competition for the validator benchmark.",
    )
    return comp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="test rows (1,000,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed warm calls (5)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile")
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    report = c.Report(f"validate + score, {args.rows:,}-row submission")
    report.note(
        f"Machine: {c.machine()}; {c.revision()}.\n"
        f"Warm figures: median [min-max] of {args.runs} calls."
    )
    with c.scratch("bench-validate-", keep=args.keep, console=report.console) as tmp:
        measure(tmp, args, report)
    report.save(args.md)


def clear_caches() -> None:
    """Forget what the validator remembers per process: parsed CSVs and file hashes."""
    from harness import preparation, submission

    submission._cached_csv.cache_clear()
    preparation._HASHES.clear()


def measure(tmp: Path, args: argparse.Namespace, report: c.Report) -> None:
    import numpy as np
    import pandas as pd

    from harness.data.preparation import prepare
    from harness.data.scoring import score
    from harness.data.validation import validate
    from harness.settings import Settings

    comp = make_competition(args.rows)
    settings = Settings.resolve(home=tmp / "home")
    (tmp / "raw").mkdir()
    with report.console.status(f"preparing {args.rows:,} rows"):
        prep_s, done = c.timed(lambda: prepare(comp, settings, raw=tmp / "raw"))
    report.note(f"prepare: {prep_s:.1f} s ({done.manifest['rows']['test']:,} test rows).")
    answers_path = done.private / "answers.csv"

    sample = pd.read_csv(done.public / "sample_submission.csv")
    rng = np.random.default_rng(1)
    sample["label"] = rng.integers(0, 2, len(sample))
    files = {"sample order": tmp / "preds_sorted.csv", "shuffled": tmp / "preds_shuffled.csv"}
    sample.to_csv(files["sample order"], index=False)
    sample.iloc[rng.permutation(len(sample))].to_csv(files["shuffled"], index=False)
    report.note(
        f"submission files: {files['sample order'].stat().st_size / 1e6:.1f} MB each; "
        f"answers.csv {answers_path.stat().st_size / 1e6:.1f} MB."
    )

    def validate_and_score(path: Path) -> tuple[float, float, Any]:
        t_validate, aligned = c.timed(lambda: validate(comp, settings, path))
        t_score, scores = c.timed(lambda: score(comp, settings, aligned))
        return t_validate, t_score, scores

    rows = []
    checks = []
    for order, path in files.items():
        clear_caches()
        cold_v, cold_s, scores = validate_and_score(path)
        warm = [validate_and_score(path) for _ in range(args.runs)]
        v_med = c.summary([w[0] for w in warm])[0]
        s_med = c.summary([w[1] for w in warm])[0]
        total = c.summary([w[0] + w[1] for w in warm])
        rows.append(
            [
                f"validate + score ({order})",
                c.fmt_s(cold_v),
                c.fmt_s(cold_s),
                c.fmt_s(cold_v + cold_s),
                c.fmt_s(v_med),
                c.fmt_s(s_med),
                f"{total[0]:.3f} [{total[1]:.3f}-{total[2]:.3f}]",
            ]
        )
        checks.append((order, scores, cold_v + cold_s, total[0]))

    def floor(name: str, fn: Any) -> None:
        fn()  # warm-up
        med, lo, hi = c.summary(c.repeat(fn, args.runs))
        rows.append([name, "", "", "", "", "", f"{med:.3f} [{lo:.3f}-{hi:.3f}]"])

    sorted_path = files["sample order"]
    floor("floor: pd.read_csv(submission)", lambda: pd.read_csv(sorted_path))
    floor(
        "  pd.read_csv(submission) with the validator's options",
        lambda: pd.read_csv(
            sorted_path,
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        ),
    )
    floor(
        "  pd.read_csv(submission, engine='pyarrow')",
        lambda: pd.read_csv(sorted_path, engine="pyarrow"),
    )
    for order, path in files.items():
        floor(
            f"floor: read + merge + score ({order})",  # type: ignore[misc]
            lambda path=path: bare_score(path, answers_path),
        )
    report.table(
        "Seconds; cold = first call in the process (caches empty, as in every CLI call)",
        [
            "case",
            "cold validate",
            "cold score",
            "cold total",
            "warm validate",
            "warm score",
            "warm total / floor",
        ],
        rows,
    )

    bare = bare_score(files["sample order"], answers_path)
    for order, scores, cold, warm_total in checks:
        same = np.isclose([scores.public, scores.private], bare).all()
        report.note(
            f"{order}: public {scores.public:.5f}, private {scores.private:.5f} "
            f"({'same as' if same else 'DIFFERENT from'} the bare floor's). Goal ≤ "
            f"{GOAL_S:.0f} s: warm {'MET' if warm_total <= GOAL_S else 'MISSED'} "
            f"({warm_total:.3f} s), cold {'MET' if cold <= GOAL_S else 'MISSED'} "
            f"({cold:.3f} s)."
        )

    if not args.no_profile:
        for order, path in files.items():
            clear_caches()
            prof = cProfile.Profile()
            prof.enable()
            score(comp, settings, validate(comp, settings, path))
            prof.disable()
            report.code(
                f"cProfile: one cold validate + score ({order}), harness functions by "
                "cumulative time",
                c.profile_text(prof, "cumulative", 24, r"harness/"),
            )
            report.code(
                f"cProfile: same call ({order}), top functions by own time",
                c.profile_text(prof, "tottime", 14),
            )


def bare_score(path: Path, answers: Path) -> tuple[float, float]:
    """The least a scorer can do: read both files, join on id, compare labels."""
    import pandas as pd

    sub = pd.read_csv(path)
    truth = pd.read_csv(answers)
    merged = truth.merge(sub, on="id", how="left", suffixes=("_true", "_pred"))
    hit = merged["label_true"].to_numpy() == merged["label_pred"].to_numpy()
    public = (merged["Usage"] == "Public").to_numpy()
    return float(hit[public].mean()), float(hit[~public].mean())


if __name__ == "__main__":
    main()
