"""Multi-touch attribution: assembling the engine's small tables into the result, and the result
(docs/semantics-attribution.md). Pure: the engine sends back only distinct paths, transition counts
and per-channel sums."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.attribution import MODELS, AttributionSpec
from hourglass.model.attribution_models import (
    CONVERSION,
    NULL,
    START,
    Node,
    PathRow,
    heuristic_credits,
    markov_credits,
    shapley_credits,
    transitions_from_paths,
)
from hourglass.model.errors import EngineError
from hourglass.model.steps import Step

__all__ = ["AttributionResult", "StageCredits", "assemble_attribution", "assemble_stages", "parse_path"]

_ITEM = re.compile(r"\|(?=\d{9}:)")
_NO_REVENUE = "no revenue column: map one with --revenue-col COLUMN"
_BUG = "this is a bug in hourglass, not in your data: please report it with the command you ran"
_NO_SPEND = "no spend table: give --spend FILE (a CSV of channel, period, cost)"
_NO_STAGES = "not asked: give --stages (or --credit-model MODEL) for the hourglass stages per channel"
LABELS = {
    "first_touch": "first touch",
    "last_touch": "last touch",
    "last_non_direct": "last non-direct",
    "linear": "linear",
    "time_decay": "time decay",
    "position_based": "position",
    "markov": "Markov",
    "shapley": "Shapley",
    "shapley_rate": "Shapley (rate)",
}


def parse_path(key: str | None) -> tuple[str, ...]:
    """The channels of an engine path key ``000000001:ads|000000002:email`` (positions zero-padded
    to nine digits, so that sorting the items as text sorts them by position)."""
    if not key:
        return ()
    return tuple(item[10:] for item in _ITEM.split(key))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@dataclass(frozen=True)
class StageCredits:
    """One stage of the stages table: ``customers`` entered it in the range (None: no event of the
    stage in the range, not measured), ``with_touch`` of them had a touch in the lookback before
    their entry; ``credits`` splits those among the channels under the chosen model."""

    stage: str
    label: str
    events: tuple[str, ...]
    customers: int | None
    with_touch: int | None
    credits: Mapping[str, float] | None

    def __post_init__(self) -> None:
        if self.customers is None or self.with_touch is None or self.credits is None:
            return
        got = sum(self.credits.values())
        if (
            not 0 <= self.with_touch <= self.customers
            or not _close(got, self.with_touch)
            or any(x < -1e-9 for x in self.credits.values())
        ):
            raise EngineError(
                f"attribution: stage '{self.stage}' credits {got!r} customers to channels, "
                f"not the {self.with_touch} of {self.customers} with a touch",
                code="HG383",
                hint=_BUG,
            )

    def to_dict(self, channels: Sequence[str], costs: Mapping[str, float] | None = None) -> dict[str, Any]:
        """The stage's JSON; with ``costs`` (the spend table's cost per channel in the range) the
        cost per customer credited to each channel (null with why: no cost, no credit)."""
        out: dict[str, Any] = {"stage": self.stage, "label": self.label or self.stage}
        if self.customers is None or self.credits is None:
            why = (
                f"no event of stage '{self.stage}' ({', '.join(self.events)}) in the range: map the stage "
                "to your events in a model file (hourglass models suggest SOURCE) or pick another --model"
            )
            out.update(measured=False, customers=None, with_touch=None, without_touch=None, credits=None)
            out["customers_reason"] = out["with_touch_reason"] = out["without_touch_reason"] = why
            out["credits_reason"] = out["cost_per_customer_reason"] = why
            out["cost_per_customer"] = None
            return out
        out.update(
            measured=True,
            customers=self.customers,
            with_touch=self.with_touch,
            without_touch=self.customers - (self.with_touch or 0),
            credits={c: self.credits.get(c, 0.0) for c in channels},
        )
        if costs is None:
            out["cost_per_customer"] = None
            out["cost_per_customer_reason"] = _NO_SPEND
            return out
        per: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for c in channels:
            k = self.credits.get(c, 0.0)
            cost = costs.get(c)
            per[c] = None if cost is None or k <= 1e-12 else cost / k
            if cost is None:
                reasons[c] = f"the spend table has no cost for channel '{c}' in the range"
            elif k <= 1e-12:
                reasons[c] = "no customer of the stage credited to the channel"
        out["cost_per_customer"] = per
        if reasons:
            out["cost_per_customer_reasons"] = reasons
        return out


@dataclass(frozen=True)
class AttributionResult:
    """Credits per model and channel (``credits[model][channel]``, conversions; ``revenue_credits``
    likewise, None without a revenue column); ``costs`` per channel with a spend table."""

    spec: Mapping[str, Any]
    conversion: str
    channels: tuple[str, ...]
    credits: Mapping[str, Mapping[str, float]]
    revenue_credits: Mapping[str, Mapping[str, float]] | None
    conversions: int
    conversions_attributed: int
    non_converting_journeys: int
    revenue: float | None
    revenue_attributed: float | None
    touches: Mapping[str, int]
    markov: Mapping[str, Any]
    paths: int = 0
    costs: Mapping[str, float] | None = None
    pooled: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    stages: tuple[StageCredits, ...] | None = None

    def __post_init__(self) -> None:
        check_totals(self.credits, self.conversions_attributed, "conversions")
        if self.revenue_credits is not None and self.revenue_attributed is not None:
            check_totals(self.revenue_credits, self.revenue_attributed, "revenue")

    def _channel_row(self, c: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "channel": c,
            "touches": self.touches.get(c, 0),
            "conversions": {m: self.credits[m].get(c, 0.0) for m in MODELS},
        }
        if self.revenue_credits is None:
            row["revenue"] = None
            row["revenue_reason"] = _NO_REVENUE
        else:
            row["revenue"] = {m: self.revenue_credits[m].get(c, 0.0) for m in MODELS}
        row["removal_effect"] = self.markov["removal_effects"].get(c)
        if self.costs is None:
            row.update(cost=None, cost_reason=_NO_SPEND, cost_per_conversion=None, roi=None)
            row["cost_per_conversion_reason"] = row["roi_reason"] = _NO_SPEND
            return row
        cost = self.costs.get(c)
        row["cost"] = cost
        if cost is None:
            why = f"the spend table has no cost for channel '{c}' in the range"
            row.update(cost_reason=why, cost_per_conversion=None, roi=None)
            row["cost_per_conversion_reason"] = row["roi_reason"] = why
            return row
        per: dict[str, float | None] = {}
        roi: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for m in MODELS:
            k = self.credits[m].get(c, 0.0)
            per[m] = cost / k if k > 1e-12 else None
            if per[m] is None:
                reasons[f"cost_per_conversion.{m}"] = "no conversion credited to the channel"
            if self.revenue_credits is None:
                roi[m] = None
            elif cost == 0:
                roi[m] = None
                reasons[f"roi.{m}"] = "the cost is 0: no return on nothing"
            else:
                roi[m] = (self.revenue_credits[m].get(c, 0.0) - cost) / cost
        row["cost_per_conversion"] = per
        row["roi"] = roi
        if self.revenue_credits is None:
            row["roi"] = None
            row["roi_reason"] = _NO_REVENUE
        if reasons:
            row["reasons"] = reasons
        return row

    def to_dict(self) -> dict[str, Any]:
        totals = {
            m: {
                "conversions": sum(self.credits[m].values()),
                "revenue": None if self.revenue_credits is None else sum(self.revenue_credits[m].values()),
            }
            for m in MODELS
        }
        out: dict[str, Any] = {
            "conversion": self.conversion,
            "models": list(MODELS),
            "conversions": self.conversions,
            "conversions_attributed": self.conversions_attributed,
            "conversions_without_touches": self.conversions - self.conversions_attributed,
            "non_converting_journeys": self.non_converting_journeys,
            "paths": self.paths,
            "revenue": self.revenue,
            "revenue_attributed": self.revenue_attributed,
            "channels": [self._channel_row(c) for c in self.channels],
            "totals": totals,
            "markov": dict(self.markov),
            "pooled": list(self.pooled),
            "has_spend": self.costs is not None,
        }
        if self.revenue is None:
            out["revenue_reason"] = out["revenue_attributed_reason"] = _NO_REVENUE
        if self.costs is not None:
            out["cost"] = sum(self.costs.values())
        out["stages"] = self.stages_dict()
        if self.stages is None:
            out["stages_reason"] = _NO_STAGES
        out["spec"] = dict(self.spec)
        out["meta"] = dict(self.meta)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per channel: ``<model>`` conversions, ``revenue_<model>``, with a spend
        table ``cost``, ``cpa_<model>`` and ``roi_<model>``, with the stages ``stage_<stage>`` (the
        stage's customers credited to the channel); empty cells' reasons in ``note``."""
        flat = []
        for r in self.to_dict()["channels"]:
            row: dict[str, Any] = {"channel": r["channel"], "touches": r["touches"]}
            notes: dict[str, None] = {}
            for m in MODELS:
                row[m] = r["conversions"][m]
            for m in MODELS:
                row[f"revenue_{m}"] = None if r["revenue"] is None else r["revenue"][m]
            row["removal_effect"] = r["removal_effect"]
            if self.costs is not None:
                row["cost"] = r["cost"]
                for m in MODELS:
                    per = r["cost_per_conversion"]
                    row[f"cpa_{m}"] = None if per is None else per[m]
                for m in MODELS:
                    roi = r["roi"]
                    row[f"roi_{m}"] = None if roi is None else roi[m]
                notes.update(dict.fromkeys(r.get("reasons", {}).values()))
            for k, v in r.items():
                if k.endswith("_reason"):
                    notes[str(v)] = None
            if self.stages is not None:
                for s in self.stages:
                    row[f"stage_{s.stage}"] = None if s.credits is None else s.credits.get(r["channel"], 0.0)
                    if s.credits is None:
                        notes[f"stage {s.stage} not measured (no event of it in the range)"] = None
            row["note"] = "; ".join(notes) or None
            flat.append(row)
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def stages_dict(self) -> dict[str, Any] | None:
        """The ``stages`` block: the chosen model, the lookback, and per stage (in the model's
        order) its customers, those with and without a touch, the credits per channel (every
        channel of the result, in its order) and, with a spend table, the cost per credited
        customer."""
        if self.stages is None:
            return None
        return {
            "credit_model": self.spec.get("credit_model"),
            "lookback": self.spec.get("lookback"),
            "channels": list(self.channels),
            "stages": [s.to_dict(self.channels, self.costs) for s in self.stages],
        }

    def stage_rows(self) -> list[dict[str, Any]]:
        """The stages table flat: one row per channel (customers credited per stage), then the row
        ``(no touch)`` (customers without a touch) and ``(entered)`` (the stage's customers); an
        unmeasured stage is empty (None) in every row."""
        block = self.stages_dict()
        if block is None:
            return []
        out: list[dict[str, Any]] = []
        for c in self.channels:
            row: dict[str, Any] = {"channel": c}
            for s in block["stages"]:
                row[s["stage"]] = None if s["credits"] is None else s["credits"][c]
            out.append(row)
        for name, key in (("(no touch)", "without_touch"), ("(entered)", "customers")):
            out.append({"channel": name, **{s["stage"]: s[key] for s in block["stages"]}})
        return out


