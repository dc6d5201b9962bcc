"""Reference implementation (the oracle) of docs/semantics-funnel-time.md: the funnel per period of
entry, time to convert and events needed to convert.

Plain Python, sharing no code with ``src/hourglass``. The best chain of each customer (level, entry,
step times) comes from the funnel's own oracle (``funnel_ref.customer_results``); everything after
that is written here from the words of the contract, the obvious way: periods by calendar
arithmetic, bins by walking their bounds, quantiles from sorted lists.

Input as ``funnel_ref`` (``rows``, ``steps``, ``window`` in µs and the funnel's options).
Output shaped like the engine's ``to_dict()`` (without ``meta``), restricted to the keys compared.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from reference import funnel_ref as ref

US = 1_000_000
EDGES_S = [0, 60, 300, 1800, 7200, 43200, 86400, 259200, 604800, 2592000, 7776000, 31536000]
COUNT_LOWS = [1, 2, 3, 4, 5, 6, 11, 21, 51, 101]


def _period_start(d: date, period: str) -> date:
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.isoweekday() - 1)  # Monday
    return date(d.year, d.month, 1)


def _period_end(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)


def _day(t_us: int) -> date:
    return (ref.UNIX_EPOCH + timedelta(microseconds=t_us)).date()


def _us_of(d: date) -> int:
    return ref.to_us(datetime(d.year, d.month, d.day))


def trend(
    rows: list[dict[str, Any]], steps: list[Any], window: int, period: str, **options: Any
) -> dict[str, Any]:
    """Per period of entry: start, end, complete, entered, converted and each step's customers and
    conversions (from first and from previous, with Wilson intervals)."""
    results = ref.customer_results(rows, steps, window, **options).values()
    n = len(steps)
    gone = unmeasured(rows, steps)
    entered = [r for r in results if r.level >= 1]
    since, until = options.get("since"), options.get("until")
    as_of = max((ref.to_us(r["timestamp"]) for r in rows), default=None)
    entry_days = sorted(_day(r.entry.t) for r in entered if r.entry is not None)
    first = since.date() if since is not None else (entry_days[0] if entry_days else None)
    last = _day(ref.to_us(until) - 1) if until is not None else (entry_days[-1] if entry_days else None)
    out: list[dict[str, Any]] = []
    if first is None or last is None:
        return {"periods": out}
    start = _period_start(first, period)
    while start <= last:
        end = _period_end(start, period)
        members = [r for r in entered if r.entry is not None and start <= _day(r.entry.t) < end]
        counts = [sum(1 for r in members if r.level >= k) for k in range(1, n + 1)]
        complete = True
        if since is not None and _us_of(start) < ref.to_us(since):
            complete = False
        if until is not None and _us_of(end) > ref.to_us(until):
            complete = False
        # the last possible entry of the period is 1 µs before its end; its window must be seen
        if as_of is not None and _us_of(end) - 1 + window > as_of:
            complete = False
        step_rows: list[dict[str, Any]] = []
        for k in range(n):
            prev = counts[k - 1] if k else counts[0]
            if gone[k]:  # not measured: null, never 0 (ADR 0006)
                step_rows.append(
                    {
                        "customers": None,
                        **{f"conversion_from_{w}{x}": None for w in ("first", "previous") for x in NULLS},
                    }
                )
                continue
            step_rows.append(
                {
                    "customers": counts[k],
                    **ref.ratio_fields("conversion_from_first", counts[k], counts[0]),
                    **ref.ratio_fields("conversion_from_previous", counts[k], prev),
                }
            )
        ending: dict[str, Any] = (
            {"converted": None, **{f"conversion{x}": None for x in NULLS}}
            if gone[-1]
            else {"converted": counts[-1], **ref.ratio_fields("conversion", counts[-1], counts[0])}
        )
        out.append(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "complete": complete,
                "entered": counts[0],
                **ending,
                "steps": step_rows,
            }
        )
        start = end
    return {"periods": out}


def time_bins(window: int) -> list[tuple[int, int]]:
    """[low, high) in µs; the last bin is [low, window]."""
    lows = [e * US for e in EDGES_S if e * US < window]
    return [(lo, lows[i + 1] if i + 1 < len(lows) else window + 1) for i, lo in enumerate(lows)]


NULLS = ("", "_low", "_high")


def unmeasured(rows: list[dict[str, Any]], steps: list[Any]) -> list[bool]:
    """Per step position: not measured (ADR 0006), as the funnel says it: a step whose name no event
    of the source has, and every step after it (the steps here are plain, required names)."""
    names = {r["event"] for r in rows}
    if not names:  # no events at all: nothing to tell a typo from
        return [False] * len(steps)
    out, blocked = [], False
    for s in steps:
        blocked = blocked or str(s) not in names
        out.append(blocked)
    return out


def time_to_convert(
    rows: list[dict[str, Any]], steps: list[Any], window: int, **options: Any
) -> dict[str, Any]:
    """Per step k >= 2 and origin (previous, entry): customers, bin counts, median and p90 seconds."""
    results = ref.customer_results(rows, steps, window, **options).values()
    gone = unmeasured(rows, steps)
    out = []
    for k in range(2, len(steps) + 1):
        for origin in ("previous", "entry"):
            if options.get("mode") == "any_order" or gone[k - 1]:
                out.append({"from": origin, "customers": None, "median_s": None, "p90_s": None, "bins": None})
                continue
            dts = []
            for r in results:
                if r.level >= k:
                    base = r.chain[k - 2] if origin == "previous" else r.chain[0]
                    dts.append(r.chain[k - 1].t - base.t)
            bins = [sum(1 for d in dts if lo <= d < hi) for lo, hi in time_bins(window)]
            seconds = [d / US for d in dts]
            out.append(
                {
                    "from": origin,
                    "customers": len(dts),
                    "median_s": ref.quantile(seconds, 0.5),
                    "p90_s": ref.quantile(seconds, 0.9),
                    "bins": bins,
                }
            )
    return {"histograms": out}


def _sessions(times: list[int], gap: int) -> int:
    times = sorted(times)
    return 1 + sum(1 for a, b in pairwise(times) if b - a >= gap)


def events_to_convert(
    rows: list[dict[str, Any]], steps: list[Any], window: int, session_gap: int, **options: Any
) -> dict[str, Any]:
    """Per step k >= 2: the number of the customer's events (any) from entry to step k, both times
    included, and of the sessions among them; distribution, median, p90, bins."""
    results = ref.customer_results(rows, steps, window, **options)
    by_customer = ref.group_by_customer(rows)
    out = []
    for k in range(2, len(steps) + 1):
        per: dict[str, list[int]] = {"events": [], "sessions": []}
        for customer, r in results.items():
            if r.level < k or options.get("mode") == "any_order":
                continue
            t1, tk = r.chain[0].t, r.chain[k - 1].t
            times = [ref.to_us(e["timestamp"]) for e in by_customer[customer]]
            inside = [t for t in times if t1 <= t <= tk]
            per["events"].append(len(inside))
            per["sessions"].append(_sessions(inside, session_gap))
        for what in ("events", "sessions"):
            values = per[what]
            if options.get("mode") == "any_order" or unmeasured(rows, steps)[k - 1]:
                out.append({"what": what, "customers": None, "median": None, "p90": None, "bins": None})
                continue
            lows = [*COUNT_LOWS, 10**9]
            bins = [sum(1 for v in values if lows[i] <= v < lows[i + 1]) for i in range(len(COUNT_LOWS))]
            out.append(
                {
                    "what": what,
                    "customers": len(values),
                    "median": ref.quantile([float(v) for v in values], 0.5),
                    "p90": ref.quantile([float(v) for v in values], 0.9),
                    "bins": bins,
                }
            )
    return {"histograms": out}
