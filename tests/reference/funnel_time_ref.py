"""Reference implementation (the oracle) of docs/semantics-funnel-time.md: the funnel per period of
entry, time to convert and events needed to convert.

Plain Python, sharing no code with ``src/hourglass``. The best chain of each customer (level, entry,
step times) comes from the funnel's own oracle (``funnel_ref.customer_results``); everything after
that is written here from the words of the contract, the obvious way: periods by calendar
arithmetic, bins by walking their bounds, quantiles from sorted lists.

Input as ``funnel_ref`` (``rows``, ``steps``, ``window`` in µs and the funnel's options: ``mode``,
``since``, ``until``, ``exclude``, ``hold``). Steps may be optional (``"signup?"``): a customer counts at
an optional step when the funnel counts him there (``funnel_ref.counted_at``), its time is that of the
earliest event that counts for it (``funnel_ref.optional_event``), "previous" is the previous
*required* step, and the period's ``converted`` is the last required step's customers.
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
    """Per period of entry: start, end, complete, entered, converted (the last required step) and
    each step's customers, conversions (from first and from the previous required step, with Wilson
    intervals) and dropped (null at an optional step)."""
    cfg = ref.make_config(steps, window, **options)
    results = ref.customer_results(rows, steps, window, **options).values()
    n = len(steps)
    gone = unmeasured(rows, steps)
    entered = [r for r in results if r.level >= 1]
    since, until = options.get("since"), options.get("until")
    as_of = max((ref.to_us(r["timestamp"]) for r in rows), default=None)
    entry_days = sorted(_day(r.entry.t) for r in entered if r.entry is not None)
    first = since.date() if since is not None else (entry_days[0] if entry_days else None)
    last = _day(ref.to_us(until) - 1) if until is not None else (entry_days[-1] if entry_days else None)
    has_optional = any(s.optional for s in cfg.steps)
    goal = cfg.required[-1] - 1  # the last required step's position: "converted"
    out: list[dict[str, Any]] = []
    if first is None or last is None:
        return {"periods": out}
    start = _period_start(first, period)
    while start <= last:
        end = _period_end(start, period)
        members = [r for r in entered if r.entry is not None and start <= _day(r.entry.t) < end]
        counts = [sum(1 for r in members if ref.counted_at(cfg, r, k)) for k in range(1, n + 1)]
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
            step = cfg.steps[k]
            row: dict[str, Any] = {}
            if has_optional:
                row.update(optional=step.optional, dropped_reason=OPTIONAL_DROPPED if step.optional else None)
            if gone[k]:  # not measured: null, never 0 (ADR 0006)
                row.update(
                    {
                        "customers": None,
                        "dropped": None,
                        **{f"conversion_from_{w}{x}": None for w in ("first", "previous") for x in NULLS},
                    }
                )
                step_rows.append(row)
                continue
            prev = counts[cfg.previous_required(k + 1) - 1] if k else counts[0]
            row.update(
                {
                    "customers": counts[k],
                    **ref.ratio_fields("conversion_from_first", counts[k], counts[0]),
                    **ref.ratio_fields("conversion_from_previous", counts[k], prev),
                    "dropped": None if step.optional else prev - counts[k],
                }
            )
            step_rows.append(row)
        ending: dict[str, Any] = (
            {"converted": None, **{f"conversion{x}": None for x in NULLS}}
            if gone[goal]
            else {"converted": counts[goal], **ref.ratio_fields("conversion", counts[goal], counts[0])}
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
OPTIONAL_DROPPED = "an optional step: skipping it loses no one"


def unmeasured(rows: list[dict[str, Any]], steps: list[Any]) -> list[bool]:
    """Per step position: not measured (ADR 0006), as the funnel says it: a step whose name no event
    of the source has, and every step after the first *required* such step (a missing optional
    step blocks nothing). The steps here are plain names (``"signup?"``: optional)."""
    names = {r["event"] for r in rows}
    if not names:  # no events at all: nothing to tell a typo from
        return [False] * len(steps)
    out, blocked = [], False
    for s in map(ref.make_step, steps):
        missing = s.name not in names
        out.append(blocked or missing)
        blocked = blocked or (missing and not s.optional)
    return out


def step_times(
    rows: list[dict[str, Any]], steps: list[Any], window: int, **options: Any
) -> dict[str, dict[int, int]]:
    """Per customer, the time (µs) of each step k the funnel counts him at, on his best chain: a
    required step's chain event, an optional step's earliest event that counts. Empty in any_order
    (no step times)."""
    cfg = ref.make_config(steps, window, **options)
    out: dict[str, dict[int, int]] = {}
    if cfg.mode == "any_order":
        return out
    for customer, crows in ref.group_by_customer(rows).items():
        events = ref.canonical_events(crows, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold)
        r = ref.ordered_customer(cfg, events)
        best = [next(i for i, e in enumerate(events) if e is c) for c in r.chain]
        times = {k: e.t for k, e in zip(cfg.required, r.chain, strict=False)}
        for j, step in enumerate(cfg.steps, 1):
            if step.optional and (x := ref.optional_event(cfg, events, best, j)) is not None:
                times[j] = events[x].t
        out[customer] = times
    return out


def time_to_convert(
    rows: list[dict[str, Any]], steps: list[Any], window: int, **options: Any
) -> dict[str, Any]:
    """Per step k >= 2 and origin (previous required step, entry): customers, bin counts, median and
    p90 seconds, over the customers the funnel counts at step k."""
    cfg = ref.make_config(steps, window, **options)
    times = step_times(rows, steps, window, **options)
    gone = unmeasured(rows, steps)
    out = []
    for k in range(2, len(steps) + 1):
        for origin in ("previous", "entry"):
            if options.get("mode") == "any_order" or gone[k - 1]:
                out.append({"from": origin, "customers": None, "median_s": None, "p90_s": None, "bins": None})
                continue
            base = cfg.previous_required(k) if origin == "previous" else 1
            dts = [t[k] - t[base] for t in times.values() if k in t]
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
    """Per step k >= 2, over the customers counted at it: the number of the customer's events (any,
    whatever their held value) from entry to step k, both times included, and of the sessions among
    them; distribution, median, p90, bins."""
    times = step_times(rows, steps, window, **options)
    by_customer = ref.group_by_customer(rows)
    out = []
    for k in range(2, len(steps) + 1):
        per: dict[str, list[int]] = {"events": [], "sessions": []}
        for customer, t in times.items():
            if k not in t:
                continue
            t1, tk = t[1], t[k]
            inside = [x for x in (ref.to_us(e["timestamp"]) for e in by_customer[customer]) if t1 <= x <= tk]
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