def check_totals(credits: Mapping[str, Mapping[str, float]], expected: float, what: str) -> None:
    """Every model's credits add up to ``expected``: else a bug (EngineError HG381)."""
    for m in MODELS:
        got = sum(credits[m].values())
        if not _close(got, expected) or any(x < -1e-9 for x in credits[m].values()):
            raise EngineError(
                f"attribution: the {m} credits of {what} add up to {got!r}, not {expected!r}",
                code="HG381",
                hint=_BUG,
            )


def _markov_counts(rows: Sequence[Mapping[str, Any]], order: int) -> Counter[tuple[Node, Node]]:
    """The engine's per-touch GROUP BY (``l0`` the touch's channel, ``l1``.. the earlier ones,
    ``is_first``, ``is_last``, ``converted``, ``n``) as transition counts."""
    counts: Counter[tuple[Node, Node]] = Counter()
    for r in rows:
        lags = [r.get(f"l{j}") for j in range(order + 1)]
        to = tuple(c for c in reversed(lags[:order]) if c is not None)
        frm: Node = START if r["is_first"] else tuple(c for c in reversed(lags[1:]) if c is not None)
        n = int(r["n"])
        counts[(frm, to)] += n
        if r["is_last"]:
            counts[(to, CONVERSION if r["converted"] else NULL)] += n
    return +counts


