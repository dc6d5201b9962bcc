"""A journey model drafted from a source's event names (``hourglass models suggest``): the events in
the order customers typically reach them, grouped into stages; named after the nearest built-in
model's stages where the event names allow (model/_lexicon.py), else from their order alone
(docs/models.md, "How the stages are drafted"). Pure: the evidence comes from an EventProfile."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import pairwise
from typing import Any

from hourglass.model._lexicon import PRESET_ROLES, ROLES, after_sale, role_of, words
from hourglass.model.errors import SpecError
from hourglass.model.event_stats import EventProfile, EventStat
from hourglass.model.journey import JourneyModel
from hourglass.model.presets import PRESETS
from hourglass.model.steps import Step

__all__ = ["DraftStage", "Suggestion", "draft_model"]

#: an event the names say nothing about joins the stage of its nearest named neighbour when their
#: typical positions are at most this far apart (else it is a stage of its own)
NEAR = 0.1
#: at most this many stages from order alone
MAX_ORDER_STAGES = 6


@dataclass(frozen=True)
class _Unit:
    """One event name, or several numbered ones (product1, product2) written as a glob."""

    events: tuple[EventStat, ...]
    pattern: str | None  # the glob when it is safe (it matches no other listed event)
    role: str | None

    @property
    def customers(self) -> int:
        return max(s.customers for s in self.events)

    @property
    def position(self) -> float:
        total = sum(s.customers for s in self.events)
        return sum(s.order_key * s.customers for s in self.events) / total if total else 0.0

    @property
    def patterns(self) -> tuple[str, ...]:
        return (self.pattern,) if self.pattern else tuple(s.event for s in self.events)


@dataclass(frozen=True)
class DraftStage:
    """A drafted stage and why: ``reason`` says how it was placed (names or order)."""

    step: Step
    events: tuple[EventStat, ...]
    reason: str


@dataclass(frozen=True)
class Suggestion:
    """A drafted model with its evidence. ``preset``: the built-in model whose stage names it uses
    (None: named from order alone); ``set_aside``: events that are no step forward, with the
    lifecycle setting that takes them (None: a name a model cannot hold, with ``[`` or ``]``)."""

    model: JourneyModel
    stages: tuple[DraftStage, ...]
    profile: EventProfile
    preset: str | None
    set_aside: tuple[tuple[str, str | None], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "preset": self.preset,
            "stages": [
                {"stage": d.step.name, "events": list(d.step.events), "reason": d.reason} for d in self.stages
            ],
            "set_aside": [{"event": e, "setting": s} for e, s in self.set_aside],
            **self.profile.to_dict(),
        }


def _stem(name: str) -> str | None:
    """``product`` of ``product1``, ``product_12``: a numbered family's stem (None: no number)."""
    m = re.match(r"^(.*?[A-Za-z].*?)[_\-. ]?\d+$", name)
    if not m or len(re.sub(r"[^A-Za-z]", "", m[1])) < 3:
        return None
    return m[1] if name[len(m[1])].isdigit() else name[: len(m[1]) + 1]


def _units(stats: tuple[EventStat, ...], listed: tuple[EventStat, ...]) -> list[_Unit]:
    """Units of ``stats``; a glob is used only when it matches no other ``listed`` event."""
    families: dict[str, list[EventStat]] = {}
    for s in stats:
        stem = _stem(s.event)
        if stem is not None and not any(c in stem for c in "*?[]"):
            families.setdefault(stem, []).append(s)
    units: list[_Unit] = []
    grouped: set[str] = set()
    for stem, members in families.items():
        if len(members) < 2:
            continue
        glob = stem + "*"
        others = [s.event for s in listed if s not in members]
        safe = not any(fnmatchcase(o, glob) for o in others)
        roles = {role_of(s.event) for s in members}
        role = roles.pop() if len(roles) == 1 else None
        units.append(_Unit(tuple(members), glob if safe else None, role))
        grouped |= {s.event for s in members}
    units += [_Unit((s,), None, role_of(s.event)) for s in stats if s.event not in grouped]
    return sorted(units, key=lambda u: (u.position, -u.customers, u.events[0].event))


def _nearest_preset(roles: set[str]) -> str | None:
    """The built-in model that keeps the most roles apart, then leaves the fewest stages empty."""
    best: tuple[int, int, int] | None = None
    chosen = None
    for rank, (name, mapping) in enumerate(PRESET_ROLES.items()):
        if not roles <= set(mapping):
            continue
        kept = len({mapping[r] for r in roles})
        empty = len(PRESETS[name].stages) - kept
        key = (kept, -empty, -rank)
        if best is None or key > best:
            best, chosen = key, name
    return chosen


def _step_name(text: str, taken: set[str]) -> str:
    base = re.sub(r"[\s,*?\[\]]+", "_", text).strip("_") or "stage"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _evidence(stats: tuple[EventStat, ...]) -> str:
    lo = min(s.order_key for s in stats)
    hi = max(s.order_key for s in stats)
    return f"typical position {lo:.2f}" if hi - lo < 0.005 else f"typical positions {lo:.2f}-{hi:.2f}"


def _by_order(units: list[_Unit]) -> list[tuple[str | None, list[_Unit], str]]:
    """Stages from order alone: cut the ordered events at the largest gaps in typical position."""
    k = min(len(units), MAX_ORDER_STAGES)
    gaps = sorted(range(1, len(units)), key=lambda i: units[i - 1].position - units[i].position)[: k - 1]
    cuts = [0, *sorted(gaps), len(units)]
    groups = [units[a:b] for a, b in pairwise(cuts) if b > a]
    return [(None, g, "placed by order alone (the names match no known role)") for g in groups]


