"""Hand-made result dicts in the documented JSON shapes (docs/semantics-lifecycle.md,
docs/semantics-referrals.md, docs/semantics-journeys.md) for the report tests. Small, with user
text that must be escaped (XSS) in a stage label, a channel and a customer id."""

from __future__ import annotations

from typing import Any

XSS = "<script>alert(1)</script>"

STAGES = ["awareness", "interest", "trial", "sale", "repeat", "word_of_mouth"]
ENTERED = [1000, 400, 150, 120, 60, 30]
CONTINUED = [420, 160, 110, 65, 35, None]


def _stage(i: int) -> dict[str, Any]:
    entered, continued = ENTERED[i], CONTINUED[i]
    conv = None if continued is None else continued / entered
    return {
        "stage": STAGES[i],
        "label": XSS if STAGES[i] == "trial" else STAGES[i].replace("_", " ").capitalize(),
        "entered": entered,
        "entered_share": entered / 1000,
        "furthest": 0,
        "current": entered // 2,
        "continued": continued,
        "conversion": conv,
        "conversion_low": None if conv is None else conv - 0.02,
        "conversion_high": None if conv is None else conv + 0.02,
        "lost": None if continued is None else entered - continued,
        "lost_share": None if continued is None else (entered - continued) / entered,
        "median_time_in_stage_s": 3600.0 * (i + 1),
        "p90_time_in_stage_s": 7200.0 * (i + 1),
    }


def referrals() -> dict[str, Any]:
    return {
        "customers": 1000,
        "purchasers": 120,
        "purchasers_from": "stage 'sale'",
        "referees": 40,
        "referred_purchasers": 18,
        "k_factor": 0.15,
        "k_factor_low": 0.097,
        "k_factor_high": 0.224,
        "referral_conversion": 0.45,
        "referral_conversion_low": 0.31,
        "referral_conversion_high": 0.6,
        "referrers": 25,
        "referral_rate": 0.2083,
        "referral_rate_low": 0.14,
        "referral_rate_high": 0.29,
        "generations": [
            {"generation": 0, "customers": 960},
            {"generation": 1, "customers": 30},
            {"generation": 2, "customers": 8},
            {"generation": 3, "customers": 2},
            {"generation": 4, "customers": 0},
        ],
        "deepest_generation": 3,
        "cycle_time": {"pairs": 18, "median_s": 86400.0 * 12.5, "p90_s": 86400.0 * 30, "negative": 0},
        "revenue": {
            "total": 12000.0,
            "referred": 1800.0,
            "referred_share": 0.15,
            "per_referred_customer": 45.0,
            "per_other_customer": 10.6,
        },
        "period_unit": "month",
        "periods": [
            {"period": "2024-01", "new_customers": 500, "referred": 10, "referred_share": 0.02},
            {"period": "2024-02", "new_customers": 500, "referred": 30, "referred_share": 0.06},
        ],
        "top_referrers": [
            {"customer": XSS, "referees": 4, "referred_purchasers": 2, "referee_revenue": 230.5},
            {"customer": "c2", "referees": 2, "referred_purchasers": 1, "referee_revenue": 40.0},
        ],
        "warnings": ["1 customer(s) name themselves as referrer: ignored"],
    }


def _channel(name: str | None, customers: int, counts: list[int], spend: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "channel": name,
        "customers": customers,
        "stages": [{"stage": s, "entered": n} for s, n in zip(STAGES, counts, strict=True)],
        "purchasers": counts[3],
        "conversion_to_sale": counts[3] / customers,
        "repeat_purchasers": counts[4],
        "repeat_rate": counts[4] / counts[3],
        "referral_rate": 0.1,
        "revenue": 10.0 * customers,
        "revenue_per_customer": 10.0,
    }
    if spend is not None:
        revenue = 10.0 * customers
        row.update(
            cost=spend,
            cost_per_customer=spend / customers,
            cac=spend / counts[3],
            roi=None if spend == 0 else (revenue - spend) / spend,
            zero_cost_customers=customers if spend == 0 else 0,
        )
    return row


