"""The lifecycle's result: stages, where customers are lost, after-sale metrics, and (plugged in) the
referral loop and channels. Renders itself as a dict (the JSON shape), rows (CSV) and text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hourglass.model.after_sale import AfterSale
from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import ratio, wilson

__all__ = [
    "COUNT_DEFINITION",
    "LifecycleGroup",
    "LifecycleResult",
    "StageStat",
    "flat_rows",
    "stage_reason",
    "stage_rows",
]


class _Part(Protocol):
    def to_dict(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...


@dataclass(frozen=True)
class StageStat:
    """Counts per stage (docs/semantics-lifecycle.md): customers who *entered* it, whose *furthest*
    stage it is, whose *current* (last entered) stage it is, who *continued* past it (entered it and a
    later stage of the model), and the median/p90 time in it (entry to the next stage entered).
    ``events``: the stage's event names or patterns (for the reason when nobody entered it)."""

    stage: str
    label: str
    entered: int
    furthest: int
    current: int
    continued: int
    median_time_s: float | None = None
    p90_time_s: float | None = None
    events: tuple[str, ...] = ()


#: what a lifecycle count is (docs/semantics-lifecycle.md): to tell it from a funnel's
COUNT_DEFINITION = (
    "ever entered the stage: customers with at least one of its events in the range, in any order and "
    "with no window (a funnel counts who reached a step in order within its window)"
)
_UNMEASURED = (
    "entered",
    "entered_share",
    "furthest",
    "current",
    "continued",
    "conversion",
    "conversion_low",
    "conversion_high",
    "lost",
    "lost_share",
    "median_time_in_stage_s",
    "p90_time_in_stage_s",
)


def stage_reason(s: StageStat, where: str = "in the source") -> str:
    """Why a stage nobody entered is not measured: none of its events is in the events analysed."""
    events = ", ".join(s.events) if s.events else s.stage
    return (
        f"no event of stage '{s.stage}' ({events}) {where}: map the stage to your events in a model "
        "file (hourglass models suggest SOURCE) or pick another --model"
    )


