"""Running the lifecycle: stages, the stage report and the after-sale metrics on one engine.

The range's events are cached once on the engine (a temp table), then every metric is a small
aggregate over them; only those aggregates come back to Python. The engine only executes: the
expressions come from the analyses (``stage_summary``, ``after_sale_plan``, ``by_groups``), the
result is assembled by ``model.lifecycle_assemble`` from their rows."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.analyses import after_sale as af
from hourglass.analyses._match import micros_of
from hourglass.analyses.lifecycle import (
    BY,
    by_groups,
    decoded,
    in_range,
    present_events,
    stage_customers,
    stage_summary,
)
from hourglass.engine.after_sale_arrays import after_arrays
from hourglass.engine.bound import Bound, Runner, bound, built, direct
from hourglass.engine.keyed import keyed, model_reads
from hourglass.engine.load import Events
from hourglass.engine.range_cache import remembered
from hourglass.engine.stage_firsts import stage_found, stage_summary_of
from hourglass.engine.store_files import temp_path
from hourglass.ingest.outputs import cannot_write, check_output, source_files
from hourglass.model.after_sale import after_sale_names, missing_blocks
from hourglass.model.errors import SpecError
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.lifecycle_assemble import as_count, assemble_after_sale, assemble_groups, assemble_stages
from hourglass.model.lifecycle_result import LifecycleGroup, LifecycleResult, stage_reason

__all__ = [
    "ARRAYS_ON",
    "FIRSTS_ON",
    "KEPT_ON",
    "ON_SOURCE_LAST",
    "SUMMARY_ON",
    "lifecycle_customers",
    "run_lifecycle",
    "source_last",
]

#: a store's stage entries from numpy arrays (engine/stage_firsts.py); tests turn it off to compare
FIRSTS_ON = True
#: the after-sale plan on the purchasers' events and purchase table kept once; tests turn it off
KEPT_ON = True
#: the after-sale metrics of a store's range from its events' arrays (engine/after_sale_arrays.py);
#: tests turn it off to compare with the plan
ARRAYS_ON = True
#: the stage summary of a store's numpy stage table from its arrays (engine/stage_firsts.py); tests
#: turn it off to compare with DuckDB's aggregate
SUMMARY_ON = True
#: "now" of a range open at its end from the source's last event, read once; tests turn it off
ON_SOURCE_LAST = True


def _first(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return rows[0] if rows else {}


def _max_time(run: Runner, t: ir.Table) -> datetime | None:
    """The last instant of ``t``'s events (None: no events)."""
    value = _first(run.rows(t.aggregate(last=t.timestamp.max()))).get("last")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    assert isinstance(value, datetime)
    return value.replace(tzinfo=None)


def source_last(run: Runner, base: ir.Table, owner: Any) -> datetime | None:
    """The last instant of all of ``base``'s events (None: none), read once per loaded source
    (``owner``: its validation report, as engine/range_cache.py keys the range's arrays) and table."""
    if not isinstance(base.op(), ops.DatabaseTable):
        return _max_time(run, base)
    key = ("source_last", str(base.get_name()))
    return remembered(owner, key, lambda: (_max_time(run, base),))[0]


def _last(
    run: Runner, spec: LifecycleSpec, t: ir.Table, base: ir.Table | None = None, owner: Any = None
) -> datetime:
    """ "Now" for days-in-stage: ``as_of``, else ``until``, else the last event of the range's
    events ``t``. A range open at its end (every date preset) whose ``base`` (``t`` before the
    range's filter) and loaded source ``owner`` are given: the source's last event, read once, when
    it is in the range (it is then the range's last; at 10M events the range's MAX was ~0.2 CPU-s
    of each new preset's)."""
    if spec.as_of is not None:
        return spec.as_of
    if spec.until is not None:
        return spec.until
    if base is not None and owner is not None and ON_SOURCE_LAST:
        last = source_last(run, base, owner)
        if last is not None and (spec.since is None or micros_of(last) >= micros_of(spec.since)):
            return last
        if last is None:
            return datetime(1970, 1, 1)
        # the source's last event is before the range: the range is empty, its MAX below says so
    value = _max_time(run, t)
    return datetime(1970, 1, 1) if value is None else value


@contextlib.contextmanager
def _own(events: Events, run: Runner | None, *, allowed: bool) -> Iterator[Runner]:
    """``run`` (the caller's), else a run of its own (engine/bound.py)."""
    if run is not None:
        yield run
        return
    with bound(events.engine, allowed=allowed) as own:
        yield own


