"""Benchmark: code submissions (issue 24's goals), three tables.

1. Sandbox start-up: ``python -c pass`` and a script that imports pandas, run bare
   (``subprocess.run``) and in the sandbox (``harness.sandbox.run``), interleaved: the median
   of ``--runs`` each; the difference is the sandbox's own cost (goal ≤ 0.5 s).
2. A 3-line Titanic script end to end through the CLI, ``harness submit titanic --code s.py``
   (the example run, the test run, validate, score, record), against ``harness submit titanic
   preds.csv`` of the same predictions: fresh processes, median of ``--runs`` (goal ≤ 3 s
   beyond the CSV submit).
3. 20 code submissions, 5 from each of 4 participants uploaded at once (4 threads), against
   ``harness serve --code-workers 2``: the time until every one is finished, how many ended
   complete, how many were lost (not finished, or no record) and how many were recorded more
   than once (MLflow runs per job id). Goal: 20 complete, 0 lost, 0 twice.

Each part uses a fresh HARNESS_HOME under /tmp with Titanic prepared from the embedded data.
Needs bubblewrap (``bwrap``). Run from the repository root::

    .venv/bin/python bench/code.py              # 5 runs each, about 3 minutes
    .venv/bin/python bench/code.py --runs 3 --md /tmp/code.md
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common as c

c.strip_bench_from_path()

SCRIPT = """\
import pandas as pd
t = pd.read_csv("input/test.csv")
t.assign(Survived=(t.Sex == "female").astype(int))[["PassengerId", "Survived"]].to_csv("submission.csv", index=False)
"""  # noqa: E501  (three lines, as the goal says)


def sandbox_startup(report: c.Report, tmp: Path, runs: int) -> None:
    from harness import sandbox

    rows = []
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    for label, code in (("python -c pass", "pass"), ("import pandas", "import pandas")):

        def boxed(code: str = code) -> float:
            got = sandbox.run([sys.executable, "-c", code], workdir=work)
            if not got.ok:
                raise RuntimeError(got.stderr)
            return got.seconds

        bare, inside = [], []
        for _ in range(runs):  # interleaved, so a change of load hits both alike
            bare.append(c.run([sys.executable, "-c", code], os.environ))
            inside.append(boxed())
        b, s = statistics.median(bare), statistics.median(inside)
        rows.append([label, c.fmt_s(b), c.fmt_s(s), c.fmt_s(s - b), "≤ 0.500"])
    report.table(
        f"Sandbox start-up (median of {runs}, seconds)",
        ["run", "bare", "sandboxed", "overhead", "goal"],
        rows,
    )


def end_to_end(report: c.Report, tmp: Path, runs: int) -> None:
    import pandas as pd

    home = tmp / "e2e"
    env = c.child_env(home)
    c.run([c.HARNESS, "prepare", "titanic"], env)
    script = tmp / "solution.py"
    script.write_text(SCRIPT)
    test = pd.read_csv(home / "public" / "titanic" / "test.csv")
    preds = tmp / "preds.csv"
    test.assign(Survived=(test.Sex == "female").astype(int))[["PassengerId", "Survived"]].to_csv(
        preds, index=False
    )
    csv_cmd = [c.HARNESS, "submit", "titanic", str(preds), "--as", "bench"]
    code_cmd = [c.HARNESS, "submit", "titanic", "--code", str(script), "--as", "bench"]
    c.run(csv_cmd, env)  # warm-up: the store exists and is migrated
    csv = c.repeat(lambda: c.run(csv_cmd, env), runs)
    code = c.repeat(lambda: c.run(code_cmd, env), runs)
    cm, km = statistics.median(csv), statistics.median(code)
    report.table(
        f"3-line Titanic script, CLI end to end (median of {runs}, seconds)",
        ["submit", "median", "min", "max", "beyond CSV", "goal"],
        [
            ["CSV file", c.fmt_s(cm), c.fmt_s(min(csv)), c.fmt_s(max(csv)), "-", "-"],
            [
                "--code (2 sandboxed runs)",
                c.fmt_s(km),
                c.fmt_s(min(code)),
                c.fmt_s(max(code)),
                c.fmt_s(km - cm),
                "≤ 3.000",
            ],
        ],
    )


def queue(report: c.Report, tmp: Path, workers: int, per: int, people: int) -> None:
    from harness.board.queue import CodeQueue
    from harness.board.schema import JOB_TAG
    from harness.board.store import Leaderboard

    from harness.client import Client
    from harness.registry import get_competition
    from harness.server.participants import Participants
    from harness.settings import Settings
    from tests import servers

    home = tmp / "served"
    env = c.child_env(home)
    c.run([c.HARNESS, "prepare", "titanic"], env)
    settings = Settings.resolve(home, f"sqlite:///{home}/mlflow.db")
    names = [f"p{i}" for i in range(people)]
    tokens = {n: Participants(settings).add(n) for n in names}
    script = tmp / "queued.py"
    script.write_text(SCRIPT)
    port = servers.free_port()
    cmd = [c.HARNESS, "serve", "--port", str(port), "--code-workers", str(workers)]
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_http(url + "/api/health", proc, timeout=120)
        ids: list[str] = []
        lock = threading.Lock()

        def upload(name: str) -> None:
            board = Client(url, tokens[name]).board("titanic")
            for k in range(per):
                got = board.submit_code(script, message=f"{name} #{k}")
                with lock:
                    ids.append(got.submission)

        start = time.perf_counter()
        with ThreadPoolExecutor(people) as pool:
            list(pool.map(upload, names))
        accepted = time.perf_counter() - start
        q = CodeQueue(settings)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            states = [q.job(i).status for i in ids]
            if all(s in ("complete", "error") for s in states):
                break
            time.sleep(0.5)
        done = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    jobs = [q.job(i) for i in ids]
    store = Leaderboard(settings)
    comp = get_competition("titanic")
    experiment = store.experiment_id(comp, create=False)
    runs = store.client.search_runs([experiment], max_results=10_000) if experiment else []
    per_job = collections.Counter(r.data.tags.get(JOB_TAG) for r in runs if JOB_TAG in r.data.tags)
    complete = sum(j.status == "complete" for j in jobs)
    lost = sum(j.status not in ("complete", "error") or per_job[j.id] == 0 for j in jobs)
    twice = sum(n > 1 for n in per_job.values())
    report.table(
        f"{people * per} code submissions from {people} participants, "
        f"harness serve --code-workers {workers}",
        ["submitted", "accepted in", "all finished in", "complete", "error", "lost", "twice"],
        [
            [
                len(ids),
                c.fmt_s(accepted, 1) + " s",
                c.fmt_s(done, 1) + " s",
                complete,
                sum(j.status == "error" for j in jobs),
                lost,
                twice,
            ]
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    sys.path.insert(0, str(c.ROOT))  # tests.servers: the loopback server helpers
    report = c.Report("Code submissions (bench/code.py)")
    report.note(f"{c.machine()}; load average before: {Path('/proc/loadavg').read_text().strip()}")
    with c.scratch("harness-bench-code-", keep=args.keep, console=report.console) as tmp:
        os.environ["HARNESS_HOME"] = str(tmp / "unused")
        sandbox_startup(report, tmp, args.runs)
        end_to_end(report, tmp, args.runs)
        queue(report, tmp, args.workers, per=5, people=4)
    report.note(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    report.save(args.md)


if __name__ == "__main__":
    main()
