"""Reference implementation (the oracle) of the funnel defined in docs/semantics.md.

Plain Python, written to be read next to the contract rather than to be fast, and sharing no code
with ``src/hourglass``. Wherever it is the clearest reading of the words, it uses brute force: every
chain is enumerated, ``any_order`` tries every assignment of events to steps. Customers in tests have
a handful of events, so this is cheap enough.

Input
    rows      list of dicts ``{"customer": str, "event": str, "timestamp": datetime, **properties}``;
              timestamps are naive datetimes in UTC; a missing property is ``None`` (NaN counts as
              ``None`` too).
    steps     list of ``{"name": str, "events": [pattern, ...], "where": [(column, op, value), ...]}``
              (a plain string ``s`` is short for ``{"name": s, "events": [s]}``); op is one of
              ``== != > >= < <= in not_in``; patterns are globs with ``*`` and ``?``.
    window    integer microseconds (inclusive).
    mode      ``"ordered"`` | ``"strict_order"`` | ``"any_order"``; ``open=True`` for the open funnel.
    since, until   datetimes or ``None``: the chain's entry must satisfy ``since <= t < until``.
    exclude   event names that start a new exclusion epoch.
    by        column name or ``None``.

Output (``funnel``) is shaped like the engine's JSON result (without ``meta``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

Z = 1.959963984540054
MODES = ("ordered", "strict_order", "any_order")
UNIX_EPOCH = datetime(1970, 1, 1)
ONE_MICROSECOND = timedelta(microseconds=1)


# --------------------------------------------------------------------------------------
# Steps, filters and patterns
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    patterns: tuple[str, ...]
    where: tuple[tuple[str, str, Any], ...] = ()


def make_step(spec: str | dict[str, Any]) -> Step:
    if isinstance(spec, str):
        return Step(spec, (spec,))
    patterns = tuple(spec.get("events") or [spec["name"]])
    where = tuple((column, op, value) for column, op, value in spec.get("where", ()))
    return Step(spec["name"], patterns, where)


def glob_matches(pattern: str, name: str) -> bool:
    """``*`` is any run of characters (possibly empty), ``?`` exactly one, anything else itself."""
    if pattern == "":
        return name == ""
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(glob_matches(rest, name[i:]) for i in range(len(name) + 1))
    if name == "":
        return False
    if head == "?" or head == name[0]:
        return glob_matches(rest, name[1:])
    return False


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def filter_holds(value: Any, op: str, operand: Any) -> bool:
    """One filter on one value; a filter on a missing (NULL) value never holds, whatever the op."""
    if is_missing(value):
        return False
    if op == "==":
        return value == operand
    if op == "!=":
        return value != operand
    if op == ">":
        return value > operand
    if op == ">=":
        return value >= operand
    if op == "<":
        return value < operand
    if op == "<=":
        return value <= operand
    if op == "in":
        return value in list(operand)
    if op == "not_in":
        return value not in list(operand)
    raise ValueError(f"unknown filter operator {op!r}")


def step_matches(step: Step, row: dict[str, Any]) -> bool:
    name_ok = any(glob_matches(p, row["event"]) for p in step.patterns)
    return name_ok and all(filter_holds(row.get(col), op, val) for col, op, val in step.where)


# --------------------------------------------------------------------------------------
# A customer's events in canonical order
# --------------------------------------------------------------------------------------


def to_us(ts: datetime) -> int:
    """Microseconds since 1970-01-01 (naive datetimes are UTC)."""
    return (ts - UNIX_EPOCH) // ONE_MICROSECOND


@dataclass(frozen=True)
class Event:
    t: int  # microseconds since 1970-01-01 UTC
    name: str
    row: dict[str, Any]
    steps: frozenset[int]  # 1-based indices of the steps this event matches
    excluded: bool
    epoch: int = 0


def canonical_key(event: Event, n_steps: int, by: str | None = None) -> tuple[Any, ...]:
    """(timestamp, first matched step (non-matching last), bit mask of matched steps, event name),
    then, with a breakdown, the breakdown value (None last)."""
    first_step = min(event.steps) if event.steps else n_steps + 1
    mask = sum(1 << (i - 1) for i in event.steps)
    key: tuple[Any, ...] = (event.t, first_step, mask, event.name)
    if by is not None:
        value = event.row.get(by)
        missing = value is None or (isinstance(value, float) and value != value)
        key += (missing, None if missing else value)
    return key


def canonical_events(
    rows: list[dict[str, Any]], steps: list[Step], exclude: frozenset[str], by: str | None = None
) -> list[Event]:
    """One customer's events, in canonical order, each with its exclusion epoch.

    Events equal in the whole canonical key keep their input order (the contract says which comes
    first cannot change a result).
    """
    events = []
    for row in rows:
        excluded = row["event"] in exclude
        # an excluded event matches no step, even one whose glob covers its name
        matched = (
            frozenset()
            if excluded
            else frozenset(i for i, step in enumerate(steps, 1) if step_matches(step, row))
        )
        events.append(Event(to_us(row["timestamp"]), row["event"], row, matched, excluded))
    events.sort(key=lambda e: canonical_key(e, len(steps), by))  # stable sort
    excluded_times = [e.t for e in events if e.excluded]
    return [
        Event(
            e.t,
            e.name,
            e.row,
            e.steps,
            e.excluded,
            sum(1 for x in excluded_times if x <= e.t),
        )
        for e in events
    ]


# --------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    steps: tuple[Step, ...]
    window: int
    mode: str
    since: int | None
    until: int | None
    exclude: frozenset[str]
    by: str | None = None


def entry_in_range(cfg: Config, event: Event) -> bool:
    if cfg.since is not None and event.t < cfg.since:
        return False  # before since
    return cfg.until is None or event.t < cfg.until


def can_extend(cfg: Config, events: list[Event], chain: tuple[int, ...], j: int, step: int) -> bool:
    """May event ``j`` be appended to ``chain`` (positions in canonical order) as step ``step``?"""
    first, last = events[chain[0]], chain[-1]
    return (
        j > last  # strictly after the previous event in canonical order
        and step in events[j].steps
        and events[j].t - first.t <= cfg.window  # window from the entry, inclusive
        and events[j].epoch == first.epoch  # one exclusion epoch
        # adjacent in the whole sequence
        and (cfg.mode != "strict_order" or j == last + 1)
    )


def all_chains(cfg: Config, events: list[Event], first_step: int) -> list[tuple[int, ...]]:
    """Every chain (tuple of positions) whose entry matches ``first_step`` and is in the range.

    The i-th event of a chain matches step ``first_step + i - 1``. Every prefix of a chain is a chain,
    so a depth-first walk over chains enumerates them all.
    """
    found: list[tuple[int, ...]] = []

    def walk(chain: tuple[int, ...]) -> None:
        found.append(chain)
        step = first_step + len(chain)
        if step > len(cfg.steps):
            return
        for j in range(len(events)):
            if can_extend(cfg, events, chain, j, step):
                walk((*chain, j))

    for i, event in enumerate(events):
        if first_step in event.steps and entry_in_range(cfg, event):
            walk((i,))
    return found


@dataclass(frozen=True)
class CustomerResult:
    level: int
    # entry of the best chain (any_order: start of the earliest best window)
    entry: Event | None
    chain: tuple[Event, ...]  # the best chain (empty for any_order)
    # seconds from the previous step, for steps 2..level
    times: tuple[float | None, ...]


def greedy_completion(cfg: Config, events: list[Event], entry: int) -> tuple[int, ...]:
    """From ``entry``, each next step is the earliest event that may follow the previous one."""
    chain: tuple[int, ...] = (entry,)
    for step in range(2, len(cfg.steps) + 1):
        candidates = [j for j in range(len(events)) if can_extend(cfg, events, chain, j, step)]
        if not candidates:
            break
        chain = (*chain, min(candidates))
    return chain


def ordered_customer(cfg: Config, events: list[Event]) -> CustomerResult:
    """``ordered`` and ``strict_order`` (they differ only in ``can_extend``)."""
    chains = all_chains(cfg, events, first_step=1)
    level = max((len(c) for c in chains), default=0)
    if level == 0:
        return CustomerResult(0, None, (), ())
    entry = min(c[0] for c in chains if len(c) == level)
    best = greedy_completion(cfg, events, entry)
    # the contract promises the greedy completion reaches the level; check the oracle agrees
    assert len(best) >= level, (best, level)
    best = best[:level]
    chain = tuple(events[i] for i in best)
    times = tuple((b.t - a.t) / 1_000_000 for a, b in pairwise(chain))
    return CustomerResult(level, chain[0], chain, times)


def can_cover(events: list[Event], steps_to_cover: list[int], used: frozenset[int]) -> bool:
    """Can each of ``steps_to_cover`` get its own event (not in ``used``) that matches it?

    Bipartite matching by trying every assignment.
    """
    if not steps_to_cover:
        return True
    step, rest = steps_to_cover[0], steps_to_cover[1:]
    return any(
        step in event.steps and i not in used and can_cover(events, rest, used | {i})
        for i, event in enumerate(events)
    )


def any_order_customer(cfg: Config, events: list[Event]) -> CustomerResult:
    best_level, best_start = 0, None
    # canonical order, so the first start reaching a level is the earliest
    for start in events:
        if not start.steps or not entry_in_range(cfg, start):
            continue
        in_window = [e for e in events if start.t <= e.t <= start.t + cfg.window and e.epoch == start.epoch]
        level = 0
        while level < len(cfg.steps) and can_cover(in_window, list(range(1, level + 2)), frozenset()):
            level += 1
        if level > best_level:
            best_level, best_start = level, start
    return CustomerResult(best_level, best_start, (), (None,) * max(best_level - 1, 0))


@dataclass(frozen=True)
class OpenCustomerResult:
    reached: frozenset[int]  # steps j with an open chain ending at j
    # steps j >= 2 with an open chain ending at j that contains j-1
    continued: frozenset[int]
    times: dict[int, float]  # for each continued step j, seconds from e' to e


def open_customer(cfg: Config, events: list[Event]) -> OpenCustomerResult:
    # every open chain as (first step, positions); it ends at step first + len - 1
    chains = [(i, c) for i in range(1, len(cfg.steps) + 1) for c in all_chains(cfg, events, i)]

    def end_step(first: int, chain: tuple[int, ...]) -> int:
        return first + len(chain) - 1

    reached = frozenset(end_step(i, c) for i, c in chains)
    continued = frozenset(end_step(i, c) for i, c in chains if len(c) >= 2)
    times = {}
    for j in continued:
        # e: the earliest step-j event ending a chain through j-1
        e = min(c[-1] for i, c in chains if len(c) >= 2 and end_step(i, c) == j)
        # e': the latest step-(j-1) event before e, in e's epoch, that ends some open chain
        ends_of_previous = {c[-1] for i, c in chains if end_step(i, c) == j - 1}
        e_prime = max(p for p in ends_of_previous if p < e and events[p].epoch == events[e].epoch)
        times[j] = (events[e].t - events[e_prime].t) / 1_000_000
    return OpenCustomerResult(reached, continued, times)


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------


def wilson(successes: int, trials: int) -> tuple[float, float] | tuple[None, None]:
    """95% Wilson score interval of ``successes / trials`` (``(None, None)`` when ``trials == 0``)."""
    if trials == 0:
        return (None, None)
    n, p = trials, successes / trials
    denominator = 1 + Z**2 / n
    center = (p + Z**2 / (2 * n)) / denominator
    half_width = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / denominator
    return (center - half_width, center + half_width)


def quantile(values: list[float], q: float) -> float | None:
    """Quantile with linear interpolation between order statistics (numpy 'linear', type 7)."""
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def ratio_fields(prefix: str, successes: int, trials: int) -> dict[str, float | None]:
    low, high = wilson(successes, trials)
    return {
        prefix: successes / trials if trials else None,
        f"{prefix}_low": low,
        f"{prefix}_high": high,
    }


def null_ratio_fields(prefix: str) -> dict[str, None]:
    return {prefix: None, f"{prefix}_low": None, f"{prefix}_high": None}


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def ordered_output(cfg: Config, results: list[CustomerResult]) -> list[dict[str, Any]]:
    """Per-step rows for ordered / strict_order / any_order."""
    out = []
    first = sum(1 for r in results if r.level >= 1)
    for j, step in enumerate(cfg.steps, 1):
        customers = sum(1 for r in results if r.level >= j)
        previous = customers if j == 1 else sum(1 for r in results if r.level >= j - 1)
        times = []
        if j >= 2 and cfg.mode != "any_order":
            times = [r.times[j - 2] for r in results if r.level >= j]
        row: dict[str, Any] = {"step": step.name, "customers": customers}
        row.update(ratio_fields("conversion_from_first", customers, first))
        row.update(ratio_fields("conversion_from_previous", customers, previous))
        row["dropped"] = previous - customers
        row["median_time_from_previous_s"] = quantile(times, 0.5)
        row["p90_time_from_previous_s"] = quantile(times, 0.9)
        out.append(row)
    return out


def open_output(cfg: Config, results: list[OpenCustomerResult]) -> list[dict[str, Any]]:
    out = []
    reached = [sum(1 for r in results if j in r.reached) for j in range(1, len(cfg.steps) + 1)]
    for j, step in enumerate(cfg.steps, 1):
        customers = reached[j - 1]
        continued: int | None
        if j == 1:
            continued = None  # "continued" is defined for j >= 2 only
            from_first = ratio_fields("conversion_from_first", customers, customers)
            from_previous = ratio_fields("conversion_from_previous", customers, customers)
            dropped = 0
            times: list[float] = []
        else:
            continued = sum(1 for r in results if j in r.continued)
            from_first = null_ratio_fields("conversion_from_first")
            from_previous = ratio_fields("conversion_from_previous", continued, reached[j - 2])
            dropped = reached[j - 2] - continued
            times = [r.times[j] for r in results if j in r.continued]
        row: dict[str, Any] = {
            "step": step.name,
            "customers": customers,
            "entered": customers - (continued or 0),
            "continued": continued,
        }
        row.update(from_first)
        row.update(from_previous)
        row["dropped"] = dropped
        row["median_time_from_previous_s"] = quantile(times, 0.5)
        row["p90_time_from_previous_s"] = quantile(times, 0.9)
        out.append(row)
    return out


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def make_config(
    steps: list[str | dict[str, Any]],
    window: int,
    mode: str = "ordered",
    open: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    by: str | None = None,
) -> Config:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if open and mode != "ordered":
        raise ValueError("open funnels use the ordered chain rule only")
    if open and by is not None:
        raise ValueError("open funnels cannot be broken down")
    if not steps:
        raise ValueError("a funnel needs at least one step")
    named = {p for s in steps for p in make_step(s).patterns}
    if set(exclude) & named:
        raise ValueError("an excluded event may not be named by a step")
    return Config(
        steps=tuple(make_step(s) for s in steps),
        window=int(window),
        mode=mode,
        since=None if since is None else to_us(since),
        until=None if until is None else to_us(until),
        exclude=frozenset(exclude),
        by=by,
    )


def group_by_customer(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows per customer, customers in order of first appearance."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["customer"], []).append(row)
    return grouped


def customer_results(
    rows: list[dict[str, Any]],
    steps: list[str | dict[str, Any]],
    window: int,
    **options: Any,
) -> dict[str, CustomerResult]:
    """Per customer: level, best chain (entry, events, times from previous). Not for open funnels."""
    cfg = make_config(steps, window, **options)
    if options.get("open"):
        raise ValueError("use open_customer_results for open funnels")
    per_customer = ordered_customer if cfg.mode != "any_order" else any_order_customer
    return {
        customer: per_customer(cfg, canonical_events(crows, list(cfg.steps), cfg.exclude, cfg.by))
        for customer, crows in group_by_customer(rows).items()
    }


def open_customer_results(
    rows: list[dict[str, Any]],
    steps: list[str | dict[str, Any]],
    window: int,
    **options: Any,
) -> dict[str, OpenCustomerResult]:
    cfg = make_config(steps, window, open=True, **options)
    return {
        customer: open_customer(cfg, canonical_events(crows, list(cfg.steps), cfg.exclude, cfg.by))
        for customer, crows in group_by_customer(rows).items()
    }


def funnel_levels(
    rows: list[dict[str, Any]],
    steps: list[str | dict[str, Any]],
    window: int,
    **options: Any,
) -> dict[str, int]:
    """Customer -> level (every customer of ``rows``, level 0 included)."""
    options.pop("by", None)
    return {c: r.level for c, r in customer_results(rows, steps, window, **options).items()}


def normalize_value(value: Any) -> Any:
    return None if is_missing(value) else value


def group_sort_key(value: Any, first_step_customers: int) -> tuple[int, bool, str]:
    return (-first_step_customers, value is None, str(value))


def funnel(
    rows: list[dict[str, Any]],
    steps: list[str | dict[str, Any]],
    window: int,
    mode: str = "ordered",
    open: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    by: str | None = None,
) -> dict[str, Any]:
    cfg = make_config(steps, window, mode, open, since, until, exclude, by)
    grouped = group_by_customer(rows)
    if open:
        open_results = [
            open_customer(cfg, canonical_events(r, list(cfg.steps), cfg.exclude, cfg.by))
            for r in grouped.values()
        ]
        return {"steps": open_output(cfg, open_results)}
    per_customer = ordered_customer if cfg.mode != "any_order" else any_order_customer
    results = [
        per_customer(cfg, canonical_events(r, list(cfg.steps), cfg.exclude, cfg.by)) for r in grouped.values()
    ]
    if by is None:
        return {"steps": ordered_output(cfg, results)}
    groups: dict[Any, list[CustomerResult]] = {}
    for r in results:
        if r.level >= 1:
            assert r.entry is not None
            groups.setdefault(normalize_value(r.entry.row.get(by)), []).append(r)
    ordered_groups = sorted(groups.items(), key=lambda kv: group_sort_key(kv[0], len(kv[1])))
    return {
        "breakdown": by,
        "groups": [
            {"value": value, "steps": ordered_output(cfg, members)} for value, members in ordered_groups
        ],
    }
