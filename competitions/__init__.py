"""One package per competition. Each defines ``COMPETITION`` (a :class:`harness.Competition`)
and keeps its own prepare details, description and embedded data beside it."""
