"""The report's sections beyond the funnels, from plain result dicts: the hourglass, the referral
loop and the channels (a lifecycle result's ``to_dict()``) and the real journeys (the dicts of
``journeys``, ``transitions``, ``paths`` and ``journey``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._channels import channels_part
from ._hourglass import lifecycle_part
from ._journeys_section import journeys_part
from ._parts import Part, get_count, get_list, get_map
from ._referrals import referral_part

__all__ = ["JOURNEY_KEYS", "build_parts"]

JOURNEY_KEYS = ("journeys", "transitions", "paths", "journey")


def _check(name: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a result's to_dict()), not a {type(value).__name__}")
    return value


def build_parts(lifecycle: Mapping[str, Any] | None, journeys: Mapping[str, Any] | None) -> list[Part]:
    """The sections, in page order; none for what is not given."""
    lc = _check("lifecycle", lifecycle)
    jr = _check("journeys", journeys)
    parts: list[Part] = []
    sale: str | None = None
    if lc is not None:
        parts.append(lifecycle_part(lc))
        sale_value = lc.get("sale_stage")
        sale = sale_value if isinstance(sale_value, str) else None
        referrals = get_map(lc, "referrals")
        if referrals:
            parts.append(referral_part(referrals))
        # a referral loop or channel table the data cannot give (``<part>_reason``) is listed in the
        # report's "Not measured" card (report_api), not drawn as a section of zeros
        channels = get_list(lc, "channels")
        if channels:
            stages = [str(s.get("stage")) for s in get_list(lc, "stages")]
            labels = {
                str(s.get("stage")): str(s.get("label") or s.get("stage")) for s in get_list(lc, "stages")
            }
            zero = None
            if any("zero_cost_customers" in c for c in channels):
                total = sum(get_count(c, "customers") or 0 for c in channels)
                free = sum(get_count(c, "zero_cost_customers") or 0 for c in channels)
                zero = free / total if total else None
            raw_warnings = lc.get("channels_warnings") if isinstance(lc, Mapping) else None
            warnings = [str(w) for w in raw_warnings] if isinstance(raw_warnings, list) else []
            parts.append(
                channels_part(
                    channels, stages=stages, labels=labels, sale=sale, zero_cost_share=zero, warnings=warnings
                )
            )
    if jr is not None:
        unknown = sorted(set(jr) - set(JOURNEY_KEYS))
        if unknown:
            raise TypeError(
                f"journeys: unknown key(s) {', '.join(unknown)}; expected {', '.join(JOURNEY_KEYS)}"
            )
        given = {k: _check(f"journeys[{k!r}]", jr.get(k)) for k in JOURNEY_KEYS}
        if any(v is not None for v in given.values()):
            parts.append(
                journeys_part(
                    given["journeys"], given["transitions"], given["paths"], given["journey"], sale=sale
                )
            )
    return parts
