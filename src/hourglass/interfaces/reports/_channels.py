"""The channel x stage table: per acquisition channel, the customers who entered every stage
(heat-coloured by their share of the channel's customers), conversion to sale, repeat and referral
rates, revenue per customer, and with a spend table the cost, CAC and ROI
(docs/semantics-referrals.md, "Channels")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._format import EM_DASH, fmt_count, fmt_pct
from ._parts import (
    STAGE_COLORS,
    Part,
    esc,
    fmt_money,
    get_count,
    get_list,
    get_number,
    heat_style,
    na_cell,
    na_note,
    reason_of,
)

__all__ = ["channels_part", "channels_table", "not_measured_part", "outcomes_table"]


def _stage_names(channels: Sequence[Mapping[str, Any]], stages: Sequence[str] | None) -> list[str]:
    if stages:
        return [str(s) for s in stages]
    names: list[str] = []
    for c in channels:
        for s in get_list(c, "stages"):
            name = str(s.get("stage"))
            if name not in names:
                names.append(name)
    return names


def _money_cell(row: Mapping[str, Any], key: str) -> str:
    value = get_number(row, key)
    if value is None and reason_of(row, key):
        return na_cell(reason_of(row, key))
    return f"<td>{fmt_money(value)}</td>"


def _rate_cell(row: Mapping[str, Any], key: str, best: float | None) -> str:
    value = get_number(row, key)
    if value is None and reason_of(row, key):
        return na_cell(reason_of(row, key))
    style = heat_style(None if value is None or not best else value / best, color=STAGE_COLORS["post"])
    return f"<td{style}>{fmt_pct(value)}</td>"


def _channel_name(c: Mapping[str, Any]) -> str:
    return esc(c.get("channel") if c.get("channel") is not None else "(none)")


def channels_table(
    channels: Sequence[Mapping[str, Any]],
    *,
    stages: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    sale: str | None = None,
) -> str:
    """The channel x stage table: customers who entered each stage, heat-coloured by their share of
    the channel's customers (no section around it)."""
    names = _stage_names(channels, stages)
    labels = labels or {}
    heads = []
    for name in names:
        cls = ' class="sale"' if name == sale else ""
        heads.append(f'<th{cls} title="{esc(labels.get(name, name))}">{esc(name.replace("_", " "))}</th>')
    head = (
        '<thead><tr><th rowspan="2" class="step">Channel</th><th rowspan="2">Customers</th>'
        f'<th colspan="{len(names)}" class="group">Customers who entered each stage</th></tr>'
        f"<tr>{''.join(heads)}</tr></thead>"
    )
    body = []
    for c in channels:
        customers = get_count(c, "customers")
        entered = {str(s.get("stage")): get_count(s, "entered") for s in get_list(c, "stages")}
        missing = {str(s.get("stage")): str(s["reason"]) for s in get_list(c, "stages") if s.get("reason")}
        cells = [f'<td class="step">{_channel_name(c)}</td>', f"<td>{fmt_count(customers)}</td>"]
        for name in names:
            if name in missing:
                cells.append(na_cell(missing[name]))
                continue
            n = entered.get(name)
            share = n / customers if n is not None and customers else None
            title = f' title="{esc(fmt_pct(share))} of the channel\'s customers"' if share is not None else ""
            cells.append(f"<td{heat_style(share)}{title}>{fmt_count(n)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table class="channels">{head}<tbody>{"".join(body)}</tbody></table></div>'
    )