def assemble_attribution(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    spec: AttributionSpec,
    *,
    conversion: str,
    has_revenue: bool,
    costs: Mapping[str, float] | None = None,
    pooled: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
    stages: Sequence[Step] = (),
) -> AttributionResult:
    """The result from the engine's rows: ``paths`` (path, conversions, non_conversions, revenue),
    ``markov`` (the transition GROUP BY), ``decay`` (channel, conv, rev), ``touches`` (channel,
    touches) and ``totals`` (conversions, revenue). The transition counts must equal the ones the
    paths imply, and every model's credits must add up (else a bug, HG381/HG382)."""
    paths = [
        PathRow(
            parse_path(r["path"]),
            int(r["conversions"] or 0),
            int(r["non_conversions"] or 0),
            float(r["revenue"] or 0.0) if has_revenue else 0.0,
        )
        for r in rows["paths"]
    ]
    paths = [p for p in paths if p.channels]
    attributed = sum(p.conversions for p in paths)
    rev_attr = sum(p.revenue for p in paths)
    touches = {str(r["channel"]): int(r["touches"]) for r in rows["touches"]}
    channels_set = set(touches) | {c for p in paths for c in p.channels}
    if costs is not None:
        channels_set |= set(costs)
    channels = tuple(sorted(channels_set, key=lambda c: (-touches.get(c, 0), c)))

    heur = heuristic_credits(paths, position=spec.position, direct=spec.direct)
    conv: dict[str, dict[str, float]] = {m: dict(heur[m][0]) for m in heur}
    rev: dict[str, dict[str, float]] = {m: dict(heur[m][1]) for m in heur}
    conv["time_decay"] = {str(r["channel"]): float(r["conv"] or 0.0) for r in rows["decay"]}
    rev["time_decay"] = {str(r["channel"]): float(r["rev"] or 0.0) for r in rows["decay"]}

    counts = _markov_counts(rows["markov"], spec.markov_order)
    expected = +transitions_from_paths(paths, spec.markov_order)
    if counts != expected:
        raise EngineError(
            "attribution: the engine's Markov transition counts differ from the ones its paths imply",
            code="HG382",
            hint=_BUG,
        )
    touched = sorted({c for p in paths for c in p.channels})
    m_conv, m_rev, p_conv, effects = markov_credits(counts, touched, attributed, rev_attr)
    conv["markov"], rev["markov"] = m_conv, m_rev
    conv["shapley"], rev["shapley"] = shapley_credits(paths)
    conv["shapley_rate"], rev["shapley_rate"] = shapley_credits(paths, rate=True)

    total = rows["totals"][0] if rows["totals"] else {}
    states = {a for a, _ in counts if isinstance(a, tuple)} - {START}
    stage_credits = assemble_stages(rows, spec, stages) if stages else None
    if stage_credits is not None:
        extra = {c for s in stage_credits for c in (s.credits or {})} - set(channels)
        channels = channels + tuple(sorted(extra))
    return AttributionResult(
        spec=spec.describe(),
        conversion=conversion,
        channels=channels,
        credits={m: conv[m] for m in MODELS},
        revenue_credits={m: rev[m] for m in MODELS} if has_revenue else None,
        conversions=int(total.get("conversions") or 0),
        conversions_attributed=attributed,
        non_converting_journeys=sum(p.non_conversions for p in paths),
        revenue=float(total.get("revenue") or 0.0) if has_revenue else None,
        revenue_attributed=rev_attr if has_revenue else None,
        touches=touches,
        markov={
            "order": spec.markov_order,
            "states": len(states),
            "conversion_probability": p_conv if paths else None,
            "removal_effects": effects,
        },
        paths=len(paths),
        costs=costs,
        pooled=tuple(pooled),
        meta=dict(meta or {}),
        stages=stage_credits,
    )


