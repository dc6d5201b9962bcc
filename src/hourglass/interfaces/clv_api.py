"""The Python API of customer lifetime value: ``hourglass.clv(source, fit="bgnbd")`` and
``hourglass.sbg_fit([1000, 631, 468, ...])`` (docs/semantics-clv.md)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hourglass.analyses.clv_summary import summary_plan
from hourglass.engine.plan import execute_plan
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.ingest.spend import read_spend
from hourglass.interfaces.api import by_column
from hourglass.interfaces.api import events as load
from hourglass.model.clv import ClvResult, ClvSpec, assemble_clv, day_of, sbg_fit
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.schema import ColumnMapping
from hourglass.model.steps import Step

__all__ = ["clv", "clv_summary", "sbg_fit"]


def _purchase_step(model: str | JourneyModel, purchase_events: Sequence[str] | None, cfg: Config) -> Step:
    if purchase_events:
        return Step("purchases", tuple(purchase_events))
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    step = jm.purchase_step
    if step is None:
        raise SpecError(
            f"model '{jm.name}' names no sale stage and no purchase events",
            code="HG184",
            hint="give the purchase events: --purchase-events purchase,repeat_purchase",
        )
    return step


def clv_summary(
    source: Any,
    *,
    model: str | JourneyModel = "hourglass",
    purchase_events: Sequence[str] | None = None,
    calibration_end: Any = None,
    channel: bool = True,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> dict[str, Any]:
    """The engine's per-customer summary rows (``summary``, ``span``) and what the source lacks
    (``revenue_reason``, ``channel_reason``)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    step = _purchase_step(model, purchase_events, cfg)
    spec = ClvSpec.build(calibration_end=calibration_end)
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    cols = ev.table.columns
    revenue = "revenue" in cols
    ch = by_column(ev, "channel") if channel else None
    ch = ch if ch in cols else None
    plan = summary_plan(
        ev.table,
        step,
        calibration_end_day=day_of(spec.calibration_end) if spec.calibration_end else None,
        revenue=revenue,
        channel=ch,
    )
    rows = execute_plan(ev.engine, plan)
    return {
        "summary": rows["summary"],
        "span": rows["span"][0] if rows["span"] else {},
        "revenue_reason": None
        if revenue
        else "the source has no revenue column: map it with --revenue-col COLUMN (expected spend and CLV "
        "need the purchases' values)",
        "channel_reason": None
        if ch
        else "the source has no channel column: map it with --channel-col COLUMN for CLV by channel",
    }


def clv(
    source: Any,
    fit: str = "bgnbd",
    *,
    model: str | JourneyModel = "hourglass",
    purchase_events: Sequence[str] | None = None,
    period: str = "week",
    calibration_end: Any = None,
    horizon: Any = "52w",
    discount_rate: float = 0.1,
    spend: Any = None,
    customers: str | Path | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> ClvResult:
    """Fit BG/NBD or Pareto/NBD (``fit``) and Gamma-Gamma to the purchases of ``source`` (the
    model's sale stage, or ``purchase_events``) and predict per customer (docs/semantics-clv.md).
    ``customers`` writes the per-customer table (.csv or .parquet); ``spend`` (a CSV of channel,
    period, cost) adds CAC next to CLV by channel."""
    spec = ClvSpec.build(
        fit, period=period, calibration_end=calibration_end, horizon=horizon, discount_rate=discount_rate
    )
    if customers is not None and Path(customers).suffix.lower() not in (".parquet", ".csv"):
        raise SpecError(
            f"--customers: write a .parquet or .csv file, not '{Path(customers).name}'",
            code="HG187",
            hint="e.g. --customers clv.csv",
        )
    spend_table = read_spend(spend) if spend is not None else None
    data = clv_summary(
        source,
        model=model,
        purchase_events=purchase_events,
        calibration_end=calibration_end,
        columns=columns,
        engine=engine,
        table=table,
        config=config,
    )
    result = assemble_clv(
        spec,
        data["summary"],
        data["span"],
        revenue_reason=data["revenue_reason"],
        channel_reason=data["channel_reason"],
        spend=spend_table,
    )
    if customers is not None:
        _write_customers(result.customers, Path(customers))
    return result


def _write_customers(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """The per-customer table, written whole or not at all (a failed write is HG425 naming it)."""
    from hourglass.ingest.outputs import atomic_open

    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_open(path, "wb", option="--customers") as out:
            pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), out)
        return
    with atomic_open(path, newline="", option="--customers") as fh:
        keys = list(rows[0]) if rows else ["customer"]
        w = csv.DictWriter(fh, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