def outcomes_table(channels: Sequence[Mapping[str, Any]]) -> str:
    """Per channel: conversion to sale, repeat and referral rates (coloured against the best
    channel), revenue per customer, and with spend the cost, CAC and ROI."""
    spend = any("cost" in c for c in channels)
    best = {
        key: max((get_number(c, key) or 0.0 for c in channels), default=0.0)
        for key in ("conversion_to_sale", "repeat_rate", "referral_rate")
    }
    money = "<th>Cost</th><th>Cost / customer</th><th>CAC</th><th>ROI</th>" if spend else ""
    head = (
        '<thead><tr><th class="step">Channel</th><th>To sale</th><th>Repeat</th><th>Refer</th>'
        f"<th>Revenue / customer</th>{money}</tr></thead>"
    )
    body = []
    for c in channels:
        cells = [
            f'<td class="step">{_channel_name(c)}</td>',
            _rate_cell(c, "conversion_to_sale", best["conversion_to_sale"]),
            _rate_cell(c, "repeat_rate", best["repeat_rate"]),
            _rate_cell(c, "referral_rate", best["referral_rate"]),
            _money_cell(c, "revenue_per_customer"),
        ]
        if spend:
            roi = get_number(c, "roi")
            roi_cls = "" if roi is None else (' class="good"' if roi >= 0 else ' class="bad"')
            cells.append(_money_cell(c, "cost"))
            cells.append(_money_cell(c, "cost_per_customer"))
            cells.append(_money_cell(c, "cac"))
            if roi is None and reason_of(c, "roi"):
                cells.append(na_cell(reason_of(c, "roi")))
            else:
                cells.append(f"<td{roi_cls}>{EM_DASH if roi is None else f'{roi * 100:+.0f}%'}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table class="outcomes">{head}<tbody>{"".join(body)}</tbody></table></div>'
    )


def channels_part(
    channels: Sequence[Mapping[str, Any]],
    *,
    stages: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    sale: str | None = None,
    zero_cost_share: float | None = None,
    warnings: Sequence[str] = (),
) -> Part:
    """The channels section: which channels bring customers who stay (``warnings``: the channel
    table's notes, e.g. a spend channel that matched nobody)."""
    spend = any("cost" in c for c in channels)
    parts = [
        '<section class="card" id="channels"><div class="section-head"><h2>Channels across the hourglass'
        "</h2></div>"
        '<p class="description">Per acquisition channel (the channel of a customer\'s first touch): how '
        "far its customers get, before and after the sale. Cell colour: the share of the channel's "
        "customers who entered the stage; rate colours compare the channels.</p>",
    ]
    if channels:
        parts.append(channels_table(channels, stages=stages, labels=labels, sale=sale))
        parts.append(
            "<h3>Which channels bring customers who stay" + (" and pay back" if spend else "") + "</h3>"
        )
        parts.append(outcomes_table(channels))
        notes = []
        if spend:
            notes.append(
                "CAC: cost / purchasers acquired in the periods the spend table covers; ROI: (their "
                "revenue \u2212 cost) / cost."
            )
        if zero_cost_share is not None:
            notes.append(f"{fmt_pct(zero_cost_share)} of customers were acquired at zero cost.")
        if notes:
            parts.append(f'<p class="note">{esc(" ".join(notes))}</p>')
        parts.extend(f'<p class="note warning">{esc(w)}</p>' for w in warnings)
        keys = ["conversion_to_sale", "repeat_rate", "referral_rate", "revenue_per_customer"]
        keys += ["cac", "roi"] if spend else []
        reasons = dict.fromkeys(reason_of(c, k) for c in channels for k in keys if reason_of(c, k))
        parts.extend(na_note("Some cells", why) for why in reasons)
    else:
        parts.append('<p class="empty">No channel results.</p>')
    parts.append("</section>")
    return Part("channels", "Channels", f"{len(channels)}", "".join(parts))


def not_measured_part(anchor: str, title: str, reason: str) -> Part:
    """A section the data cannot give (no referrer column, no channel column): what is missing
    and how to map it, instead of a section of zeros."""
    body = (
        f'<section class="card" id="{esc(anchor)}"><div class="section-head"><h2>{esc(title)}</h2></div>'
        f"{na_note(title, reason)}</section>"
    )
    return Part(anchor, title, "not measured", body)
