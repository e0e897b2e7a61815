"""Raw data sources: archives are extracted safely; `harness download` goes through the Kaggle
API when it is installed and logged in, and says what to do when it is not."""

from __future__ import annotations

import io
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import pytest

import harness
from harness.data.sources import extract
from harness.errors import DownloadError, RawDataError


def test_zip_member_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("train.csv", "a\n1\n")
        zf.writestr("../../outside.txt", "gotcha")
    with pytest.raises(RawDataError, match=r"refusing member '../../outside.txt'"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize("name", ["/etc/evil", "a/../../evil"])
def test_tar_member_escaping_the_target_is_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(RawDataError, match="refusing member"):
        extract(archive, tmp_path / "out")


def test_tar_symlink_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("train.csv")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(RawDataError, match=r"refusing link or device member 'train\.csv'"):
        extract(archive, tmp_path / "out")


def test_download_without_the_kaggle_package_says_what_to_do(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kaggle", None)  # import kaggle → ImportError
    monkeypatch.setitem(sys.modules, "kaggle.api", None)
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", None)
    with pytest.raises(DownloadError) as info:
        harness.download("titanic")
    message = str(info.value)
    assert message.startswith("the Kaggle API is not installed: `pip install kaggle`")
    assert "harness prepare titanic --raw PATH" in message


def _fake_kaggle(
    monkeypatch: pytest.MonkeyPatch, *, authenticated: bool, payload: dict[str, str]
) -> list[str]:
    calls: list[str] = []

    class KaggleApi:
        def authenticate(self) -> None:
            if not authenticated:
                raise OSError(
                    "Could not find kaggle.json. Make sure it's located in /root/.kaggle."
                )

        def competition_download_files(self, slug: str, path: str, quiet: bool) -> None:
            calls.append(slug)
            with zipfile.ZipFile(Path(path) / f"{slug}.zip", "w") as zf:
                for name, text in payload.items():
                    zf.writestr(name, text)

    module = types.ModuleType("kaggle.api.kaggle_api_extended")
    module.KaggleApi = KaggleApi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kaggle", types.ModuleType("kaggle"))
    monkeypatch.setitem(sys.modules, "kaggle.api", types.ModuleType("kaggle.api"))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", module)
    return calls


def test_download_without_credentials_names_the_token_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_kaggle(monkeypatch, authenticated=False, payload={})
    with pytest.raises(DownloadError, match=r"credentials not found .*~/.kaggle/kaggle.json"):
        harness.download("titanic")
    assert not (home / "raw" / "titanic").exists()


def test_download_then_prepare_uses_the_downloaded_archive(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = Path(harness.registry.get_competition("titanic").embedded_raw or "")
    rows = (embedded / "train.csv").read_text().splitlines()
    train = "\n".join(rows[:401]) + "\n"  # a smaller Kaggle file: 400 passengers
    calls = _fake_kaggle(monkeypatch, authenticated=True, payload={"train.csv": train})
    path = harness.download("titanic")
    assert calls == ["titanic"] and (path / "titanic.zip").is_file()
    assert harness.download("titanic") == path and calls == ["titanic"]  # already there
    done = harness.prepare("titanic")
    assert done.manifest["raw"] == str(path / "titanic.zip")
    assert done.manifest["rows"] == {"train": 320, "test": 80}
