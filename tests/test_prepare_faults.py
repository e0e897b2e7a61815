"""Faults around `harness prepare`: a killed run, oversized archive members, links out of a raw
folder, `prepare --force` racing with readers, and who may read the home."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from tests.fixtures import cifar_archive, dogs_archive, imdb_archive

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and signals")
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- 1. a killed prepare -------------------------------------------------------------------


@POSIX
@LINUX
def test_killed_prepare_does_not_block_the_next_one(home: Path, tmp_path: Path) -> None:
    archive = cifar_archive(tmp_path, per_class=(240, 20))  # 12,000 train images: a pool
    env = {**os.environ, "HARNESS_HOME": str(home), "OMP_NUM_THREADS": "1"}
    staging = home / ".staging"
    first = subprocess.Popen(
        _harness("prepare", "cifar10", "--raw", str(archive)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        stale: list[Path] = []
        while time.monotonic() < deadline and first.poll() is None:
            found = staging.glob("cifar10-*") if staging.is_dir() else []
            stale = [p for p in found if (p / "public").is_dir()]
            workers = _children(first.pid)
            if stale and workers and any(stale[0].glob("public/train/*.png")):
                break
            time.sleep(0.02)
        else:
            pytest.fail("the first prepare ended before its pool was seen working")
        assert (stale[0].stat().st_mode & 0o777) == 0o700, "staging must be private"
        first.send_signal(signal.SIGKILL)
        first.wait()

        end = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < end:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "pool workers outlived their parent"

        second = subprocess.run(
            _harness("prepare", "cifar10", "--raw", str(archive)),
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert second.returncode == 0, second.stderr
        assert not stale[0].exists(), "the dead run's staging folder was left behind"
        assert not list(staging.glob("cifar10-*")), "nor its extracted raw data"
        assert (home / "private" / "cifar10" / "MANIFEST.json").is_file()
    finally:
        if first.poll() is None:
            first.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


@POSIX
def test_a_lock_held_by_an_orphan_of_a_dead_process_is_taken_over(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    import fcntl

    from harness.data.preparation import prepare
    from harness.registry import get_competition as get

    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = settings.locks_dir / "titanic.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{dead.pid}@{os.uname().nodename}\n")
    orphan = open(lock, "r+")  # noqa: SIM115 - stands for a forked child of the dead holder
    fcntl.flock(orphan, fcntl.LOCK_EX)
    said: list[str] = []
    done: list[object] = []
    worker = threading.Thread(
        target=lambda: done.append(prepare(get("titanic"), settings, progress=said.append)),
        daemon=True,
    )
    try:
        worker.start()
        worker.join(timeout=30)
        assert done, "prepare waited forever for a lock whose holder is dead"
        assert any(f"pid {dead.pid}" in m and "taking it over" in m for m in said), said
    finally:
        orphan.close()
        worker.join(timeout=30)


@POSIX
def test_staging_of_a_dead_run_is_removed(settings) -> None:  # type: ignore[no-untyped-def]
    import harness

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = settings.staging_dir / f"titanic-{dead.pid}-0123abcd"
    (stale / "private").mkdir(parents=True)
    (stale / "private" / "answers.csv").write_text("PassengerId,Survived\n")
    mine = settings.staging_dir / f"titanic-{os.getpid()}-0123abcd"  # a live run's: kept
    mine.mkdir()
    other = settings.staging_dir / f"titanic2-{dead.pid}-0123abcd"  # not titanic's: kept
    other.mkdir()
    harness.prepare("titanic")
    assert not stale.exists()
    assert mine.exists() and other.exists()


# --- 2. archive members over the cap -------------------------------------------------------


def _over_cap_dogs(tmp_path: Path) -> Path:
    path = dogs_archive(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as train:
            train.writestr("train/cat.5000.jpg", b"\0" * 200_000, zipfile.ZIP_DEFLATED)
        zf.writestr("train2.zip", inner.getvalue())
    return path


def test_an_oversized_member_of_a_streamed_zip_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness
    from harness.data import sources
    from harness.errors import RawDataError

    # the fixture's own members are smaller than 50,000 bytes
    monkeypatch.setattr(sources, "MAX_MEMBER", 50_000, raising=False)
    with pytest.raises(RawDataError, match=r"'train/cat\.5000\.jpg' is 200,000 bytes.*50,000"):
        harness.prepare("dogs-vs-cats", raw=_over_cap_dogs(tmp_path))
    assert not (home / "public" / "dogs-vs-cats").exists()
    assert not (home / "private" / "dogs-vs-cats").exists()
    assert not list((home / ".staging").iterdir())


def test_an_oversized_member_of_a_streamed_tar_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness
    from harness.data import sources
    from harness.errors import RawDataError

    archive = imdb_archive(tmp_path)
    with tarfile.open(archive) as tf:
        members = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}  # type: ignore[union-attr]
    members["aclImdb/train/pos/99_9.txt"] = b"x" * 30_000
    archive.unlink()
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(sources, "MAX_MEMBER", 10_000, raising=False)
    with pytest.raises(RawDataError, match=r"aclImdb/train/pos/99_9\.txt.* 30,000 bytes"):
        harness.prepare("sentiment", raw=archive)
    assert not (home / "private" / "sentiment").exists()


def test_an_oversized_member_is_not_extracted(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness
    from harness.data import sources
    from harness.errors import RawDataError
    from harness.registry import get_competition as get

    raw = get("house-prices").embedded_raw
    assert raw is not None
    archive = tmp_path / "house-prices.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(raw.rglob("*")):
            if path.is_file() and path.name != "data_description.txt":
                zf.write(path, path.relative_to(raw).as_posix())
        zf.writestr("data_description.txt", b"\0" * 5_000_000)
    monkeypatch.setattr(sources, "MAX_MEMBER", 1_000_000, raising=False)
    with pytest.raises(RawDataError, match=r"'data_description\.txt' is 5,000,000 bytes"):
        harness.prepare("house-prices", raw=archive)
    assert not (home / "private" / "house-prices").exists()
    assert not list((home / ".staging").iterdir())


def test_capped_read_stops_a_stream_longer_than_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.data import sources
    from harness.errors import RawDataError

    monkeypatch.setattr(sources, "MAX_MEMBER", 1000, raising=False)
    with pytest.raises(RawDataError, match=r"'big' is over the 1,000"):
        sources._read_capped(io.BytesIO(b"x" * 5000), "a.tar", "big", None)
    with pytest.raises(RawDataError, match=r"'lies' is over the 1,000"):
        sources._read_capped(io.BytesIO(b"x" * 5000), "a.tar", "lies", 10)
    assert sources._read_capped(io.BytesIO(b"x" * 500), "a.tar", "small", 500) == b"x" * 500


# --- 3. links out of a raw folder ----------------------------------------------------------


def _imdb_tree(tmp_path: Path) -> Path:
    archive = imdb_archive(tmp_path)
    tree = tmp_path / "tree"
    with tarfile.open(archive) as tf:
        tf.extractall(tree, filter="data")
    return tree


@POSIX
def test_a_link_out_of_a_streamed_raw_folder_is_refused(home: Path, tmp_path: Path) -> None:
    import harness
    from harness.errors import RawDataError

    tree = _imdb_tree(tmp_path)
    link = tree / "aclImdb/train/pos/0_9.txt"
    link.unlink(missing_ok=True)
    link.symlink_to("/etc/passwd")
    with pytest.raises(
        RawDataError,
        match=r"aclImdb/train/pos/0_9\.txt is a link to outside the raw folder \(/etc/passwd\)",
    ):
        harness.prepare("sentiment", raw=tree)
    assert not (home / "public" / "sentiment").exists()


@POSIX
def test_a_link_inside_a_raw_folder_is_read(home: Path, tmp_path: Path) -> None:
    import harness

    tree = _imdb_tree(tmp_path)
    target = tree / "aclImdb/train/pos/0_9.txt"
    shutil.copy(next((tree / "aclImdb/train/pos").glob("1_*.txt")), target)
    for old in (tree / "aclImdb/train/pos").glob("2_*.txt"):
        old.unlink()
        old.symlink_to(target.name)
    harness.prepare("sentiment", raw=tree)


@POSIX
def test_a_link_out_of_a_copied_raw_folder_is_refused(home: Path, tmp_path: Path) -> None:
    import harness
    from harness.errors import RawDataError
    from harness.registry import get_competition as get

    raw = get("house-prices").embedded_raw
    assert raw is not None
    tree = tmp_path / "raw"
    shutil.copytree(raw, tree)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the public folder\n")
    description = next(tree.rglob("data_description.txt"))
    description.unlink()
    description.symlink_to(secret)
    with pytest.raises(RawDataError, match=r"is a link to outside the raw folder"):
        harness.prepare("house-prices", raw=tree)
    assert not (home / "public" / "house-prices").exists()


# --- 4. prepare --force racing with readers ------------------------------------------------


def test_readers_see_the_old_or_the_new_preparation(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from harness.data.preparation import prepare, prepared_file, read_manifest
    from harness.errors import HarnessError
    from harness.registry import get_competition as get

    comp = get("titanic")
    prepare(comp, settings)
    rename = Path.rename

    def slow_rename(self: Path, target: Path) -> Path:  # widens the swap's window
        time.sleep(0.01)
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", slow_rename)
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = [0]

    def read() -> None:
        while not stop.is_set():
            try:
                read_manifest(comp, settings)
                assert prepared_file(comp, settings, "private/answers.csv").is_file()
                reads[0] += 1
            except (HarnessError, AssertionError) as exc:
                failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for _ in range(6):
            prepare(comp, settings, force=True)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert reads[0] > 0
    assert not failures, failures[:3]


# --- 5. who may read the home --------------------------------------------------------------


@POSIX
def test_a_home_created_by_prepare_is_private(home: Path) -> None:
    import harness

    assert not home.exists()
    harness.prepare("titanic")
    assert (home.stat().st_mode & 0o777) == 0o700


@POSIX
def test_a_home_created_by_the_store_is_private(tmp_path: Path) -> None:
    from harness.board.store import Store

    from harness.settings import Settings

    fresh = tmp_path / "fresh" / "home"
    Store(Settings.resolve(home=fresh))
    assert (fresh.stat().st_mode & 0o777) == 0o700


@POSIX
def test_an_existing_home_is_left_alone(tmp_path: Path) -> None:
    from harness.settings import Settings

    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    Settings.resolve(home=existing).ensure_home()
    assert (existing.stat().st_mode & 0o777) == 0o755
