"""Reference implementation (the oracle) of the funnel defined in docs/semantics.md.

Plain Python, written to be read next to the contract rather than to be fast, and sharing no code
with ``src/hourglass``. Wherever it is the clearest reading of the words, it uses brute force: every
chain is enumerated, ``any_order`` tries every assignment of events to steps. Customers in tests have
a handful of events, so this is cheap enough.

Input
    rows      list of dicts ``{"customer": str, "event": str, "timestamp": datetime, **properties}``;
              timestamps are naive datetimes in UTC; a missing property is ``None`` (NaN counts as
              ``None`` too).
    steps     list of ``{"name": str, "events": [pattern, ...], "where": [(column, op, value), ...],
              "optional": bool}`` (a plain string ``s`` is short for ``{"name": s, "events": [s]}``;
              ``s?`` for the optional step ``s``); op is one of ``== != > >= < <= in not_in``;
              patterns are globs with ``*`` and ``?``.
    window    integer microseconds (inclusive).
    mode      ``"ordered"`` | ``"strict_order"`` | ``"any_order"``; ``open=True`` for the open funnel.
    since, until   datetimes or ``None``: the chain's entry must satisfy ``since <= t < until``.
    exclude   event names that start a new exclusion epoch.
    by        column name or ``None``.
    hold      column name or ``None``: all of a chain's events share its (non-missing) value.

Output (``funnel``) is shaped like the engine's JSON result (without ``meta``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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
    optional: bool = False


def make_step(spec: str | dict[str, Any]) -> Step:
    if isinstance(spec, str):
        if len(spec) > 1 and spec.endswith("?"):
            return Step(spec[:-1], (spec[:-1],), optional=True)
        return Step(spec, (spec,))
    patterns = tuple(spec.get("events") or [spec["name"]])
    where = tuple((column, op, value) for column, op, value in spec.get("where", ()))
    return Step(spec["name"], patterns, where, bool(spec.get("optional", False)))


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


def canonical_key(
    event: Event, n_steps: int, by: str | None = None, hold: str | None = None
) -> tuple[Any, ...]:
    """(timestamp, first matched step (non-matching last), bit mask of matched steps, event name),
    then, with a breakdown, the breakdown value (None last), then with a held property its value
    (None last)."""
    first_step = min(event.steps) if event.steps else n_steps + 1
    mask = sum(1 << (i - 1) for i in event.steps)
    key: tuple[Any, ...] = (event.t, first_step, mask, event.name)
    for column in (by, hold):
        if column is not None:
            value = event.row.get(column)
            missing = is_missing(value)
            key += (missing, None if missing else value)
    return key


def canonical_events(
    rows: list[dict[str, Any]],
    steps: list[Step],
    exclude: frozenset[str],
    by: str | None = None,
    hold: str | None = None,
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
    events.sort(key=lambda e: canonical_key(e, len(steps), by, hold))  # stable sort
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
    hold: str | None = None
    count: str = "uniques"

    @property
    def required(self) -> list[int]:
        """The required steps' numbers (1-based): the steps a chain is made of."""
        return [k for k, s in enumerate(self.steps, 1) if not s.optional]

    def previous_required(self, k: int) -> int:
        return max((r for r in self.required if r < k), default=0)


def entry_in_range(cfg: Config, event: Event) -> bool:
    if cfg.since is not None and event.t < cfg.since:
        return False  # before since
    return cfg.until is None or event.t < cfg.until


def holds(cfg: Config, first: Event, other: Event) -> bool:
    """With ``hold``, ``other`` has the (non-missing) value of the chain's first event."""
    if cfg.hold is None:
        return True
    value = first.row.get(cfg.hold)
    return not is_missing(value) and other.row.get(cfg.hold) == value


def transparent(cfg: Config, event: Event) -> bool:
    """An event that matches optional steps only: strict_order's adjacency passes over it."""
    return bool(event.steps) and all(cfg.steps[k - 1].optional for k in event.steps)


