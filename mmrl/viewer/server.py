"""`mmrl view RUN_DIR`: a local web page to browse a run, served by Starlette on uvicorn (the `view` extra).

Routes: `/` (the page), `/static/*` (its script and style, from this package), `/api/run`, `/api/metrics`,
`/api/episodes?kind=&step=&env=&success=&min_return=&max_return=&limit=` (JSON), and `/files/PATH` (an image under
the run directory; a path leaving it is refused with 403, see `mmrl.viewer.data.resolve_served`).
Bound to 127.0.0.1 by default, with the Host header checked (no DNS rebinding) and a Content-Security-Policy that
lets the page run only its own script and talk only to this server: nothing leaves the machine.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mmrl.viewer.data import SERVED_SUFFIXES, EpisodeFilter, Refused, RunData, resolve_served

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (an ASGI middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _optional(request: Request, name: str, parse):
    value = request.query_params.get(name, "")
    if value == "":
        return None
    try:
        return parse(value)
    except ValueError:
        raise HTTPException(400, f"bad value for {name}: {value!r}") from None


def _success(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(value)
    return value == "true"


def make_app(run_dir: str | Path, host: str = "127.0.0.1") -> Starlette:
    run_dir = Path(run_dir)
    data = RunData(run_dir)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def run_summary(request: Request) -> Response:
        return JSONResponse(data.summary())

    async def metrics(request: Request) -> Response:
        return JSONResponse({"version": data.version(), "rows": data.metrics()})

    async def episodes(request: Request) -> Response:
        where = EpisodeFilter(
            kind=request.query_params.get("kind") or None,
            step=_optional(request, "step", int),
            env=request.query_params.get("env") or None,
            success=_optional(request, "success", _success),
            min_return=_optional(request, "min_return", float),
            max_return=_optional(request, "max_return", float),
        )
        limit = _optional(request, "limit", int) or 200
        total, shown = data.episodes(where, max(1, min(limit, 2000)))
        return JSONResponse({"total": total, "episodes": shown})

    async def files(request: Request) -> Response:
        relative = request.path_params["path"]
        try:
            path = resolve_served(run_dir, relative)
        except Refused:
            raise HTTPException(403, "outside the run directory") from None
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=SERVED_SUFFIXES[path.suffix.lower()],
                            headers={"cache-control": "no-cache"})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", index),
        Route("/favicon.ico", no_icon),
        Route("/api/run", run_summary),
        Route("/api/metrics", metrics),
        Route("/api/episodes", episodes),
        Route("/files/{path:path}", files),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    allowed = list(LOOPBACK) if host in LOOPBACK else ["*"]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders),
                                                Middleware(TrustedHostMiddleware, allowed_hosts=allowed)])


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the viewer until interrupted."""
    import uvicorn

    print(f"mmrl view: http://{host}:{port}/  ({Path(run_dir)}; Ctrl-C stops)", flush=True)
    uvicorn.run(make_app(run_dir, host), host=host, port=port, log_level="warning")
