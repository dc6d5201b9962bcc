"""Each view: its cached result (per source version and normalised query) rendered as an HTML
fragment, the part of the page a form change redraws."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment

from hourglass.interfaces.reports._journeys_section import journeys_part
from hourglass.interfaces.reports._lifecycle_parts import build_parts

from .charts import compare_figure, funnel_figure
from .compare import Comparison, compare_counts, compare_rows, other_period
from .data import DashboardSource, ResultCache
from .extras import Page, page_key, run_page
from .funnel_view import FunnelView, compute_funnel, levels_table, people_frame
from .pages import (
    ModelSummary,
    all_paths,
    compute_journeys,
    compute_lifecycle,
    compute_overview,
    stage_people,
    stage_table,
    top_paths,
)
from .people_view import NONE, People, channel_frame, journey_frame, people_params
from .query import FunnelQuery, PageQuery, date_range
from .render import Chart, clickable_journeys, fresh_id, part_fragment

__all__ = ["IDLE_S", "Views"]

IDLE_S = 1.5  # seconds without a request before background work starts


class Views:
    def __init__(self, src: DashboardSource, cache: ResultCache, env: Environment) -> None:
        self.src = src
        self.cache = cache
        self.env = env
        self.prefetch = False  # compute what a click will ask for next, in the background
        self._jobs: queue.Queue[Callable[[], Any]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._busy_lock = threading.Lock()
        self.active = 0  # requests being answered
        self.last_request = 0.0  # time.monotonic() of the last request's start or end

    def background(self, job: Callable[[], Any]) -> None:
        """Run ``job`` on the one background worker (a job's error is dropped: the request that
        needs the result computes it again and shows the error)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="hourglass-prefetch", daemon=True)
            self._worker.start()
        self._jobs.put(job)

    def request_started(self) -> None:
        with self._busy_lock:
            self.active += 1
            self.last_request = time.monotonic()

    def request_done(self) -> None:
        with self._busy_lock:
            self.active -= 1
            self.last_request = time.monotonic()

    def _wait_idle(self) -> None:
        """Until no request has run for ``IDLE_S``: the engine runs one query at a time, so a
        background job must not start while a person waits for an answer."""
        while True:
            with self._busy_lock:
                quiet = self.active == 0 and time.monotonic() - self.last_request >= IDLE_S
            if quiet:
                return
            time.sleep(0.1)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            self._wait_idle()
            with contextlib.suppress(Exception):  # see background()
                job()
            self._jobs.task_done()

    def idle(self) -> None:
        """Wait until the background jobs are done (tests, the bench)."""
        self._jobs.join()

    def warm(self) -> None:
        """``hourglass serve``: prefetch what a click will ask for next (a funnel's people), in the
        pauses between requests. The pages' default views are not computed ahead: the engine runs
        one query at a time, and a lifecycle computed in a pause (20 s at 1M events on a loaded
        machine) made the next click wait for it."""
        self.prefetch = True

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

    def _models(self, window: str, since: str | None, until: str | None) -> list[ModelSummary]:
        return self._cached(  # type: ignore[no-any-return]
            "overview", (window, since, until), lambda: compute_overview(self.src, window, since, until)
        )

    def overview(
        self,
        window: str,
        rng: str,
        since: str | None,
        until: str | None,
        compare: tuple[str, str | None, str | None] | None = None,
    ) -> str:
        models = self._models(window, since, until)
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

    def _b(self, q: PageQuery) -> tuple[str | None, str | None]:
        return other_period(q.compare, q.since, q.until, q.since2, q.until2, self.src.last)

    def lifecycle_compare(self, q: PageQuery, data: dict[str, Any]) -> str:
        b = self._b(q)
        qb = q.on(b)
        other = self._cached(
            "lifecycle-stages", qb.key(), lambda: compute_lifecycle(self.src, qb, stages_only=True)
        )
        stages_a, stages_b = data.get("stages") or [], {s.get("stage"): s for s in other.get("stages") or []}
        labels = [str(s.get("label") or s.get("stage")) for s in stages_a]
        a = [s.get("entered") for s in stages_a]
        bb = [(stages_b.get(s.get("stage")) or {}).get("entered") for s in stages_a]
        rows = compare_counts(
            labels, a, int(data.get("customers") or 0), bb, int(other.get("customers") or 0)
        )
        return self.compared(
            Comparison((q.since, q.until), b, rows),
            "The hourglass, this period (A) against another (B)",
            "Customers who ever entered each stage (any order), of all the period's customers.",
            head="stage",
            of="of all",
            ytitle="% of all customers",
        )

    def journeys_compare(self, q: PageQuery, paths: Any) -> str:
        b = self._b(q)
        qb = q.on(b)
        other = all_paths(self.src, qb, self._cached).to_dict()
        counts = {tuple(p["path"]): int(p["customers"]) for p in other.get("top") or []}
        complete = len(counts) >= int(other.get("distinct_paths") or 0)  # every path of B is listed
        labels, a, bb = [], [], []
        for p in paths.get("top") or []:
            labels.append(" → ".join(str(n) for n in p["path"]))
            a.append(int(p["customers"]))
            bb.append(counts.get(tuple(p["path"]), 0 if complete else None))
        rows = compare_counts(
            labels, a, int(paths.get("customers") or 0), bb, int(other.get("customers") or 0)
        )
        return self.compared(
            Comparison((q.since, q.until), b, rows),
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
        comparison = self.comparison(q) if q.compare else None
        view = self.funnel_view(q)
        if self.prefetch:  # the people behind the bars: the likely next click
            self.background(lambda: self._cached("levels", q.key(), lambda: levels_table(self.src, view)))
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

    def _people(self, q: FunnelQuery, step: int, kind: str, group: str | None) -> tuple[FunnelView, Any]:
        view = self.funnel_view(q)
        levels = self._cached("levels", q.key(), lambda: levels_table(self.src, view))
        return view, people_frame(levels, view, step, kind, group)

    def people(
        self, q: FunnelQuery, step: int, kind: str, group: str | None, page: int, per_page: int
    ) -> str:
        view, frame = self._people(q, step, kind, group)
        total = len(frame)
        rows = frame.iloc[(page - 1) * per_page : page * per_page].to_dict(orient="records")
        extra = {"step": step, "kind": kind} | ({"group": group} if group is not None else {})
        query = q.query() + "&" + urlencode(extra)
        pages = max(1, -(-total // per_page))
        return self._render(
            "people.html",
            view=view,
            total=total,
            rows=rows,
            step=step,
            kind=kind,
            group=group,
            page=page,
            pages=pages,
            query=query,
            first=(page - 1) * per_page + 1,
        )

    def people_csv(self, q: FunnelQuery, step: int, kind: str, group: str | None) -> Any:
        """Every customer of a step (the CSV's rows), the furthest step by its name."""
        view, frame = self._people(q, step, kind, group)
        frame = frame.copy()
        if "level" in frame.columns:
            frame["level"] = [view.labels[int(v) - 1] if v else None for v in frame["level"]]
            frame = frame.rename(columns={"level": "furthest_step"})
        if view.by and "by" in frame.columns:
            frame = frame.rename(columns={"by": view.by})
        return frame

    def lifecycle(self, q: PageQuery) -> str:
        data = self._cached("lifecycle", q.key(), lambda: compute_lifecycle(self.src, q))
        html, charts = part_fragment(build_parts(data, None))
        if q.compare:
            html = self.lifecycle_compare(q, data) + html
        stages = [
            (str(s.get("stage")), str(s.get("label") or s.get("stage"))) for s in data.get("stages") or []
        ]
        channels = [
            NONE if c.get("channel") is None else str(c["channel"]) for c in data.get("channels") or []
        ]
        if self.prefetch and channels:  # the customers' channels and stages, read by any cell's click
            self.background(lambda: self._who(q.alone(), {"channel": channels[0]}, "channels"))
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
        data = self._cached("lifecycle", q.key(), lambda: compute_lifecycle(self.src, q))
        stages = [str(s.get("stage")) for s in data.get("stages") or []]
        key = (q.model, q.since, q.until)
        table = self._cached("stage_table", key, lambda: stage_table(self.src, q))
        return stage_people(table, stages, stage, kind)

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
        data = compute_journeys(self.src, q, self._cached)
        part = journeys_part(data["journeys"], data["transitions"], data["paths"], data["journey"])
        html, charts = part_fragment([part])
        html = clickable_journeys(html, charts, data, urlencode(q.alone().params()))
        nodes = (data.get("paths") or {}).get("sankey", {}).get("nodes") or []
        if self.prefetch and nodes:  # the customers' paths, read by any node's click
            first = {"node": str(nodes[0]["name"]), "node_step": str(nodes[0]["step"])}
            self.background(lambda: self._who(q.alone(), first, "journeys"))
        if q.compare:
            html = self.journeys_compare(q, data["paths"]) + html
        failed = data.get("journey_error")
        if failed:
            html = self.error(failed["code"], failed["message"], failed["hint"]) + html
        return self._render("parts.html", html=html, charts=charts, note=None)

    # --- the people behind the journeys' and the channels' numbers -----------------------------

    def _who(self, q: PageQuery, params: dict[str, str], where: str) -> People:
        chosen = people_params(params)
        key = (where, q.key(), tuple(sorted(chosen.items())))
        if where == "channels":
            stage = chosen.get("stage")
            return self._cached(  # type: ignore[no-any-return]
                "who", key, lambda: channel_frame(self.src, q, chosen.get("channel", ""), stage, self._cached)
            )
        paths: dict[str, Any] = {}
        if "node" in chosen:  # the page's top paths and Sankey columns
            paths = top_paths(all_paths(self.src, q, self._cached), q.top).to_dict()
        return self._cached(  # type: ignore[no-any-return]
            "who", key, lambda: journey_frame(self.src, q, params, paths, self._cached)
        )

    def who(self, q: PageQuery, params: dict[str, str], where: str, page: int, per_page: int) -> str:
        people = self._who(q, params, where)
        total = len(people.frame)
        rows = people.rows((page - 1) * per_page, page * per_page).to_dict(orient="records")
        query = urlencode({**q.params(), **people.params})
        base = "/journeys/people" if where == "journeys" else "/lifecycle/channel"
        return self._render(
            "who.html",
            title=people.title,
            total=total,
            rows=rows,
            page=page,
            pages=max(1, -(-total // per_page)),
            query=query,
            base=base,
            model_query=urlencode({k: v for k, v in q.params().items() if k in ("model", "goal")}),
            first=(page - 1) * per_page + 1,
        )

    def who_csv(self, q: PageQuery, params: dict[str, str], where: str) -> Any:
        return self._who(q, params, where).rows()

    def extra(self, page: Page, params: dict[str, str]) -> str:
        """A later analysis's page (flywheel, friction, retention, clv, attribution): the report's
        section for the form's options, cached per normalised request."""
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
