"""Each view: its cached result (per source version and normalised query) rendered as an HTML
fragment, the part of the page a form change redraws."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment

from hourglass.engine import fetched
from hourglass.interfaces.reports._journeys_section import journeys_part
from hourglass.interfaces.reports._lifecycle_parts import build_parts
from hourglass.model.errors import HourglassError

from .ahead import Ahead, Job
from .asked import Asked
from .charts import compare_figure, funnel_figure
from .compare import Comparison, compare_rows, other_period, paths_compared, stages_compared
from .data import DashboardSource, ResultCache
from .extras import Page, page_key, run_page
from .funnel_view import FunnelView, compute_funnel, people_frame
from .levels import ahead_levels, funnel_levels, named_levels
from .pages import (
    ModelSummary,
    all_paths,
    compute_journeys,
    compute_lifecycle,
    compute_overview,
    stage_people,
    stage_table,
)
from .people_view import NONE, channel_table, paths_table, who_context, who_people
from .query import FunnelQuery, PageQuery, date_range
from .render import Chart, clickable_journeys, fresh_id, part_fragment

__all__ = ["Views"]


def _nothing(src: DashboardSource) -> None:
    """A no-op job: its batch's ``page``/``view`` stop another's work ahead (``Views._enter``)."""


class Views:
    def __init__(self, src: DashboardSource, cache: ResultCache, env: Environment) -> None:
        self.src = src
        self.cache = cache
        self.env = env
        self.ahead = Ahead(src)  # what a click will ask for next, computed beside the request
        self._newest_funnel: Hashable = None  # the funnel asked for last (its people are worked ahead)
        self.asked = Asked()  # the page and view asked for last (a page left behind: no work ahead)
        fetched.KEEP = True  # the journeys page's elements fetched once (engine/fetched.py)

    def idle(self) -> None:
        """Wait until the work ahead is done (tests, the bench)."""
        self.ahead.idle()

    def warm(self) -> None:
        """``hourglass serve``: compute ahead (ahead.py) what a click on each view will ask for next,
        and now the overview's, the hourglass's and the journeys' first views."""
        self.ahead.start()
        q = PageQuery(model=self.src.default_model, default=self.src.default_model)
        self.ahead.submit(
            lambda s: self._models("90d", None, None, s),
            lambda s: self._lifecycle_data(q, s),
            lambda s: compute_journeys(s, q, self._cached),
            later=True,
        )

    def _enter(self, page: str, view: Hashable = None, *, before: bool = False) -> None:
        """A request for ``page``'s ``view``: the work ahead of another page (or, ``before``, the
        overview's period before of another view) is stopped now, not once this one is answered
        (ahead.py ``page=``/``view=``: a no-op batch drops their queued jobs, interrupts the running
        one's query; asked.py: its scan stops between ranges, nothing starts)."""
        other = self.asked.page != page
        self.asked.ask(page, view)
        if other or before:
            self._ahead(page, **({"view": ("overview-before", view)} if before else {}))

    def _ahead(self, page: str, *jobs: Job, **kw: Any) -> None:
        """``jobs`` for ``page``'s next clicks, each started only while it is the page asked for last
        (none: a no-op batch, ``_enter``'s)."""
        if "page" in inspect.signature(self.ahead.submit).parameters:  # (ahead.py: a page left behind)
            kw["page"] = page
        self.ahead.submit(*(self.asked.only(page, *jobs) if jobs else [_nothing]), **kw)

    def _cached(self, view: str, key: Hashable, compute: Any) -> Any:
        return self.cache.get((self.src.identity, view, key), compute)

    def _render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(src=self.src, **ctx)

    # --- errors -----------------------------------------------------------------------------

    def error(self, code: str, message: str, hint: str | None) -> str:
        return self._render("error.html", code=code, message=message, hint=hint)

    def internal(self, e: Exception) -> str:
        first = (str(e).strip().splitlines() or [""])[0]
        return self.error(
            "HG699",
            f"internal error: {type(e).__name__}: {first}",
            "this is a bug in hourglass, not in your data: please report it with the page's address "
            "(the server's log has the details)",
        )

    # --- pages ------------------------------------------------------------------------------

    def _models(
        self,
        window: str,
        since: str | None,
        until: str | None,
        src: DashboardSource | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> list[ModelSummary]:
        on = src or self.src
        return self._cached(  # type: ignore[no-any-return]
            "overview", (window, since, until), lambda: compute_overview(on, window, since, until, wanted)
        )

    def _lifecycle_data(self, q: PageQuery, src: DashboardSource | None = None) -> dict[str, Any]:
        on = src or self.src
        return self._cached("lifecycle", q.key(), lambda: compute_lifecycle(on, q))  # type: ignore[no-any-return]

    def _stages_data(self, q: PageQuery, src: DashboardSource | None = None) -> dict[str, Any]:
        """The stages alone (a comparison's other period)."""
        on = src or self.src
        return self._cached(  # type: ignore[no-any-return]
            "lifecycle-stages", q.key(), lambda: compute_lifecycle(on, q, stages_only=True)
        )

    def _previous(self, since: str | None, until: str | None) -> tuple[str | None, str | None] | None:
        """The period before (``compare=previous``), None when there is none (no start)."""
        try:
            return other_period("previous", since, until, None, None, self.src.last)
        except HourglassError:
            return None

    def overview(
        self,
        window: str,
        rng: str,
        since: str | None,
        until: str | None,
        compare: tuple[str, str | None, str | None] | None = None,
    ) -> str:
        self._enter("overview", (window, since, until), before=True)  # (an older view's B stops)
        models = self._models(window, since, until)
        b_ahead = self._previous(since, until)  # the period before (a comparison's), once A's are done
        if b_ahead is not None and not (compare and compare[0]):
            wanted = self.asked.newest("overview", (window, since, until))
            b_job: Job = lambda s: self._models(window, *b_ahead, s, wanted)  # noqa: E731
            self._ahead("overview", b_job, view=("overview-before", (window, since, until)))
        html = self._render("overview_result.html", models=models, window=window, range=rng)
        if not compare or not compare[0]:
            return html
        b = other_period(compare[0], since, until, compare[1], compare[2], self.src.last)
        others = {m.name: m for m in self._models(window, *b)}
        rows = []
        for m in models:
            mb = others.get(m.name)
            if m.steps and mb is not None and mb.steps:
                last = compare_rows(m.steps, mb.steps)[-1]
                rows.append({**last, "step": m.label})
        return (
            self.compared(
                Comparison((since, until), b, rows),
                "Every model, this period (A) against another (B)",
                f"Customers who reached each model's last stage in order within {window}, of those who "
                "entered its first, in each period; a model the log cannot measure is left out.",
                head="model",
                of="reached the end",
                ytitle="% reached the end",
            )
            + html
        )

    def compared(self, c: Comparison, title: str, note: str, *, head: str, of: str, ytitle: str) -> str:
        """Two periods side by side: the chart of both shares and the table of changes and tests."""
        chart = Chart(fresh_id("hg-compare"), compare_figure(c, ytitle)) if c.rows else None
        return self._render("_comparison.html", c=c, chart=chart, title=title, note=note, head=head, of=of)

    def lifecycle_compare(self, q: PageQuery, data: dict[str, Any]) -> str:
        b = other_period(q.compare, q.since, q.until, q.since2, q.until2, self.src.last)
        return self.compared(
            stages_compared((q.since, q.until), b, data, self._stages_data(q.on(b))),
            "The hourglass, this period (A) against another (B)",
            "Customers who ever entered each stage (any order), of all the period's customers.",
            head="stage",
            of="of all",
            ytitle="% of all customers",
        )

    def journeys_compare(self, q: PageQuery, paths: Any) -> str:
        b = other_period(q.compare, q.since, q.until, q.since2, q.until2, self.src.last)
        other = all_paths(self.src, q.on(b), self._cached).to_dict()
        return self.compared(
            paths_compared((q.since, q.until), b, paths, other),
            "Top paths, this period (A) against another (B)",
            "The share of the period's customers who took each of A's top paths.",
            head="path",
            of="of all",
            ytitle="% of the customers",
        )

    def funnel_view(self, q: FunnelQuery) -> FunnelView:
        return self._cached("funnel", q.key(), lambda: compute_funnel(self.src, q))  # type: ignore[no-any-return]

    def funnel(self, q: FunnelQuery) -> str:
        if q.empty:
            return self._render("funnel_empty.html")
        self._newest_funnel = q.key()  # (an older funnel's people not started from now on)
        self._enter("funnel", q.key())
        comparison = self.comparison(q) if q.compare else None
        view = self.funnel_view(q)
        # the people behind the bars, once the funnel is computed, while it is the newest (levels.py)
        self._ahead("funnel", lambda s: ahead_levels(self, s, q), view=("funnel", q.key()))
        chart = Chart(fresh_id("hg-funnel"), funnel_figure(view, "/people?" + q.query()))
        compare_chart = Chart(fresh_id("hg-compare"), compare_figure(comparison)) if comparison else None
        return self._render(
            "funnel_result.html",
            view=view,
            chart=chart,
            fq=q.query(),
            comparison=comparison,
            compare_chart=compare_chart,
        )

    def comparison(self, q: FunnelQuery) -> Comparison:
        """The funnel's totals in the page's period (A) and in the other one (B)."""
        b = other_period(q.compare, q.since, q.until, q.since2, q.until2, self.src.last)
        qa = replace(q, by="", top=5, compare="", since2=None, until2=None)
        qb = replace(qa, range="custom", since=b[0], until=b[1])
        rows_a, rows_b = self.funnel_view(qa).groups[0].rows, self.funnel_view(qb).groups[0].rows
        return Comparison((q.since, q.until), b, compare_rows(rows_a, rows_b))

    def _levels(self, q: FunnelQuery, src: DashboardSource | None = None) -> Any:
        """Every customer of the funnel with his level (and group): ``funnel_levels``, cached."""
        on = src or self.src
        return self._cached("levels", q.key(), lambda: funnel_levels(on, q))

    def _people(self, q: FunnelQuery, step: int, kind: str, group: str | None) -> tuple[FunnelView, Any]:
        view = self.funnel_view(q)
        return view, people_frame(self._levels(q), view, step, kind, group)

    def people(
        self, q: FunnelQuery, step: int, kind: str, group: str | None, page: int, per_page: int
    ) -> str:
        view, frame = self._people(q, step, kind, group)
        total = len(frame)
        rows = frame.iloc[(page - 1) * per_page : page * per_page].to_dict(orient="records")
        extra = {"step": step, "kind": kind} | ({"group": group} if group is not None else {})
        pages, first = max(1, -(-total // per_page)), (page - 1) * per_page + 1
        shown = {"view": view, "total": total, "rows": rows, "step": step, "kind": kind, "group": group}
        return self._render(
            "people.html",
            **shown,
            page=page,
            pages=pages,
            query=q.query() + "&" + urlencode(extra),
            first=first,
        )

    def people_csv(self, q: FunnelQuery, step: int, kind: str, group: str | None) -> Any:
        """Every customer of a step (the CSV's rows), the furthest step by its name."""
        return named_levels(*self._people(q, step, kind, group))

    def lifecycle(self, q: PageQuery) -> str:
        self._enter("lifecycle", q.key())
        self._lifecycle_ahead(q)
        data = self._lifecycle_data(q)
        html, charts = part_fragment(build_parts(data, None))
        if q.compare:
            html = self.lifecycle_compare(q, data) + html
        stages = [
            (str(s.get("stage")), str(s.get("label") or s.get("stage"))) for s in data.get("stages") or []
        ]
        channels = [
            NONE if c.get("channel") is None else str(c["channel"]) for c in data.get("channels") or []
        ]
        return self._render(
            "parts.html",
            html=html,
            charts=charts,
            note=data.get("meta", {}).get("note"),
            stages=stages,
            lq_items=list(q.params().items()),
            channels=channels,
            channel_base="/lifecycle/channel?" + urlencode(q.params()),
        )

    def _stage_people(self, q: PageQuery, stage: str, kind: str) -> Any:
        data = self._lifecycle_data(q)
        stages = [str(s.get("stage")) for s in data.get("stages") or []]
        return stage_people(self._stage_table(q), stages, stage, kind)

    def _stage_table(self, q: PageQuery, src: DashboardSource | None = None) -> Any:
        on = src or self.src
        return self._cached("stage_table", (q.model, q.since, q.until), lambda: stage_table(on, q))

    def _lifecycle_ahead(self, q: PageQuery) -> None:
        """What a click on the hourglass page asks for next: any channel cell's customers, the
        period before's stages (a comparison), the stages' customers; then the other presets."""
        alone = q.alone()
        jobs: list[Job] = []
        if "channel" in self.src.columns and not q.compare:
            jobs.append(lambda s: channel_table(s, alone, self._cached))
        b = self._previous(q.since, q.until)
        if b is not None and not q.compare:
            jobs.append(lambda s: self._stages_data(q.on(b), s))
        jobs.append(lambda s: self._stage_table(alone, s))
        # a new range's (or model's) request stops the last one's (ahead.py ``at_once=False``)
        self._ahead("lifecycle", *jobs, view=("lifecycle", alone.key()), at_once=False)
        presets = alone.presets(self.src.last)
        self.ahead.submit(*[lambda s, p=p: self._lifecycle_data(p, s) for p in presets], later=True)

    def lifecycle_people(self, q: PageQuery, stage: str, kind: str, page: int, per_page: int) -> str:
        frame = self._stage_people(q, stage, kind)
        total = len(frame)
        rows = frame.iloc[(page - 1) * per_page : page * per_page].to_dict(orient="records")
        query = urlencode({**q.params(), "stage": stage, "kind": kind})
        return self._render(
            "stage_people.html",
            total=total,
            rows=rows,
            stage=stage,
            kind=kind,
            page=page,
            pages=max(1, -(-total // per_page)),
            query=query,
            model_query=urlencode({k: v for k, v in q.params().items() if k in ("model", "goal")}),
            first=(page - 1) * per_page + 1,
        )

    def lifecycle_people_csv(self, q: PageQuery, stage: str, kind: str) -> Any:
        return self._stage_people(q, stage, kind)

    def journeys(self, q: PageQuery) -> str:
        self._enter("journeys", q.key())
        alone = q.alone()  # what a click asks for next: the period before, any Sankey node's people
        b = self._previous(q.since, q.until)
        if b is not None and not q.compare:
            self._ahead("journeys", lambda s: all_paths(s, q.on(b), self._cached))
        if not q.compare:  # a node's people's table at once, beside the answer (a node is clicked as
            table = ("journeys", (q.model, q.since, q.until, q.depth, q.start, q.end))  # soon as drawn)
            self._ahead("journeys", lambda s: paths_table(s, alone, self._cached), view=table)
        others = alone.presets(self.src.last)  # the range menu's
        self.ahead.submit(*[lambda s, p=p: compute_journeys(s, p, self._cached) for p in others], later=True)
        data = compute_journeys(self.src, q, self._cached)
        part = journeys_part(data["journeys"], data["transitions"], data["paths"], data["journey"])
        html, charts = part_fragment([part])
        html = clickable_journeys(html, charts, data, urlencode(q.alone().params()))
        if q.compare:
            html = self.journeys_compare(q, data["paths"]) + html
        failed = data.get("journey_error")
        if failed:
            html = self.error(failed["code"], failed["message"], failed["hint"]) + html
        return self._render("parts.html", html=html, charts=charts, note=None)

    # --- the people behind the journeys' and the channels' numbers -----------------------------

    def who(self, q: PageQuery, params: dict[str, str], where: str, page: int, per_page: int) -> str:
        people = who_people(self.src, q, params, where, self._cached)
        return self._render("who.html", **who_context(people, q, where, page, per_page))

    def who_csv(self, q: PageQuery, params: dict[str, str], where: str) -> Any:
        return who_people(self.src, q, params, where, self._cached).rows()

    def extra(self, page: Page, params: dict[str, str]) -> str:
        """A later analysis's page (flywheel, friction, retention, clv, attribution): the report's
        section for the form's options, cached per normalised request."""
        self._enter(page.name)
        part = self._cached(
            page.name, page_key(self.src, page, params), lambda: run_page(self.src, page, params)
        )
        compare = (params.get("compare") or "").strip()
        if not compare:
            html, charts = part_fragment([part])
            return self._render("parts.html", html=html, charts=charts, note=None, stages=[], lq_items=[])
        _rng, since, until = date_range(params, self.src.last)
        b = other_period(compare, since, until, params.get("since2"), params.get("until2"), self.src.last)
        pb = {k: v for k, v in params.items() if k not in ("compare", "since2", "until2", "range")}
        pb |= {"range": "custom", "since": b[0] or "", "until": b[1] or ""}
        other = self._cached(page.name, page_key(self.src, page, pb), lambda: run_page(self.src, page, pb))
        html_a, charts_a = part_fragment([part])
        html_b, charts_b = part_fragment([other])
        return self._render(
            "side_by_side.html",
            a=(since, until),
            b=b,
            html_a=html_a,
            html_b=html_b,
            charts=charts_a + charts_b,
        )