def can_extend(cfg: Config, events: list[Event], chain: tuple[int, ...], j: int, step: int) -> bool:
    """May event ``j`` be appended to ``chain`` (positions in canonical order) as step ``step``?"""
    first, last = events[chain[0]], chain[-1]
    return (
        j > last  # strictly after the previous event in canonical order
        and step in events[j].steps
        and events[j].t - first.t <= cfg.window  # window from the entry, inclusive
        and events[j].epoch == first.epoch  # one exclusion epoch
        and holds(cfg, first, events[j])  # one value of the held property
        # adjacent in the whole sequence (but for events of optional steps only)
        and (cfg.mode != "strict_order" or all(transparent(cfg, events[x]) for x in range(last + 1, j)))
    )


def all_chains(cfg: Config, events: list[Event], order: list[int]) -> list[tuple[int, ...]]:
    """Every chain (tuple of positions) whose i-th event matches step ``order[i]``, entry in range.

    Every prefix of a chain is a chain, so a depth-first walk over chains enumerates them all.
    """
    found: list[tuple[int, ...]] = []

    def walk(chain: tuple[int, ...]) -> None:
        found.append(chain)
        if len(chain) == len(order):
            return
        for j in range(len(events)):
            if can_extend(cfg, events, chain, j, order[len(chain)]):
                walk((*chain, j))

    for i, event in enumerate(events):
        if order[0] in event.steps and entry_in_range(cfg, event) and holds(cfg, event, event):
            walk((i,))
    return found


@dataclass(frozen=True)
class CustomerResult:
    level: int  # the number of the furthest required step reached (0: none)
    # entry of the best chain (any_order: start of the earliest best window)
    entry: Event | None
    chain: tuple[Event, ...]  # the best chain's required steps (empty for any_order)
    # seconds from the previous required step, for the required steps 2..level (None in any_order)
    times: tuple[float | None, ...]
    optional: frozenset[int] = frozenset()  # the optional steps counted
    # per optional step counted: seconds from the previous required step's event to its event
    optional_times: dict[int, float] = field(default_factory=dict)


def greedy_completion(cfg: Config, events: list[Event], entry: int, order: list[int]) -> tuple[int, ...]:
    """From ``entry``, each next step is the earliest event that may follow the previous one."""
    chain: tuple[int, ...] = (entry,)
    for step in order[1:]:
        candidates = [j for j in range(len(events)) if can_extend(cfg, events, chain, j, step)]
        if not candidates:
            break
        chain = (*chain, min(candidates))
    return chain


def optional_event(cfg: Config, events: list[Event], best: tuple[int, ...], j: int) -> int | None:
    """The earliest event that counts for optional step ``j`` on the best chain ``best`` (positions of
    its required steps), or None: after the previous required step's event and before the next
    required step's event on the chain (when the chain reached it), within the window from the
    entry, in its epoch, sharing the held value; strict_order: with only events of optional steps
    between it and the previous required step's event, itself one too."""
    req = cfg.required
    r = cfg.previous_required(j)
    if req.index(r) >= len(best):
        return None  # the chain did not reach the step before it
    i = req.index(r)
    lo, hi = best[i], best[i + 1] if i + 1 < len(best) else len(events)
    entry = events[best[0]]
    for x in range(lo + 1, hi):
        e = events[x]
        if cfg.mode == "strict_order" and not transparent(cfg, e):
            return None
        if j in e.steps and e.t - entry.t <= cfg.window and e.epoch == entry.epoch and holds(cfg, entry, e):
            return x
    return None


def ordered_customer(cfg: Config, events: list[Event]) -> CustomerResult:
    """``ordered`` and ``strict_order`` (they differ only in ``can_extend``)."""
    req = cfg.required
    chains = all_chains(cfg, events, req)
    reached = max((len(c) for c in chains), default=0)
    if reached == 0:
        return CustomerResult(0, None, (), ())
    entry = min(c[0] for c in chains if len(c) == reached)
    best = greedy_completion(cfg, events, entry, req)
    # the contract promises the greedy completion reaches the level; check the oracle agrees
    assert len(best) >= reached, (best, reached)
    best = best[:reached]
    chain = tuple(events[i] for i in best)
    times = tuple((b.t - a.t) / 1_000_000 for a, b in pairwise(chain))
    optional_times: dict[int, float] = {}
    for j, step in enumerate(cfg.steps, 1):
        if step.optional and (x := optional_event(cfg, events, best, j)) is not None:
            prev = best[req.index(cfg.previous_required(j))]
            optional_times[j] = (events[x].t - events[prev].t) / 1_000_000
    return CustomerResult(req[reached - 1], chain[0], chain, times, frozenset(optional_times), optional_times)


