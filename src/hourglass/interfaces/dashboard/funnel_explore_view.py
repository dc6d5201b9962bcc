"""The funnel explained on the dashboard (docs/semantics-funnel-explore.md): the drop-off paths, the
between-step paths and the correlation of the funnel page's own funnel, as tabs under it, each path
and item linked to its customers (a page of them and a CSV of all). The engine computes every number
and every list for the same spec; here they are cached per source and query and rendered.

Routes (added by :func:`add_explore_routes`, one call in ``app.create_app``): ``/funnel/explore``
(the tabs: ``view``, ``at``, ``depth``, ``rows``, ``properties`` besides the funnel's own
parameters), ``/funnel/explore/people`` and ``/funnel/explore/people.csv`` (``path``: the path's
events as a JSON list and ``ended``, or ``kind`` and ``value``: an item)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from hourglass.interfaces import api
from hourglass.interfaces.cli._funnel_explore import path_text
from hourglass.interfaces.funnel_explore_api import explore_properties, run_correlation, run_paths
from hourglass.model.errors import HourglassError, SpecError
from hourglass.model.funnel_explore import VIEWS, ExploreOptions, FunnelCorrelation, FunnelPaths, format_p
from hourglass.model.spec import FunnelSpec

from .funnel_view import funnel_kwargs
from .query import FunnelQuery, integer, split

__all__ = ["EXPLORE_PARAMS", "ExploreQuery", "add_explore_routes", "explore_fragment", "explore_people"]

#: the explore views' own parameters (the rest is the funnel's)
EXPLORE_PARAMS = ("view", "at", "depth", "rows", "properties", "path", "ended", "kind", "value", "page")
PER_PAGE = 50


@dataclass(frozen=True)
class ExploreQuery:
    view: str = "dropoff"
    at: int = 1
    depth: int = 3
    rows: int = 10
    properties: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ExploreQuery:
        view = (params.get("view") or "dropoff").strip()
        if view not in VIEWS:
            raise SpecError(
                f"view: '{view}' is not a view of the funnel explained",
                code="HG154",
                hint="view=dropoff, between or correlation",
            )
        return cls(
            view=view,
            at=integer(params, "at", 1, 1, 29, "HG151"),
            depth=integer(params, "depth", 3, 1, 20, "HG151"),
            rows=integer(params, "rows", 10, 1, 1000, "HG151"),
            properties=split(params.get("properties")),
        )

    def options(self) -> ExploreOptions:
        return ExploreOptions(at=self.at, depth=self.depth, top=self.rows)

    def params(self) -> dict[str, str]:
        out = {"view": self.view, "at": str(self.at)}
        if self.depth != 3:
            out["depth"] = str(self.depth)
        if self.rows != 10:
            out["rows"] = str(self.rows)
        if self.properties:
            out["properties"] = ",".join(self.properties)
        return out


def _spec(views: Any, q: FunnelQuery) -> FunnelSpec:
    src = views.src
    kwargs = funnel_kwargs(src, q)
    by = api.by_column(src.events, q.by) if q.by else None
    return api.build_spec(kwargs.pop("steps"), model=kwargs.pop("model"), config=src.config, by=by, **kwargs)


def _result(views: Any, q: FunnelQuery, x: ExploreQuery) -> FunnelPaths | FunnelCorrelation:
    def compute() -> FunnelPaths | FunnelCorrelation:
        spec, opts, src = _spec(views, q), x.options(), views.src
        if x.view == "correlation":
            props = x.properties or None
            return src.run(lambda: run_correlation(src.events, spec, opts, props))  # type: ignore[no-any-return]
        return src.run(lambda: run_paths(src.events, spec, opts, x.view))  # type: ignore[no-any-return]

    return views._cached("explore", (q.key(), tuple(sorted(x.params().items()))), compute)  # type: ignore[no-any-return]


def explore_fragment(views: Any, q: FunnelQuery, x: ExploreQuery) -> str:
    """The tabs (each view, each step with a next one) and the chosen view's table."""
    if q.empty:
        raise SpecError(
            "the funnel has no steps", code="HG109", hint="give steps or a model on the funnel page"
        )
    result = _result(views, q, x)
    spec = _spec(views, q)
    names = list(spec.step_names)
    # the step tabs: each required step with a required one after it, and that next one
    req = spec.required
    starts = [(k, f"{names[k - 1]} → {names[nxt - 1]}") for k, nxt in pairwise(req)]
    rows: list[dict[str, Any]] = []
    if isinstance(result, FunnelPaths):
        for p in result.paths:
            who = {"path": json.dumps(list(p.path)), "ended": "1" if p.ended else "0"}
            rows.append({"text": path_text(result, p.path, p.ended), "row": p, "who": urlencode(who)})
    else:
        for i in result.items[: x.rows]:
            rows.append({"text": i.label, "row": i, "who": urlencode({"kind": i.kind, "value": i.value})})
    return str(
        views._render(
            "funnel_explore.html",
            result=result,
            x=x,
            rows=rows,
            steps=names,
            starts=starts,
            fq=q.query(),
            xq=urlencode(x.params()),
            views=VIEWS,
            format_p=format_p,
        )
    )


