"""Benchmark: hosted competitions (`harness serve`) on the real components.

1. ``harness submit titanic FILE`` on a participant's machine against ``harness serve`` (sqlite
   store, 1 worker): the client's wall time (a fresh subprocess, imports included), median of
   ``--runs``; the server's own time per submit (its ``Server-Timing`` header), p50 / p99.
2. Load: ``--clients`` (16) threads × ``--per-client`` (50) submits over HTTP, each client its
   own participant (no daily limit), against
   (a) ``harness serve --workers 4`` with ``mlflow server`` on PostgreSQL as the store and the
       Harness database (tokens, the rules' lock) on the same PostgreSQL;
   (b) ``harness serve --workers 1`` on the default sqlite store.
   Recorded runs counted in MLflow afterwards: lost = sent − recorded; errors = non-200s;
   throughput and the client-side latency p50 / p99.
3. ``harness leaderboard titanic --server`` (CLI subprocess, median of ``--runs``) at 10 and at
   10,000 submissions (grown with ``Leaderboard.record``, 100 participants).

PostgreSQL is Debian's package (``/usr/lib/postgresql/*/bin``), started on loopback by
``tests/servers.py``'s helpers, like the tests do.

Run from the repository root (about 15 minutes)::

    .venv/bin/python bench/hosted.py
    .venv/bin/python bench/hosted.py --per-client 10 --sizes 10,1000   # quick
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _common as c

c.strip_bench_from_path()
sys.path.insert(0, str(c.ROOT))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed_submit(client: Any, path: Path) -> tuple[float, float | None, int]:
    """(client seconds, server seconds from Server-Timing, HTTP status)."""
    from harness.client import RemoteError

    start = time.perf_counter()
    try:
        client.submit("titanic", path, message="bench")
        status = 200
    except RemoteError as exc:
        status = exc.status
    return time.perf_counter() - start, None, status


def _server_seconds(url: str, token: str, path: Path) -> float:
    """One submit over raw urllib, reading the server's own time."""
    import secrets
    import urllib.request

    boundary = secrets.token_hex(8)
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"'
    body = (head + "\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{url}/api/competitions/titanic/submissions",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        timing = response.headers["server-timing"]
    return float(timing.split("dur=")[1]) / 1000


def _files(home: Path, n: int) -> list[Path]:
    import numpy as np
    import pandas as pd

    sample = pd.read_csv(home / "public" / "titanic" / "sample_submission.csv")
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        sample["Survived"] = rng.integers(0, 2, len(sample))
        path = home.parent / f"preds-{i}.csv"
        sample.to_csv(path, index=False)
        out.append(path)
    return out


def load(url: str, tokens: list[str], files: list[Path], per_client: int) -> dict[str, Any]:
    from harness.client import Client

    def worker(i: int) -> list[tuple[float, float | None, int]]:
        client = Client(url, tokens[i])
        return [
            _timed_submit(client, files[(i * per_client + k) % len(files)])
            for k in range(per_client)
        ]

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        results = [r for chunk in pool.map(worker, range(len(tokens))) for r in chunk]
    wall = time.perf_counter() - start
    latencies = [r[0] for r in results]
    return {
        "sent": len(results),
        "errors": sum(1 for r in results if r[2] != 200),
        "wall": wall,
        "throughput": len(results) / wall,
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
    }


def _count_runs(tracking: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    experiment = client.get_experiment_by_name("harness/titanic")
    total, token = 0, None
    while True:
        page = client.search_runs([experiment.experiment_id], max_results=5000, page_token=token)
        total += len(page)
        token = page.token
        if not token:
            return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--sizes", default="10,10000")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (1,2,3)")
    parser.add_argument("--md")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}

    report = c.Report("Hosted competitions: harness serve")
    report.note(f"Machine: {c.machine()}; {c.revision()}.")
    with c.scratch("bench-hosted-", keep=False, console=report.console) as tmp:
        home = tmp / "home"
        env = c.child_env(home)
        c.run([c.HARNESS, "prepare", "titanic"], env)
        files = _files(home, 20)

        if 1 in parts:
            part1(home, env, files, args, report)
        if 2 in parts:
            part2(tmp, files, args, report)
        if 3 in parts:
            part3(tmp, files, args, report)
    report.save(args.md)


def part1(home: Path, env: dict[str, str], files: list[Path], args: Any, report: Any) -> None:
    from harness.server.participants import Participants
    from harness.settings import Settings
    from tests import servers

    # 1. the client
    settings = Settings.resolve(home, f"sqlite:///{home}/mlflow.db")
    token = Participants(settings).add("client")
    with servers.harness_serve(env) as url:
        client_env = c.child_env(None, HARNESS_SERVER=url, HARNESS_TOKEN=token)
        submit = [c.HARNESS, "submit", "titanic", str(files[0]), "-m", "bench"]
        c.run(submit, client_env)  # warm-up: the store exists
        wall = [c.run(submit, client_env) for _ in range(args.runs)]
        server = [_server_seconds(url, token, files[i % 20]) for i in range(args.runs * 3)]
    report.table(
        "1. `harness submit titanic FILE` against `harness serve` (sqlite, 1 worker)",
        ["measure", "median s", "p99 / max s", "goal"],
        [
            [
                "client wall time (fresh subprocess)",
                f"{statistics.median(wall):.3f}",
                f"{max(wall):.3f}",
                "≤ 0.5 s",
            ],
            [
                f"server time per submit ({len(server)} submits)",
                f"{statistics.median(server):.3f}",
                f"{_pct(server, 0.99):.3f}",
                "–",
            ],
        ],
    )