def lifecycle(*, spend: bool = True, parts: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "hourglass",
        "kind": "hourglass",
        "sale_stage": "sale",
        "customers": 1000,
        "purchasers": 120,
        "stages": [_stage(i) for i in range(len(STAGES))],
        "biggest_loss": {
            "absolute": {"stage": "awareness", "lost": 580, "lost_share": 0.58},
            "relative": {"stage": "interest", "lost": 240, "lost_share": 0.6},
        },
        "repeat_rate": 0.25,
        "after_sale": {
            "purchases": {
                "purchasers": 120,
                "repeaters": 30,
                "repeat_rate": 0.25,
                "repeat_rate_low": 0.18,
                "repeat_rate_high": 0.33,
                "repeat_within": None,
                "purchases": 170,
                "purchases_per_purchaser": 1.4167,
                "days_to_nth_purchase": [
                    {"n": 2, "customers": 30, "median_days": 21.5},
                    {"n": 3, "customers": 0, "median_days": None},
                ],
            },
            "remorse": {"purchasers": 9, "events": 11, "within": "14d", "rate": 0.075},
            "support": {
                "contacts": 40,
                "customers": 33,
                "resolved": 30,
                "resolved_share": 0.75,
                "median_time_to_resolve_s": 5400.0,
            },
            "experience_gap": {"purchasers": 24, "share": 0.2, "recovered": 6, "recovery_rate": 0.25},
            "win_back": [
                {
                    "offer": "W10",
                    "sent": 50,
                    "redeemed": 10,
                    "redeem_rate": 0.2,
                    "returned": 8,
                    "return_rate": 0.16,
                },
                {
                    "offer": None,
                    "sent": 5,
                    "redeemed": 0,
                    "redeem_rate": 0.0,
                    "returned": 1,
                    "return_rate": 0.2,
                },
            ],
            "loyalty": {
                "members": 40,
                "non_members": 80,
                "member_repeat_rate": 0.45,
                "member_repeat_rate_low": 0.31,
                "member_repeat_rate_high": 0.6,
                "non_member_repeat_rate": 0.15,
                "non_member_repeat_rate_low": 0.09,
                "non_member_repeat_rate_high": 0.24,
                "repeat_rate_p_value": 0.0004,
                "member_revenue_per_customer": 120.0,
                "non_member_revenue_per_customer": 80.0,
                "revenue_p_value": 0.034,
            },
        },
        "meta": {"engine": "duckdb"},
    }
    if parts:
        ref = referrals()
        out["referred_purchasers"] = ref["referred_purchasers"]
        out["k_factor"] = ref["k_factor"]
        out["referrals"] = ref
        out["channels"] = [
            _channel("ads", 600, [600, 200, 60, 50, 20, 10], 1500.0 if spend else None),
            _channel(XSS, 360, [360, 180, 80, 60, 35, 18], 400.0 if spend else None),
            _channel(None, 40, [40, 20, 10, 10, 5, 2], 0.0 if spend else None),
        ]
    return out


def journeys_result() -> dict[str, Any]:
    names = STAGES
    return {
        "stages": names,
        "goal": "sale",
        "customers": 1000,
        "entry": [
            {"stage": s, "customers": n, "share": n / 1000}
            for s, n in zip(names, [950, 30, 20, 0, 0, 0], strict=True)
        ],
        "entry_by": [
            {
                "value": "ads",
                "customers": 600,
                "stages": [
                    {"stage": s, "customers": n, "share": n / 600}
                    for s, n in zip(names, [600, 0, 0, 0, 0, 0], strict=True)
                ],
            },
        ],
        "skips": [
            {"stage": "awareness", "reached": 1000, "skipped": []},
            {
                "stage": "interest",
                "reached": 400,
                "skipped": [{"stage": "awareness", "customers": 30, "share": 0.075}],
            },
            {
                "stage": "sale",
                "reached": 120,
                "skipped": [
                    {"stage": "awareness", "customers": 6, "share": 0.05},
                    {"stage": "interest", "customers": 12, "share": 0.1},
                    {"stage": "trial", "customers": 60, "share": 0.5},
                ],
            },
        ],
        "backsteps": [
            {
                "from": "interest",
                "to": "awareness",
                "moves": 50,
                "customers": 45,
                "purchasers": 5,
                "next": [
                    {"stage": None, "moves": 30, "share": 0.6},
                    {"stage": "trial", "moves": 20, "share": 0.4},
                ],
            }
        ],
        "conformance": {
            "customers_with_moves": 420,
            "fitness_mean": 0.62,
            "fitness_median": 0.66,
            "fitness_buckets": [],
            "conformant": 700,
            "conformant_share": 0.7,
            "purchasers": 120,
            "purchasers_ideal": 30,
            "purchasers_ideal_share": 0.25,
            "moves": {"total": 900, "ideal": 560, "back": 50, "skip": 290},
        },
        "deviations": [
            {
                "kind": "skipped",
                "stage": "trial",
                "customers": 60,
                "share": 0.5,
                "text": "50% of buyers skipped trial",
            },
        ],
    }


