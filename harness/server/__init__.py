"""Hosted competitions: ``harness serve``. The host alone holds the answers and scores; a
participant's machine downloads the public files, uploads predictions and reads standings over
HTTP (:mod:`harness.client`), identified by a token (:mod:`harness.server.participants`).

- :mod:`harness.server.participants`: tokens, hashed, in the Harness database;
- :mod:`harness.server.app`: the FastAPI application (the JSON API under ``/api``) and the
  size cap on request bodies;
- :mod:`harness.server.uploads`: an upload staged under our own name and submitted (the API
  and the pages share it);
- :mod:`harness.server.pages`: the web pages.

The rules, the boards and the submission path are the leaderboard's own
(:mod:`leaderboard.submit`, :mod:`leaderboard.board`, :mod:`leaderboard.referee`): the server
adds identity and transport, never a second copy of them.
"""
