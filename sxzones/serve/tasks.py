"""The analyses a request asks for, answered as an HTTP status and a JSON body, in the server's
process (threads) or in a worker process (:mod:`sxzones.serve.workers`): the same function,
so the answers are the same either way.

A user's mistake is ``{"error": message}`` (400, or 413 when too large) with the server's
own folders cut from file names; anything else is a 500 with no detail (the traceback goes
to the server's log).
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from sxzones.errors import SxzonesError
from sxzones.outputs import _json_default
from sxzones.serve import work
from sxzones.serve.state import ServeState
from sxzones.serve.uploads import UploadError

__all__ = ["TASKS", "encode", "error_body", "run_task"]

log = logging.getLogger("sxzones.serve")
#: An uploaded file: an open file, or the path of its copy (a worker process), and its name.
Given = tuple[BinaryIO | str, str]


def _need(files: dict[str, work.Upload], key: str) -> work.Upload:
    if key not in files:
        raise UploadError("no file was chosen. Fix: choose a CSV or XLSX file")
    return files[key]


TASKS: dict[str, Callable[[ServeState, dict[str, str], dict[str, work.Upload]], Any]] = {
    "check": lambda s, f, u: work.check_job(s, f, u.get("file")),
    "firm_columns": lambda s, f, u: work.firm_columns(s, _need(u, "file")),
    "firms": lambda s, f, u: work.firms_job(s, f, u.get("file")),
    "sites": lambda s, f, u: work.sites_job(s, f, u.get("file"), u.get("dem")),
}


def encode(content: Any) -> bytes:
    """JSON as the pages get it: compact UTF-8, by orjson (about ten times the standard
    library's speed; parts encoded already may be ``orjson.Fragment``). A NaN or an infinity,
    which JSON cannot hold, is ``null``; numpy scalars are their values; keys are text."""
    return orjson.dumps(content, default=_json_default, option=_ENCODE)


#: Dates and dataclasses go through the same ``default`` as the written JSON files.
_ENCODE = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def error_body(message: str, root: Path | None = None) -> bytes:
    """``{"error": message}``; the server's own folders (``root``) are cut from file names."""
    if root is not None:
        message = re.sub(re.escape(str(root)) + r"/[^/\s]+/(?:in|out)/", "", message)
    return encode({"error": message})


def run_task(state: ServeState, task: str, args: tuple[Any, ...]) -> tuple[int, bytes]:
    """Run ``task`` with ``args``: ``(fields, files)`` for an analysis, ``(job, name)`` for
    ``file`` (the body is then the file's path). Returns the status and the body."""
    if task == "file":
        try:
            path = state.job_file(*args)  # written now if the job writes lazily
        except Exception:
            log.error("writing a result failed:\n%s", traceback.format_exc())
            return 500, error_body("internal error: the server's log has the details")
        if path is None:
            return 404, error_body("no such result (results are kept for the latest 64 runs)")
        return 200, str(path).encode("utf-8")
    fields, given = args
    with contextlib.ExitStack() as stack:
        files: dict[str, work.Upload] = {}
        for key, (src, name) in given.items():
            if isinstance(src, str):  # a worker opens the server's copy of the upload
                src = stack.enter_context(open(src, "rb"))
            files[key] = (src, name)
        try:
            return 200, encode(TASKS[task](state, fields, files))
        except UploadError as exc:
            status = 413 if "larger than the limit" in str(exc) else 400
            return status, error_body(str(exc), state.root)
        except SxzonesError as exc:
            return 400, error_body(str(exc), state.root)
        except Exception:
            log.error("request failed:\n%s", traceback.format_exc())
            return 500, error_body("internal error: the server's log has the details")