def stage_rows(
    stages: tuple[StageStat, ...],
    customers: int,
    *,
    measured: frozenset[str] | None = None,
    where: str = "in the source",
) -> list[dict[str, Any]]:
    """One dict per stage. A stage is *measured* when some event of the range belongs to it (given
    as ``measured``; default: someone entered it); the counts of a stage that is not are null with
    ``<key>_reason``, and so is the conversion of a stage with no measured stage after it."""
    if measured is None:
        measured = frozenset(s.stage for s in stages if s.entered > 0)
    rows = []
    last = len(stages) - 1
    for i, s in enumerate(stages):
        conv = None if i == last else ratio(s.continued, s.entered)
        lo, hi = (None, None) if i == last else wilson(s.continued, s.entered)
        lost = None if i == last else s.entered - s.continued
        row: dict[str, Any] = {
            "stage": s.stage,
            "label": s.label,
            "entered": s.entered,
            "entered_share": ratio(s.entered, customers),
            "furthest": s.furthest,
            "current": s.current,
            "continued": None if i == last else s.continued,
            "conversion": conv,
            "conversion_low": lo,
            "conversion_high": hi,
            "lost": lost,
            "lost_share": None if lost is None else ratio(lost, s.entered),
            "median_time_in_stage_s": s.median_time_s,
            "p90_time_in_stage_s": s.p90_time_s,
            "measured": s.stage in measured,
        }
        if s.stage not in measured:
            why = stage_reason(s, where)
            row.update({k: None for k in _UNMEASURED})
            row.update(entered_reason=why, conversion_reason=why, lost_reason=why)
        elif i == last:
            row["conversion_reason"] = "the model's last stage: there is no later stage to go on to"
        elif not any(t.stage in measured for t in stages[i + 1 :]):
            why = "no later stage of the model is in the events: nobody can be seen going further"
            row.update(continued=None, conversion=None, conversion_low=None, conversion_high=None)
            row.update(lost=None, lost_share=None, conversion_reason=why, lost_reason=why)
        elif s.entered == 0:
            row["conversion_reason"] = "nobody entered the stage"
        rows.append(row)
    return rows


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the same keys (CSV): the ``<key>_reason`` keys joined into one ``note`` column."""
    out = []
    for r in rows:
        reasons = dict.fromkeys(v for k, v in r.items() if k.endswith("_reason"))
        flat = {k: v for k, v in r.items() if not k.endswith("_reason")}
        flat["note"] = "; ".join(str(x) for x in reasons) or None
        out.append(flat)
    return out


def _biggest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    candidates = [r for r in rows if r["lost"] is not None and r["entered"] > 0]
    if not candidates:
        return {"absolute": None, "relative": None}
    a = max(candidates, key=lambda r: (r["lost"], -rows.index(r)))
    b = max(candidates, key=lambda r: (r["lost_share"], -rows.index(r)))
    return {
        "absolute": {"stage": a["stage"], "lost": a["lost"], "lost_share": a["lost_share"]},
        "relative": {"stage": b["stage"], "lost": b["lost"], "lost_share": b["lost_share"]},
    }


@dataclass(frozen=True)
class LifecycleGroup:
    """The stage counts of the customers whose ``by`` value (at their first event) is ``value``
    (``"(other)"``: the values after the top ones; None: no value)."""

    value: Any
    customers: int
    stages: tuple[StageStat, ...]


@dataclass(frozen=True)
class LifecycleResult:
    """``reasons``: part -> why it is not measured (``after_sale``, ``referrals``, ``channels``);
    such a part is null with ``<part>_reason`` (docs/adr/0006-not-measured.md). ``where`` says which
    events were read ("in the source", "in the range") in the reasons."""

    model: str
    kind: str
    sale: str | None
    customers: int
    stages: tuple[StageStat, ...]
    after_sale: AfterSale | None = None
    referrals: _Part | None = None
    channels: _Part | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    reasons: Mapping[str, str] = field(default_factory=dict)
    where: str = "in the source"
    breakdown: str | None = None
    groups: tuple[LifecycleGroup, ...] = ()

    @property
    def measured(self) -> frozenset[str]:
        """The stages some event of the range belongs to (someone entered them)."""
        return frozenset(s.stage for s in self.stages if s.entered > 0)

    @property
    def purchasers(self) -> int | None:
        if self.sale is None:
            return None
        return next(s.entered for s in self.stages if s.stage == self.sale)

    def _reason(self, part: str) -> str:
        return self.reasons.get(part, "not computed")

    def stage_dicts(self) -> list[dict[str, Any]]:
        return stage_rows(self.stages, self.customers, measured=self.measured, where=self.where)

    def group_dicts(self) -> list[dict[str, Any]]:
        out = []
        for g in self.groups:
            rows = stage_rows(g.stages, g.customers, measured=self.measured, where=self.where)
            sale = next((r for r in rows if r["stage"] == self.sale), None)
            out.append(
                {
                    "value": g.value,
                    "customers": g.customers,
                    "purchasers": None if sale is None else sale["entered"],
                    "stages": rows,
                }
            )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per stage, or per group and stage with a breakdown (CSV, pandas); a ``note``
        column holds the reasons of the empty cells."""
        if self.breakdown is None:
            return flat_rows(self.stage_dicts())
        flat = []
        for g in self.group_dicts():
            for row in flat_rows(g["stages"]):
                flat.append({self.breakdown: g["value"], "group_customers": g["customers"], **row})
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict[str, Any]:
        rows = self.stage_dicts()
        out: dict[str, Any] = {
            "model": self.model,
            "kind": self.kind,
            "sale_stage": self.sale,
            "count_definition": COUNT_DEFINITION,
            "customers": self.customers,
            "purchasers": self.purchasers,
        }
        if self.sale is not None and self.sale not in self.measured:
            out["purchasers"] = None
            out["purchasers_reason"] = next(r["entered_reason"] for r in rows if r["stage"] == self.sale)
        elif self.sale is None:
            out["purchasers_reason"] = self._reason("after_sale")
        out["stages"] = rows
        out["biggest_loss"] = _biggest(rows)
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = self.group_dicts()
        # the headline keys are always there; null with a reason when the data cannot give them
        if self.after_sale is not None:
            after = self.after_sale.to_dict()
            purchases = after["purchases"]
            out["repeat_rate"] = purchases["repeat_rate"]
            if "repeat_rate_reason" in purchases:
                out["repeat_rate_reason"] = purchases["repeat_rate_reason"]
            out["after_sale"] = after
        else:
            out.update(repeat_rate=None, repeat_rate_reason=self._reason("after_sale"))
            out.update(after_sale=None, after_sale_reason=self._reason("after_sale"))
        if self.referrals is not None:
            ref = self.referrals.to_dict()
            for key in ("referred_purchasers", "k_factor"):
                out[key] = ref.get(key)
                if f"{key}_reason" in ref:
                    out[f"{key}_reason"] = ref[f"{key}_reason"]
            out["referrals"] = ref
        else:
            why = self._reason("referrals")
            out.update(referred_purchasers=None, referred_purchasers_reason=why, k_factor=None)
            out.update(k_factor_reason=why, referrals=None, referrals_reason=why)
        if self.channels is not None:
            chan = self.channels.to_dict()
            out["channels"] = chan.get("channels", [])
            for key in ("zero_cost_customers", "zero_cost_share", "cost"):
                if key in chan:
                    out[f"channels_{key}"] = chan[key]
            if chan.get("warnings"):
                out["channels_warnings"] = chan["warnings"]
        else:
            out.update(channels=None, channels_reason=self._reason("channels"))
        out["meta"] = {**self.meta, "count_definition": COUNT_DEFINITION}
        return out

    def stage_notes(self) -> list[str]:
        """One line per stage that is not measured (the table prints "not measured" in its cells)."""
        return [
            f"{r['stage']}: not measured ({r['entered_reason']})"
            for r in self.stage_dicts()
            if r["entered"] is None
        ]

    def to_text(self) -> str:
        d = self.to_dict()
        head = ("stage", "ever entered", "furthest", "current", "went further", "lost", "median in stage")

        def num(r: dict[str, Any], key: str) -> str:
            if r[key] is not None:
                return str(r[key])
            return "not measured" if key == "entered" else "-"

        lines = [
            [
                r["stage"],
                num(r, "entered"),
                num(r, "furthest"),
                num(r, "current"),
                format_percent(r["conversion"]),
                num(r, "lost"),
                format_duration(r["median_time_in_stage_s"]),
            ]
            for r in d["stages"]
        ]
        widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]

        def fmt(cells: list[str] | tuple[str, ...]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        out = [f"{self.model}: {self.customers:,} customers", fmt(head), *(fmt(x) for x in lines)]
        for g in d.get("groups", []):
            entered = ", ".join(
                f"{r['stage']} {'not measured' if r['entered'] is None else r['entered']}"
                for r in g["stages"]
            )
            value = "(none)" if g["value"] is None else g["value"]
            out.append(f"{self.breakdown} = {value}: {g['customers']:,} customers; ever entered: {entered}")
        out.extend(self.summary_lines())
        return "\n".join(out)

    def summary_lines(self) -> list[str]:
        """The lines after the stage table: what the counts are, where customers are lost, after the
        sale, the referral loop and the notes."""
        d = self.to_dict()
        out = [f"counts: {COUNT_DEFINITION}"]
        out.extend(self.stage_notes())
        big = d["biggest_loss"]
        if big["absolute"]:
            out.append(
                f"most customers lost at: {big['absolute']['stage']} ({big['absolute']['lost']:,}); "
                f"highest loss rate at: {big['relative']['stage']} "
                f"({format_percent(big['relative']['lost_share'])})"
            )
        if self.after_sale is not None:
            out.extend(self.after_sale.lines())
        else:
            out.append(f"after the sale: not measured ({d['after_sale_reason']})")
        if self.referrals is not None:
            out.extend(self.referrals.to_text().splitlines())
        else:
            out.append(f"referral loop: not measured ({d['referrals_reason']})")
        if self.channels is None:
            out.append(f"channels: not measured ({d['channels_reason']})")
        if "channels_zero_cost_share" in d and d["channels_zero_cost_share"] is not None:
            out.append(
                f"acquired at zero cost (referrals, free periods): {d['channels_zero_cost_customers']:,} "
                f"customers ({format_percent(d['channels_zero_cost_share'])})"
            )
        out.extend(f"note: {w}" for w in d.get("channels_warnings", []))
        if "note" in self.meta:
            out.append(f"note: {self.meta['note']}")
        out.extend(f"note: {n}" for n in self.meta.get("notes", []))
        return out

    def __str__(self) -> str:
        return self.to_text()
