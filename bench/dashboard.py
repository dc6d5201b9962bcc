"""The dashboard's speed in real Chromium: time to the first chart after start, and p50/p95 of each
interaction (a form change that redraws the result, a click on a bar, a page), on a store of the
simulated shop (every built-in model has its events) of about ``--events`` events.

    .venv/bin/python bench/dashboard.py --events 1000000 --reps 10

Each repetition asks for a result not in the cache (another window), so the times are the engine's
and the browser's, not the cache's; the cached redraw is measured apart. The server works ahead as
``hourglass serve`` does (dashboard/ahead.py: a view's next clicks and its date presets, on a second
connection), and the bench makes no pauses: a click waits for what is still being computed. The
time of an interaction is the page's own (window.hgTimings: from the request to the chart drawn)."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = "document.documentElement.getAttribute('data-hg-busy') === '0'"
EVENTS_PER_CUSTOMER = 4.15  # the simulator's average


def ensure_store(data_dir: Path, events: int, seed: int) -> Path:
    """A store (hourglass ingest) of the simulated shop, made once and kept under ``data_dir``."""
    store = data_dir / f"shop-{events}-{seed}.duckdb"
    if store.exists():
        return store
    from hourglass.engine.store import write_events
    from hourglass.ingest.simulator import simulate_shop

    data_dir.mkdir(parents=True, exist_ok=True)
    table, _ = simulate_shop(int(events / EVENTS_PER_CUSTOMER), seed=seed)
    parquet = data_dir / f"shop-{events}-{seed}.parquet"
    write_events(table, parquet_path=parquet)
    hourglass = str(Path(sys.executable).with_name("hourglass"))
    subprocess.run([hourglass, "ingest", str(parquet), "--into", str(store), "-q"], check=True)
    return store


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def _cpu_ms() -> float:
    """This process's CPU time (user + system, ms): the server's, its work ahead's and the bench's
    own Playwright calls (Chromium runs in its own processes)."""
    t = os.times()
    return (t.user + t.system) * 1000


class Bench:
    def __init__(self, page: Any, base: str, timeout_ms: int = 120_000) -> None:
        self.page = page
        self.base = base
        self.timeout_ms = timeout_ms
        self.times: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}  # the server process's CPU ms of each interaction
        self.timed_out: dict[str, int] = {}  # the interactions that did not finish in time
        self.timeline: Any = None  # bench/_timeline.py's (``--timeline``)

    def _last_ms(self) -> float:
        return float(self.page.evaluate("window.hgTimings[window.hgTimings.length - 1].ms"))

    def record(self, name: str, action: Callable[[], None], *, page_load: bool = False) -> None:
        """``action``'s time (the page's own; a page load's wall time) and the server's CPU; one
        that does not finish within the timeout is counted in ``timed_out`` and the run goes on
        (every interaction of a 10M run is reported, a slow one as such)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        before = 0 if page_load else int(self.page.evaluate("window.hgTimings.length"))
        started, cpu = time.perf_counter(), _cpu_ms()
        if self.timeline is not None:
            self.timeline.log(">>>", name)
        try:
            action()
            self.page.wait_for_function(
                f"window.hgTimings && window.hgTimings.length > {before}", timeout=self.timeout_ms
            )
            self.page.wait_for_function(IDLE, timeout=self.timeout_ms)
        except PlaywrightTimeout:
            self.timed_out[name] = self.timed_out.get(name, 0) + 1
            return
        wall = (time.perf_counter() - started) * 1000
        self.cpu.setdefault(name, []).append(_cpu_ms() - cpu)
        self.times.setdefault(name, []).append(wall if page_load else self._last_ms())
        if self.timeline is not None:
            used = self.cpu[name][-1] / 1000
            self.timeline.log("<<<", name, f"{self.times[name][-1]:.0f} ms, process CPU {used:.2f} s")

    def select(self, name: str, value: str) -> None:
        self.page.select_option(f'select[name="{name}"]', value)

    def type_enter(self, name: str, value: str) -> None:
        field = self.page.locator(f'input[name="{name}"]')
        field.fill(value)
        field.press("Enter")

    def click_node(self, k: int) -> None:
        import re  # a stage's node has its label; the grey "end" and light "goes on" nodes have none

        stages = self.page.locator(".sankey .sankey-node").filter(has_text=re.compile(r"\w"))
        rect = stages.nth(k % stages.count()).locator(".node-rect")
        rect.scroll_into_view_if_needed()
        box = rect.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.click(x, y)

    def click_cell(self, k: int) -> None:
        row = self.page.locator("table.channels tbody tr").nth(k % 3)
        row.locator("td").nth(2 + k % 4).click()

    def open(self, path: str) -> None:
        def go() -> None:
            self.page.goto(self.base + path)
            self.page.wait_for_function(IDLE, timeout=self.timeout_ms)

        go() if self.timeline is None else self.timeline.around(f"open {path}", go)