def part2(tmp: Path, files: list[Path], args: Any, report: Any) -> None:
    from harness.server.participants import Participants
    from harness.settings import Settings
    from tests import servers

    # 2. load
    rows = []
    pg = servers.Postgres()
    try:
        backend, database = pg.url("mlflow_bench"), pg.url("harness_bench")
        pg_home = tmp / "pg-home"
        pg_env = c.child_env(pg_home)
        c.run([c.HARNESS, "prepare", "titanic"], pg_env)
        with servers.mlflow_server(backend, tmp / "pg-artifacts") as tracking:
            os.environ["HARNESS_DATABASE"] = database
            people = Participants(Settings.resolve(pg_home, tracking))
            tokens = [people.add(f"c{i:02d}") for i in range(args.clients)]
            del os.environ["HARNESS_DATABASE"]
            serve_env = {
                **pg_env,
                "MLFLOW_TRACKING_URI": tracking,
                "HARNESS_DATABASE": database,
            }
            with servers.harness_serve(serve_env, workers=4) as url:
                got = load(url, tokens, files, args.per_client)
            recorded = _count_runs(tracking)
            rows.append(["serve --workers 4, mlflow server + PostgreSQL", got, recorded])
    finally:
        pg.close()
    sq_home = tmp / "sq-home"
    sq_env = c.child_env(sq_home)
    c.run([c.HARNESS, "prepare", "titanic"], sq_env)
    sq_settings = Settings.resolve(sq_home, f"sqlite:///{sq_home}/mlflow.db")
    people = Participants(sq_settings)
    tokens = [people.add(f"c{i:02d}") for i in range(args.clients)]
    with servers.harness_serve(sq_env, workers=1) as url:
        got = load(url, tokens, files, args.per_client)
    rows.append(["serve --workers 1, sqlite", got, _count_runs(sq_settings.tracking_uri)])
    report.table(
        f"2. {args.clients} clients × {args.per_client} submits over HTTP",
        [
            "setup",
            "sent",
            "recorded",
            "lost",
            "errors",
            "wall s",
            "submits/s",
            "p50 s",
            "p99 s",
        ],
        [
            [
                name,
                g["sent"],
                rec,
                g["sent"] - rec,
                g["errors"],
                f"{g['wall']:.1f}",
                f"{g['throughput']:.2f}",
                f"{g['p50']:.3f}",
                f"{g['p99']:.3f}",
            ]
            for name, g, rec in rows
        ],
    )


def part3(tmp: Path, files: list[Path], args: Any, report: Any) -> None:
    # 3. the board over HTTP at 10 and 10,000
    import numpy as np
    from harness.board import Leaderboard

    from harness.server.participants import Participants
    from tests import servers

    lb_home = tmp / "lb-home"
    lb_env = c.child_env(lb_home)
    c.run([c.HARNESS, "prepare", "titanic"], lb_env)
    comp, lb_settings, _ = c.titanic_store(lb_home)
    lb_token = Participants(lb_settings).add("reader")
    rng = np.random.default_rng(0)
    have, rows3 = 0, []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        board = Leaderboard(lb_settings)
        with c.recording(report.console) as bar:
            task = bar.add_task("record", total=size - have)
            for i in range(have, size):
                board.record(
                    comp,
                    participant=f"p{i % 100:03d}",
                    kind="submission",
                    message="m",
                    public_score=float(rng.random()),
                    private_score=float(rng.random()),
                    file=files[i % 20],
                )
                bar.advance(task)
        have = size
        time.sleep(2.5)
        with servers.harness_serve(lb_env) as url:
            reader = c.child_env(None, HARNESS_SERVER=url, HARNESS_TOKEN=lb_token)
            cmd = [c.HARNESS, "leaderboard", "titanic"]
            c.run(cmd, reader)  # the first read syncs the index, regrades the rows
            times = [c.run(cmd, reader) for _ in range(args.runs)]
        rows3.append(
            [
                f"{size:,}",
                f"{statistics.median(times):.3f}",
                f"{min(times):.3f}",
                f"{max(times):.3f}",
            ]
        )
    base = float(rows3[0][1])
    for row in rows3:
        row.append(f"{float(row[1]) / base:.2f}x")
    report.table(
        "3. `harness leaderboard titanic --server` (CLI subprocess, warm server)",
        ["submissions", "median s", "min", "max", "ratio to 10 (goal ≤ 1.5x)"],
        rows3,
    )


if __name__ == "__main__":
    main()
