"""Which journey role an event name suggests (``hourglass models suggest``): a small lexicon of
common e-commerce and SaaS event names, read word by word (``add_to_cart``, ``AddToCart`` and
``add-to-cart`` are the words add, to, cart), and the built-in models' stage names per role."""

from __future__ import annotations

import re

__all__ = ["AFTER_SALE", "PRESET_ROLES", "ROLES", "role_of", "words"]

#: the roles in journey order (the marketing hourglass: know, like, trust, try, buy, repeat, refer)
ROLES: tuple[str, ...] = ("awareness", "interest", "trust", "trial", "sale", "repeat", "word_of_mouth")

_AWARENESS = {
    "visit", "visits", "page", "pageview", "pageviews", "landing", "land", "home", "homepage", "main",
    "catalog", "catalogue", "category", "categories", "browse", "ad", "ads", "click", "impression",
    "session", "open", "launch", "install", "banner", "start", "first", "app", "index", "view",
}  # fmt: skip
_INTEREST = {
    "product", "products", "item", "items", "detail", "details", "pdp", "sku", "search", "signup",
    "sign", "register", "registration", "registered", "subscribe", "subscribed", "subscription",
    "newsletter", "lead", "form", "contact", "callback", "login", "account", "quiz", "article",
    "blog", "video", "download",
}  # fmt: skip
_TRUST = {
    "consultation", "consult", "webinar", "case", "study", "testimonial", "testimonials", "compare",
    "comparison", "faq", "whitepaper", "ebook", "brochure", "pricing", "price", "prices", "qualified",
}  # fmt: skip
_TRIAL = {
    "cart", "basket", "bag", "wishlist", "wish", "favorite", "favourite", "favorites", "demo", "trial",
    "sample", "checkout", "payment", "pay", "delivery", "shipping", "address", "billing", "quote",
    "promo", "coupon", "offer", "discount",
}  # fmt: skip
_SALE = {
    "purchase", "purchased", "order", "ordered", "buy", "bought", "paid", "transaction", "conversion",
    "sale", "sold", "thankyou", "thank", "won",
}  # fmt: skip
_DONE = {
    "done", "complete", "completed", "success", "successful", "succeeded", "confirm", "confirmed",
    "confirmation", "finish", "finished", "placed", "place", "accepted",
}  # fmt: skip
_REPEAT = {
    "repeat", "reorder", "rebuy", "repurchase", "renewal", "renew", "renewed", "second", "loyalty",
    "resubscribe", "upsell", "upgrade", "upgraded", "again", "returning",
}  # fmt: skip
_WORD_OF_MOUTH = {
    "referral", "refer", "referred", "invite", "invited", "invitation", "share", "shared", "recommend",
    "recommended", "review", "reviewed", "rating", "rate", "rated", "nps", "ugc", "advocate",
}  # fmt: skip
_READING = {"read", "view", "viewed", "open", "opened", "browse", "list", "reviews", "show", "see"}

#: words of events that are not a step forward: after-sale service and friction, with the lifecycle
#: setting that takes them (docs/semantics-lifecycle.md)
AFTER_SALE: dict[str, tuple[str, ...]] = {
    "remorse_events": ("refund", "refunded", "return", "returned", "cancel", "cancelled", "canceled",
                       "cancellation", "chargeback"),
    "support_events": ("support", "ticket", "help", "helpdesk"),
    "offer_sent_events": ("winback",),
    "offer_redeemed_events": ("redeemed", "redeem"),
    "negative_events": ("complaint", "complain", "complained", "late", "delay", "delayed", "dispute",
                        "fail", "failed", "failure", "error", "declined", "abandon", "abandoned",
                        "unsubscribe", "unsubscribed", "churn", "churned", "delete", "deleted"),
}  # fmt: skip

#: per built-in model: role -> its stage (a role the model has no stage for is missing)
PRESET_ROLES: dict[str, dict[str, str]] = {
    "hourglass": {r: r for r in ROLES},
    "flip_the_funnel": {
        "awareness": "attention", "interest": "interest", "trust": "interest", "trial": "desire",
        "sale": "action", "repeat": "loyalty", "word_of_mouth": "advocacy",
    },
    "aida": {
        "awareness": "attention", "interest": "interest", "trust": "interest", "trial": "desire",
        "sale": "action",
    },
    "funnel4": {
        "awareness": "attention", "interest": "interest", "trust": "qualification",
        "trial": "qualification", "sale": "action",
    },
}  # fmt: skip


def words(name: str) -> tuple[str, ...]:
    """The lower-case words of an event name: camelCase, digits and punctuation split words."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return tuple(w for w in re.split(r"[^a-z]+", spaced.lower()) if w)


def after_sale(ws: set[str]) -> str | None:
    """The lifecycle setting of an after-sale or friction event, None for others."""
    if {"offer", "sent"} <= ws or {"win", "back"} <= ws:
        return "offer_sent_events"  # a win-back offer (an offer seen before the sale is a trial)
    if ws & {"support", "ticket"} and ws & {"resolved", "solved", "closed"}:
        return "resolved_events"
    for setting, names in AFTER_SALE.items():
        if ws & set(names):
            return setting
    return None


def role_of(name: str) -> str | None:
    """The role an event name suggests (one of ROLES), or None when the name says nothing (then its
    place comes from its position alone). After-sale friction (refund, complaint) is no role."""
    ws = set(words(name))
    if not ws or after_sale(ws):
        return None
    reading = bool(ws & _READING)
    if ws & {"review", "reviews", "rating", "ratings"} and reading:
        return "trust"  # reading reviews comes before the sale; writing one is word of mouth
    if ws & _WORD_OF_MOUTH:
        return "word_of_mouth"
    if ws & _REPEAT:
        return "repeat"
    if ws & _SALE or (ws & {"checkout", "payment", "pay", "order"} and ws & _DONE):
        return "sale"
    for role, lexicon in (("trial", _TRIAL), ("trust", _TRUST), ("interest", _INTEREST)):
        if ws & lexicon:
            return role
    if ws & _AWARENESS:
        return "awareness"
    return None
