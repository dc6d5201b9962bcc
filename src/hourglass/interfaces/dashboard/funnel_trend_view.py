"""The funnel over time on the dashboard (docs/semantics-funnel-time.md): the funnel page's own funnel
per day, week or month of entry (a line per step with 95% intervals, incomplete periods hollow,
empty ones gaps), the time to each step and the events and sessions customers needed, as tabs. The
engine computes every number (interfaces/funnel_views_api.py); here they are cached per source and
query and drawn with the report's figures.

Routes (added by :func:`add_trend_routes`, one call in ``app.create_app``): ``/funnel/trend`` with
``view`` (trend|time|events), ``period`` (day|week|month) and ``gap`` (the session gap, ``30m``)
besides the funnel's own parameters; the fragment alone on ``X-HG-Fragment``, else a whole page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import Request, Response

from hourglass.interfaces import api
from hourglass.interfaces.funnel_views_api import run_view
from hourglass.interfaces.reports._funnel_events import events_figure
from hourglass.interfaces.reports._funnel_time import time_figure, trend_figure
from hourglass.model.errors import SpecError
from hourglass.model.funnel_trend import PERIODS
from hourglass.model.results import format_duration
from hourglass.model.spec import FunnelSpec, format_window, parse_window

from .funnel_view import funnel_kwargs
from .query import FunnelQuery
from .render import Chart

__all__ = ["TREND_PARAMS", "TrendQuery", "add_trend_routes", "events_figure", "trend_fragment"]

TREND_PARAMS = ("view", "period", "gap")
VIEWS = ("trend", "time", "events")


@dataclass(frozen=True)
class TrendQuery:
    view: str = "trend"
    period: str = "week"
    gap: str = "30m"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TrendQuery:
        view = (params.get("view") or "trend").strip()
        if view not in VIEWS:
            raise SpecError(
                f"view: '{view}' is not a view of the funnel over time",
                code="HG109",
                hint="view=trend, time or events",
            )
        period = (params.get("period") or "week").strip()
        if period not in PERIODS:
            raise SpecError(
                f"period: '{period}' is not a period of the funnel over time",
                code="HG142",
                hint="period=day, week or month (weeks start on Monday, UTC)",
            )
        gap = (params.get("gap") or "30m").strip()
        parse_window(gap, what="the session gap")  # HG107 when it cannot be read
        return cls(view, period, gap)

    def params(self) -> dict[str, str]:
        return {"view": self.view, "period": self.period, "gap": self.gap}


def _spec(views: Any, q: FunnelQuery) -> FunnelSpec:
    src = views.src
    kwargs = funnel_kwargs(src, q)
    by = api.by_column(src.events, q.by) if q.by else None
    return api.build_spec(kwargs.pop("steps"), model=kwargs.pop("model"), config=src.config, by=by, **kwargs)


def _chart(div_id: str, figure: go.Figure) -> Chart:
    """A chart with a fresh div id (every response's: nothing of an old chart is kept) and its JSON
    marked safe (a script's text is not unescaped by the browser)."""
    return Chart(f"{div_id}-{uuid.uuid4().hex[:10]}", figure)


def trend_fragment(views: Any, q: FunnelQuery, t: TrendQuery) -> str:
    """The tabs and the chosen view: its chart(s) and table."""
    if q.empty:
        raise SpecError(
            "the funnel has no steps", code="HG109", hint="give steps or a model on the funnel page"
        )
    spec = _spec(views, q)
    src = views.src

    def compute() -> dict[str, Any]:
        result = src.run(lambda: run_view(t.view, src.events, spec, period=t.period, session_gap=t.gap))
        return result.to_dict()  # type: ignore[no-any-return]

    key = (q.key(), tuple(sorted(t.params().items())))
    data: dict[str, Any] = views._cached("funnel-trend", key, compute)
    charts: list[Chart] = []
    rows: list[dict[str, Any]] = []
    if t.view == "trend":
        if data["periods"]:
            charts.append(_chart("hg-trend-chart", trend_figure(data)))
        for p in data["periods"]:
            rows.append({**p, "last": p["steps"][-1] if p["steps"] else {}})
    elif t.view == "time":
        for origin in ("previous", "entry"):
            if any(h.get("bins") for h in data["histograms"] if h["from"] == origin):
                charts.append(_chart(f"hg-time-{origin}", time_figure(data, origin)))
        rows = [
            {**h, "median": format_duration(h["median_s"], " "), "p90": format_duration(h["p90_s"], " ")}
            for h in data["histograms"]
        ]
    else:
        for what in ("events", "sessions"):
            if any(h.get("bins") for h in data["histograms"] if h["what"] == what):
                charts.append(_chart(f"hg-events-{what}", events_figure(data, what)))
        rows = list(data["histograms"])
    return str(
        views._render(
            "funnel_trend.html",
            data=data,
            t=t,
            rows=rows,
            charts=charts,
            steps=list(spec.step_names),
            fq=q.query(),
            periods=PERIODS,
            window=format_window(spec.window),
        )
    )


def add_trend_routes(app: Any, views: Any) -> None:
    """The ``/funnel/trend`` route on the dashboard's app (``views``: its ``Views``)."""
    src = views.src

    def page(request: Request) -> Response:
        p = dict(request.query_params)

        def compute() -> str:
            return trend_fragment(views, FunnelQuery.parse(p, src.last), TrendQuery.parse(p))

        back = urlencode({k: v for k, v in p.items() if k not in TREND_PARAMS})
        return request.app.state.respond(  # type: ignore[no-any-return]
            request,
            "funnel_trend_page.html",
            "the funnel over time",
            compute,
            path="/funnel",
            back_query=back,
        )

    app.add_api_route("/funnel/trend", page, methods=["GET"], response_model=None)
