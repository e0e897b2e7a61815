"""Benchmark: `harness verify titanic` at 1,000 and 10,000 recorded submissions.

One sqlite store (``HARNESS_HOME`` a temporary directory, or ``--home``) is grown from one size
to the next with the library, as ``bench/leaderboard_scale.py`` does: each submission is a
different titanic prediction file (random 0/1 per passenger, so no two share a sha256 unless
``--distinct`` says fewer), validated and scored once, then ``Leaderboard(settings).record``ed
with its real scores, its artifact logged as ``harness submit`` logs it. At each size it runs
``harness verify titanic`` as a subprocess (re-derive the answers, sha256 every artifact,
regrade every submission, compare the index with a full MLflow scan) and times it; verify must
exit 0 (the store is clean), or the benchmark stops.

Run from the repository root::

    .venv/bin/python bench/verify.py                      # 1,000 then 10,000
    .venv/bin/python bench/verify.py --submissions 1000   # one size
    .venv/bin/python bench/verify.py --md /tmp/verify.md  # the table as Markdown too
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import _common as c

c.strip_bench_from_path()  # `import leaderboard` must find the package, not bench/leaderboard*
os.environ.pop("MLFLOW_TRACKING_URI", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--submissions",
        default="1000,10000",
        help="submission counts to measure at, ascending (1000,10000)",
    )
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument(
        "--distinct", type=int, default=0, help="distinct prediction files (0: all distinct)"
    )
    parser.add_argument("--runs", type=int, default=1, help="timed verify calls per size (1)")
    parser.add_argument("--home", help="HARNESS_HOME to grow (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary HARNESS_HOME")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--md", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.submissions.split(","))

    report = c.Report("harness verify titanic")
    distinct = "every file distinct" if not args.distinct else f"{args.distinct} distinct files"
    report.note(
        f"Machine: {c.machine()}; {c.revision()}.\n"
        f"{args.participants} participants, {distinct}; "
        f"{'median of ' + str(args.runs) + ' calls' if args.runs > 1 else 'one call'} per size."
    )
    with c.bench_home(args.home, "bench-verify-", keep=args.keep, console=report.console) as home:
        measure(home, sizes, args, report)
    report.save(args.md)


def measure(home: Path, sizes: list[int], args: argparse.Namespace, report: c.Report) -> None:
    import numpy as np
    from harness.board import Leaderboard

    import harness

    comp, settings, env = c.titanic_store(home)
    harness.prepare("titanic", home=home)
    rng = np.random.default_rng(args.seed)
    names = [f"p{i:03d}" for i in range(args.participants)]
    have = len(Leaderboard(settings).submissions_from_mlflow(comp))
    rows = []
    for size in sizes:
        if size < have:
            report.note(f"skipping size {size:,}: the store already holds {have:,}")
            continue
        record_s = grow(settings, comp, names, rng, have, size, args, report)
        have = size
        times = []
        for _ in range(args.runs):
            times.append(c.run([c.HARNESS, "verify", "titanic"], env))
        wall = c.summary(times)[0]
        rows.append([f"{size:,}", f"{wall:.2f}", f"{wall / size * 1000:.2f}", record_s])
        report.console.print(f"[bold]{size:,}[/bold]: verify {wall:.2f} s")
    report.table(
        "harness verify titanic (exit 0 each time)",
        ["submissions", "wall s", "per submission ms", "record() ms per submission (setup)"],
        rows,
    )


def grow(
    settings: Any,
    comp: Any,
    names: list[str],
    rng: Any,
    have: int,
    size: int,
    args: argparse.Namespace,
    report: c.Report,
) -> str:
    """Record real, scored submissions until the store holds ``size``."""
    import pandas as pd
    from harness.board import Leaderboard

    from harness.data.scoring import score
    from harness.data.validation import validate

    todo = size - have
    if todo <= 0:
        return "-"
    board = Leaderboard(settings)
    ids = pd.read_csv(settings.public_dir(comp.id) / "sample_submission.csv")["PassengerId"]
    folder = settings.home / "bench-files"
    folder.mkdir(exist_ok=True)
    graded: dict[int, tuple[Path, Any]] = {}
    spent = 0.0
    with c.recording(report.console) as progress:
        task = progress.add_task("record", total=todo)
        for i in range(have, size):
            which = i % args.distinct if args.distinct else i
            if which not in graded:
                path = folder / f"sub{which:05d}.csv"
                pd.DataFrame(
                    {"PassengerId": ids, "Survived": rng.integers(0, 2, len(ids))}
                ).to_csv(path, index=False)
                graded[which] = (path, score(comp, settings, validate(comp, settings, path)))
            path, scores = graded[which]
            who = names[i % len(names)]
            start = time.perf_counter()
            board.record(
                comp,
                participant=who,
                kind="submission",
                message=f"submission {i}",
                public_score=scores.public,
                private_score=scores.private,
                file=path,
                extra=scores.extra,
            )
            spent += time.perf_counter() - start
            progress.advance(task)
    return f"{spent / todo * 1000:.1f}"


if __name__ == "__main__":
    main()
