"""Benchmark: a class's pages (harness/server/classroom.py) and the leaderboard with teams, at
100 teams (200 participants, two to a team) and 10,000 recorded submissions: each page's
weight (HTML + CSS; no script, font or image) and its first contentful paint in headless
Chromium (Debian's ``/usr/bin/chromium`` through Playwright) from a live ``harness serve``.

The store is grown as bench/pages.py grows it (its ``grow``: random scores, 20 distinct small
CSVs as artifacts), after the teams are made through the board service. The signed-in pages
(Team, the host's page, the leaderboard as a member) are loaded with a participant's or the
host's token in the cookie the sign-in form sets. Each page: the median of ``--runs`` fresh
loads in one browser, after one warm-up load.

Goals (from the issue): every page ≤ 300 KB and first contentful paint ≤ 1 s.

Run from the repository root (about 10 minutes: recording 10,000 runs is most of it)::

    .venv/bin/python bench/class_pages.py
    .venv/bin/python bench/class_pages.py --size 1000 --runs 3      # quick
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import _common as c

c.strip_bench_from_path()
sys.path.insert(0, str(c.ROOT))
os.environ.pop("MLFLOW_TRACKING_URI", None)

PAGES = [  # (name, path, who: None anonymous, "member", "host")
    ("overview", "/c/titanic/overview", None),
    ("data", "/c/titanic/data", "member"),
    ("rules", "/c/titanic/rules", "member"),
    ("team", "/c/titanic/team", "member"),
    ("host", "/c/titanic/host", "host"),
    ("sign-up", "/signup", None),
    ("leaderboard (teams)", "/c/titanic", "member"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="submissions (10,000)")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="timed loads per page (5)")
    parser.add_argument("--home", help="HARNESS_HOME to grow (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary HARNESS_HOME")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--md", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    report = c.Report("A class's pages with teams (issue 26, `bench/class_pages.py`)")
    report.note(
        f"Machine: {c.machine()}; {c.revision()}.\n"
        f"{args.teams} teams of two, {args.size:,} submissions; medians of {args.runs} "
        "loads [min-max]; load average before: " + Path("/proc/loadavg").read_text().strip()
    )
    with c.bench_home(args.home, "bench-class-", keep=args.keep, console=report.console) as home:
        measure(home, args, report)
    report.note("Load average after: " + Path("/proc/loadavg").read_text().strip())
    report.save(args.md)


def measure(home: Path, args: argparse.Namespace, report: c.Report) -> None:
    import numpy as np
    import pandas as pd
    from harness.board import Leaderboard
    from harness.board.service import Board

    Browser, grow = _pages().Browser, _pages().grow

    import harness
    from harness.server.participants import Participants
    from harness.server.signup import Invitations

    comp, settings, env = c.titanic_store(home)
    public = harness.prepare("titanic", home=home).public
    rng = np.random.default_rng(args.seed)
    sample = pd.read_csv(public / "sample_submission.csv")
    files = []
    for i in range(20):
        frame = sample.copy()
        frame["Survived"] = rng.integers(0, 2, len(frame))
        path = home / f"preds{i:02d}.csv"
        frame.to_csv(path, index=False)
        files.append(path)
    board = Board(comp, settings)
    names = [f"p{i:03d}" for i in range(2 * args.teams)]
    have = len(Leaderboard(settings).submissions_from_mlflow(comp))
    if not board.teams():
        for t in range(args.teams):
            made = board.create_team(f"team {t:03d}", participant=names[2 * t])
            assert made.code is not None
            board.join_team(made.code, participant=names[2 * t + 1])
    grow(Leaderboard(settings), comp, files, names, rng, have, args.size, report)
    people = Participants(settings)
    existing = {p.name for p in people.list()}
    tokens = {
        "member": people.add("p000") if "p000" not in existing else "",
        "host": people.add("teacher", role="host") if "teacher" not in existing else "",
    }
    invitations = Invitations(people)
    for _ in range(5):
        invitations.create(uses=30, days=7)
    browser = Browser()
    rows = []
    try:
        rows = loads(browser, env, tokens, args.runs)
    finally:
        browser.close()

    def cell(m: tuple[float, float, float]) -> str:
        return f"{m[0] * 1000:.0f} [{m[1] * 1000:.0f}-{m[2] * 1000:.0f}]"

    report.table(
        f"Each page at {args.teams} teams / {args.size:,} submissions, from a live "
        "`harness serve` in headless Chromium",
        [
            "page",
            "as",
            "weight (HTML + CSS)",
            "response start (ms)",
            "first contentful paint (ms)",
        ],
        [
            [
                r["name"],
                r["who"] or "anonymous",
                f"{r['bytes'] / 1000:.1f} KB",
                cell(r["response"]),
                cell(r["fcp"]),
            ]
            for r in rows
        ],
    )
    heavy = max(r["bytes"] for r in rows)
    slow = max(r["fcp"][0] for r in rows)
    report.note(
        f"Goal: every page ≤ 300 KB: {'MET' if heavy <= 300_000 else 'MISSED'} (largest "
        f"{heavy / 1000:.1f} KB). Goal: first contentful paint ≤ 1 s: "
        f"{'MET' if slow <= 1 else 'MISSED'} (slowest median {slow * 1000:.0f} ms)."
    )


def loads(browser: Any, env: dict[str, str], tokens: dict[str, str], runs: int) -> list[Any]:
    PAINTS = _pages().PAINTS
    from harness.server.pages import COOKIE
    from tests import servers

    out = []
    with servers.harness_serve(env) as url:
        css = len(_fetch(url + "/static/style.css", None))
        for name, path, who in PAGES:
            context = browser.browser.new_context()
            token = tokens.get(who or "", "")
            if token:
                context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
            got: dict[str, list[float]] = {"response": [], "fcp": []}
            for i in range(runs + 1):
                page = context.new_page()
                answer = page.goto(url + path, wait_until="load")
                assert answer is not None and answer.status == 200, (name, answer)
                timing = page.evaluate(PAINTS)
                size = len(answer.body())
                page.close()
                if i == 0:
                    continue
                for key in got:
                    if timing.get(key) is not None:
                        got[key].append(float(timing[key]) / 1000)
            context.close()
            out.append(
                {
                    "name": name,
                    "who": who,
                    "bytes": size + css,
                    **{k: c.summary(v) for k, v in got.items()},
                }
            )
    return out


def _pages() -> Any:
    """bench/pages.py (its store growth, browser and paint timing), loaded from its file."""
    import importlib.util

    found = sys.modules.get("bench_pages")
    if found is None:
        spec = importlib.util.spec_from_file_location("bench_pages", c.ROOT / "bench/pages.py")
        assert spec is not None and spec.loader is not None
        found = importlib.util.module_from_spec(spec)
        sys.modules["bench_pages"] = found
        spec.loader.exec_module(found)
    return found


def _fetch(url: str, token: str | None) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as answer:
        return bytes(answer.read())


if __name__ == "__main__":
    main()
