"""The lifecycle's result: stages, where customers are lost, after-sale metrics, and (plugged in) the
referral loop and channels. Renders itself as a dict (the JSON shape), rows (CSV) and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hourglass.model.after_sale import AfterSale
from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import ratio, wilson

__all__ = ["LifecycleResult", "StageStat", "stage_rows"]


class _Part(Protocol):
    def to_dict(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...


@dataclass(frozen=True)
class StageStat:
    """Counts per stage (docs/semantics-lifecycle.md): customers who *entered* it, whose *furthest*
    stage it is, whose *current* (last entered) stage it is, who *continued* past it (entered it and a
    later stage of the model), and the median/p90 time in it (entry to the next stage entered)."""

    stage: str
    label: str
    entered: int
    furthest: int
    current: int
    continued: int
    median_time_s: float | None = None
    p90_time_s: float | None = None


def stage_rows(stages: tuple[StageStat, ...], customers: int) -> list[dict[str, Any]]:
    rows = []
    last = len(stages) - 1
    for i, s in enumerate(stages):
        conv = None if i == last else ratio(s.continued, s.entered)
        lo, hi = (None, None) if i == last else wilson(s.continued, s.entered)
        lost = None if i == last else s.entered - s.continued
        rows.append(
            {
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
            }
        )
    return rows


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
class LifecycleResult:
    model: str
    kind: str
    sale: str | None
    customers: int
    stages: tuple[StageStat, ...]
    after_sale: AfterSale | None = None
    referrals: _Part | None = None
    channels: _Part | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def purchasers(self) -> int | None:
        if self.sale is None:
            return None
        return next(s.entered for s in self.stages if s.stage == self.sale)

    def rows(self) -> list[dict[str, Any]]:
        """One row per stage (CSV, pandas)."""
        return stage_rows(self.stages, self.customers)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict[str, Any]:
        rows = self.rows()
        out: dict[str, Any] = {
            "model": self.model,
            "kind": self.kind,
            "sale_stage": self.sale,
            "customers": self.customers,
            "purchasers": self.purchasers,
            "stages": rows,
            "biggest_loss": _biggest(rows),
        }
        # the headline keys are always there; null when the data cannot give them (see meta.note)
        out["repeat_rate"] = None
        if self.after_sale is not None:
            after = self.after_sale.to_dict()
            out["repeat_rate"] = after["purchases"]["repeat_rate"]
            out["after_sale"] = after
        out["referred_purchasers"] = out["k_factor"] = None
        if self.referrals is not None:
            ref = self.referrals.to_dict()
            for key in ("referred_purchasers", "k_factor"):
                out[key] = ref.get(key)
            out["referrals"] = ref
        if self.channels is not None:
            chan = self.channels.to_dict()
            out["channels"] = chan.get("channels", [])
            for key in ("zero_cost_customers", "zero_cost_share", "cost"):
                if key in chan:
                    out[f"channels_{key}"] = chan[key]
            if chan.get("warnings"):
                out["channels_warnings"] = chan["warnings"]
        out["meta"] = self.meta
        return out

    def to_text(self) -> str:
        d = self.to_dict()
        head = ("stage", "entered", "furthest", "current", "went further", "lost", "median in stage")
        lines = [
            [
                r["stage"],
                str(r["entered"]),
                str(r["furthest"]),
                str(r["current"]),
                format_percent(r["conversion"]),
                "-" if r["lost"] is None else str(r["lost"]),
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
        big = d["biggest_loss"]
        if big["absolute"]:
            out.append(
                f"most customers lost at: {big['absolute']['stage']} ({big['absolute']['lost']:,}); "
                f"highest loss rate at: {big['relative']['stage']} "
                f"({format_percent(big['relative']['lost_share'])})"
            )
        if self.after_sale is not None:
            out.extend(self.after_sale.lines())
        if self.referrals is not None:
            out.extend(self.referrals.to_text().splitlines())
        if "channels_zero_cost_share" in d and d["channels_zero_cost_share"] is not None:
            out.append(
                f"acquired at zero cost (referrals, free periods): {d['channels_zero_cost_customers']:,} "
                f"customers ({format_percent(d['channels_zero_cost_share'])})"
            )
        out.extend(f"note: {w}" for w in d.get("channels_warnings", []))
        if "note" in self.meta:
            out.append(f"note: {self.meta['note']}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()
