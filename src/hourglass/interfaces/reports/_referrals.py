"""The referral loop ("turning the hourglass over"): key figures, the referral tree by generation
as a sunburst, the referred share of new customers per period and the top referrers. Reads the
referral result's dict (docs/semantics-referrals.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout
from ._format import fmt_count, fmt_duration, fmt_pct
from ._parts import (
    Part,
    esc,
    fmt_money,
    get_count,
    get_list,
    get_map,
    get_number,
    na_tile,
    reason_of,
    tile,
    tiles,
)

__all__ = ["REFERRAL_PERIODS_DIV_ID", "REFERRAL_TREE_DIV_ID", "referral_part", "referral_tree_figure"]

REFERRAL_TREE_DIV_ID = "hg-referral-tree"
REFERRAL_PERIODS_DIV_ID = "hg-referral-periods"
_RINGS = ("#4f46e5", "#0d9488", "#14b8a6", "#2dd4bf", "#5eead4", "#99f6e4")


def generations(referrals: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(generation, customers) sorted by generation, without empty generations after the deepest."""
    out = []
    for g in get_list(referrals, "generations"):
        gen, n = get_count(g, "generation"), get_count(g, "customers")
        if gen is not None and n is not None:
            out.append((gen, n))
    out.sort()
    while out and out[-1][1] == 0 and out[-1][0] > 0:
        out.pop()
    return out


def referral_tree_figure(referrals: Mapping[str, Any]) -> go.Figure:
    """Generations as nested rings: the organic customers (generation 0) in the centre, the
    customers they brought (generation 1) around them, the customers those brought around that,
    and so on. A ring's arc is its generation and every later one, as a share of all referred
    customers; each ring is labelled with its own count."""
    gens = generations(referrals)
    organic = next((n for g, n in gens if g == 0), 0)
    referred = [(g, n) for g, n in gens if g > 0]
    ids, labels, parents, values, colors, texts = [], [], [], [], [], []
    below = sum(n for _, n in referred)
    ids.append("g0")
    labels.append("organic")
    parents.append("")
    values.append(max(below, 1))
    colors.append(PALETTE["primary_dark"])
    texts.append(f"organic<br><b>{organic:,}</b>")
    parent = "g0"
    remaining = below
    for i, (g, n) in enumerate(referred):
        node = f"g{g}"
        ids.append(node)
        labels.append(f"generation {g}")
        parents.append(parent)
        values.append(remaining)
        colors.append(_RINGS[min(i + 1, len(_RINGS) - 1)])
        texts.append(f"gen {g}<br><b>{n:,}</b>")
        remaining -= n
        if remaining > 0:  # the part of this ring whose customers brought nobody further
            ids.append(f"{node}-end")
            labels.append(f"generation {g}: brought nobody further")
            parents.append(node)
            values.append(n)
            colors.append("rgba(0,0,0,0)")
            texts.append("")
        parent = node
    trace = go.Sunburst(
        ids=ids,
        labels=labels,
        parents=parents,
        values=values,
        branchvalues="total",
        text=texts,
        textinfo="text",
        insidetextorientation="horizontal",
        marker={"colors": colors, "line": {"color": "#ffffff", "width": 1.5}},
        insidetextfont={"color": "#ffffff", "size": 13},
        textfont={"color": "#ffffff", "size": 13},
        hovertemplate="<b>%{label}</b><extra></extra>",
        sort=False,
        rotation=90,
    )
    layout = _layout(height=420, margin={"l": 4, "r": 4, "t": 4, "b": 4})
    return go.Figure(data=[trace], layout=layout)


def periods_figure(referrals: Mapping[str, Any]) -> go.Figure:
    rows = get_list(referrals, "periods")
    names = [str(r.get("period")) for r in rows]
    new = [get_count(r, "new_customers") or 0 for r in rows]
    ref = [get_count(r, "referred") or 0 for r in rows]
    share = [get_number(r, "referred_share") for r in rows]
    organic = go.Bar(
        x=names,
        y=[a - b for a, b in zip(new, ref, strict=True)],
        name="other new customers",
        marker={"color": "#c7d2fe"},
        hovertemplate="%{x}: %{y:,} other new customers<extra></extra>",
    )
    referred = go.Bar(
        x=names,
        y=ref,
        name="referred",
        marker={"color": "#0d9488"},
        text=[fmt_pct(s) for s in share],
        textposition="outside",
        hovertemplate="%{x}: %{y:,} referred (%{text})<extra></extra>",
    )
    layout = _layout(
        height=260,
        barmode="stack",
        showlegend=True,
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 10, "r": 10, "t": 30, "b": 30, "pad": 4},
        yaxis={"gridcolor": PALETTE["line"], "automargin": True, "fixedrange": True},
        xaxis={"type": "category", "fixedrange": True},
    )
    return go.Figure(data=[organic, referred], layout=layout)