def explore_people(
    views: Any, q: FunnelQuery, x: ExploreQuery, params: Mapping[str, str]
) -> tuple[str, Any, str]:
    """(title, the customers as a DataFrame by customer, the list's own query) of one path
    (``path``, ``ended``) or one item (``kind``, ``value``)."""
    src = views.src
    spec = _spec(views, q)
    opts = x.options().resolved(spec)
    names = spec.step_names
    if x.view == "correlation":
        kind, value = (params.get("kind") or "").strip(), params.get("value")
        if not kind or value is None:
            raise SpecError(
                "say which item", code="HG154", hint="click an item of the correlation (kind and value)"
            )
        from hourglass.analyses.funnel_correlation import EVENT, item_people

        props = () if kind == EVENT else explore_properties(src.events, [kind])
        expr = item_people(spec, src.events.table, opts, props, kind, value)
        label = value if kind == EVENT else f"{kind} = {value}"
        title = f"customers who reached {names[x.at - 1]} with {label} before the drop-off point"
        own = {"kind": kind, "value": value}
    else:
        try:
            path = json.loads(params.get("path") or "")
            assert isinstance(path, list) and all(isinstance(e, str) for e in path)
        except (ValueError, AssertionError):
            raise SpecError(
                "path: not a list of events", code="HG154", hint="click a path of the funnel explained"
            ) from None
        ended = (params.get("ended") or "1").strip() not in ("0", "false", "no")
        if len(path) > opts.depth:
            raise SpecError(f"path: more than {opts.depth} events", code="HG154", hint="give depth too")
        from hourglass.analyses.funnel_paths import path_people

        expr = path_people(spec, src.events.table, opts, x.view, path, ended)
        shown = FunnelPaths(x.view, x.at, names[x.at - 1], names[opts.target - 1], opts.depth, 0, (), 0, 0)
        title = f"customers of the path {path_text(shown, tuple(path), ended)}"
        own = {"path": json.dumps(path), "ended": "1" if ended else "0"}
    key = (q.key(), tuple(sorted(x.params().items())), tuple(sorted(own.items())))
    frame = views._cached("explore-people", key, lambda: src.run(lambda: src.events.engine.execute(expr)))
    return title, frame, urlencode({**q.params(), **x.params(), **own})


def add_explore_routes(app: Any, views: Any) -> None:
    """The three routes on the dashboard's app (``views``: its :class:`Views`)."""
    src = views.src

    def back(p: Mapping[str, str]) -> str:
        return urlencode({k: v for k, v in p.items() if k not in EXPLORE_PARAMS})

    def page(request: Request) -> Response:
        p = dict(request.query_params)

        def compute() -> str:
            return explore_fragment(views, FunnelQuery.parse(p, src.last), ExploreQuery.parse(p))

        return request.app.state.respond(  # type: ignore[no-any-return]
            request,
            "funnel_explore_page.html",
            "the funnel explained",
            compute,
            path="/funnel",
            back_query=back(p),
        )

    def people(request: Request) -> Response:
        p = dict(request.query_params)

        def compute() -> str:
            x = ExploreQuery.parse(p)
            title, frame, query = explore_people(views, FunnelQuery.parse(p, src.last), x, p)
            n = integer(p, "page", 1, 1, 10**9, "HG109")
            total = len(frame)
            part = frame.iloc[(n - 1) * PER_PAGE : n * PER_PAGE].to_dict(orient="records")
            return str(
                views._render(
                    "who.html", title=title, total=total, rows=part, page=n, query=query,
                    pages=max(1, -(-total // PER_PAGE)), base="/funnel/explore/people", model_query="",
                    first=(n - 1) * PER_PAGE + 1,
                )
            )  # fmt: skip

        return request.app.state.respond(  # type: ignore[no-any-return]
            request,
            "funnel_explore_page.html",
            "the funnel explained",
            compute,
            path="/funnel",
            back_query=back(p),
        )

    def people_csv(request: Request) -> Response:
        p = dict(request.query_params)
        try:
            x = ExploreQuery.parse(p)
            _, frame, _ = explore_people(views, FunnelQuery.parse(p, src.last), x, p)
        except HourglassError as e:
            return Response(
                f"[{e.code}] {e.message}\nhint: {e.hint}\n", status_code=400, media_type="text/plain"
            )
        return Response(
            frame.to_csv(index=False),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="customers-{x.view}-at{x.at}.csv"',
                "Cache-Control": "no-store",
            },
        )

    for path, route in (
        ("/funnel/explore", page),
        ("/funnel/explore/people", people),
        ("/funnel/explore/people.csv", people_csv),
    ):
        app.add_api_route(path, route, methods=["GET"], response_model=None)