def _stood(run: Runner, name: str, v: datetime) -> datetime:
    out = run.value(name, v)
    assert out is not None
    return out


def as_of(
    events: Events, spec: LifecycleSpec, t: ir.Table | None = None, base: ir.Table | None = None
) -> datetime:
    """ "Now" for days-in-stage: ``as_of``, else ``until``, else the last event of the range's
    events ``t`` (default: computed from ``events``); ``base``: ``t``'s events before the range's
    filter, a store's keyed events (:func:`_last`: the source's last event, read once)."""
    with direct(events.engine) as run:
        t = in_range(spec, events.table) if t is None else t
        return _last(run, spec, t, base, None if base is None else events.report)


def lifecycle_customers(events: Events, spec: LifecycleSpec) -> ir.Table:
    """The stage table per customer (an Ibis expression on the events' engine); on a store, computed
    on the integer customer keys and decoded at the end (engine/keyed.py)."""
    k = keyed(events, model_reads(spec.model))
    if k is None:
        return stage_customers(spec, events.table, as_of(events, spec))
    return decoded(stage_customers(spec, k.table, as_of(events, spec, in_range(spec, k.table))), k.ids)


def _present(run: Runner, t: ir.Table, names: tuple[str, ...]) -> frozenset[str]:
    """Which of ``names`` the range's events have (one small GROUP BY)."""
    if not names:
        return frozenset()
    return frozenset(str(r["event"]) for r in run.rows(built(present_events, t, names)))


def _read(spec: LifecycleSpec, columns: Sequence[str], by: str | None) -> list[str]:
    """The columns the lifecycle reads: the events', the revenue, the offer, the breakdown and the
    stages' filters (the range's events are cached with these only: at 10M events the ids and
    properties nobody reads were most of the cached table's size and time)."""
    wanted = [
        "customer",
        "event",
        "timestamp",
        "revenue",
        spec.after_sale.offer_column,
        *model_reads(spec.model, by),
    ]
    return [c for c in dict.fromkeys(wanted) if c is not None and c in columns]


def _where(spec: LifecycleSpec) -> str:
    return (
        "in the source"
        if spec.since is None and spec.until is None and spec.as_of is None
        else "in the range"
    )