def _tiles(r: Mapping[str, Any]) -> str:
    k = get_number(r, "k_factor")
    low, high = get_number(r, "k_factor_low"), get_number(r, "k_factor_high")
    cycle = get_map(r, "cycle_time")
    revenue = get_map(r, "revenue")
    items = [
        na_tile("K-factor", reason_of(r, "k_factor"))
        if k is None and reason_of(r, "k_factor")
        else tile(
            "K-factor",
            "\u2014" if k is None else f"{k:.3f}",
            f"95%: {low:.3f}\u2013{high:.3f}" if low is not None and high is not None else "",
            "good",
        ),
        tile(
            "Referred purchasers",
            fmt_count(get_count(r, "referred_purchasers")),
            f"of {fmt_count(get_count(r, 'purchasers'))} purchasers",
        ),
        _rate(
            r,
            "referral_conversion",
            "Referral conversion",
            f"of {fmt_count(get_count(r, 'referees'))} referred customers bought",
        ),
        _rate(
            r, "referral_rate", "Purchasers who refer", f"{fmt_count(get_count(r, 'referrers'))} referrers"
        ),
        tile(
            "Cycle time",
            fmt_duration(get_number(cycle, "median_s")),
            "median, referrer's first purchase \u2192 referee's",
        ),
    ]
    if reason_of(r, "revenue"):
        items.append(na_tile("Revenue from referred", reason_of(r, "revenue")))
    elif get_number(revenue, "referred") is not None:
        items.append(
            tile(
                "Revenue from referred",
                fmt_pct(get_number(revenue, "referred_share")),
                f"{fmt_money(get_number(revenue, 'referred'))} of {fmt_money(get_number(revenue, 'total'))}",
            )
        )
    return tiles(items)


def _rate(r: Mapping[str, Any], key: str, label: str, sub: str) -> str:
    value = get_number(r, key)
    if value is None and reason_of(r, key):
        return na_tile(label, reason_of(r, key))
    return tile(label, fmt_pct(value), sub)


def _top_referrers(r: Mapping[str, Any], limit: int = 5) -> str:
    rows = get_list(r, "top_referrers")[:limit]
    if not rows:
        return ""
    body = "".join(
        f'<tr><td class="step"><code>{esc(x.get("customer"))}</code></td>'
        f"<td>{fmt_count(get_count(x, 'referees'))}</td>"
        f"<td>{fmt_count(get_count(x, 'referred_purchasers'))}</td>"
        f"<td>{fmt_money(get_number(x, 'referee_revenue'))}</td></tr>"
        for x in rows
    )
    head = (
        '<thead><tr><th class="step">Referrer</th><th>Referred</th><th>Who bought</th>'
        "<th>Their revenue</th></tr></thead>"
    )
    return f'<h4>Top referrers</h4><div class="table-wrap"><table>{head}<tbody>{body}</tbody></table></div>'


def referral_part(referrals: Mapping[str, Any]) -> Part:
    """The referral-loop section of a referral result dict."""
    gens = generations(referrals)
    parts = [
        '<section class="card" id="referrals"><div class="section-head"><h2>The referral loop</h2>'
        '<span class="badge">turning the hourglass over</span></div>'
        '<p class="description">Customers bringing customers. A referred purchaser is a purchaser whose '
        "referrer is another customer of the log; the K-factor is referred purchasers per purchaser.</p>",
        _tiles(referrals),
    ]
    charts: list[tuple[str, go.Figure]] = []
    grid = []
    if any(g > 0 and n > 0 for g, n in gens):
        deepest = max(g for g, n in gens if n > 0)
        grid.append(
            f'<div><h3>The referral tree</h3><div class="chart" id="{REFERRAL_TREE_DIV_ID}"></div>'
            '<p class="note">Centre: customers nobody referred. Each ring: the customers brought by the '
            "ring inside it (generation 1 by organic customers, generation 2 by generation 1, ...); a "
            "ring's arc is its share of all referred customers, its own and the generations after it. "
            f"Deepest chain: {deepest} generation{'' if deepest == 1 else 's'} ("
            + " \u00b7 ".join(f"{'organic' if g == 0 else f'gen {g}'} {n:,}" for g, n in gens)
            + ").</p></div>"
        )
        charts.append((REFERRAL_TREE_DIV_ID, referral_tree_figure(referrals)))
    elif gens:
        grid.append('<p class="empty">Nobody was referred by another customer of the log.</p>')
    if get_list(referrals, "periods"):
        unit = esc(referrals.get("period_unit") or "period")
        grid.append(
            f"<div><h3>New customers per {unit}, referred in teal</h3>"
            f'<div class="chart" id="{REFERRAL_PERIODS_DIV_ID}"></div>{_top_referrers(referrals)}</div>'
        )
        charts.append((REFERRAL_PERIODS_DIV_ID, periods_figure(referrals)))
    parts.append(f'<div class="two">{"".join(grid)}</div>')
    warnings = [str(w) for w in referrals.get("warnings") or [] if w]
    if warnings:
        parts.append("".join(f'<p class="note warn">{esc(w)}</p>' for w in warnings))
    parts.append("</section>")
    k = get_number(referrals, "k_factor")
    return Part(
        "referrals", "Referral loop", "" if k is None else f"K {k:.2f}", "".join(parts), tuple(charts)
    )
