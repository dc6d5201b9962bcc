"""Retention cohorts (docs/semantics-retention.md): the pure assembly of the engine's small
aggregates into the cohort matrix with shares, Wilson intervals, revenue retention and the
size-weighted average curve. No Ibis here. The spec and the calendar periods are
model/retention_spec.py's, re-exported here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hourglass.model.retention_spec import (
    COHORT_KINDS,
    EPOCH,
    MODES,
    PERIODS,
    RetentionSpec,
    Target,
    period_end,
    period_label,
    period_start,
    resolve_target,
)
from hourglass.model.stats import wilson

__all__ = [
    "COHORT_KINDS",
    "MODES",
    "PERIODS",
    "RetentionResult",
    "RetentionSpec",
    "Target",
    "assemble_retention",
    "period_end",
    "period_label",
    "period_start",
    "resolve_target",
]

# --- the result ---

_INCOMPLETE = "period not complete"


def _nulls(cell: dict[str, Any], keys: Iterable[str], reason: str) -> None:
    for key in keys:
        cell[key] = None
        cell[f"{key}_reason"] = reason
    if "share" in keys:
        cell["share_low"] = cell["share_high"] = None


@dataclass(frozen=True)
class Matrix:
    """Cohorts (one dict per cohort: label, size, cells) and the average curve."""

    cohorts: list[dict[str, Any]]
    average: list[dict[str, Any]]

    @property
    def customers(self) -> int:
        return sum(int(c["size"]) for c in self.cohorts)


@dataclass(frozen=True)
class RetentionResult:
    spec: RetentionSpec
    observed_until: datetime | None
    matrix: Matrix
    groups: list[tuple[str | None, Matrix]] = field(default_factory=list)
    revenue_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec.to_dict(),
            "observed_until": self.observed_until.isoformat() if self.observed_until else None,
            "periods": list(range(self.spec.periods + 1)),
            "members": self.matrix.customers,
            "cohorts": self.matrix.cohorts,
            "average": self.matrix.average,
        }
        if self.spec.by is not None:
            out["breakdown"] = self.spec.by
            out["groups"] = [
                {"value": v, "members": m.customers, "cohorts": m.cohorts, "average": m.average}
                for v, m in self.groups
            ]
        out["meta"] = dict(self.meta)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per (group,) cohort and period: the CSV."""
        out: list[dict[str, Any]] = []
        parts: list[tuple[str | None, Matrix, bool]] = [(None, self.matrix, False)]
        if self.spec.by is not None:
            parts += [(v, m, True) for v, m in self.groups]
        for value, m, grouped in parts:
            for c in m.cohorts:
                for cell in c["cells"]:
                    row: dict[str, Any] = {}
                    if self.spec.by is not None:
                        row[self.spec.by] = "(all)" if not grouped else value
                    row.update(cohort=c["cohort"], size=c["size"], period=cell["period"])
                    for key in (
                        "customers",
                        "share",
                        "share_low",
                        "share_high",
                        "revenue",
                        "revenue_retention",
                    ):
                        row[key] = cell.get(key)
                    reasons = dict.fromkeys(str(cell[k]) for k in cell if k.endswith("_reason"))
                    row["reason"] = "; ".join(reasons) or None
                    out.append(row)
        return out

    def __str__(self) -> str:
        kind = "first-time" if self.spec.cohorts == "first" else "recurring"
        lines = [f"retention · {self.spec.period} · {self.spec.mode} · {kind} cohorts"]
        for c in self.matrix.cohorts:
            shares = ["·" if x["share"] is None else f"{100 * x['share']:.0f}%" for x in c["cells"]]
            lines.append(f"{c['cohort']} ({c['size']}): " + " ".join(shares))
        return "\n".join(lines)


def _counts_by_cohort(rows: Iterable[Mapping[str, Any]], value_key: str) -> dict[int, dict[int, float]]:
    out: dict[int, dict[int, float]] = {}
    for r in rows:
        cell = out.setdefault(int(r["cohort"]), {})
        cell[int(r["offset"])] = cell.get(int(r["offset"]), 0) + (r[value_key] or 0)
    return out


