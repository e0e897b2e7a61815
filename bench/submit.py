"""Benchmark: the wall time of `harness submit titanic FILE`, next to its floor.

What it measures (every command is a fresh subprocess, timed from the parent, so interpreter
start and imports count, as they do for a user):

- ``harness submit titanic FILE -m MSG --as NAME``: median/min/max of ``--runs`` (default 10),
  after one warm-up submit so the sqlite store exists and is migrated;
- ``harness validate titanic FILE`` and ``harness --help``: the same;
- the floor: a bare Python script that imports mlflow and logs one run with one metric through
  ``MlflowClient`` (get the experiment, ``create_run``, ``log_metric``, ``set_terminated``) on a
  copy of the same ``mlflow.db`` (so the same number of runs);
- ``python -c pass``: interpreter start, for reference.

``HARNESS_HOME`` is a temporary directory prepared once with ``harness prepare titanic``; the
predictions are random 0/1 labels for the sample submission's ids.

Then a breakdown of where one submit's time goes: ``python -X importtime`` on one CLI submit
(import seconds by package), the phases of ``harness.submit`` timed one by one in a fresh
process (imports land in the phase that first needs them), and a cProfile of one in-process
``harness.submit`` call in a fresh process.

Goals (from the issue): submit within 1.3x of the floor; ``harness --help`` under 0.3 s.

Run from the repository root::

    .venv/bin/python bench/submit.py                 # 10 runs each (about 2 minutes)
    .venv/bin/python bench/submit.py --runs 3        # quick
    .venv/bin/python bench/submit.py --md /tmp/submit.md   # also write the tables as Markdown
    .venv/bin/python bench/submit.py --rules         # with a daily limit, deadline and ladder
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import _common as c

FLOOR = """\
import sys, time
import mlflow
from mlflow import MlflowClient

uri, name = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri)
experiment = client.get_experiment_by_name(name).experiment_id
run = client.create_run(experiment)
client.log_metric(run.info.run_id, "public_score", 0.5, timestamp=int(time.time() * 1000))
client.set_terminated(run.info.run_id, "FINISHED")
"""

# harness.submit's steps one at a time (mirrors harness/api.py: keep in step with it).
PHASES = """\
import json, sys, time
t0 = time.perf_counter(); out = {}
def mark(name):
    global t0
    now = time.perf_counter(); out[name] = now - t0; t0 = now
from pathlib import Path
import harness.cli                                   # what the `harness` script imports
mark("import harness.cli (click; numpy via harness.metrics)")
from harness.registry import get_competition
from harness.settings import Settings
comp = get_competition("titanic"); settings = Settings.resolve()
mark("get_competition (registry, competitions/*)")
from harness.data.scoring import score
from harness.data.validation import validate
mark("import harness.data.validation")
path = Path(sys.argv[1])
aligned = validate(comp, settings, path)
mark("validate (first pandas import, sha256, read CSVs)")
scores = score(comp, settings, aligned)
mark("score")
from harness.board import Leaderboard
board = Leaderboard(settings)
import mlflow.entities
mark("import mlflow (+ mlflow.entities)")
board.client
mark("MlflowClient() + first query (sqlalchemy store, schema check)")
entry = board.record(comp, participant="phases", kind="submission", message="phases",
                     public_score=scores.public, private_score=scores.private, file=path,
                     extra=scores.extra)
mark("record (create_run, log_batch, log_artifact, set_terminated)")
from harness.board.board import standings
table = standings(board, comp, stats=False)
mark("standings (index sync + ranking)")
print(json.dumps(out))
"""

PROFILE = """\
import cProfile, sys
prof = cProfile.Profile()
prof.enable()
import harness
harness.submit("titanic", sys.argv[1], message="profile", participant="profile")
prof.disable()
prof.dump_stats(sys.argv[2])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (10)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the profiles")
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--rules",
        action="store_true",
        help="with a daily limit, a deadline (private hidden) and ladder mode on",
    )
    args = parser.parse_args()

    report = c.Report("harness submit titanic" + (" (rules on)" if args.rules else ""))
    report.note(
        f"Machine: {c.machine()}; {c.revision()}.\n"
        f"Median of {args.runs} runs per command, each a fresh "
        "subprocess timed from the parent."
    )
    with c.scratch("bench-submit-", keep=args.keep, console=report.console) as tmp:
        measure(tmp, args, report)
    report.save(args.md)


