"""A participant's side of a hosted competition (``harness serve``): the standard library's
HTTP client and nothing heavy (no MLflow, no pandas, no torch), so ``harness submit`` against a
server costs an interpreter start and one request.

``HARNESS_SERVER`` names the server (``http://host:8000``) and ``HARNESS_TOKEN`` carries your
token; every call raises :class:`RemoteError` with the server's own message (the text the CLI
prints locally) and its HTTP status.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.board.service import (
    KEEP,
    Card,
    CodeQueued,
    Downloaded,
    PublicFile,
    Revealed,
    RulesView,
    Selection,
    Standings,
    Submission,
    SubmissionResult,
    Submissions,
    TeamView,
)
from harness.errors import HarnessError

SERVER_ENV, TOKEN_ENV = "HARNESS_SERVER", "HARNESS_TOKEN"
TIMEOUT = 600  # seconds: a large upload is scored before the answer comes


class RemoteError(HarnessError):
    """The server refused the request: ``status`` is its HTTP status (401, 403, 404, 413,
    422, 429, …), the message its own."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, server: str | None = None, token: str | None = None) -> None:
        server = server or os.environ.get(SERVER_ENV)
        if not server:
            raise HarnessError(f"no server: give --server or set {SERVER_ENV}")
        self.server = server.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        length: int | None = None,
        raw: bool = False,
    ) -> Any:
        url = self.server + path
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = body
        if (
            body is not None
            and not isinstance(body, bytes | Iterator)
            and "Content-Type" not in sent
        ):
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if length is not None:
            sent["Content-Length"] = str(length)
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise RemoteError(exc.code, _message(exc)) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HarnessError(
                f"cannot reach the Harness server {self.server}: {reason}"
            ) from None
        if raw:
            return response
        with response:
            return json.loads(response.read() or b"null")

    # -- the API ---------------------------------------------------------------------------

    def competitions(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/api/competitions"))

    def competition(self, competition: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/api/competitions/{_q(competition)}"))

    def files(self, competition: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/competitions/{_q(competition)}/files"))

    def submission(self, competition: str, submission: str) -> dict[str, Any]:
        path = f"/api/competitions/{_q(competition)}/submissions/{_q(submission)}"
        return dict(self._request("GET", path))

    def board(self, competition: str) -> RemoteBoard:
        return RemoteBoard(competition, self)

    def rules(self, competition: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/api/competitions/{_q(competition)}/rules"))

    def set_rules(self, competition: str, **changes: Any) -> dict[str, Any]:
        path = f"/api/competitions/{_q(competition)}/rules"
        return dict(self._request("PUT", path, body=changes))

    def leaderboard(self, competition: str, *, private: bool = False) -> dict[str, Any]:
        query = "?private=true" if private else ""
        return dict(
            self._request("GET", f"/api/competitions/{_q(competition)}/leaderboard{query}")
        )

    def submissions(self, competition: str, participant: str | None = None) -> dict[str, Any]:
        query = "" if participant is None else "?participant=" + _q(participant)
        return dict(
            self._request("GET", f"/api/competitions/{_q(competition)}/submissions{query}")
        )

    def select(
        self, competition: str, submission: str, *, selected: bool = True
    ) -> dict[str, Any]:
        path = f"/api/competitions/{_q(competition)}/selections"
        return dict(
            self._request("POST", path, body={"submission": submission, "selected": selected})
        )

    def teams(self, competition: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/competitions/{_q(competition)}/teams"))

    def team(self, competition: str, action: str = "", body: Any = None) -> dict[str, Any]:
        """Your team (GET), or one action on it (POST ``team``, ``team/join``, …)."""
        path = f"/api/competitions/{_q(competition)}/team" + (f"/{action}" if action else "")
        if body is None and not action:
            return dict(self._request("GET", path))
        return dict(self._request("POST", path, body=body if body is not None else {}))

    def reveal(self, competition: str) -> dict[str, Any]:
        return dict(self._request("POST", f"/api/competitions/{_q(competition)}/reveal"))

    def submit_code(self, competition: str, file: Path, *, message: str = "") -> dict[str, Any]:
        """Upload a script or notebook into the server's queue; answers with its id."""
        return self.submit(competition, file, message=message, route="code")

    def submit(
        self,
        competition: str,
        file: Path,
        *,
        message: str = "",
        cv: float | None = None,
        route: str = "submissions",
    ) -> dict[str, Any]:
        """Upload ``file`` (streamed, multipart/form-data) and return the result."""
        boundary = "harness-" + secrets.token_hex(12)
        fields = [("message", message)] + ([("cv", repr(float(cv)))] if cv is not None else [])
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields
        )
        name = file.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        try:
            size = file.stat().st_size
        except OSError as exc:
            raise HarnessError(f"{file}: {exc.strerror or exc}") from None

        def chunks() -> Iterator[bytes]:
            yield head
            with open(file, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk
            yield tail

        path = f"/api/competitions/{_q(competition)}/{route}"
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return dict(
            self._request(
                "POST", path, body=chunks(), headers=headers, length=len(head) + size + len(tail)
            )
        )

    def download(self, competition: str, into: Path) -> list[Path]:
        """Fetch the competition's public files into ``into``, each checked against the
        sha256 the server's manifest gives; return their paths."""
        listed = self.files(competition)
        into.mkdir(parents=True, exist_ok=True)
        done = []
        for item in listed:
            name = str(item["name"])
            target = (into / name).resolve()
            if into.resolve() not in target.parents:  # a hostile server cannot write elsewhere
                raise HarnessError(f"the server listed a file outside the folder: {name[:80]}")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            digest = hashlib.sha256()
            path = f"/api/competitions/{_q(competition)}/files/{urllib.parse.quote(name)}"
            with self._request("GET", path, raw=True) as response, open(tmp, "wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != item["sha256"]:
                tmp.unlink()
                raise HarnessError(
                    f"{name}: sha256 {digest.hexdigest()[:16]}… does not match the "
                    f"server's manifest ({str(item['sha256'])[:16]}…)"
                )
            tmp.replace(target)
            done.append(target)
        return done


class RemoteBoard:
    """A hosted competition's board: :class:`leaderboard.service.Board`'s methods over HTTP,
    answering with the same result types. The identity is the token: the server decides whose
    submissions a call reads or selects."""

    def __init__(self, competition: str, client: Client) -> None:
        self.id = competition
        self.client = client

    @property
    def where(self) -> str:
        return self.client.server

    def card(self) -> Card:
        got = self.client.competition(self.id)
        rules = dict(got.get("rules") or {})
        return Card(
            id=got["id"],
            title=got["title"],
            task=got["task"],
            metric=got["metric"],
            direction=got["direction"],
            rules=rules,
            phase=str(rules.get("phase", "")),
            deadline=rules.get("deadline"),
            time_left=got.get("time_left"),
            clock=got.get("time_left"),
            participants=got["participants"],
            submissions=got["submissions"],
            daily_limit=rules.get("daily_limit"),
            you=got.get("you"),
        )

    def standings(self, *, private: bool = False, all_preparations: bool = False) -> Standings:
        """The hosted board (the server ranks its current preparation: ``all_preparations``
        is a local store's view only, and is ignored here as before)."""
        return Standings.from_dict(self.client.leaderboard(self.id, private=private))

    def submissions(self, participant: str | None = None) -> Submissions:
        """Your submissions (the token's): ``participant`` is the local board's filter, and
        a hosted board answers with the caller's own anyway."""
        return Submissions.from_dict(self.client.submissions(self.id))

    def submission(self, submission: str) -> Submission:
        return Submission(self.client.submission(self.id, submission))

    def rules(self) -> RulesView:
        return RulesView.from_dict(self.id, self.client.rules(self.id))

    def set_rules(
        self,
        *,
        daily_limit: Any = KEEP,
        deadline: Any = KEEP,
        selections: int | None = None,
        ladder: bool | None = None,
        team_size: Any = KEEP,
        merger_deadline: Any = KEEP,
        code_only: bool | None = None,
        time_limit: int | str | None = None,
        memory: int | str | None = None,
    ) -> RulesView:
        clearable = ("daily_limit", "deadline", "team_size", "merger_deadline")
        asked = {
            k: v
            for k, v in {
                "daily_limit": daily_limit,
                "deadline": deadline,
                "selections": selections,
                "ladder": ladder,
                "team_size": team_size,
                "merger_deadline": merger_deadline,
                "code_only": code_only,
                "time_limit": time_limit,
                "memory": memory,
            }.items()
            if v not in (KEEP, None) or (k in clearable and v is None)
        }
        if not asked:
            return self.rules()
        return RulesView.from_dict(self.id, self.client.set_rules(self.id, **asked))

    def submit(
        self, predictions: Any, *, message: str = "", cv: float | None = None, **_: Any
    ) -> SubmissionResult:
        """Upload ``predictions`` (a file, or a DataFrame written to one) to be scored."""
        if isinstance(predictions, str | os.PathLike):
            got = self.client.submit(self.id, Path(predictions), message=message, cv=cv)
        else:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "submission.csv"
                predictions.to_csv(path, index=False)
                got = self.client.submit(self.id, path, message=message, cv=cv)
        return SubmissionResult.from_dict(got)

    def submit_code(
        self, code: Path, *, message: str = "", progress: Any = None, **_: Any
    ) -> CodeQueued:
        """Upload a script or notebook into the server's queue; answers at once with its id
        (`harness submissions` shows queued → running → complete | error)."""
        if progress is not None:
            progress(f"uploading {Path(code).name} to {self.where}")
        return CodeQueued.from_dict(self.client.submit_code(self.id, Path(code), message=message))

    def select(self, submission: str, *, selected: bool = True, **_: Any) -> Selection:
        return Selection.from_dict(self.client.select(self.id, submission, selected=selected))

    def reveal(self) -> Revealed:
        return Revealed.from_dict(self.client.reveal(self.id))

    # -- teams: the token's own (``participant`` is the local board's and is ignored) -------

    def teams(self) -> list[TeamView]:
        return [TeamView.from_dict(t) for t in self.client.teams(self.id)]

    def team(self, participant: str | None = None) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id))

    def create_team(self, name: str, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "", {"name": name}))

    def renew_team_code(self, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "code"))

    def join_team(self, code: str, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "join", {"code": code}))

    def leave_team(self, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "leave"))

    def request_merge(self, team: str, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "merge", {"team": team}))

    def accept_merge(self, team: str, **_: Any) -> TeamView:
        return TeamView.from_dict(self.client.team(self.id, "accept", {"team": team}))

    def public_files(self) -> list[PublicFile]:
        return [
            PublicFile(str(f["name"]), str(f["sha256"]), f.get("size"))
            for f in self.client.files(self.id)
        ]

    def download(
        self,
        into: Path | None = None,
        *,
        force: bool = False,
        url: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Downloaded:
        """The hosted competition's public files, into ``into`` (default ``./<competition>``),
        each checked against the server's manifest (fetched again every time: ``force`` has
        nothing to skip)."""
        if url is not None:
            raise HarnessError(
                "--url names a mirror of the publisher's archive, for a host; a hosted "
                "competition's files come from its server"
            )
        folder = Path(self.id) if into is None else into
        return Downloaded(self.id, folder, tuple(self.client.download(self.id, folder)))


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        body = {}
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    if isinstance(body, dict) and "detail" in body:  # FastAPI's own validation errors
        return f"the server refused the request ({exc.code}): {json.dumps(body['detail'])[:500]}"
    return f"the server answered {exc.code} {exc.reason}"
