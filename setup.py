"""The package layout pyproject.toml cannot say alone: the repository keeps its top-level
folders (``leaderboard/``, ``baselines/``, ``competitions/``), and they install inside
``harness`` (``leaderboard/`` as ``harness.board``, since ``harness.leaderboard`` is the
notebook's function; ``harness.baselines``, ``harness.competitions``), so ``pip install`` puts
only ``harness`` at the top of site-packages, where no package of a generic name collides."""

from setuptools import find_packages, setup

INSIDE = {"leaderboard": "board", "baselines": "baselines", "competitions": "competitions"}


def inside(package: str) -> str:
    """``leaderboard.rules`` -> ``harness.board.rules``."""
    top, _, rest = package.partition(".")
    return ".".join(p for p in ("harness", INSIDE[top], rest) if p)


setup(
    packages=[
        *find_packages(include=["harness", "harness.*"]),
        *(inside(p) for p in find_packages(include=[f"{n}*" for n in INSIDE])),
    ],
    package_dir={"harness": "harness", **{inside(n): n for n in INSIDE}},
)
