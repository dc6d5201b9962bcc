"""Diagnose (docs/semantics-friction.md, "Diagnose"): the weak stages of a model in a period, ranked
by customers and revenue lost; compared with a baseline period or across the values of a column
(two-proportion z-tests, Benjamini-Hochberg); one plain sentence per finding, with the seeds' remedy.

Pure Python: the spec, the remedies and the result assembled from the plan's aggregate rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hourglass.model.errors import SpecError
from hourglass.model.friction import benjamini_hochberg
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import check_period, parse_time
from hourglass.model.stats import two_proportion_p, wilson

__all__ = ["REMEDIES", "DiagnoseResult", "DiagnoseSpec", "assemble_diagnose", "remedy_for", "stage_stats"]

#: the stage where customers stop -> (the weakness, the seeds' remedy). A customer lost at a stage
#: entered it and no later one: what failed is the step out of it (lost at trial: the sale is weak).
#: A model's sale stage of another name takes the sale's remedy.
REMEDIES: dict[str, tuple[str, str]] = {
    "interest": ("weak trust", "consultations, presentations, case studies"),
    "qualification": ("weak trust", "consultations, presentations, case studies"),
    "attract": ("weak trust", "consultations, presentations, case studies"),
    "trust": ("weak trial", "a demo, a sample, a free consultation"),
    "trial": ("weak sale", "guarantees and reviews"),
    "desire": ("weak sale", "guarantees and reviews"),
    "hook": ("weak sale", "guarantees and reviews"),
    "sale": ("weak repeat", "feedback, reacting to dissatisfaction, extra services"),
    "purchase": ("weak repeat", "feedback, reacting to dissatisfaction, extra services"),
    "action": ("weak repeat", "feedback, reacting to dissatisfaction, extra services"),
    "engage": ("weak repeat", "feedback, reacting to dissatisfaction, extra services"),
    "exchange": ("after-sale doubt", "support"),
    "support": ("after-sale doubt", "support"),
    "repeat": ("weak word of mouth", "personal discounts and referral bonuses"),
    "loyalty": ("weak word of mouth", "personal discounts and referral bonuses"),
    "distance": ("distance", "resolving the negative experience, then win-back offers (enchantment)"),
    "enchantment": ("enchantment", "win-back offers"),
}
MAX_CHANGES = 10  #: significant changes told as sentences (all are in ``comparisons``)
NO_REMEDY = "the seeds name no remedy for customers lost at this stage"


def remedy_for(stage: str) -> tuple[str, str] | None:
    return REMEDIES.get(stage.lower())


@dataclass(frozen=True)
class DiagnoseSpec:
    """The period ``[since, until)`` of ``model``; compared with ``[baseline_since, baseline_until)``
    or, with ``by``, each value of that column with the period's other customers. ``alpha``: the
    false discovery rate of the flagged changes."""

    model: JourneyModel
    since: datetime | None = None
    until: datetime | None = None
    baseline: tuple[datetime | None, datetime | None] | None = None
    by: str | None = None
    alpha: float = 0.05

    @classmethod
    def build(
        cls,
        model: JourneyModel,
        *,
        since: Any = None,
        until: Any = None,
        baseline: str | Sequence[Any] | None = None,
        by: str | None = None,
        alpha: float = 0.05,
    ) -> DiagnoseSpec:
        if baseline is not None and by is not None:
            raise SpecError(
                "--baseline and --by are two ways to compare: give one",
                code="HG169",
                hint="--baseline 2024-01-01..2024-03-01 compares periods; --by channel compares channels",
            )
        base: tuple[datetime | None, datetime | None] | None = None
        if baseline is not None:
            parts = baseline.split("..") if isinstance(baseline, str) else list(baseline)
            if len(parts) != 2 or not any(str(p).strip() for p in parts):
                raise SpecError(
                    f"--baseline: cannot read {baseline!r}",
                    code="HG170",
                    hint="write SINCE..UNTIL, e.g. --baseline 2024-01-01..2024-03-01 "
                    "(either side may be empty)",
                )
            b0 = parse_time(str(parts[0]).strip() or None, what="--baseline since")
            b1 = parse_time(str(parts[1]).strip() or None, what="--baseline until")
            if b0 and b1 and b0 >= b1:
                raise SpecError(
                    "--baseline: its start must be before its end", code="HG170", hint="swap the two dates"
                )
            base = (b0, b1)
        if not 0 < alpha < 1:
            raise SpecError(f"alpha must be in (0, 1), got {alpha}", code="HG171", hint="e.g. 0.05")
        s0, s1 = parse_time(since, what="since"), parse_time(until, what="until")
        check_period(s0, s1)
        return cls(model=model, since=s0, until=s1, baseline=base, by=by, alpha=alpha)

    def describe(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "model": self.model.name,
            "stages": [s.name for s in self.model.stages],
            "since": iso(self.since),
            "until": iso(self.until),
            "baseline": None if self.baseline is None else [iso(self.baseline[0]), iso(self.baseline[1])],
            "by": self.by,
            "alpha": self.alpha,
        }


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


def stage_stats(model: JourneyModel, row: Mapping[str, Any], *, has_revenue: bool) -> list[dict[str, Any]]:
    """Per stage from one aggregate row (``entered{k}``, ``continued{k}``, ``revc{k}``): entered,
    continued, conversion with its Wilson interval, lost, and revenue lost (lost x the revenue per
    customer of those who continued)."""
    n = len(model.stages)
    out = []
    for k, s in enumerate(model.stages, start=1):
        entered, cont = _int(row.get(f"entered{k}")), _int(row.get(f"continued{k}"))
        r: dict[str, Any] = {"stage": s.name, "label": s.label or s.name, "entered": entered}
        if entered == 0:
            why = "no event of this stage in the range: " + ", ".join(s.events)
            for key in ("entered", "continued", "conversion", "lost", "revenue_lost"):
                r[key] = None
                r[f"{key}_reason"] = why
        elif k == n:
            why = "the last stage: there is no stage to go on to"
            for key in ("continued", "conversion", "lost", "revenue_lost"):
                r[key] = None
                r[f"{key}_reason"] = why
        else:
            lo, hi = wilson(cont, entered)
            lost = entered - cont
            r.update(
                continued=cont, conversion=cont / entered, conversion_low=lo, conversion_high=hi, lost=lost
            )
            if not has_revenue:
                r["revenue_lost"] = None
                r["revenue_lost_reason"] = "no revenue column: map one with --revenue-col COLUMN"
            elif cont == 0:
                r["revenue_lost"] = None
                r["revenue_lost_reason"] = (
                    "nobody went on from this stage: no revenue per customer to value it"
                )
            else:
                per = float(row.get(f"revc{k}") or 0.0) / cont
                r["revenue_per_continuer"] = per
                r["revenue_lost"] = lost * per
        weak = remedy_for(s.name) or (REMEDIES["sale"] if s.name == model.sale else None)
        r["weakness"] = None if weak is None else weak[0]
        r["remedy"] = None if weak is None else weak[1]
        if weak is None:
            r["remedy_reason"] = NO_REMEDY
        out.append(r)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _money(x: float) -> str:
    return f"{x:,.0f}"


@dataclass(frozen=True)
class DiagnoseResult:
    """Stages ranked by loss, the comparisons (flagged after Benjamini-Hochberg) and the findings."""

    model: str
    stages: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    findings: list[str]
    compare: str | None
    reasons: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "stages": self.stages,
            "compare": self.compare,
            "comparisons": self.comparisons,
            "findings": self.findings,
        }
        out.update({f"{k}_reason": v for k, v in self.reasons.items()})
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """CSV: the comparisons when there are any, else the stages; ``note`` holds the reasons."""
        src = self.comparisons or self.stages
        out = []
        for r in src:
            notes = "; ".join(f"{k[:-7]}: {v}" for k, v in r.items() if k.endswith("_reason") and v)
            out.append({k: v for k, v in r.items() if not k.endswith("_reason")} | {"note": notes})
        return out


def _compare_row(
    stage: Mapping[str, Any], group: str, ref: Mapping[str, Any], ref_name: str
) -> dict[str, Any]:
    e1, c1 = stage.get("entered"), stage.get("continued")
    e0, c0 = ref.get("entered"), ref.get("continued")
    r: dict[str, Any] = {"stage": stage["stage"], "group": group, "against": ref_name}
    if None in (e1, c1, e0, c0):
        why = stage.get("conversion_reason") or ref.get("conversion_reason") or "not measured"
        r.update(conversion=None, conversion_reason=why, p_value=None, p_value_reason=why)
        return r
    assert isinstance(e1, int) and isinstance(c1, int) and isinstance(e0, int) and isinstance(c0, int)
    p1 = None if e1 == 0 else c1 / e1
    p0 = None if e0 == 0 else c0 / e0
    r.update(
        entered=e1,
        continued=c1,
        conversion=p1,
        baseline_entered=e0,
        baseline_continued=c0,
        baseline_conversion=p0,
    )
    r["difference"] = None if p1 is None or p0 is None else p1 - p0
    p = two_proportion_p(c1, e1, c0, e0)
    r["p_value"] = p
    if p is None:
        r["p_value_reason"] = (
            "a group has no customers at this stage"
            if 0 in (e1, e0)
            else "everyone (or no one) went on in both"
        )
    return r


def _flagged(rows: list[dict[str, Any]], alpha: float) -> None:
    q = benjamini_hochberg([r.get("p_value") for r in rows])
    for r, qv in zip(rows, q, strict=True):
        r["q_value"] = qv
        r["significant"] = None if qv is None else qv < alpha
        if qv is None:
            r["q_value_reason"] = r.get("p_value_reason") or "no test"
            r["significant_reason"] = r["q_value_reason"]


def _remedy_text(stage: Mapping[str, Any]) -> str:
    if stage.get("remedy"):
        return f" Remedy for {stage['weakness']}: {stage['remedy']}."
    return ""


def assemble_diagnose(
    spec: DiagnoseSpec,
    *,
    period: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    groups: Sequence[Mapping[str, Any]] = (),
    has_revenue: bool,
    meta: Mapping[str, Any] | None = None,
) -> DiagnoseResult:
    """The result from the plan's rows: ``period`` (one aggregate row), ``baseline`` (one row) or
    ``groups`` (one row per value of ``by``, key ``hg_by``, with ``customers``)."""
    model = spec.model
    stages = stage_stats(model, period, has_revenue=has_revenue)
    measured = [s for s in stages if s.get("lost") is not None]
    by_cust = sorted(measured, key=lambda s: (-s["lost"], s["stage"]))
    for i, s in enumerate(by_cust, start=1):
        s["rank_customers"] = i
    with_rev = [s for s in measured if s.get("revenue_lost") is not None]
    for i, s in enumerate(sorted(with_rev, key=lambda s: (-s["revenue_lost"], s["stage"])), start=1):
        s["rank_revenue"] = i
    findings: list[str] = []
    reasons: dict[str, str] = {}
    if by_cust:
        top = by_cust[0]
        text = (
            f"{top['label']} loses the most customers: {top['lost']:,} of the {top['entered']:,} "
            "who entered it "
            f"({_pct(top['lost'] / top['entered'])}) went no further"
        )
        if top.get("revenue_lost") is not None:
            text += f", worth {_money(top['revenue_lost'])} at the revenue of those who went on"
        findings.append(text + "." + _remedy_text(top))
        if with_rev:
            rtop = min(with_rev, key=lambda s: s["rank_revenue"])
            if rtop is not top:
                findings.append(
                    f"{rtop['label']} loses the most revenue: {_money(rtop['revenue_lost'])} "
                    f"({rtop['lost']:,} customers lost)." + _remedy_text(rtop)
                )
    else:
        reasons["findings"] = "no stage with a stage after it was entered in the period"
    comparisons: list[dict[str, Any]] = []
    compare: str | None = None
    if baseline is not None:
        compare = "baseline"
        base = {s["stage"]: s for s in stage_stats(model, baseline, has_revenue=has_revenue)}
        for s in stages[:-1]:
            comparisons.append(_compare_row(s, "period", base[s["stage"]], "baseline"))
    elif groups:
        compare = f"by {spec.by}"
        keys = [k for k in period if k.startswith(("entered", "continued", "revc"))]
        for g in groups:
            gs = stage_stats(model, g, has_revenue=has_revenue)
            rest_row = {k: _int(period.get(k)) - _int(g.get(k)) for k in keys if not k.startswith("revc")}
            rest = {s["stage"]: s for s in stage_stats(model, rest_row, has_revenue=False)}
            value = "(none)" if g.get("hg_by") is None else str(g["hg_by"])
            for s in gs[:-1]:
                comparisons.append(_compare_row(s, value, rest[s["stage"]], "the others"))
    else:
        reasons["comparisons"] = "nothing to compare with: give --baseline SINCE..UNTIL or --by COLUMN"
    _flagged(comparisons, spec.alpha)
    labels = {s.name: s.label or s.name for s in model.stages}
    stage_of = {s["stage"]: s for s in stages}
    sig = [c for c in comparisons if c.get("significant")]
    sig.sort(key=lambda c: (c["q_value"], c["stage"], c["group"]))
    for c in sig[:MAX_CHANGES]:
        who = "in the period" if compare == "baseline" else f"for {spec.by} = {c['group']}"
        ref = "in the baseline" if compare == "baseline" else "for the others"
        word = "fell" if c["difference"] < 0 else "rose"
        text = (
            f"{labels[c['stage']]}: the share who went on {word} to {_pct(c['conversion'])} {who} "
            f"({c['continued']:,} of {c['entered']:,}) from {_pct(c['baseline_conversion'])} {ref} "
            f"({c['baseline_continued']:,} of {c['baseline_entered']:,}); "
            f"{100 * c['difference']:+.1f} points, q = {c['q_value']:.2g}."
        )
        if c["difference"] < 0:
            text += _remedy_text(stage_of[c["stage"]])
        findings.append(text)
    if len(sig) > MAX_CHANGES:
        findings.append(f"... and {len(sig) - MAX_CHANGES} more significant changes (in comparisons).")
    if comparisons and not sig:
        findings.append(
            f"No stage's share who went on differs significantly ({len(comparisons)} tests, "
            f"Benjamini-Hochberg at {spec.alpha:g})."
        )
    return DiagnoseResult(
        model=model.name,
        stages=stages,
        comparisons=comparisons,
        findings=findings,
        compare=compare,
        reasons=reasons,
        meta=dict(meta or {}) | {"spec": spec.describe()},
    )