def _by_names(units: list[_Unit]) -> list[tuple[str | None, list[_Unit], str]]:
    """Named units in their roles' stages; an unnamed one joins its nearest named neighbour (not
    the sale: only sales make purchasers) or becomes a stage of its own, in its place by order."""
    named = [u for u in units if u.role is not None]
    by_role: dict[str, list[_Unit]] = {}
    alone: list[_Unit] = []
    for u in units:
        if u.role is not None:
            by_role.setdefault(u.role, []).append(u)
            continue
        near = min(named, key=lambda n: (abs(n.position - u.position), n.position))
        if abs(near.position - u.position) <= NEAR and near.role != "sale":
            assert near.role is not None
            by_role[near.role].append(u)
        else:
            alone.append(u)
    out: list[tuple[str | None, list[_Unit], str, float]] = []
    for role in ROLES:
        if role in by_role:
            group = by_role[role]
            words_ = ", ".join(u.patterns[0] for u in group if u.role == role)
            reason = f"named like {role.replace('_', ' ')} events ({words_})"
            if any(u.role is None for u in group):
                reason += "; with the events next to them in order"
            out.append((role, group, reason, min(u.position for u in group)))
    for u in alone:
        after = [i for i, (_, _, _, pos) in enumerate(out) if pos <= u.position]
        at = (max(after) + 1) if after else 0
        if at and out[at - 1][0] is None:  # next to another such stage: one stage (at most 15 in all)
            _, before, _, first = out[at - 1]
            out[at - 1] = (None, [*before, u], "placed by order (their names match no known role)", first)
            continue
        out.insert(at, (None, [u], "placed by order (its name matches no known role)", u.position))
    return [(role, group, reason) for role, group, reason, _ in out]


def _file_name(source: str | None) -> str:
    """A source's file name without its folders (a label shown in charts and titles: the folders
    of /home/me/exports/shop.csv only crowd it out)."""
    return re.split(r"[\\/]", source or "")[-1]


def draft_model(profile: EventProfile, *, name: str = "suggested") -> Suggestion:
    """Draft a model from the evidence (see the module's doc)."""
    set_aside: list[tuple[str, str | None]] = []
    kept: list[EventStat] = []
    for s in profile.stats:
        setting = after_sale(set(words(s.event)))
        if setting or any(c in s.event for c in "[]"):  # a model's patterns cannot hold [ ]
            set_aside.append((s.event, setting))
        else:
            kept.append(s)
    if not kept:
        raise SpecError(
            "no event to draft a model from" + (": the source has no events" if not profile.stats else ""),
            code="HG118",
            hint="check the source with: hourglass validate SOURCE; a model lists the events that move "
            "customers forward (visits, sign-ups, carts, purchases)",
        )
    units = _units(tuple(kept), profile.stats)
    roles = {u.role for u in units if u.role is not None}
    preset = _nearest_preset(roles) if roles else None
    groups = _by_names(units) if preset else _by_order(units)
    mapping = PRESET_ROLES.get(preset or "", {})
    stages: list[DraftStage] = []
    merged: dict[str, int] = {}  # preset stage -> index in stages (aida: interest and trust merge)
    taken = {mapping[r] for r in roles}  # the preset's names first: another stage never takes one
    for role, group, reason in groups:
        stats = tuple(s for u in group for s in u.events)
        patterns = tuple(dict.fromkeys(p for u in group for p in u.patterns))
        target = mapping.get(role or "")
        if target and role and target != role:  # AIDA's desire holds what the names call a trial
            reason += f", which {preset} calls {target}"
        why = f"{reason}; {_evidence(stats)}"
        if target and target in merged:
            old = stages[merged[target]]
            step = Step(old.step.name, old.step.events + patterns, label=old.step.label)
            stages[merged[target]] = DraftStage(step, old.events + stats, f"{old.reason}; and {why}")
            continue
        if target:
            label = PRESETS[preset or ""].stage(target).label
            step = Step(target, patterns, label=label)
            merged[target] = len(stages)
        elif len(group) == 1:
            text = group[0].patterns[0]
            step = Step(_step_name(text, taken), patterns)
            if step.name != text and not any(c in text for c in "*?"):  # "Seite ansehen", not "Seite_ansehen"
                step = Step(step.name, patterns, label=text)
        else:
            step = Step(_step_name(f"stage_{len(stages) + 1}", taken), patterns)
        stages.append(DraftStage(step, stats, why))
    sale = mapping.get("sale") if "sale" in roles else None
    sale_events = next((d.step.events for d in stages if d.step.name == sale), ())
    repeats = next((d.step.events for d in stages if d.step.name == mapping.get("repeat")), ())
    bought = tuple(e for e in repeats if set(words(e)) & {"order", "purchase", "buy", "reorder", "rebuy"})
    like = f" (stage names of the built-in model '{preset}')" if preset else " (stages from order alone)"
    model = JourneyModel(
        name=name,
        kind=PRESETS[preset].kind if preset else "funnel",
        stages=tuple(d.step for d in stages),
        label=f"Suggested from {_file_name(profile.source) or 'the source'}",
        description=f"Drafted by hourglass models suggest from {len(profile.stats)} event names{like}; "
        "edit the stages and events to fit your shop.",
        sale=sale if sale_events else None,
        purchases=tuple(dict.fromkeys((*sale_events, *bought))) if bought else (),
    )
    return Suggestion(model, tuple(stages), profile, preset, tuple(set_aside))