def assemble_stages(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], spec: AttributionSpec, stages: Sequence[Step]
) -> tuple[StageCredits, ...]:
    """Each stage as its own attribution (the stage's first entry per customer is the conversion;
    every check of :func:`assemble_attribution` applies), keeping the chosen model's credits."""
    by_stage: dict[int, dict[str, list[Mapping[str, Any]]]] = {}
    for name in ("paths", "markov", "decay", "totals"):
        for r in rows[f"stage_{name}"]:
            by_stage.setdefault(int(r["stage"]), {}).setdefault(name, []).append(r)
    out: list[StageCredits] = []
    for k, step in enumerate(stages, start=1):
        got = by_stage.get(k, {})
        customers = int(got["totals"][0]["customers"]) if got.get("totals") else 0
        if customers == 0:  # no event of the stage in the range: not measured, not 0
            out.append(StageCredits(step.name, step.label, step.events, None, None, None))
            continue
        touches: Counter[str] = Counter()
        for r in got.get("paths", []):
            for c in parse_path(r["path"]):
                touches[c] += int(r["conversions"] or 0) + int(r["non_conversions"] or 0)
        one = assemble_attribution(
            {
                "paths": got.get("paths", []),
                "markov": got.get("markov", []),
                "decay": [
                    {"channel": r["channel"], "conv": r["conv"], "rev": 0.0} for r in got.get("decay", [])
                ],
                "touches": [{"channel": c, "touches": n} for c, n in touches.items()],
                "totals": [{"conversions": customers, "revenue": None}],
            },
            spec,
            conversion=step.name,
            has_revenue=False,
        )
        credits = {c: x for c, x in one.credits[spec.credit_model].items() if abs(x) > 0}
        out.append(
            StageCredits(step.name, step.label, step.events, customers, one.conversions_attributed, credits)
        )
    return tuple(out)
