"""The dashboard's web app (FastAPI): pages, result fragments, the people behind a step, CSV,
static files, the token and errors as pages (code and hint; never a traceback)."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from hourglass.model.errors import HourglassError

from .data import DashboardSource, ResultCache
from .disk_cache import open_disk_cache
from .extras import PAGES, Page
from .funnel_explore_view import add_explore_routes
from .funnel_trend_view import add_trend_routes
from .people_view import people_params
from .progress import Pending, Progress
from .query import FunnelQuery, PageQuery, date_range, integer
from .render import environment
from .views import Views

__all__ = ["COOKIE", "FRAGMENT_HEADER", "create_app"]

COOKIE = "hourglass_token"
FRAGMENT_HEADER = "X-HG-Fragment"
POLL_HEADER = "X-HG-Poll"  # hg.js asking again for a view being computed
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PER_PAGE = 50
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M3 1h10L9 8l4 7H3l4-7z" '
    'fill="#4f46e5"/></svg>'
)
log = logging.getLogger("hourglass.dashboard")


def _static(name: str) -> bytes:
    return bytes((files("hourglass.interfaces.dashboard") / "static" / name).read_bytes())


def _plotly_js() -> bytes:
    import plotly.offline

    return str(plotly.offline.get_plotlyjs()).encode("utf-8")


def _report_css() -> bytes:
    from hourglass.interfaces.reports._template import CSS

    return CSS.encode("utf-8")


class Assets:
    """Static files, read once, served with an ETag and a long cache life."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, str, str]] = {}
        loaders: dict[str, tuple[Callable[[], bytes], str]] = {
            "plotly.min.js": (_plotly_js, "text/javascript"),
            "report.css": (_report_css, "text/css"),
            "hg.js": (lambda: _static("hg.js"), "text/javascript"),
            "hg.css": (lambda: _static("hg.css"), "text/css"),
        }
        self._loaders = loaders

    def version(self, name: str) -> str:
        return self.get(name)[2][:12]

    def get(self, name: str) -> tuple[bytes, str, str]:
        if name not in self._data:
            body = self._loaders[name][0]()
            self._data[name] = (body, self._loaders[name][1], hashlib.sha256(body).hexdigest())
        return self._data[name]

    def response(self, name: str, request: Request) -> Response:
        if name not in self._loaders:
            return Response("not found", status_code=404, media_type="text/plain")
        body, media, digest = self.get(name)
        headers = {"ETag": f'"{digest[:32]}"', "Cache-Control": "public, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media, headers=headers)


def _token_ok(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def create_app(
    src: DashboardSource,
    *,
    token: str | None = None,
    loopback_only: bool = True,
    cache_size: int = 256,
    persist: bool = False,
    wait_s: float | None = None,
) -> FastAPI:
    """The app on a loaded source. ``token``: required on every request (``Authorization: Bearer``,
    or ``?token=`` once, which sets a cookie). ``loopback_only``: requests must name a loopback host
    (a web page cannot reach the dashboard through DNS rebinding). ``persist``: keep the results on
    disk next to the source (disk_cache.py; ``hourglass serve``), so a restart reuses them.
    ``wait_s``: a view not ready within this many seconds is answered with its progress, and the
    page asks again until it is (progress.py; ``hourglass serve``); None: every answer waits."""
    app = FastAPI(title="hourglass", docs_url=None, redoc_url=None, openapi_url=None)
    env = environment()
    assets = Assets()
    views = Views(src, ResultCache(cache_size, disk=open_disk_cache(src) if persist else None), env)
    app.state.views = views
    progress = Progress(views.ahead, wait_s) if wait_s is not None else None
    app.state.progress = progress

    @app.middleware("http")
    async def busy(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.headers.get(POLL_HEADER):  # a page asking again: its computation counts (progress.py)
            return await call_next(request)
        views.ahead.request_started()  # background work waits until the requests are answered
        try:
            return await call_next(request)
        finally:
            views.ahead.request_done()

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if loopback_only and (request.url.hostname or "") not in LOOPBACK:
            return Response("hourglass serves loopback hosts only", status_code=400, media_type="text/plain")
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None:
            if not _token_ok(given, token):
                return _denied()
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return redirect
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if _token_ok(bearer, token) or _token_ok(request.cookies.get(COOKIE), token):
            return await call_next(request)
        return _denied()

    def common(request: Request) -> dict[str, Any]:
        return {
            "src": src,
            "params": dict(request.query_params),
            "path": request.url.path,
            "v": {n: assets.version(n) for n in ("plotly.min.js", "report.css", "hg.js", "hg.css")},
        }

    def respond(
        request: Request, template: str, title: str, compute: Callable[[], str], **extra: Any
    ) -> HTMLResponse:
        status = 200
        try:
            if progress is None:
                fragment = compute()
            else:
                key = (request.url.path, tuple(sorted(request.query_params.multi_items())))
                fragment = progress.run(key, title, compute)
        except Pending as p:
            # what is computed, for how long, on how many events; the page asks again (hg.js)
            url = str(request.url.path) + _query(request)
            note = env.get_template("progress.html").render(src=src, what=p.what, elapsed=p.elapsed, url=url)
            status, fragment = 202, note
        except HourglassError as e:
            status, fragment = 400, views.error(e.code, e.message, e.hint)
        except Exception as e:  # a bug: said plainly, logged, and the server stays up
            log.exception("dashboard: internal error on %s", request.url.path)
            status, fragment = 500, views.internal(e)
        headers = {"Cache-Control": "no-store", "Vary": FRAGMENT_HEADER}
        if request.headers.get(FRAGMENT_HEADER):
            return HTMLResponse(fragment, status_code=status, headers=headers)
        page = env.get_template(template).render(title=title, result=fragment, **{**common(request), **extra})
        return HTMLResponse(page, status_code=status, headers=headers)

    app.state.respond = respond  # the later pages' routes answer the same way (funnel_*_view.py)

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        p = dict(request.query_params)

        def compute() -> str:
            rng, since, until = date_range(p, src.last)
            compare = ((p.get("compare") or "").strip(), p.get("since2") or None, p.get("until2") or None)
            return views.overview((p.get("window") or "").strip() or "90d", rng, since, until, compare)

        return respond(request, "overview.html", "overview", compute)

    @app.get("/funnel", response_class=HTMLResponse)
    def funnel(request: Request) -> HTMLResponse:
        p = dict(request.query_params)
        return respond(request, "funnel.html", "funnel", lambda: views.funnel(FunnelQuery.parse(p, src.last)))

    @app.get("/people", response_class=HTMLResponse)
    def people(request: Request) -> HTMLResponse:
        p = dict(request.query_params)

        def compute() -> str:
            q = FunnelQuery.parse(p, src.last)
            step = integer(p, "step", 1, 1, 100, "HG109")
            page = integer(p, "page", 1, 1, 10**9, "HG109")
            return views.people(q, step, p.get("kind") or "reached", p.get("group"), page, PER_PAGE)

        return respond(request, "people_page.html", "people", compute)

    @app.get("/people.csv", response_model=None)
    def people_csv(request: Request) -> Response:
        p = dict(request.query_params)
        try:
            q = FunnelQuery.parse(p, src.last)
            step = integer(p, "step", 1, 1, 100, "HG109")
            frame = views.people_csv(q, step, p.get("kind") or "reached", p.get("group"))
        except HourglassError as e:
            return _plain_error(e)
        return _csv(frame, f"customers-step{step}-{p.get('kind') or 'reached'}.csv")

    add_explore_routes(app, views)  # the funnel explained (F3: funnel_explore_view.py)
    add_trend_routes(app, views)  # the funnel over time (F2: funnel_trend_view.py)

    @app.get("/lifecycle", response_class=HTMLResponse)
    def lifecycle(request: Request) -> HTMLResponse:
        p = dict(request.query_params)
        return respond(
            request,
            "lifecycle.html",
            "hourglass",
            lambda: views.lifecycle(PageQuery.parse(p, src.last, src.default_model)),
        )

    @app.get("/lifecycle/people", response_class=HTMLResponse)
    def lifecycle_people(request: Request) -> HTMLResponse:
        p = dict(request.query_params)

        def compute() -> str:
            q = PageQuery.parse(p, src.last, src.default_model)
            page = integer(p, "page", 1, 1, 10**9, "HG109")
            return views.lifecycle_people(q, p.get("stage") or "", p.get("kind") or "entered", page, PER_PAGE)

        return respond(request, "stage_people_page.html", "people", compute)

    @app.get("/lifecycle/people.csv", response_model=None)
    def lifecycle_people_csv(request: Request) -> Response:
        p = dict(request.query_params)
        try:
            q = PageQuery.parse(p, src.last, src.default_model)
            stage, kind = p.get("stage") or "", p.get("kind") or "entered"
            frame = views.lifecycle_people_csv(q, stage, kind)
        except HourglassError as e:
            return _plain_error(e)
        return _csv(frame, f"customers-{stage}-{kind}.csv")

    @app.get("/journeys", response_class=HTMLResponse)
    def journeys(request: Request) -> HTMLResponse:
        p = dict(request.query_params)
        return respond(
            request,
            "journeys.html",
            "journeys",
            lambda: views.journeys(PageQuery.parse(p, src.last, src.default_model)),
        )

    def who_route(where: str, back: str, back_label: str) -> Callable[[Request], HTMLResponse]:
        def route(request: Request) -> HTMLResponse:
            p = dict(request.query_params)

            def compute() -> str:
                q = PageQuery.parse(p, src.last, src.default_model)
                page = integer(p, "page", 1, 1, 10**9, "HG109")
                return views.who(q, p, where, page, PER_PAGE)

            return respond(request, "who_page.html", "people", compute, back=back, back_label=back_label)

        return route

    def who_csv_route(where: str) -> Callable[[Request], Response]:
        def route(request: Request) -> Response:
            p = dict(request.query_params)
            try:
                q = PageQuery.parse(p, src.last, src.default_model)
                frame = views.who_csv(q, p, where)
            except HourglassError as e:
                return _plain_error(e)
            named = "-".join(v for v in people_params(p).values())
            return _csv(frame, f"customers-{_safe(named) or where}.csv")

        return route

    for where, back, label in (
        ("journeys", "/journeys", "the journeys"),
        ("channels", "/lifecycle", "the hourglass"),
    ):
        path = "/journeys/people" if where == "journeys" else "/lifecycle/channel"
        app.add_api_route(path, who_route(where, back, label), methods=["GET"], response_class=HTMLResponse)
        app.add_api_route(path + ".csv", who_csv_route(where), methods=["GET"], response_model=None)

    def extra_route(page: Page) -> Callable[[Request], HTMLResponse]:
        def route(request: Request) -> HTMLResponse:
            p = dict(request.query_params)
            return respond(request, "analysis.html", page.title, lambda: views.extra(page, p), page=page)

        return route

    for page in PAGES:  # the later analyses: one page each, the same section as the report's
        app.add_api_route(f"/{page.name}", extra_route(page), methods=["GET"], response_class=HTMLResponse)

    @app.get("/favicon.ico", response_model=None)
    def favicon() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/static/{name}", response_model=None)
    def static(name: str, request: Request) -> Response:
        return assets.response(name, request)

    return app


def _query(request: Request) -> str:
    q = urlencode(request.query_params.multi_items())
    return "?" + q if q else ""


def _safe(name: str) -> str:
    """A file name's part: letters, digits, ``-`` and ``_`` (the rest as ``_``)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:80]


def _plain_error(e: HourglassError) -> Response:
    return Response(f"[{e.code}] {e.message}\nhint: {e.hint}\n", status_code=400, media_type="text/plain")


def _csv(frame: Any, name: str) -> Response:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return StreamingResponse(
        iter([buf.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _denied() -> Response:
    return HTMLResponse(
        '<!DOCTYPE html><link rel="icon" href="data:,"><title>hourglass: token required</title>'
        "<h1>Token required</h1>"
        "<p>This dashboard needs its token: open the address <code>hourglass serve</code> printed "
        "(it ends with <code>?token=...</code>), or send <code>Authorization: Bearer TOKEN</code>.</p>",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
    )