def totals_customer(cfg: Config, events: list[Event]) -> dict[int, dict[int, float | None]]:
    """``count="totals"``: every entry (a step-1 event in range) starts a chain, its greedy
    completion (cut at the window). Per required step k, the distinct events that are step k on some
    entry's chain (position -> seconds from the latest step-(k-1) event before it on those chains;
    None at step 1)."""
    req = cfg.required
    found: dict[int, dict[int, float | None]] = {k: {} for k in req}
    for s, e in enumerate(events):
        if req[0] not in e.steps or not entry_in_range(cfg, e) or not holds(cfg, e, e):
            continue
        chain = greedy_completion(cfg, events, s, req)
        found[req[0]][s] = None
        for i in range(1, len(chain)):
            dt = (events[chain[i]].t - events[chain[i - 1]].t) / 1_000_000
            before = found[req[i]].get(chain[i])
            found[req[i]][chain[i]] = dt if before is None else min(before, dt)
    return found


def totals_output(
    cfg: Config, per_customer: list[dict[int, dict[int, float | None]]]
) -> list[dict[str, Any]]:
    """Per-step rows of ``count="totals"``: ``customers`` is the number of chains' distinct step
    events (the key keeps its name); conversions and times as for uniques, over those events."""
    out = []
    counts = {k: sum(len(c[k]) for c in per_customer) for k in cfg.required}
    first = counts[cfg.required[0]]
    for j, step in enumerate(cfg.steps, 1):
        total = counts[j]
        previous = total if j == 1 else counts[cfg.previous_required(j)]
        times = [t for c in per_customer for t in c[j].values() if t is not None]
        row: dict[str, Any] = {"step": step.name, "customers": total}
        row.update(ratio_fields("conversion_from_first", total, first))
        row.update(ratio_fields("conversion_from_previous", total, previous))
        row["dropped"] = previous - total
        row["median_time_from_previous_s"] = quantile(times, 0.5)
        row["p90_time_from_previous_s"] = quantile(times, 0.9)
        out.append(row)
    return out


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
    req = cfg.required
    best_reached, best_window, best_start = 0, [], None
    # canonical order, so the first start reaching a level is the earliest
    for start in events:
        if not start.steps or not entry_in_range(cfg, start) or not holds(cfg, start, start):
            continue
        in_window = [
            e
            for e in events
            if start.t <= e.t <= start.t + cfg.window and e.epoch == start.epoch and holds(cfg, start, e)
        ]
        reached = 0
        while reached < len(req) and can_cover(in_window, req[: reached + 1], frozenset()):
            reached += 1
        if reached > best_reached:
            best_reached, best_window, best_start = reached, in_window, start
    if best_reached == 0:
        return CustomerResult(0, None, (), ())
    counted = frozenset(
        j
        for j, step in enumerate(cfg.steps, 1)
        if step.optional
        and cfg.previous_required(j) in req[:best_reached]
        and can_cover(best_window, [*req[:best_reached], j], frozenset())
    )
    times = (None,) * (best_reached - 1)
    return CustomerResult(req[best_reached - 1], best_start, (), times, counted)


@dataclass(frozen=True)
class OpenCustomerResult:
    reached: frozenset[int]  # steps j with an open chain ending at j
    # steps j >= 2 with an open chain ending at j that contains j-1
    continued: frozenset[int]
    times: dict[int, float]  # for each continued step j, seconds from e' to e


