"""The what-if's stage-transition model as one plan of aggregates (docs/semantics-friction.md,
"What-if"): per customer his path through the model (his first stage, then each time the first
later stage he entered after it), and counted per channel: the steps (to which stage, after how many
periods), those still in a stage at the end of the fit (in flight, by age), new customers per period
and first stage, purchasers per period, revenue by age after the sale period, referred customers by
age of their referrer's sale. Only these counts come back."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros
from hourglass.analyses.lifecycle import BY, by_groups, in_range, stage_customers
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.whatif import REFERRED, Fit, period_start

__all__ = ["fit_plan", "observed_plan", "pidx"]

_INF = 2**62
_DAY_US = 86_400_000_000


def pidx(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    """The period index of a time: months since year 0, or weeks (from Mondays) since 1970."""
    if period == "month":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    return ((micros(ts) + 3 * _DAY_US) // (7 * _DAY_US)).cast("int64")


def _paths(model: JourneyModel, cust: ir.Table) -> ir.Table:
    """``cust`` with ``entry_k`` (the first stage entered; ties: the lower stage), ``nx{k}`` (the
    first later stage entered after k, 0 for none) and ``on{k}`` (k is on the customer's path)."""
    n = len(model.stages)
    names = [s.name for s in model.stages]
    c = cust.mutate(
        **{
            f"m{k}": cust[f"{names[k - 1]}_at"].notnull().ifelse(micros(cust[f"{names[k - 1]}_at"]), _INF)
            for k in range(1, n + 1)
        }
    )
    least = ibis.least(*[c[f"m{k}"] for k in range(1, n + 1)]) if n > 1 else c.m1
    c = c.mutate(hg_first=least)
    c = c.mutate(
        entry_k=ibis.cases(
            *[((c[f"m{k}"] == c.hg_first) & (c[f"m{k}"] < _INF), k) for k in range(1, n + 1)], else_=0
        )
    )
    nx: dict[str, ir.Value] = {}
    for k in range(1, n):
        later = [
            ((c[f"m{j}"] > c[f"m{k}"]) & (c[f"m{j}"] < _INF)).ifelse(c[f"m{j}"], _INF)
            for j in range(k + 1, n + 1)
        ]
        nx[f"t{k}"] = ibis.least(*later) if len(later) > 1 else later[0]
    c = c.mutate(**nx)
    idx = {}
    for k in range(1, n):
        idx[f"nx{k}"] = ibis.cases(
            *[((c[f"m{j}"] == c[f"t{k}"]) & (c[f"t{k}"] < _INF), j) for j in range(k + 1, n + 1)], else_=0
        )
    c = c.mutate(**idx)
    # each step of the path a named column of the table before (inlined, the SQL would grow as n^n)
    c = c.mutate(s0=c.entry_k)
    for i in range(1, n):
        prev = c[f"s{i - 1}"]
        c = c.mutate(**{f"s{i}": ibis.cases(*[(prev == k, c[f"nx{k}"]) for k in range(1, n)], else_=0)})
    on = {}
    for k in range(1, n + 1):
        flag = c.s0 == k
        for i in range(1, n):
            flag = flag | (c[f"s{i}"] == k)
        on[f"on{k}"] = flag
    return c.mutate(**on)


def fit_plan(
    model: JourneyModel,
    events: ir.Table,
    *,
    since: datetime | None,
    until: datetime,
    period: str,
    first: int,
    T: int,
) -> Plan[Fit]:
    """The fit on the events in ``[since, until)`` (``until`` the start of period ``T``)."""
    spec = LifecycleSpec(model=model, since=since, until=until)
    n = len(model.stages)
    names = [s.name for s in model.stages]
    cols = events.columns
    has_revenue, has_referrer = "revenue" in cols, "referrer" in cols
    sale = (model.sale_index or 0) + 1

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        t = in_range(spec, events)
        cust = stage_customers(spec, events, until)
        if "channel" in cols:
            cust = by_groups(t, cust, "channel")
            ch: ir.Value = cust[BY].coalesce("(none)")
        else:
            ch = ibis.literal("(all)")
        cust = cust.mutate(ch=ch)
        if has_referrer:
            refs = t.filter(t.referrer.notnull())
            refs = refs.group_by(rc=refs.customer).aggregate(referrer=refs.referrer.max())
            j = cust.left_join(refs, cust.customer == refs.rc)
            cust = j.select(
                *[j[x] for x in cust.columns if x != "ch"],
                ch=j.referrer.notnull().ifelse(ibis.literal(REFERRED), j.ch),
                referrer=j.referrer,
            )
        c = materialize(_paths(model, cust))
        parts = []
        for k in range(1, n):
            at = c[f"{names[k - 1]}_at"]
            nxk = c[f"nx{k}"]
            nxt_at = ibis.cases(
                *[(nxk == j, c[f"{names[j - 1]}_at"]) for j in range(k + 1, n + 1)], else_=None
            )
            lag = (nxk > 0).ifelse(pidx(nxt_at, period) - pidx(at, period), T - pidx(at, period))
            part = c.filter(c[f"on{k}"]).select(
                ch=c.ch, k=ibis.literal(k, "int64"), j=nxk.cast("int64"), lag=lag
            )
            parts.append(part)
        trans = parts[0] if len(parts) == 1 else ibis.union(*parts)
        out: dict[str, ir.Expr] = {
            "trans": trans.group_by(["ch", "k", "j", "lag"]).aggregate(n=trans.count())
        }
        first_at = ibis.cases(
            *[(c.entry_k == k, c[f"{names[k - 1]}_at"]) for k in range(1, n + 1)], else_=None
        )
        e = c.filter(c.entry_k > 0).select(ch=c.ch, k=c.entry_k.cast("int64"), p=pidx(first_at, period))
        out["entry"] = e.group_by(["ch", "k", "p"]).aggregate(n=e.count())
        sale_at = c[f"{names[sale - 1]}_at"]
        b = c.filter(sale_at.notnull()).select(bc=c.customer, ch=c.ch, sp=pidx(sale_at, period))
        b = materialize(b)
        out["buyers"] = b.group_by(ch=b.ch, p=b.sp).aggregate(n=b.count())
        if has_revenue:
            rv = t.filter(t.revenue.notnull()).select(
                rc=t.customer, rp=pidx(t.timestamp, period), amount=t.revenue
            )
            rj = b.join(rv, b.bc == rv.rc)
            rj = rj.filter(rj.rp >= rj.sp)
            out["revenue"] = rj.group_by(ch=rj.ch, a=rj.rp - rj.sp).aggregate(
                revenue=rj.amount.cast("float64").sum()
            )
        if has_referrer:
            rf = c.filter(c.referrer.notnull() & (c.entry_k > 0)).select(
                referrer=c.referrer, rp=pidx(first_at, period)
            )
            rj2 = rf.join(b, rf.referrer == b.bc)
            rj2 = rj2.filter(rj2.rp >= rj2.sp)
            out["referred"] = rj2.group_by(a=rj2.rp - rj2.sp).aggregate(n=rj2.count())
        return out

    def assemble(rows: Rows) -> Fit:
        fit = Fit.from_rows(model, period, first, T, {k: list(v) for k, v in rows.items()})
        fit.has_revenue, fit.has_referrer = has_revenue, has_referrer
        return fit

    return Plan(build, assemble)


def observed_plan(
    model: JourneyModel, events: ir.Table, *, since: datetime | None, until: datetime, period: str
) -> Plan[dict[str, dict[int, float]]]:
    """Per period in ``[since, until)``: new customers (their first stage entry), purchasers (their
    entry into the sale stage) and revenue (every revenue event), for the back-test."""
    spec = LifecycleSpec(model=model, since=since, until=until)
    names = [s.name for s in model.stages]
    n = len(names)
    sale = (model.sale_index or 0) + 1
    has_revenue = "revenue" in events.columns

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        t = in_range(spec, events)
        c = materialize(stage_customers(spec, events, until))
        first = ibis.least(*[c[f"{s}_at"] for s in names]) if n > 1 else c[f"{names[0]}_at"]
        new = c.select(p=pidx(first, period))
        out: dict[str, ir.Expr] = {"new": new.group_by("p").aggregate(n=new.count())}
        sale_at = c[f"{names[sale - 1]}_at"]
        b = c.filter(sale_at.notnull()).select(p=pidx(sale_at, period))
        out["buyers"] = b.group_by("p").aggregate(n=b.count())
        if has_revenue:
            r = t.filter(t.revenue.notnull()).select(p=pidx(t.timestamp, period), amount=t.revenue)
            out["revenue"] = r.group_by("p").aggregate(n=r.amount.cast("float64").sum())
        return out

    def assemble(rows: Rows) -> dict[str, dict[int, float]]:
        return {
            key: {int(r["p"]): float(r["n"] or 0) for r in rows.get(name, [])}
            for key, name in (("new_customers", "new"), ("purchasers", "buyers"), ("revenue", "revenue"))
        }

    return Plan(build, assemble)


def period_bounds(first: int, T: int, period: str) -> tuple[datetime, datetime]:
    return period_start(first, period), period_start(T, period)