def run_lifecycle(
    events: Events,
    spec: LifecycleSpec,
    *,
    customers_path: str | Path | None = None,
    referrals: Any = None,
    channels: Any = None,
    meta: dict[str, Any] | None = None,
    reasons: dict[str, str] | None = None,
    by: str | None = None,
    run: Runner | None = None,
    after_sale: bool = True,
    channel: str | None = None,
) -> LifecycleResult:
    """The lifecycle result; ``customers_path`` (.parquet or .csv) also writes the stage table;
    ``by``: the stage table per value of that column at the customer's first event; ``reasons``:
    why a part given as None (referrals, channels) is not measured. ``run``: the caller's run
    (engine/bound.py); ``after_sale``: False leaves the after-sale metrics out (not measured:
    skipped); ``channel``: the channel column the channels read beside it, on a store from the
    range's events read once for both (engine/range_events.py)."""
    # a store: the integer customer keys, decoded only where a customer is shown
    k = keyed(events, model_reads(spec.model, by))
    # on DuckDB the queries are compiled once and run again on other dates (engine/bound.py)
    allowed = spec.as_of is None and customers_path is None
    with _own(events, run, allowed=allowed) as run:
        since, until = run.value("since", spec.since), run.value("until", spec.until)
        sp = dataclasses.replace(spec, since=since, until=until)
        t = in_range(sp, events.table if k is None else k.table)
        t = t.select(*_read(spec, t.columns, by))
        if k is None and events.engine.name in ("duckdb", "postgres"):
            # text ids: the range cached once; on integer keys each query reads the few columns
            # again instead (at 10M, Parquet: as fast, 288 MB peak against 629 MB)
            t = run.table(t)
        # a store's: the source's last event, read once (else the range's MAX: from the cached
        # events, one scan of the source, not two)
        now = _last(run, spec, t, None if k is None else k.table, events.report)
        at = _stood(run, "now", now)
        # a store's stage table from numpy arrays (engine/stage_firsts.py), else the GROUP BY
        found = stage_found(run, k, spec, now, events.report, channel) if FIRSTS_ON else None
        customers = None if found is None else found[0]
        if customers is None:
            customers = built(stage_customers, sp, t, at)
            if events.engine.name in ("duckdb", "postgres"):  # later queries read the small table,
                customers = run.table(customers)  # not the n^2 expression
        if customers_path is not None:
            _write(events, customers if k is None else decoded(customers, k.ids), Path(customers_path))
        if found is not None and SUMMARY_ON:  # from the arrays (engine/stage_firsts.py)
            s = stage_summary_of(spec, found[1])
        else:
            s = _first(run.rows(built(stage_summary, sp, customers)))
        stages = assemble_stages(spec, s)
        where = _where(spec)
        why = dict(reasons or {})
        after = None
        sale = spec.model.sale
        entered = {st.stage: st.entered for st in stages}
        if not after_sale:
            why["after_sale"] = "skipped (the stages alone)"
        elif sale is None:
            why["after_sale"] = (
                f"model '{spec.model.name}' names no sale stage, so nobody is a purchaser: give --goal STAGE"
            )
        elif entered.get(sale, 0) == 0:
            st = next(x for x in stages if x.stage == sale)
            why["after_sale"] = "no purchasers: " + stage_reason(st, where) + ", or give --goal STAGE"
        else:
            # a store's: from the range's events read once and the stage table's arrays
            arrays = None
            if found is not None and ARRAYS_ON and isinstance(run, Bound):
                arrays = after_arrays(run.engine.con.con, k, spec, found[1], now, events.report, channel)
            if arrays is not None:
                present = arrays.present
            else:
                present = _present(run, t, after_sale_names(spec.after_sale))
            missing = missing_blocks(spec.after_sale, present, where=where)
            if arrays is not None:
                rows = arrays.rows(missing)
            elif KEPT_ON:  # the purchasers' events and their purchases kept once, read by every block
                pe = run.table(built(af.purchasers_events, sp, t, customers))  # (10M: 1.15 -> 0.65 CPU-s)
                pc = run.table(built(af.purchase_customers, sp, pe, built(af.buyers, sp, customers), at))
                plan = built(af.after_sale_plan, sp, pe, customers, at, missing, pc)
                rows = {name: run.rows(expr) for name, expr in plan.items()}
            else:
                plan = built(af.after_sale_plan, sp, t, customers, at, missing)
                rows = {name: run.rows(expr) for name, expr in plan.items()}
            after = assemble_after_sale(spec, rows, missing, has_revenue="revenue" in t.columns)
        groups: tuple[LifecycleGroup, ...] = ()
        if by is not None:
            grouped = built(stage_summary, sp, built(by_groups, t, customers, by), by=BY)
            groups = assemble_groups(spec, run.rows(grouped), BY)
    info = {
        "engine": events.engine.name,
        "spec": spec.describe(),
        "as_of": now.isoformat(),
        "source": events.report.source,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **(meta or {}),
    }
    return LifecycleResult(
        model=spec.model.name,
        kind=spec.model.kind,
        sale=spec.model.sale,
        customers=as_count(s.get("customers")),
        stages=stages,
        after_sale=after,
        referrals=referrals,
        channels=channels,
        meta=info,
        reasons=why,
        where=where,
        breakdown=by,
        groups=groups,
    )


def _write(events: Events, customers: ir.Table, path: Path) -> None:
    ordered = customers.order_by(["furthest_index", "customer"])
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise SpecError(
            f"--customers: write a .parquet or .csv file, not '{path.name}'",
            code="HG121",
            hint="e.g. --customers stages.parquet",
        )
    check_output(
        path, option="--customers", sources=source_files(events.report.source, kind=events.report.kind)
    )
    # DuckDB writes one file; Spark writes a directory of part files under that name
    kw: dict[str, Any] = {"mode": "overwrite"} if events.engine.name == "spark" else {}
    # one file (DuckDB): written next to the target and renamed when whole (a full disk leaves no half file)
    try:
        device = path.is_char_device()  # /dev/full, /dev/stdout: written in place
    except OSError:  # a name too long: the write below says so (HG425)
        device = False
    whole = events.engine.name != "spark" and not device
    target = temp_path(path) if whole else path
    try:
        if suffix == ".parquet":
            events.engine.con.to_parquet(ordered, str(target), **kw)
        else:
            events.engine.con.to_csv(ordered, str(target), **kw)
        if whole:
            os.replace(target, path)
    except Exception as e:
        if whole:
            with contextlib.suppress(OSError):  # a name too long has no temporary to remove
                target.unlink(missing_ok=True)
        if not isinstance(e, OSError) and type(e).__name__ != "IOException":  # DuckDB's
            raise
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].removeprefix("IO Error: ")
        raise cannot_write(path, reason, "--customers") from None
