"""Plain-Python reference of docs/semantics-retention.md (retention cohorts).

Shares no code with src/. Input: ``rows`` (dicts with customer, event, timestamp as a naive UTC
datetime, optional revenue and a breakdown column); the start and return events as sets of event
names (None: any event). Output: per (group,) cohort label its size and, per period 0..N, the
count of members who came back (None when the period has not ended by the data's end) and the
revenue of the members in that period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

ALL = "(all)"


def _period(kind: str, ts: datetime) -> date:
    """The first day of the calendar period holding ``ts``."""
    d = ts.date()
    if kind == "day":
        return d
    if kind == "week":
        return d - timedelta(days=d.weekday())
    return date(d.year, d.month, 1)


def _shift(kind: str, start: date, n: int) -> date:
    if kind == "day":
        return start + timedelta(days=n)
    if kind == "week":
        return start + timedelta(days=7 * n)
    months = start.year * 12 + start.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def _offset(kind: str, a: date, b: date) -> int:
    """How many periods b is after a."""
    if kind == "day":
        return (b - a).days
    if kind == "week":
        return (b - a).days // 7
    return (b.year - a.year) * 12 + b.month - a.month


def _label(kind: str, d: date) -> str:
    return d.strftime("%Y-%m") if kind == "month" else d.isoformat()


def _end(kind: str, d: date) -> datetime:
    nxt = _shift(kind, d, 1)
    return datetime(nxt.year, nxt.month, nxt.day)


def retention_ref(
    rows: Iterable[Mapping[str, Any]],
    *,
    period: str,
    start: set[str] | None,
    back: set[str] | None,
    mode: str = "nth",
    cohorts: str = "first",
    periods: int = 4,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
) -> dict[Any, dict[str, dict[str, Any]]]:
    """``{group: {cohort label: {"size", "counts": [...], "revenue": [...]}}}``: the whole matrix
    is under :data:`ALL`, and with ``by`` each value's (a missing value: None) under the value."""
    data = list(rows)
    if not data:
        return {ALL: {}}
    end = max(r["timestamp"] for r in data)
    if until is not None:
        end = min(end, until)
    seen = [r for r in data if until is None or r["timestamp"] < until]
    per: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in seen:
        per[r["customer"]].append(r)
    value: dict[str, Any] = {}
    if by is not None:
        for c, evs in per.items():
            first = min(
                evs, key=lambda r: (r["timestamp"], r["event"], r.get(by) is None, str(r.get(by) or ""))
            )
            value[c] = first.get(by)

    def matches(names: set[str] | None, r: Mapping[str, Any]) -> bool:
        return names is None or r["event"] in names

    # memberships: (customer, cohort period, start time)
    members: list[tuple[str, date, datetime]] = []
    for c, evs in per.items():
        starts = sorted(r["timestamp"] for r in evs if matches(start, r))
        if not starts:
            continue
        if cohorts == "first":
            if since is None or starts[0] >= since:
                members.append((c, _period(period, starts[0]), starts[0]))
        else:
            first_in: dict[date, datetime] = {}
            for ts in starts:
                if since is not None and ts < since:
                    continue
                p = _period(period, ts)
                first_in.setdefault(p, ts)
            members.extend((c, p, ts) for p, ts in first_in.items())

    out: dict[Any, dict[str, dict[str, Any]]] = {ALL: {}}
    for c, cohort, t0 in members:
        groups = [ALL] + ([value[c]] if by is not None else [])
        returned: set[int] = set()
        revenue: dict[int, float] = defaultdict(float)
        for r in per[c]:
            n = _offset(period, cohort, _period(period, r["timestamp"]))
            if matches(back, r) and r["timestamp"] > t0:
                returned.add(n)
            amount = r.get("revenue")
            if amount is not None and r["timestamp"] >= t0:
                revenue[n] += float(amount)
        for g in groups:
            cell = out.setdefault(g, {}).setdefault(
                _label(period, cohort),
                {"size": 0, "counts": [0] * (periods + 1), "revenue": [0.0] * (periods + 1), "start": cohort},
            )
            cell["size"] += 1
            for n in range(periods + 1):
                hit = n in returned if mode == "nth" else any(k >= n for k in returned)
                cell["counts"][n] += int(hit)
                cell["revenue"][n] += revenue.get(n, 0.0)
    for matrix in out.values():
        for cell in matrix.values():
            for n in range(periods + 1):
                if _end(period, _shift(period, cell["start"], n)) > end:
                    cell["counts"][n] = None
                    cell["revenue"][n] = None
            del cell["start"]
    return out