WAIT_S = 1.0  # as ``hourglass serve``: a view not ready within a second shows its progress


def serve(store: Path) -> tuple[Any, Any, Any]:
    """The store loaded and served as ``hourglass serve`` does: results kept on disk, progress,
    work ahead (``Views.warm``)."""
    from hourglass.interfaces.dashboard import create_app, load_source
    from hourglass.interfaces.dashboard.server import start_in_thread

    src = load_source(str(store))
    app = create_app(src, persist=True, wait_s=WAIT_S)
    app.state.views.warm()
    return src, start_in_thread(app), app


def pin_code_version() -> None:
    """The disk cache's code version fixed to the code this process loaded: its context holds every
    module's modification time, read when a server opens the cache, so a module edited in the work
    tree during a run (another commit) made the restart a new context that computed everything again
    (its first run's results removed), though the process still ran the code it started with."""
    from hourglass.interfaces.dashboard import disk_cache

    loaded = disk_cache.code_version()
    disk_cache.code_version = lambda: loaded  # type: ignore[assignment]  # (an lru_cache'd function)


def disk_counts(app: Any) -> str:
    """A server's disk cache: results read from it, written to it, and the views not kept."""
    disk = app.state.views.cache.disk
    if disk is None:
        return "no disk cache"
    skipped = getattr(disk, "skipped", {})
    return f"read {disk.reads}, written {disk.writes}, not kept {sorted(skipped) or 'none'}"


PAGE_NAMES = ("funnel", "hourglass", "journeys", "overview")


