"""The web application of ``sxzones serve``: three pages and their JSON API, on Starlette.

Pages: ``/`` (reviewers: site check), ``/inspector`` (firm screen), ``/planner`` (siting).
API: ``GET /api/setup`` (vocabularies, layers for the map, siting defaults), ``POST
/api/check``, ``/api/firms/columns``, ``/api/firms``, ``/api/sites`` (multipart forms), and
``GET /download/{job}/{file}``. A refused request gets ``{"error": message}`` with status 400
(413 when too large, 401 without the token); nothing returns a traceback. The analyses run
in worker threads on the state loaded at start (:mod:`sxzones.serve.state`).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import shutil
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sxzones.errors import SxzonesError
from sxzones.serve import setup, tasks
from sxzones.serve.state import ServeState
from sxzones.serve.uploads import too_large

__all__ = ["build_app"]

log = logging.getLogger("sxzones.serve")
HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "maps" / "vendor"
COOKIE = "sxzones_token"
#: Content security policy: scripts, styles and data only from this server (the pages never
#: reach the network), inline styles for Leaflet.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_env = Environment(
    loader=PackageLoader("sxzones.serve", "templates"), autoescape=select_autoescape(["html"])
)


class BodyTooLarge(SxzonesError):
    """The request body exceeded the upload limit while it was read."""


class Guard:
    """ASGI middleware: the access token, the body size limit, and the security headers."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app, self.state = app, state
        self.max_body = state.limits.max_bytes * 2 + (1 << 20)  # a file and a DEM, and fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = (request.url.hostname or "").strip("[]")
        if self.state.hosts is not None and host not in self.state.hosts:
            await _error(
                f"this server answers to {', '.join(sorted(self.state.hosts))} only (Host "
                "header was another name); for intranet use start it with --host and --token",
                421,
            )(scope, receive, send)
            return
        if not self._allowed(request):
            await _error("the access token is missing or wrong: open the page with ?token=…", 401)(
                scope, receive, send
            )
            return
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _error(str(too_large(self.state.limits.max_bytes)), 413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge(str(too_large(self.state.limits.max_bytes)))
            return message

        token = request.query_params.get("token")

        async def headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if token and self.state.token:
                    extra.append(
                        (
                            b"set-cookie",
                            f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode(),
                        )
                    )
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, counted, headers)

    def _allowed(self, request: Request) -> bool:
        want = self.state.token
        if not want:
            return True
        auth = request.headers.get("authorization", "")
        given = [
            request.query_params.get("token", ""),
            request.cookies.get(COOKIE, ""),
            auth[7:] if auth.lower().startswith("bearer ") else "",
        ]
        return any(g and hmac.compare_digest(g.encode(), want.encode()) for g in given)


def _error(message: str, status: int = 400, root: Path | None = None) -> Response:
    """``{"error": message}``; the server's own folders (``root``) are cut from file names."""
    return Response(tasks.error_body(message, root), status, media_type="application/json")


def _page(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        state: ServeState = request.app.state.sx
        html = _env.get_template(f"{name}.html").render(
            page=name, title=setup.page_title(name), data=setup.data_versions(state)
        )
        return HTMLResponse(html)

    return page


async def _form(request: Request) -> tuple[dict[str, str], dict[str, tasks.Given]]:
    """The text fields and the uploaded files of a multipart form (closed by the caller
    with ``await request.close()``). With worker processes, each file is copied to the
    server's ``incoming`` folder and given by its path."""
    state: ServeState = request.app.state.sx
    form = await request.form(max_files=4, max_fields=200, max_part_size=state.limits.max_bytes)
    fields: dict[str, str] = {}
    files: dict[str, tasks.Given] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:
                files[key] = (value.file, value.filename)
        else:
            fields[key] = str(value)
    if "file" in files:
        fields["has_file"] = "1"
    if state.workers is not None and files:
        files = await run_in_threadpool(_copies, state, files)
    return fields, files


def _copies(state: ServeState, files: dict[str, tasks.Given]) -> dict[str, tasks.Given]:
    """Each upload copied to a file of its own under ``incoming/`` (for a worker)."""
    folder = state.root / "incoming"
    folder.mkdir(exist_ok=True)
    out: dict[str, tasks.Given] = {}
    for key, (src, name) in files.items():
        path = folder / secrets.token_urlsafe(12)
        if isinstance(src, str):  # already a copy
            out[key] = (src, name)
            continue
        with open(path, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        out[key] = (str(path), name)
    return out


def _api(task: str) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: parse the form, run ``task`` (:data:`sxzones.serve.tasks.TASKS`) in a
    worker process or thread, answer its JSON; a refused upload is ``{"error": ...}``."""

    async def endpoint(request: Request) -> Response:
        state: ServeState = request.app.state.sx
        files: dict[str, tasks.Given] = {}
        try:
            fields, files = await _form(request)
            if state.workers is not None:
                status, body = await state.workers.call(task, (fields, files))
            else:
                status, body = await run_in_threadpool(tasks.run_task, state, task, (fields, files))
        except BodyTooLarge as exc:
            return _error(str(exc), 413)
        except HTTPException as exc:  # the multipart parser's refusals
            return _error(f"the upload cannot be read: {exc.detail}", exc.status_code)
        except Exception:
            log.error("request failed:\n%s", traceback.format_exc())
            return _error("internal error: the server's log has the details", 500)
        finally:
            await request.close()  # the uploads' temporary files
            for src, _ in files.values():
                if isinstance(src, str):
                    Path(src).unlink(missing_ok=True)
        return Response(body, status, media_type="application/json")

    return endpoint


async def api_setup(request: Request) -> Response:
    state: ServeState = request.app.state.sx
    return JSONResponse(await run_in_threadpool(setup.setup_document, state))


async def download(request: Request) -> Response:
    state: ServeState = request.app.state.sx
    jid, name = request.path_params["job"], request.path_params["name"]
    if state.workers is not None:
        k = state.workers.worker_of(jid)
        if k is None:
            return _error("no such result (results are kept for the latest 64 runs)", 404)
        status, body = await state.workers.call("file", (jid, name), k)
    else:
        status, body = await run_in_threadpool(tasks.run_task, state, "file", (jid, name))
    if status != 200:
        return Response(body, status, media_type="application/json")
    path = Path(body.decode("utf-8"))
    # A report opens in the browser to be printed; every other file is downloaded.
    inline = path.suffix == ".html"
    return FileResponse(
        path, filename=path.name, content_disposition_type="inline" if inline else "attachment"
    )


def build_app(state: ServeState) -> ASGIApp:
    """The application on ``state`` (loaded once; see :func:`sxzones.serve.state.open_state`)."""
    routes = [
        Route("/", _page("reviewer")),
        Route("/inspector", _page("inspector")),
        Route("/planner", _page("planner")),
        Route("/api/setup", api_setup),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/check", _api("check"), methods=["POST"]),
        Route("/api/firms/columns", _api("firm_columns"), methods=["POST"]),
        Route("/api/firms", _api("firms"), methods=["POST"]),
        Route("/api/sites", _api("sites"), methods=["POST"]),
        Route("/download/{job}/{name}", download),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        Mount("/vendor", StaticFiles(directory=VENDOR), name="vendor"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()  # the results' folder goes with the server (uvicorn re-raises SIGTERM)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sx = state
    return Guard(app, state)
