"""What a tuning study costs, in wall time and in CPU time: ``harness.tune`` on a fresh
HARNESS_HOME, with the study's pick, its CV ± SE and the local test's scores of its entry.

    .venv/bin/python bench/tune_cost.py [--competition house-prices] [--model gbm]
        [--trials 100] [--jobs 2] [--threads 1]

CPU seconds (this process, every thread, and its ``--jobs`` worker processes) say what the
study costs even on a machine that other work shares: with ``--jobs 2 --threads 1`` on two
idle cores the wall time is about half of them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (``--jobs``' workers)."""
    import resource

    mine, theirs = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return mine.ru_utime + mine.ru_stime + theirs.ru_utime + theirs.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--competition", default="house-prices")
    parser.add_argument("--model", default="gbm")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="per trial; 0: harness's default")
    args = parser.parse_args()

    from _common import machine, revision

    import harness

    home = tempfile.mkdtemp(prefix=f"bench-tune-cost-{args.competition}-")
    harness.prepare(args.competition, home=home)
    wall0, cpu0 = time.perf_counter(), _cpu()
    result = harness.tune(
        args.competition,
        model=args.model,
        trials=args.trials,
        jobs=args.jobs,
        threads=args.threads or None,
        home=home,
    )
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    states = [t.state.name for t in result.study.trials]
    entry = result.entry
    print(
        f"{args.competition} {args.model}: {args.trials} trials (--jobs {args.jobs} --threads "
        f"{args.threads}): {states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned; "
        f"wall {wall:.0f} s, CPU {cpu:.0f} s ({cpu / args.trials:.2f} CPU s a trial)\n"
        f"pick: trial {result.trial}, CV {result.cv_score:.5f} ± {result.cv_se:.5f} SE "
        f"(raw best {result.best_score:.5f}); params {result.params}\n"
        f"check on fresh folds: {result.confirmation}\n"
        f"entry {entry.participant}: local test public {entry.public_score:.5f}, private "
        f"{entry.private_score:.5f}\n{machine()}; {revision()}"
    )


if __name__ == "__main__":
    main()