def _matrix(
    spec: RetentionSpec,
    sizes: Mapping[int, int],
    counts: Mapping[int, Mapping[int, float]],
    revenue: Mapping[int, Mapping[int, float]] | None,
    revenue_reason: str | None,
    end: datetime | None,
) -> Matrix:
    n_periods = spec.periods
    cohorts: list[dict[str, Any]] = []
    # per period: (customers, size, cohorts) over complete cells; revenue (period N, period 0)
    pooled = [[0, 0, 0] for _ in range(n_periods + 1)]
    pooled_rev = [[0.0, 0.0, 0] for _ in range(n_periods + 1)]
    for c in sorted(sizes):
        size = int(sizes[c])
        per = counts.get(c, {})
        if spec.mode == "unbounded":  # the last offset of each membership -> returned at N or later
            per = {n: sum(v for k, v in per.items() if k >= n) for n in range(n_periods + 1)}
        rev = (revenue or {}).get(c, {})
        rev0 = rev.get(0, 0.0)
        cells = []
        for n in range(n_periods + 1):
            cell: dict[str, Any] = {"period": n}
            done = end is not None and period_end(spec.period, c + n) <= end
            if not done:
                why = (
                    f"{_INCOMPLETE}: {period_label(spec.period, c + n)} ends "
                    f"{period_end(spec.period, c + n).isoformat()}, after the data's end"
                    + (f" ({end.isoformat()})" if end is not None else "")
                )
                _nulls(cell, ("customers", "share", "revenue", "revenue_retention"), why)
                cells.append(cell)
                continue
            k = int(per.get(n, 0))
            lo, hi = wilson(k, size)
            cell.update(customers=k, share=k / size if size else None, share_low=lo, share_high=hi)
            pooled[n][0] += k
            pooled[n][1] += size
            pooled[n][2] += 1
            if revenue_reason is not None:
                _nulls(cell, ("revenue", "revenue_retention"), revenue_reason)
            else:
                r = float(rev.get(n, 0.0))
                cell["revenue"] = r
                if rev0 > 0:
                    cell["revenue_retention"] = r / rev0
                    pooled_rev[n][0] += r
                    pooled_rev[n][1] += rev0
                    pooled_rev[n][2] += 1
                else:
                    _nulls(cell, ("revenue_retention",), "the cohort had no revenue in its start period")
            cells.append(cell)
        label = period_label(spec.period, c)
        complete = end is not None and period_end(spec.period, c) <= end
        cohorts.append({"cohort": label, "size": size, "complete": complete, "cells": cells})
    average = []
    for n in range(n_periods + 1):
        k, size, m = pooled[n]
        row: dict[str, Any] = {"period": n, "cohorts": m, "size": size}
        if m == 0:
            _nulls(row, ("customers", "share"), f"no cohort has period {n} complete")
        else:
            lo, hi = wilson(k, size)
            row.update(customers=k, share=k / size if size else None, share_low=lo, share_high=hi)
        rn, r0, rm = pooled_rev[n]
        if revenue_reason is not None:
            _nulls(row, ("revenue_retention",), revenue_reason)
        elif rm == 0:
            _nulls(
                row,
                ("revenue_retention",),
                f"no cohort with revenue in its start period has period {n} complete",
            )
        else:
            row["revenue_retention"] = rn / r0
        average.append(row)
    return Matrix(cohorts, average)


def assemble_retention(
    spec: RetentionSpec,
    *,
    sizes: Sequence[Mapping[str, Any]],
    cells: Sequence[Mapping[str, Any]],
    revenue: Sequence[Mapping[str, Any]] | None,
    last_us: int | None,
    revenue_reason: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> RetentionResult:
    """The result from the engine's rows: ``sizes`` (``by``?, ``cohort``, ``size``), ``cells``
    (``by``?, ``cohort``, ``offset``, ``customers``: nth, the period; unbounded, each membership's
    last return period capped at ``periods``), ``revenue`` (``by``?, ``cohort``, ``offset``,
    ``revenue``) and the source's last event time in µs. The data's end is the earlier of
    ``until`` and the last event."""
    end: datetime | None = None
    if last_us is not None:
        end = EPOCH + timedelta(microseconds=int(last_us))
        if spec.until is not None and spec.until < end:
            end = spec.until
    rev_rows = revenue if revenue_reason is None else None

    def build(pick: Any) -> Matrix:
        sz: dict[int, int] = {}
        for r in sizes:
            if pick(r):
                sz[int(r["cohort"])] = sz.get(int(r["cohort"]), 0) + int(r["size"])
        cnt = _counts_by_cohort([r for r in cells if pick(r)], "customers")
        rev = _counts_by_cohort([r for r in rev_rows if pick(r)], "revenue") if rev_rows is not None else None
        return _matrix(spec, sz, cnt, rev, revenue_reason, end)

    whole = build(lambda _r: True)
    groups: list[tuple[str | None, Matrix]] = []
    if spec.by is not None:
        counts: dict[str | None, int] = {}
        for r in sizes:
            counts[r["by"]] = counts.get(r["by"], 0) + int(r["size"])
        # most members first; ties by value; the pooled rest and a missing value last
        order = sorted(counts, key=lambda v: (v is None, v == "(other)", -counts[v], str(v)))
        groups = [(v, build(lambda r, v=v: r["by"] == v)) for v in order]
    return RetentionResult(spec, end, whole, groups, revenue_reason, dict(meta or {}))
