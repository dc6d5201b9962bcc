"""Built-in journey models (../shared/docs/models.md), mapped to the demo shop's events.

Copy one with ``hourglass models show NAME > my.yaml`` and map the stages to your own events."""

from __future__ import annotations

from typing import Any

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel

__all__ = ["PRESETS", "preset", "preset_names"]

_AWARENESS = ["ad_click", "visit"]
_INTEREST = ["signup", "subscribe", "callback_request"]
_TRUST = ["case_study_view", "consultation", "webinar"]
_TRIAL = ["trial_start", "sample_request", "demo"]
_SALE = ["purchase"]
_PURCHASES = ["purchase", "repeat_purchase"]


def _s(name: str, label: str, events: list[str], where: list[str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "label": label, "events": events}
    if where:
        d["where"] = where
    return d


_DATA: list[dict[str, Any]] = [
    {
        "name": "funnel4",
        "sale": "action",
        "purchases": _PURCHASES,
        "label": "Sales funnel",
        "kind": "funnel",
        "description": "The classic sales funnel: attention, interest, lead qualification, action. "
        "Widest at the top; ends at the sale (seed 000).",
        "stages": [
            _s("attention", "Attention", _AWARENESS),
            _s("interest", "Interest", _INTEREST),
            _s("qualification", "Lead qualification", ["lead_qualified", "consultation"]),
            _s("action", "Action (purchase)", _SALE),
        ],
    },
    {
        "name": "aida",
        "sale": "action",
        "purchases": _PURCHASES,
        "label": "AIDA",
        "kind": "funnel",
        "description": "Attention, interest, desire, action (seed 003).",
        "stages": [
            _s("attention", "Attention", _AWARENESS),
            _s("interest", "Interest", [*_INTEREST, "case_study_view"]),
            _s("desire", "Desire", ["add_to_cart", "trial_start", "promo_view"]),
            _s("action", "Action (purchase)", _SALE),
        ],
    },
    {
        "name": "hourglass",
        "sale": "sale",
        "purchases": _PURCHASES,
        "label": "Marketing hourglass",
        "kind": "hourglass",
        "description": "Seven stages: the funnel's five, then repeat sales and service, then word of "
        "mouth; a customer who recommends turns the hourglass over (seed 001).",
        "stages": [
            _s("awareness", "Attention / awareness", _AWARENESS),
            _s("interest", "Interest (a contact)", _INTEREST),
            _s("trust", "Trust", _TRUST),
            _s("trial", "Trial", _TRIAL),
            _s("sale", "Sale", _SALE),
            _s("repeat", "Repeat sales and service", ["repeat_purchase", "support_resolved", "loyalty_join"]),
            _s("word_of_mouth", "Word of mouth", ["review", "referral_sent"]),
        ],
    },
    {
        "name": "flip_the_funnel",
        "sale": "action",
        "purchases": _PURCHASES,
        "label": "Flip the funnel",
        "kind": "hourglass",
        "description": "AIDA, then the other side of the funnel: support, loyalty, advocacy "
        "(Owyang; Jaffe; seed 003).",
        "stages": [
            _s("attention", "Attention", _AWARENESS),
            _s("interest", "Interest", [*_INTEREST, "case_study_view"]),
            _s("desire", "Desire", ["add_to_cart", "trial_start", "promo_view"]),
            _s("action", "Action (purchase)", _SALE),
            _s("support", "Support", ["support_contact", "support_resolved"]),
            _s("loyalty", "Loyalty", ["repeat_purchase", "loyalty_join"]),
            _s("advocacy", "Advocacy", ["review", "referral_sent"]),
        ],
    },
    {
        "name": "flywheel",
        "purchases": _PURCHASES,
        "label": "Flywheel",
        "kind": "flywheel",
        "description": "HubSpot's flywheel: attract, engage, delight; delighted customers attract new "
        "ones (seed 000).",
        "stages": [
            _s("attract", "Attract", [*_AWARENESS, "signup", "subscribe"]),
            _s("engage", "Engage", ["consultation", "trial_start", "demo", "purchase"]),
            _s("delight", "Delight", ["repeat_purchase", "review", "referral_sent", "loyalty_join"]),
        ],
    },
    {
        "name": "solis6",
        "sale": "exchange",
        "purchases": _PURCHASES,
        "label": "Solis' six levels",
        "kind": "hourglass",
        "description": "Persuasion, hook, exchange, distance (the gap between promise and experience), "
        "enchantment (win-back), management (seed 004).",
        "stages": [
            _s("persuasion", "Persuasion", [*_AWARENESS, "case_study_view", "webinar"]),
            _s("hook", "Hook (a reason to buy now)", ["promo_view", "add_to_cart", "trial_start"]),
            _s("exchange", "Exchange (purchase)", _SALE),
            _s(
                "distance",
                "Distance (negative experience)",
                ["delivery_late", "complaint", "return", "cancel", "support_contact"],
            ),
            _s("enchantment", "Enchantment (win-back)", ["offer_redeemed"]),
            _s("management", "Management", ["crm_contact"]),
        ],
    },
]

PRESETS: dict[str, JourneyModel] = {
    d["name"]: JourneyModel.from_dict(d, source=f"preset {d['name']}") for d in _DATA
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset(name: str) -> JourneyModel:
    try:
        return PRESETS[name]
    except KeyError:
        raise SpecError(
            f"no built-in model '{name}'{did_you_mean(name, PRESETS)}",
            code="HG106",
            hint="built-in models: " + ", ".join(PRESETS) + "; or pass a model file (.yaml/.toml)",
        ) from None