def measure(tmp: Path, args: argparse.Namespace, report: c.Report) -> None:
    import numpy as np
    import pandas as pd

    home = tmp / "home"
    env = c.child_env(home)
    c.run([c.HARNESS, "prepare", "titanic"], env)
    sample = pd.read_csv(home / "public" / "titanic" / "sample_submission.csv")
    sample["Survived"] = np.random.default_rng(0).integers(0, 2, len(sample))
    preds = tmp / "preds.csv"
    sample.to_csv(preds, index=False)

    submit = [c.HARNESS, "submit", "titanic", str(preds), "-m", "bench", "--as", "bench"]
    c.run(submit, env)  # warm-up: creates and migrates mlflow.db, builds the index
    if args.rules:  # every rule that adds work to a submit: limit, hidden private, ladder
        c.run(
            [
                c.HARNESS,
                "rules",
                "titanic",
                "--daily-limit",
                "1000000",
                "--deadline",
                "2099-01-01T00:00Z",
                "--ladder",
            ],
            env,
        )
        c.run(submit, env)

    # The floor works on a copy of the same database, so the same number of runs.
    floor_dir = tmp / "floor"
    floor_dir.mkdir()
    shutil.copyfile(home / "mlflow.db", floor_dir / "mlflow.db")
    (floor_dir / "floor.py").write_text(FLOOR, encoding="utf-8")
    floor = [
        c.PYTHON,
        str(floor_dir / "floor.py"),
        f"sqlite:///{floor_dir / 'mlflow.db'}",
        "harness/titanic",
    ]
    c.run(floor, env)  # warm-up, like submit's

    commands = {
        "harness submit titanic FILE": submit,
        "floor: import mlflow, log 1 run + 1 metric": floor,
        "harness validate titanic FILE": [c.HARNESS, "validate", "titanic", str(preds)],
        "harness --help": [c.HARNESS, "--help"],
        "python -c pass (interpreter start)": [c.PYTHON, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so drift on the machine hits every command alike
        for name, cmd in commands.items():
            times[name].append(c.run(cmd, env))
    floor_median = c.summary(times["floor: import mlflow, log 1 run + 1 metric"])[0]
    rows = []
    for name, samples in times.items():
        med, lo, hi = c.summary(samples)
        rows.append([name, c.fmt_s(med), c.fmt_s(lo), c.fmt_s(hi), f"{med / floor_median:.2f}x"])
    report.table(
        "Wall time (s), fresh subprocess per run",
        ["command", "median s", "min", "max", "ratio to floor"],
        rows,
    )
    submit_ratio = c.summary(times["harness submit titanic FILE"])[0] / floor_median
    help_median = c.summary(times["harness --help"])[0]
    report.note(
        f"Goal submit ≤ 1.3x floor: {'MET' if submit_ratio <= 1.3 else 'MISSED'} "
        f"({submit_ratio:.2f}x). Goal `harness --help` < 0.3 s: "
        f"{'MET' if help_median < 0.3 else 'MISSED'} ({help_median:.3f} s)."
    )

    if not args.no_breakdown:
        breakdown(tmp, preds, env, floor, report)


def breakdown(
    tmp: Path, preds: Path, env: dict[str, str], floor: list[str], report: c.Report
) -> None:
    # 1. -X importtime on one CLI submit, and on the floor for comparison.
    def importtime(cmd: list[str]) -> str:
        return c.output([c.PYTHON, "-X", "importtime", *cmd], env).stderr

    cli = [
        "-c",
        "from harness.cli import main; main()",
        "submit",
        "titanic",
        str(preds),
        "-m",
        "importtime",
        "--as",
        "bench",
    ]
    submit_err, floor_err = importtime(cli), importtime(floor[1:])
    submit_total, submit_groups = c.importtime_groups(submit_err, top=14)
    floor_total, floor_groups = c.importtime_groups(floor_err, top=100)
    floor_by = {pkg: secs for pkg, secs, _ in floor_groups}
    report.note(
        f"`python -X importtime` (inflates times somewhat): a CLI submit spends "
        f"{submit_total:.2f} s importing, the floor script {floor_total:.2f} s."
    )
    report.table(
        "submit vs floor: import self-time by top-level package",
        ["package", "submit s", "modules", "floor s"],
        [
            [pkg, f"{secs:.3f}", n, f"{floor_by.get(pkg, 0.0):.3f}"]
            for pkg, secs, n in submit_groups
        ],
    )
    help_total, help_groups = c.importtime_groups(
        importtime(["-c", "from harness.cli import main; main()", "--help"]), top=6
    )
    report.table(
        f"harness --help: import self-time by package ({help_total:.2f} s of imports)",
        ["package", "s", "modules"],
        [[pkg, f"{secs:.3f}", n] for pkg, secs, n in help_groups],
    )
    report.table(
        "python -X importtime: largest imports asked for by the program (cumulative)",
        ["module", "cumulative s", "self s"],
        [[m, f"{cum:.3f}", f"{s:.3f}"] for m, cum, s in c.importtime_top(submit_err, 12)],
    )

    # 2. harness.submit's phases, one fresh process.
    phases_py = tmp / "phases.py"
    phases_py.write_text(PHASES, encoding="utf-8")
    done = c.output([c.PYTHON, str(phases_py), str(preds)], env)
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    total = sum(phases.values())
    report.note(
        f"harness.submit phase by phase in one fresh process: {total:.2f} s in all "
        "(interpreter start not included)."
    )
    report.table(
        "harness.submit phases",
        ["phase", "s", "share"],
        [[k, f"{v:.3f}", f"{v / total:.0%}"] for k, v in phases.items()],
    )

    # 3. cProfile of one in-process harness.submit in a fresh process.
    profile_py, dump = tmp / "submit_profile.py", tmp / "submit.prof"
    profile_py.write_text(PROFILE, encoding="utf-8")
    c.output([c.PYTHON, str(profile_py), str(preds), str(dump)], env)
    report.code(
        "cProfile, one harness.submit in a fresh process (imports included): "
        "harness/leaderboard functions by cumulative time",
        c.profile_text(dump, "cumulative", 16, r"/(harness|leaderboard)/"),
    )
    report.code(
        "cProfile, same run: mlflow/sqlalchemy/alembic functions by cumulative time "
        "(outside import machinery)",
        c.profile_text(dump, "cumulative", 22, r"/(mlflow|sqlalchemy|alembic)/.*\((?!<module>)"),
    )
    report.code(
        "cProfile, same run: top functions by own time", c.profile_text(dump, "tottime", 15)
    )


if __name__ == "__main__":
    main()
