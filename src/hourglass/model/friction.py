"""Friction (docs/semantics-friction.md): stalls (time in stage against its distribution or a target)
and friction events (conversion with vs without a friction event, stratified, Mantel-Haenszel).

Pure Python: the statistics (Mantel-Haenszel risk difference with Sato's variance, Benjamini-Hochberg)
and the result assembled from the plan's aggregate rows; the spec that checks itself is
model/friction_spec.py's, re-exported here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.friction_spec import PERIODS, FrictionSpec
from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import Z95, wilson

__all__ = [
    "PERIODS",
    "FrictionResult",
    "FrictionSpec",
    "StratumCounts",
    "assemble_friction",
    "benjamini_hochberg",
    "mh_risk_difference",
    "normal_p",
]


@dataclass(frozen=True)
class StratumCounts:
    """One stratum: ``n1`` exposed customers of whom ``a1`` converted; ``n0`` unexposed, ``a0``."""

    n1: int
    a1: int
    n0: int
    a0: int


def normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def mh_risk_difference(strata: Sequence[StratumCounts]) -> tuple[float, float] | None:
    """The Mantel-Haenszel risk difference (exposed minus unexposed; Greenland & Robins 1985) and
    its variance (Sato 1989, consistent for many small strata and for few large ones). None when no
    stratum has both exposed and unexposed customers."""
    num = den = p_sum = q_sum = 0.0
    for s in strata:
        t = s.n1 + s.n0
        if s.n1 == 0 or s.n0 == 0:
            continue
        num += (s.a1 * s.n0 - s.a0 * s.n1) / t
        den += s.n1 * s.n0 / t
        p_sum += (s.n1 * s.n1 * s.a0 - s.n0 * s.n0 * s.a1 + s.n1 * s.n0 * (s.n0 - s.n1) / 2) / (t * t)
        q_sum += (s.a1 * (s.n0 - s.a0) + s.a0 * (s.n1 - s.a1)) / (2 * t)
    if den == 0:
        return None
    rd = num / den
    var = max(0.0, (rd * p_sum + q_sum) / (den * den))
    return rd, var


def benjamini_hochberg(pvalues: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1); None stays None and
    does not count as a test."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    ranked = sorted(idx, key=lambda i: pvalues[i])  # type: ignore[arg-type,return-value]
    running = 1.0
    for rank in range(m, 0, -1):
        i = ranked[rank - 1]
        p = pvalues[i]
        assert p is not None
        running = min(running, p * m / rank)
        out[i] = min(1.0, running)
    return out


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


@dataclass(frozen=True)
class FrictionResult:
    """Stalls per stage and the friction table, ranked (docs/semantics-friction.md)."""

    model: str
    stalls: list[dict[str, Any]]
    frictions: list[dict[str, Any]]
    stalled: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "stalls": self.stalls, "frictions": self.frictions}
        out.update({f"{k}_reason": v for k, v in self.reasons.items()})
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """CSV: one row per friction x stage (the ranked table), ``note`` holding the reasons."""
        out = []
        for r in self.frictions:
            notes = "; ".join(f"{k[:-7]}: {v}" for k, v in r.items() if k.endswith("_reason") and v)
            out.append({k: v for k, v in r.items() if not k.endswith("_reason")} | {"note": notes})
        return out

    def stall_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.stalls]

    def to_text(self) -> str:
        lines = [f"friction · {self.model}"]
        for r in self.stalls:
            lines.append(
                f"  {r['stage']}: p50 {format_duration(r['p50_s'])}, p90 {format_duration(r['p90_s'])}, "
                f"stalled now {r['stalled_now']}"
            )
        for r in self.frictions:
            lines.append(
                f"  {r['friction']} at {r['stage']}: {format_percent(r['conversion_exposed'])} vs "
                f"{format_percent(r['conversion_unexposed'])}"
            )
        return "\n".join(lines)


def _quantile(value: Any) -> float | None:
    return None if value is None else float(value)


def assemble_stalls(
    spec: FrictionSpec, row: Mapping[str, Any], stage_present: Mapping[str, bool]
) -> list[dict[str, Any]]:
    """The stall table from the plan's one aggregate row (per stage k: ``left{k}``, ``p50{k}``,
    ``p90{k}``, ``over{k}``, ``current{k}``, ``stalled{k}``)."""
    out = []
    for k, s in enumerate(spec.model.stages, start=1):
        target = spec.target(s.name)
        r: dict[str, Any] = {"stage": s.name, "label": s.label or s.name}
        if not stage_present.get(s.name, True):
            why = "no event of this stage in the source: " + ", ".join(s.events)
            for key in (
                "left",
                "p50_s",
                "p90_s",
                "threshold_s",
                "over_threshold",
                "over_share",
                "current",
                "stalled_now",
                "stalled_share",
            ):
                r[key] = None
                r[f"{key}_reason"] = why
            r["threshold"] = "target" if target is not None else "p90"
            out.append(r)
            continue
        left, current = _int(row.get(f"left{k}")), _int(row.get(f"current{k}"))
        p90 = _quantile(row.get(f"p90{k}"))
        threshold = target if target is not None else p90
        r.update(
            left=left,
            p50_s=_quantile(row.get(f"p50{k}")),
            p90_s=p90,
            threshold="target" if target is not None else "p90",
            threshold_s=threshold,
        )
        if threshold is None:
            why = "nobody left this stage yet, so it has no p90: give --target STAGE=DURATION"
            r.update(over_threshold=None, over_threshold_reason=why, over_share=None, over_share_reason=why)
            r.update(current=current, stalled_now=None, stalled_now_reason=why)
            r.update(stalled_share=None, stalled_share_reason=why)
        else:
            over, stalled = _int(row.get(f"over{k}")), _int(row.get(f"stalled{k}"))
            r.update(over_threshold=over, over_share=None if left == 0 else over / left)
            if left == 0:
                r["over_share_reason"] = "nobody left this stage"
            r.update(
                current=current,
                stalled_now=stalled,
                stalled_share=None if current == 0 else stalled / current,
            )
            if current == 0:
                r["stalled_share_reason"] = "nobody is in this stage now"
        out.append(r)
    return out


def _strata(rows: Sequence[Mapping[str, Any]]) -> list[StratumCounts]:
    return [StratumCounts(_int(r["n1"]), _int(r["a1"]), _int(r["n0"]), _int(r["a0"])) for r in rows]


def friction_row(
    friction: str,
    stage: str,
    next_label: str,
    strata_rows: Sequence[Mapping[str, Any]],
    revenue_per_conversion: float | None,
    revenue_reason: str | None,
    min_group: int = 10,
) -> dict[str, Any]:
    """One row of the friction table from its strata (each with n1, a1, n0, a0)."""
    strata = _strata(strata_rows)
    n1, a1 = sum(s.n1 for s in strata), sum(s.a1 for s in strata)
    n0, a0 = sum(s.n0 for s in strata), sum(s.a0 for s in strata)
    p1 = None if n1 == 0 else a1 / n1
    p0 = None if n0 == 0 else a0 / n0
    lo1, hi1 = wilson(a1, n1)
    lo0, hi0 = wilson(a0, n0)
    r: dict[str, Any] = {
        "friction": friction,
        "stage": stage,
        "to": next_label,
        "exposed": n1,
        "converted_exposed": a1,
        "conversion_exposed": p1,
        "conversion_exposed_low": lo1,
        "conversion_exposed_high": hi1,
        "unexposed": n0,
        "converted_unexposed": a0,
        "conversion_unexposed": p0,
        "conversion_unexposed_low": lo0,
        "conversion_unexposed_high": hi0,
        "crude_difference": None if p1 is None or p0 is None else p1 - p0,
        "strata": len(strata),
        "strata_used": sum(1 for s in strata if s.n1 and s.n0),
    }
    mh = mh_risk_difference(strata)
    if mh is None:
        why = "no stratum has both customers with and without the friction"
        for key in (
            "difference",
            "difference_low",
            "difference_high",
            "p_value",
            "customers_lost",
            "revenue_lost",
        ):
            r[key] = None
            r[f"{key}_reason"] = why
        return r
    rd, var = mh
    se = math.sqrt(var)
    r.update(
        difference=rd,
        difference_low=max(-1.0, rd - Z95 * se),
        difference_high=min(1.0, rd + Z95 * se),
        p_value=None if se == 0 else normal_p(rd / se),
        customers_lost=-rd * n1,
    )
    if se == 0:
        r["p_value_reason"] = "the difference has no variance (every stratum converts all or none)"
    if min(n1, n0) < min_group:
        why = (
            f"{min(n1, n0)} customers {'with' if n1 < n0 else 'without'} the friction: fewer than "
            f"{min_group}, too few for a normal interval"
        )
        for key in ("difference_low", "difference_high", "p_value"):
            r[key] = None
            r[f"{key}_reason"] = why
    if revenue_per_conversion is None:
        r["revenue_lost"] = None
        r["revenue_lost_reason"] = revenue_reason or "no revenue"
    else:
        r["revenue_lost"] = -rd * n1 * revenue_per_conversion
    r["revenue_per_conversion"] = revenue_per_conversion
    return r


def _rank_key(r: Mapping[str, Any]) -> tuple[int, float, float]:
    rev, cust = r.get("revenue_lost"), r.get("customers_lost")
    return (
        0 if rev is not None else 1 if cust is not None else 2,
        -(rev if rev is not None else 0.0),
        -(cust if cust is not None else 0.0),
    )


def assemble_friction(
    spec: FrictionSpec,
    *,
    stall_row: Mapping[str, Any],
    stage_present: Mapping[str, bool],
    base: Sequence[Mapping[str, Any]],
    exposed: Sequence[Mapping[str, Any]],
    revenue: Sequence[Mapping[str, Any]],
    present: frozenset[str],
    has_revenue: bool,
    stalled: Sequence[Mapping[str, Any]] = (),
    meta: Mapping[str, Any] | None = None,
) -> FrictionResult:
    """The result from the plan's rows: ``base`` (per stage k and stratum: n, conv), ``exposed``
    (per friction, stage k and stratum: n1, a1), ``revenue`` (per stage k: revenue after the
    conversion of its converters, converters)."""
    stages = spec.model.stages
    totals: dict[tuple[int, str], tuple[int, int]] = {}
    for r in base:
        totals[(int(r["k"]), str(r["stratum"]))] = (_int(r["n"]), _int(r["conv"]))
    exp: dict[tuple[str, int, str], tuple[int, int]] = {}
    for r in exposed:
        exp[(str(r["friction"]), int(r["k"]), str(r["stratum"]))] = (_int(r["n1"]), _int(r["a1"]))
    rev_per: dict[int, float | None] = {}
    for r in revenue:
        conv = _int(r.get("converters"))
        total = r.get("revenue")
        rev_per[int(r["k"])] = None if conv == 0 else float(total or 0.0) / conv
    rows: list[dict[str, Any]] = []
    reasons: dict[str, str] = {}
    if not spec.frictions:
        reasons["frictions"] = "no friction events given: name them with --friction late_delivery,complaint"
    for f in spec.frictions:
        if f not in present:
            rows.append(
                {
                    "friction": f,
                    "stage": None,
                    "exposed": None,
                    "exposed_reason": f"no '{f}' event in the source (in the range)",
                    "difference": None,
                    "difference_reason": f"no '{f}' event in the source (in the range)",
                }
            )
            continue
        any_row = False
        for k in range(1, len(stages)):
            strata_keys = sorted(s for (kk, s) in totals if kk == k)
            sr = []
            for s in strata_keys:
                n, conv = totals[(k, s)]
                n1, a1 = exp.get((f, k, s), (0, 0))
                sr.append({"n1": n1, "a1": a1, "n0": n - n1, "a0": conv - a1})
            if sum(x["n1"] for x in sr) == 0:
                continue
            any_row = True
            why: str | None
            if not has_revenue:
                rpc, why = None, "no revenue column: map one with --revenue-col COLUMN"
            else:
                rpc = rev_per.get(k)
                why = None if rpc is not None else "nobody converted from this stage"
            rows.append(
                friction_row(f, stages[k - 1].name, "a later stage", sr, rpc, why, min_group=spec.min_group)
            )
        if not any_row:
            rows.append(
                {
                    "friction": f,
                    "stage": None,
                    "exposed": 0,
                    "difference": None,
                    "difference_reason": f"no customer had '{f}' while in a stage with a stage after it",
                }
            )
    rows.sort(key=_rank_key)
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    result = FrictionResult(
        model=spec.model.name,
        stalls=assemble_stalls(spec, stall_row, stage_present),
        frictions=rows,
        stalled=[dict(r) for r in stalled],
        reasons=reasons,
        meta=dict(meta or {}) | {"spec": spec.describe()},
    )
    return result
