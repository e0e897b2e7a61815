"""Benchmark: the leaderboard web page (`harness serve`, harness/server/pages.py) at 10 and
10,000 recorded submissions: the server's time to answer ``GET /c/titanic``, and the time to
first paint in headless Chromium.

One sqlite store (``HARNESS_HOME`` a temporary directory, or ``--home``) with Titanic prepared
is grown from one size to the next with ``Leaderboard(settings).record(...)``, as
bench/leaderboard_scale.py does: random scores from 100 participants, each run logging one of
20 distinct small CSVs as its artifact (so the board's bootstrap reads 20 files' per-row values,
cached under ``HARNESS_HOME/cache/rows`` after the first read). At each size it measures:

- first: the first ``GET /c/titanic`` after the store grew (the index syncs the new runs, the
  per-row cache fills);
- (a) server: the same request in-process (FastAPI's TestClient, no socket), median of
  ``--runs`` warm calls; beside it (b) ``standings()`` alone (the board with its statistics)
  and (c) the Jinja2 template alone (its context, the SVG bars included, made once);
- (d) first paint / first contentful paint in headless Chromium (Debian's ``/usr/bin/chromium``
  driven by Playwright) loading the page from a live ``harness serve``: the
  ``performance.getEntriesByType('paint')`` entries, measured from the navigation's start, so
  they include the server's time; median of ``--runs`` fresh pages in one browser;
- the page's weight (HTML + CSS; there is no script, font or image).

Goals (from the issue): (a) at 10,000 within 1.5x of its time at 10; (d) ≤ 1 s.

Run from the repository root (about 10 minutes: recording 10,000 runs is most of it)::

    .venv/bin/python bench/pages.py
    .venv/bin/python bench/pages.py --sizes 10,1000 --runs 3        # quick
    .venv/bin/python bench/pages.py --md /tmp/pages.md               # tables as Markdown
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import _common as c

c.strip_bench_from_path()  # `import leaderboard` must find the package, not this file
sys.path.insert(0, str(c.ROOT))  # tests.servers: the same `harness serve` the tests start
os.environ.pop("MLFLOW_TRACKING_URI", None)

SLACK_S = 2.5  # > leaderboard.index's 2 s local slack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000", help="submission counts, ascending")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7, help="timed calls per measure (7)")
    parser.add_argument("--home", help="HARNESS_HOME to grow (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary HARNESS_HOME")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    report = c.Report("The leaderboard as web pages (issue 14, `bench/pages.py`)")
    report.note(
        f"Machine: {c.machine()}; {c.revision()}.\n"
        f"{args.participants} participants; medians of {args.runs} calls [min-max]."
    )
    with c.bench_home(args.home, "bench-pages-", keep=args.keep, console=report.console) as home:
        measure(home, sizes, args, report)
    report.save(args.md)


def measure(home: Path, sizes: list[int], args: argparse.Namespace, report: c.Report) -> None:
    import numpy as np
    import pandas as pd
    from fastapi.testclient import TestClient
    from harness.board import Leaderboard
    from harness.board.board import standings

    import harness
    from harness.server.app import create_app
    from harness.server.pages import ANONYMOUS, Links, board_context

    comp, settings, env = c.titanic_store(home)
    public = harness.prepare("titanic", home=home).public
    rng = np.random.default_rng(args.seed)
    sample = pd.read_csv(public / "sample_submission.csv")
    files = []
    for i in range(20):  # distinct predictions: 20 artifacts' per-row values on the board
        frame = sample.copy()
        frame["Survived"] = rng.integers(0, 2, len(frame))
        path = home / f"preds{i:02d}.csv"
        frame.to_csv(path, index=False)
        files.append(path)
    names = [f"p{i:03d}" for i in range(args.participants)]
    served = create_app(settings, max_upload=0)  # no upload limit: the FastAPI app itself
    app, site = TestClient(served), served.state.site

    def get() -> Any:
        got = app.get("/c/titanic")
        assert got.status_code == 200, got.text[:500]
        return got

    have = len(Leaderboard(settings).submissions_from_mlflow(comp))
    results = []
    browser = None if args.no_browser else Browser()
    try:
        for size in sizes:
            if size < have:
                report.note(f"skipping size {size:,}: the store already holds {have:,}")
                continue
            grow(Leaderboard(settings), comp, files, names, rng, have, size, report)
            have = size
            first, page = c.timed(get)
            server = c.repeat(get, args.runs)
            board = c.repeat(lambda: standings(Leaderboard(settings), comp), args.runs)
            context = board_context(site, ANONYMOUS, "titanic", private=False)
            render = c.repeat(
                lambda ctx=context: site.render("leaderboard.html", Links(), ANONYMOUS, **ctx),
                args.runs,
            )
            css = app.get("/static/style.css").content
            paint = browser.paints(env, args.runs) if browser else None
            row = {
                "size": size,
                "first": first,
                "server": c.summary(server),
                "board": c.summary(board),
                "render": c.summary(render),
                "bytes": len(page.content) + len(css),
                "html": len(page.content),
                "paint": paint,
            }
            results.append(row)
            said = f"[bold]{size:,}[/bold]: server {row['server'][0]:.3f} s"
            if paint:
                said += f", first contentful paint {paint['fcp'][0] * 1000:.0f} ms"
            report.console.print(said)
    finally:
        if browser:
            browser.close()
    if not results:
        return

    def cell(m: tuple[float, float, float], scale: float = 1.0, digits: int = 3) -> str:
        return f"{m[0] * scale:.{digits}f} [{m[1] * scale:.{digits}f}-{m[2] * scale:.{digits}f}]"

    report.table(
        "Server time for GET /c/titanic (s), in-process",
        [
            "submissions",
            "first request",
            "(a) warm request",
            "(b) of which standings()",
            "(c) the template alone",
            "page weight (HTML + CSS)",
        ],
        [
            [
                f"{r['size']:,}",
                c.fmt_s(r["first"]),
                cell(r["server"]),
                cell(r["board"]),
                cell(r["render"], digits=4),
                f"{r['bytes'] / 1000:.1f} KB ({r['html'] / 1000:.1f} KB HTML)",
            ]
            for r in results
        ],
    )
    if results[0]["paint"]:
        report.table(
            "Headless Chromium loading the page from a live `harness serve` "
            "(ms from the navigation's start)",
            ["submissions", "response start", "first paint", "(d) first contentful paint"],
            [
                [
                    f"{r['size']:,}",
                    cell(r["paint"]["response"], 1000, 0),
                    cell(r["paint"]["fp"], 1000, 0),
                    cell(r["paint"]["fcp"], 1000, 0),
                ]
                for r in results
                if r["paint"]
            ],
        )
    base, last = results[0], results[-1]
    ratio = last["server"][0] / base["server"][0]
    report.note(
        f"Goal: server time at {last['size']:,} ≤ 1.5x its time at {base['size']:,}: "
        f"{'MET' if ratio <= 1.5 else 'MISSED'} ({ratio:.2f}x)."
    )
    if last["paint"]:
        worst = max(r["paint"]["fcp"][0] for r in results if r["paint"])
        report.note(
            f"Goal: first contentful paint ≤ 1 s: {'MET' if worst <= 1 else 'MISSED'} "
            f"(worst median {worst * 1000:.0f} ms)."
        )
    report.note(
        f"Goal: page weight ≤ 300 KB: {'MET' if last['bytes'] <= 300_000 else 'MISSED'} "
        f"({last['bytes'] / 1000:.1f} KB at {last['size']:,} submissions)."
    )


#: The paint entries (waited for: headless Chromium may report them after "load") and the
#: response's start, in ms from the navigation's start.
PAINTS = """() => new Promise((resolve) => {
    const collect = () => {
        const p = {};
        for (const e of performance.getEntriesByType('paint')) p[e.name] = e.startTime;
        const n = performance.getEntriesByType('navigation')[0];
        return {fp: p['first-paint'], fcp: p['first-contentful-paint'], response: n.responseStart};
    };
    new PerformanceObserver(() => {
        if (performance.getEntriesByName('first-contentful-paint').length) resolve(collect());
    }).observe({type: 'paint', buffered: true});
    setTimeout(() => resolve(collect()), 5000);
})"""


class Browser:
    """Headless Chromium (Debian's) through Playwright; never a browser download."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        from tests.servers import CHROMIUM, CHROMIUM_ARGS

        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def paints(self, env: dict[str, str], runs: int) -> dict[str, tuple[float, float, float]]:
        from tests import servers

        with servers.harness_serve(env) as url:
            got: dict[str, list[float]] = {"response": [], "fp": [], "fcp": []}
            context = self.browser.new_context()
            for i in range(runs + 1):
                page = context.new_page()
                page.goto(url + "/c/titanic", wait_until="load")
                timing = page.evaluate(PAINTS)
                page.close()
                if i == 0:
                    continue  # the first load warms the server process
                for key in got:
                    if timing.get(key) is not None:
                        got[key].append(float(timing[key]) / 1000)
            context.close()
        return {k: c.summary(v) if v else (float("nan"),) * 3 for k, v in got.items()}

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def grow(
    board: Any,
    comp: Any,
    files: list[Path],
    names: list[str],
    rng: Any,
    have: int,
    size: int,
    report: c.Report,
) -> None:
    """Record submissions until the store holds ``size``; the last one after a pause."""
    import numpy as np

    if size <= have:
        return
    with c.recording(report.console) as progress:
        task = progress.add_task("record", total=size - have)
        for i in range(have, size):
            if i == size - 1:
                time.sleep(SLACK_S)  # the newest run alone in the index's re-fetch window
            who = names[i] if i < len(names) else names[int(rng.integers(len(names)))]
            public = float(rng.uniform(0.6, 0.85))
            board.record(
                comp,
                participant=who,
                kind="submission",
                message=f"submission {i}",
                public_score=public,
                private_score=float(np.clip(public + rng.normal(0, 0.02), 0, 1)),
                file=files[i % len(files)],
            )
            progress.advance(task)
    time.sleep(SLACK_S)


if __name__ == "__main__":
    main()
