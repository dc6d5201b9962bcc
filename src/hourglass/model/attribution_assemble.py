"""Multi-touch attribution's assembly (docs/semantics-attribution.md): the engine's small tables
(distinct paths, transition counts, per-channel sums) into the result of model/attribution_result.py,
every credit model's totals checked against the conversions they share out; and each hourglass stage
as its own attribution. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
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
from hourglass.model.attribution_result import _BUG, AttributionResult, StageCredits, parse_path
from hourglass.model.errors import EngineError
from hourglass.model.steps import Step

__all__ = ["assemble_attribution", "assemble_stages"]


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
