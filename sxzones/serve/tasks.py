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
from sxzones.serve import uploads, work
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


def error_body(
    message: str,
    root: Path | None = None,
    task: str | None = None,
    names: dict[str, str] | None = None,
) -> bytes:
    """``{"error": message}``; the server's own folders (``root``) are cut from file names,
    the server's copy of an upload named as the user named it (``names``: copy's name to the
    given name), and for an analysis ``task`` the command line's options named as the
    page's fields (:func:`page_words`)."""
    if root is not None:
        message = re.sub(re.escape(str(root)) + r"/[^/\s]+/(?:in|out)/(?:[^/\s]+/)*", "", message)
    for copy, given in (names or {}).items():
        if copy != given:
            message = re.sub(rf"(?<![\w.-]){re.escape(copy)}(?![\w.-])", given, message)
    return encode({"error": page_words(message, task) if task else message})


#: The page's fields for the command's options in a refusal (the pages have no ``--crs``).
_FIELDS = {
    "--layer": "the 工作表或图层 Sheet or layer field",
    "--industry": "the 行业 Industry field",
    "--kind": "the 项目类型 Kind field",
    "--max-slope": "the 坡度上限 Slope limit field",
    "--dem": "the 高程 DEM field",
}


def page_words(message: str, task: str) -> str:
    """A refusal's fix as the page gives it: ``--crs NAME`` is the 坐标系 CRS field's
    choice (on the planner, which has none, the file's own ``.prj``), ``--layer`` the
    工作表或图层 field and so on (:data:`_FIELDS`); "pass one" is "choose one". A message that
    names the page's fields already ("on the reviewer page, ...") is left as it is.

    >>> page_words("no CRS. Fix: pass one, e.g. --crs cgcs2000, --crs gcj02 (web maps)", "firms")
    'no CRS. Fix: choose one in the 坐标系 CRS field, e.g. cgcs2000, gcj02 (web maps)'
    """
    if re.search(r"on the (?:\w+ )?pages?\b", message):
        return message  # it names the page's fields itself, beside the command's
    if task == "sites":  # the planner reads the CRS from the file
        crs = "a .prj beside the file (zip the .shp with its .prj; this page has no 坐标系 field)"
        message = message.replace("pass one, e.g. --crs", "give it in --crs")
        message = re.sub(r"--crs(?: [\w:.@-]+)?(?:(?:,| or|/) ?--crs [\w:.@-]+)*", crs, message)
    else:
        message = message.replace(
            "pass one, e.g. --crs ", "choose one in the 坐标系 CRS field, e.g. "
        )
        message = re.sub(r"(,|/| or) ?--crs ", r"\1 ", message)
        message = re.sub(r"--crs(?= [\w:.@-]+)", "the 坐标系 CRS field:", message)
        message = message.replace("--crs", "the 坐标系 CRS field")
    if task in ("firms", "firm_columns"):  # the inspector maps a field to a column
        one = r"--field (\w+)=([^\s;,]+)"
        message = re.sub(
            rf"{one}(?:(?: and |, | ){one})*",
            lambda m: (
                "in the 列对应 Columns choices "
                + ", ".join(f"{a} = {b}" for a, b in re.findall(one, m.group(0)))
            ),
            message,
        )
        message = re.sub(r"--field(?![\w-])", "the 列对应 Columns choices", message)
    for flag, field in _FIELDS.items():
        message = re.sub(rf"{flag}(?![\w-])", field, message)
    return message


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
        names = {uploads.safe_name(n): re.split(r"[/\\]", n)[-1] for _, n in given.values() if n}
        try:
            return 200, encode(TASKS[task](state, fields, files))
        except UploadError as exc:
            status = 413 if "larger than the limit" in str(exc) else 400
            return status, error_body(str(exc), state.root, task, names)
        except SxzonesError as exc:
            return 400, error_body(str(exc), state.root, task, names)
        except Exception:
            log.error("request failed:\n%s", traceback.format_exc())
            return 500, error_body("internal error: the server's log has the details")