def run(
    store: Path,
    reps: int,
    *,
    keep_cache: bool = False,
    timeout_s: float = 120.0,
    pages: tuple[str, ...] = PAGE_NAMES,
    timeline: Any = None,
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    import shutil

    from playwright.sync_api import sync_playwright

    if not keep_cache:  # the results kept by an earlier run: a first start computes them
        shutil.rmtree(str(store) + ".hgcache", ignore_errors=True)
    pin_code_version()
    start: dict[str, float] = {}
    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    src, running, _ = serve(store)
    start["store loaded, server listening"] = time.perf_counter() - t0
    steps = "visit,signup,purchase,repeat_purchase"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        start["browser up"] = time.perf_counter() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        timeout_ms = int(timeout_s * 1000)
        page.set_default_timeout(max(300_000, timeout_ms))  # a 10M-event page load is not a test failure
        page.goto(f"{running.url}/funnel?steps={steps}&window=7d")
        page.wait_for_selector(".hg-chart.hg-drawn", timeout=timeout_ms)
        start["first funnel chart drawn"] = time.perf_counter() - t0
        b = Bench(page, running.url, timeout_ms)
        b.timeline = timeline
        by_values = ["channel", "device", "country"]
        for i in range(reps):
            window = f"{8 + i}d"  # a new spec each time: not in the cache
            if "funnel" in pages:
                b.open(f"/funnel?steps={steps}&window={window}")
                b.record("funnel: change breakdown", partial(b.select, "by", by_values[i % 3]))
                b.record("funnel: change date range", partial(b.select, "range", "30d"))
                b.record("funnel: change window", partial(b.type_enter, "window", f"{40 + i}d"))
                b.record("funnel: click a bar (people)", lambda: page.locator("a.hg-reached").nth(1).click())
                b.record("funnel: next page of people", lambda: page.locator(".hg-pager a").last.click())
                b.record("funnel: change breakdown back to none", partial(b.select, "by", ""))
                b.record("funnel: redraw from the cache", partial(b.select, "by", by_values[i % 3]))
            if "hourglass" in pages:
                b.open(f"/lifecycle?range=custom&since=2024-01-0{1 + i % 9}")
                b.record("hourglass: change date range (a preset)", partial(b.select, "range", "90d"))
                b.record("hourglass: click a channel cell (people)", partial(b.click_cell, i))
                b.record(
                    "hourglass: compare with the period before", partial(b.select, "compare", "previous")
                )
            if "journeys" in pages:
                b.open(f"/journeys?range=custom&since=2024-01-0{1 + i % 9}")
                b.record("journeys: change top paths", partial(b.type_enter, "top", str(5 + i)))
                b.record("journeys: click a Sankey node (people)", partial(b.click_node, 1 + i % 3))
                b.record("journeys: compare with the period before", partial(b.select, "compare", "previous"))
            if "overview" in pages:
                b.open("/?range=90d")
                b.record("overview: change window", partial(b.type_enter, "window", f"{60 + i}d"))
                b.record("overview: compare with the period before", partial(b.select, "compare", "previous"))
        times, cpu, info["timed out"] = b.times, b.cpu, dict(b.timed_out)
        running.stop()
        # a restart on the same store: each page's first view as the run left it, from the disk
        t1 = time.perf_counter()
        _, running, again = serve(store)
        start["restart: store loaded, server listening"] = time.perf_counter() - t1
        b = Bench(page, running.url, timeout_ms)
        for name, path in (
            ("funnel", f"/funnel?steps={steps}&window=8d"),
            ("hourglass", "/lifecycle?range=custom&since=2024-01-01"),
            ("journeys", "/journeys?range=custom&since=2024-01-01"),
            ("overview", "/?range=90d"),
        ):
            if name not in pages:
                continue
            b.record(f"restart: {name}, first view (kept on disk)", partial(b.open, path), page_load=True)
            restarted = b.times.pop(f"restart: {name}, first view (kept on disk)", [math.nan])
            start[f"restart: {name} drawn (after the previous)"] = restarted[0] / 1000
        again.state.views.idle()
        info["restart disk cache"] = disk_counts(again)
        browser.close()
    running.stop()
    info |= {"events": src.rows, "event names": len(src.names), "cpu": cpu}
    return start, b.times | times, info


PAGES = {
    "overview": "/",
    "funnel": "/funnel?steps=visit%2Csignup%2Cpurchase%2Crepeat_purchase&window=30d&by=channel&top=4",
    "hourglass": "/lifecycle",
    "journeys": "/journeys?top=8",
    "flywheel": "/flywheel?period=month",
    "friction": "/friction",
    "retention": "/retention?period=month",
    "clv": "/clv",
    "attribution": "/attribution",
}


def screenshots(out_dir: Path, customers: int = 20_000, seed: int = 7) -> None:
    """docs/img/dashboard-*.png: each page on a simulated shop with its spend table, and the
    customers behind a bar."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from hourglass.engine.store import write_events
    from hourglass.ingest.simulator import simulate_shop
    from hourglass.interfaces.dashboard import create_app, load_source
    from hourglass.interfaces.dashboard.server import start_in_thread
    from hourglass.interfaces.demo import write_spend

    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    table, truth = simulate_shop(customers, seed=seed)
    write_events(table, duckdb_path=tmp / "shop.duckdb")
    write_spend(truth, tmp / "spend.csv")
    os.chdir(tmp)  # the pages name the files as a user would give them
    running = start_in_thread(create_app(load_source("shop.duckdb", spend="spend.csv")))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
        page.set_default_timeout(300_000)
        b = Bench(page, running.url)
        for name, path in PAGES.items():
            b.open(path)
            height = min(1700, int(page.evaluate("document.documentElement.scrollHeight")))
            page.screenshot(
                path=str(out_dir / f"dashboard-{name}.png"),
                clip={"x": 0, "y": 0, "width": 1360, "height": height},
                full_page=True,
            )
        b.open(
            "/funnel?steps=visit%2Csignup%2Cpurchase%2Crepeat_purchase&window=30d&range=90d&compare=previous"
        )
        page.locator(".hg-compare").screenshot(path=str(out_dir / "dashboard-compare.png"))
        b.open(PAGES["funnel"])
        b.record("people", lambda: page.locator("a.hg-reached").nth(5).click())
        box = page.locator("#people").bounding_box()
        assert box is not None
        top = box["y"] + float(page.evaluate("scrollY"))
        clip: Any = {"x": box["x"], "y": top, "width": box["width"], "height": 640}
        page.screenshot(path=str(out_dir / "dashboard-people.png"), clip=clip, full_page=True)
        b.open("/lifecycle?range=90d&compare=previous")
        page.locator(".hg-compare").screenshot(path=str(out_dir / "dashboard-compare-hourglass.png"))
        b.open("/journeys?top=8")
        b.record("people", partial(b.click_node, 2))
        page.locator("#people").screenshot(path=str(out_dir / "dashboard-people-sankey.png"))
        browser.close()
    running.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument(
        "--keep-cache",
        action="store_true",
        help="start with the results an earlier run kept on disk (default: removed, computed again)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="the longest wait for a page or a chart (default: 120 s per million events, at least 120 s)",
    )
    ap.add_argument(
        "--pages",
        default=",".join(PAGE_NAMES),
        help="the pages whose interactions are measured, comma-separated (default: all: "
        + ", ".join(PAGE_NAMES)
        + ")",
    )
    ap.add_argument(
        "--timeline",
        type=Path,
        metavar="FILE",
        help="write when each request and each job of the work ahead ran (bench/_timeline.py) to FILE",
    )
    ap.add_argument(
        "--screenshots", type=Path, metavar="DIR", help="only take the docs' screenshots into DIR"
    )
    args = ap.parse_args()
    if args.screenshots:
        screenshots(args.screenshots)
        return
    store = ensure_store(args.data_dir, args.events, args.seed)
    load_before = os.getloadavg()
    timeout = args.timeout or max(120.0, 120.0 * args.events / 1_000_000)
    pages = tuple(x.strip() for x in args.pages.split(",") if x.strip())
    unknown = sorted(set(pages) - set(PAGE_NAMES))
    if unknown:
        ap.error(f"--pages: unknown {', '.join(unknown)} (the pages: {', '.join(PAGE_NAMES)})")
    timeline = None
    if args.timeline:
        from _timeline import Timeline

        timeline = Timeline()
        timeline.install()
    start, times, info = run(
        store, args.reps, keep_cache=args.keep_cache, timeout_s=timeout, pages=pages, timeline=timeline
    )
    if timeline is not None:
        timeline.write(args.timeline)
    load_after = os.getloadavg()
    print(f"store: {store} ({info['events']:,} events, {info['event names']} event names)")
    print(
        f"load average (1, 5, 15 min) before: {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.1f}' for x in load_after)} ({os.cpu_count()} cores)"
    )
    print(f"the restart's disk cache: {info['restart disk cache']}")
    print("\n| start | seconds after start |\n|---|---:|")
    for name, s in start.items():
        print(f"| {name} | {s:.2f} |")
    cpu = info["cpu"]
    print(
        f"\n| interaction ({args.reps} runs) | p50 ms | p95 ms | max ms | server CPU ms, p50 |"
        "\n|---|---:|---:|---:|---:|"
    )
    for name, xs in times.items():
        used = f"{statistics.median(cpu[name]):.0f}" if name in cpu else ""
        late = info["timed out"].get(name)
        note = f" ({late} more over {timeout:.0f} s)" if late else ""
        p50, p95 = statistics.median(xs), _quantile(xs, 0.95)
        print(f"| {name}{note} | {p50:.0f} | {p95:.0f} | {max(xs):.0f} | {used} |")
    for name, late in info["timed out"].items():
        if name not in times:
            print(f"| {name} (all {late} over {timeout:.0f} s) | | | | |")


if __name__ == "__main__":
    main()