def open_customer(cfg: Config, events: list[Event]) -> OpenCustomerResult:
    # every open chain as (first step, positions); it ends at step first + len - 1
    n = len(cfg.steps)
    chains = [(i, c) for i in range(1, n + 1) for c in all_chains(cfg, events, list(range(i, n + 1)))]

    def end_step(first: int, chain: tuple[int, ...]) -> int:
        return first + len(chain) - 1

    reached = frozenset(end_step(i, c) for i, c in chains)
    continued = frozenset(end_step(i, c) for i, c in chains if len(c) >= 2)
    times = {}
    for j in continued:
        # e: the earliest step-j event ending a chain through j-1
        e = min(c[-1] for i, c in chains if len(c) >= 2 and end_step(i, c) == j)
        # e': the latest step-(j-1) event before e, in e's epoch (and held value), that ends some
        # open chain
        ends_of_previous = {c[-1] for i, c in chains if end_step(i, c) == j - 1}
        e_prime = max(
            p
            for p in ends_of_previous
            if p < e and events[p].epoch == events[e].epoch and holds(cfg, events[e], events[p])
        )
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


def counted_at(cfg: Config, r: CustomerResult, j: int) -> bool:
    """Is the customer counted at step ``j``? Required: he reached it; optional: it counted on his chain."""
    return j in r.optional if cfg.steps[j - 1].optional else r.level >= j


def ordered_output(cfg: Config, results: list[CustomerResult]) -> list[dict[str, Any]]:
    """Per-step rows for ordered / strict_order / any_order. With optional steps, every row also has
    ``optional`` and ``dropped_reason``; an optional step's ``dropped`` is null (skipping it loses no
    one), and "previous" is the previous required step."""
    out = []
    first = sum(1 for r in results if r.level >= 1)
    has_optional = any(s.optional for s in cfg.steps)
    for j, step in enumerate(cfg.steps, 1):
        customers = sum(1 for r in results if counted_at(cfg, r, j))
        prev_step = cfg.previous_required(j)
        previous = customers if j == 1 else sum(1 for r in results if r.level >= prev_step)
        times = []
        if j >= 2 and cfg.mode != "any_order" and step.optional:
            times = [r.optional_times[j] for r in results if j in r.optional]
        elif j >= 2 and cfg.mode != "any_order":
            i = cfg.required.index(j)  # the chain's i-th time is from its (i-1)-th required step
            times = [r.times[i - 1] for r in results if r.level >= j]
        row: dict[str, Any] = {"step": step.name}
        if has_optional:
            row["optional"] = step.optional
        row["customers"] = customers
        row.update(ratio_fields("conversion_from_first", customers, first))
        row.update(ratio_fields("conversion_from_previous", customers, previous))
        row["dropped"] = None if step.optional else previous - customers
        if has_optional:
            row["dropped_reason"] = "an optional step: skipping it loses no one" if step.optional else None
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
    hold: str | None = None,
    count: str = "uniques",
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
    if make_step(steps[0]).optional:
        raise ValueError("the first step cannot be optional")
    if open and any(make_step(s).optional for s in steps):
        raise ValueError("open funnels have no optional steps")
    if count == "totals" and (open or mode == "any_order" or by is not None):
        raise ValueError("totals are counted on closed ordered or strict_order funnels, without by")
    if count == "totals" and any(make_step(s).optional for s in steps):
        raise ValueError("totals have no optional steps")
    return Config(
        steps=tuple(make_step(s) for s in steps),
        window=int(window),
        mode=mode,
        since=None if since is None else to_us(since),
        until=None if until is None else to_us(until),
        exclude=frozenset(exclude),
        by=by,
        hold=hold,
        count=count,
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
        customer: per_customer(cfg, canonical_events(crows, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold))
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
        customer: open_customer(cfg, canonical_events(crows, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold))
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
    hold: str | None = None,
    count: str = "uniques",
) -> dict[str, Any]:
    cfg = make_config(steps, window, mode, open, since, until, exclude, by, hold, count)
    grouped = group_by_customer(rows)
    if count == "totals":
        found = [
            totals_customer(cfg, canonical_events(r, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold))
            for r in grouped.values()
        ]
        return {"steps": totals_output(cfg, found)}
    if open:
        open_results = [
            open_customer(cfg, canonical_events(r, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold))
            for r in grouped.values()
        ]
        return {"steps": open_output(cfg, open_results)}
    per_customer = ordered_customer if cfg.mode != "any_order" else any_order_customer
    results = [
        per_customer(cfg, canonical_events(r, list(cfg.steps), cfg.exclude, cfg.by, cfg.hold))
        for r in grouped.values()
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
