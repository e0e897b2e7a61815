"""Downloads from an official URL, against a loopback HTTP server: progress, resume after a
broken connection, checksum verification, and a clear message when offline."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness
import harness.registry as registry
from harness.cli import cli
from harness.competition import Download
from harness.data.sources import fetch
from harness.errors import DownloadError
from tests.fixtures import cifar_archive


class Server:
    """Serves ``files``; honours Range unless ``ranges`` is False; the first ``cut`` requests
    send only half the body, then drop the connection."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges = True
        self.cut = 0
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                wanted = self.headers.get("Range")
                if wanted and server.ranges:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                rest = body[start:]
                self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                if server.cut > 0:
                    server.cut -= 1
                    self.wfile.write(rest[: len(rest) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(rest)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


BODY = bytes(range(256)) * 5000  # 1.28 MB: more than one read chunk
DIGEST = hashlib.sha256(BODY).hexdigest()


def test_fetch_downloads_reports_progress_and_verifies(server: Server, tmp_path: Path) -> None:
    server.files["/data.tar.gz"] = BODY
    seen: list[tuple[int, int | None]] = []
    path = fetch(
        f"{server.url}/data.tar.gz",
        tmp_path / "data.tar.gz",
        sha256=DIGEST,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path.read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not (tmp_path / "data.tar.gz.part").exists()
    fetch(f"{server.url}/data.tar.gz", path, sha256=DIGEST)  # already there: no request
    assert len(server.requests) == 1


def test_a_broken_download_resumes_where_it_stopped(server: Server, tmp_path: Path) -> None:
    server.files["/data.tar.gz"] = BODY
    server.cut = 1
    dest = tmp_path / "data.tar.gz"
    with pytest.raises(
        DownloadError,
        match=r"broke off after 640,000 of 1,280,000 bytes; run "
        r"the same command again to resume",
    ):
        fetch(f"{server.url}/data.tar.gz", dest, sha256=DIGEST)
    assert (tmp_path / "data.tar.gz.part").stat().st_size == len(BODY) // 2
    fetch(f"{server.url}/data.tar.gz", dest, sha256=DIGEST)
    assert server.requests[-1]["Range"] == f"bytes={len(BODY) // 2}-"
    assert dest.read_bytes() == BODY


def test_a_server_that_ignores_ranges_restarts_from_zero(server: Server, tmp_path: Path) -> None:
    server.files["/data.tar.gz"] = BODY
    server.ranges = False
    (tmp_path / "data.tar.gz.part").write_bytes(BODY[:1000])
    fetch(f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", sha256=DIGEST)
    assert (tmp_path / "data.tar.gz").read_bytes() == BODY


def test_a_wrong_checksum_deletes_the_file_and_says_so(server: Server, tmp_path: Path) -> None:
    server.files["/data.tar.gz"] = BODY[:-1] + b"X"
    with pytest.raises(
        DownloadError,
        match=rf"sha256 [0-9a-f]{{64}} does not match the pinned "
        rf"{DIGEST}; the file was deleted",
    ):
        fetch(f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", sha256=DIGEST)
    assert list(tmp_path.iterdir()) == []


def test_offline_names_the_url_and_where_to_put_the_file(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"
    dest = tmp_path / "raw" / "cifar-10-python.tar.gz"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest, sha256=DIGEST, hint="`harness prepare cifar10 --raw PATH`")
    message = str(info.value)
    assert message.startswith(f"cannot reach {url} (")
    assert message.endswith(
        f"this machine looks offline; download {url} by hand and put it at "
        f"{dest}, or run `harness prepare cifar10 --raw PATH`"
    )


def test_a_missing_file_on_the_server_is_named(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"/nothing.tar.gz: the server answered 404"):
        fetch(f"{server.url}/nothing.tar.gz", tmp_path / "x.tar.gz", sha256=DIGEST)


def test_harness_download_then_prepare_cifar10_from_the_official_url(
    server: Server, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = cifar_archive(tmp_path).read_bytes()
    server.files["/~kriz/cifar-10-python.tar.gz"] = archive
    real = registry.competitions()
    assert real["cifar10"].download is not None
    pinned = dataclasses.replace(
        real["cifar10"].download,
        url=f"{server.url}/~kriz/cifar-10-python.tar.gz",
        sha256=hashlib.sha256(archive).hexdigest(),
        size=len(archive),
    )
    mirror = {**real, "cifar10": dataclasses.replace(real["cifar10"], download=pinned)}
    monkeypatch.setattr(registry, "competitions", lambda home=None: mirror)
    result = CliRunner().invoke(cli, ["download", "cifar10"])
    assert result.exit_code == 0, result.stderr
    path = home / "raw" / "cifar10" / "cifar-10-python.tar.gz"
    assert f"cifar10: raw data in {path}" in result.stdout
    done = harness.prepare("cifar10")
    assert done.manifest["raw"] == str(path)
    assert done.manifest["rows"] == {"train": 100, "test": 20}


def test_the_pinned_sources_are_the_publishers() -> None:
    comps = registry.competitions()
    assert comps["cifar10"].download == Download(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        170_498_071,
    )
    sentiment = comps["sentiment"].download
    assert sentiment is not None
    assert sentiment.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert comps["dogs-vs-cats"].kaggle_slug == "dogs-vs-cats"
