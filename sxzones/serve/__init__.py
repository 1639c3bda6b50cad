"""``sxzones serve``: web pages for land-use reviewers (site check), inspectors (firm screen)
and planners (siting), on an agency's intranet or a reviewer's laptop, offline.

The pages call the same runs as the command line (:mod:`sxzones.runs`), so their results and
downloads are the command's. Needs the optional extra ``serve`` (Starlette, uvicorn,
python-multipart, Jinja2): ``pip install 'sxzones[serve]'``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from sxzones.errors import SxzonesError

if TYPE_CHECKING:
    from sxzones.options import ServeOptions
    from sxzones.serve.state import ServeState

__all__ = ["create_app", "require_extra", "serve"]

#: Names of this machine: a server bound to one of them answers only to them.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NEEDS = {"starlette": "starlette", "uvicorn": "uvicorn", "multipart": "python-multipart"}


def require_extra() -> None:
    """Refuse, with the fix, when the optional extra ``serve`` is not installed.

    Raises
    ------
    SxzonesError
    """
    missing = [pkg for mod, pkg in _NEEDS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise SxzonesError(
            f"sxzones serve needs {', '.join(missing)}, of the optional extra 'serve'. Fix: "
            "pip install 'sxzones[serve]' (in this project: make setup installs it)"
        )


def create_app(opts: ServeOptions, catalog: str | Path | None = None) -> tuple[Any, ServeState]:
    """Load the layers and rules once, start the worker processes (``opts.workers``; 0: the
    analyses run in threads of this process) and build the application (an ASGI app).

    Returns
    -------
    (app, state)
        ``state.close()`` removes the temporary folder of the results.
    """
    require_extra()
    from sxzones.analyses.nearest import warm_up
    from sxzones.serve.app import build_app
    from sxzones.serve.state import open_state
    from sxzones.serve.uploads import Limits
    from sxzones.serve.workers import Workers, default_workers

    limits = Limits(
        max_bytes=opts.max_upload_mb * 1024 * 1024,
        max_features=opts.max_features,
        max_vertices=opts.max_vertices,
    )
    state = open_state(catalog, opts.rules, limits, opts.token)
    try:
        if opts.host in LOOPBACK and not opts.token:
            state.hosts = frozenset(LOOPBACK)
        n = default_workers() if opts.workers is None else opts.workers
        if n > 0:
            state.workers = Workers(state, n)  # forked before any thread of this process starts
        else:
            warm_up()
        return build_app(state), state
    except BaseException:  # the folder (and any worker started) goes with the failed start
        state.close()
        raise


def serve(
    opts: ServeOptions, catalog: str | Path | None = None, say: Callable[[str], None] = print
) -> None:
    """Serve the pages on ``opts.host``:``opts.port`` until interrupted."""
    require_extra()
    import uvicorn

    if opts.host not in LOOPBACK and not opts.token:
        say(
            f"warning: listening on {opts.host} without --token: anyone who reaches this "
            "machine can use the pages"
        )
    with _terminate_as_exit():  # SIGTERM while the layers load: the folder goes too
        app, state = create_app(opts, catalog)
        try:
            say(f"layers of {state.catalog.path} loaded; rules {state.ruleset.path.name}")
            say(f"open http://{opts.host}:{opts.port}/ (Ctrl-C stops)")
            uvicorn.run(app, host=opts.host, port=opts.port, log_level="warning")
        finally:
            state.close()


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM ends the block as Ctrl-C does, by an exception (``SystemExit`` with the
    status a process ended by SIGTERM reports, 143), so that ``finally`` blocks run: by
    default it ends the process at once, leaving the server's temporary folder behind when
    it comes before uvicorn handles it (while the layers load). Uvicorn's own handling
    while it serves is unchanged (it raises the signal again after its shutdown, which
    then ends here). Only on the main thread, and only over the default handling."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
