"""Child processes that a test sends signals to.

A background job of a non-interactive shell (`bash -c "pytest ..." &`, `nohup`, many CI
runners) starts with SIGINT and SIGQUIT ignored, and every child inherits that; Harness rightly
leaves an ignored signal ignored (Unix's convention). A test that signals its child must not
depend on how the test run itself was started, so it starts the child through
``preexec_fn=default_signals``: each signal a test sends is at its default disposition there.
"""

from __future__ import annotations

import signal

#: The signals the tests send to their children (SIGKILL cannot be ignored: not listed).
SENT = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def default_signals() -> None:
    """``preexec_fn`` for a child that will be signalled: every signal in ``SENT`` at SIG_DFL
    (Python then installs its own SIGINT handler, so Ctrl-C is a KeyboardInterrupt there)."""
    for signum in SENT:
        signal.signal(signum, signal.SIG_DFL)