def transitions_result() -> dict[str, Any]:
    edges = [
        ("awareness", "interest", 400, 0.4),
        ("awareness", None, 600, 0.6),
        ("interest", "trial", 150, 0.375),
        ("interest", "awareness", 50, 0.125),
        ("interest", None, 200, 0.5),
        ("trial", "sale", 120, 1.0),
        ("sale", None, 120, 1.0),
    ]
    return {
        "level": "stage",
        "collapse": True,
        "customers": 1000,
        "nodes": [
            {"node": "awareness", "visits": 1000, "ends": 600},
            {"node": "interest", "visits": 400, "ends": 200},
            {"node": "trial", "visits": 120, "ends": 0},
            {"node": "sale", "visits": 120, "ends": 120},
        ],
        "edges": [
            {
                "from": a,
                "to": b,
                "moves": m,
                "customers": m,
                "probability": p,
                "median_time_s": 60.0,
                "p90_time_s": 90.0,
            }
            for a, b, m, p in edges
        ],
    }


def paths_result() -> dict[str, Any]:
    top = [
        (["awareness"], 500),
        (["awareness", "interest"], 200),
        (["awareness", "interest", "trial", "sale"], 100),
        (["interest", "sale"], 20),
    ]
    nodes = [
        {"id": 0, "step": 1, "name": "awareness"},
        {"id": 1, "step": 1, "name": "interest"},
        {"id": 2, "step": 2, "name": "interest"},
        {"id": 3, "step": 2, "name": "sale"},
        {"id": 4, "step": 3, "name": "trial"},
        {"id": 5, "step": 4, "name": "sale"},
    ]
    links = [
        {"source": 0, "target": 2, "customers": 300},
        {"source": 1, "target": 3, "customers": 20},
        {"source": 2, "target": 4, "customers": 100},
        {"source": 4, "target": 5, "customers": 100},
    ]
    return {
        "level": "stage",
        "direction": "forward",
        "anchor": None,
        "steps": 8,
        "customers": 1000,
        "distinct_paths": 14,
        "top": [{"path": p, "customers": n, "share": n / 1000, "continued": 0} for p, n in top],
        "other": {"customers": 180, "share": 0.18, "paths": 10},
        "sankey": {"nodes": nodes, "links": links},
    }


def journey_result() -> dict[str, Any]:
    timeline = [
        ("2024-01-01T10:00:00", "visit", "ads", None, ["awareness"]),
        ("2024-01-02T10:00:00", "signup", "ads", None, ["interest"]),
        ("2024-01-03T10:00:00", "promo_view", "email", None, []),
        ("2024-01-05T10:00:00", "purchase", "email", 25.0, ["sale"]),
        ("2024-01-20T10:00:00", "repeat_purchase", XSS, 10.0, ["repeat"]),
    ]
    return {
        "goal": "sale",
        "customer": {
            "customer": "alice",
            "events": 5,
            "shown": 5,
            "entry": "awareness",
            "path": ["awareness", "interest", "sale", "repeat"],
            "moves": 3,
            "ideal_moves": 2,
            "fitness": 2 / 3,
            "timeline": [
                {"timestamp": t, "event": e, "channel": c, "revenue": r, "stages": s}
                for t, e, c, r, s in timeline
            ],
        },
    }


def journeys_bundle() -> dict[str, Any]:
    return {
        "journeys": journeys_result(),
        "transitions": transitions_result(),
        "paths": paths_result(),
        "journey": journey_result(),
    }
