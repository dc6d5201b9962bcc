"""What the report cannot measure and how its counts reconcile: a section dict's extra keys
(``not_measured``, ``unmeasured_steps``, ``count_label``, ``sale``, ``main``; report_api builds them),
the "Not measured" card, and the one line that says why a funnel's buyers and the lifecycle's differ."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._format import Section, Step

__all__ = [
    "NOT_MEASURED",
    "Info",
    "measured_steps",
    "not_measured_list",
    "overview_counts",
    "reconcile_sentence",
    "to_last_measured",
]

NOT_MEASURED = "not measured"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass(frozen=True)
class Info:
    """What a section dict says beyond its funnel: the model is not measured (and why), steps the
    source cannot measure, the definition of its counts, its sale stage, whether it is the main
    model (report_api's sections; any may be missing)."""

    not_measured: str | None = None
    unmeasured: Mapping[str, str] = field(default_factory=dict)
    hint: str = ""
    count_label: str = ""
    sale: str | None = None
    main: bool = False
    #: what the funnel counts: customers, or chains under ``--count totals`` (``count_noun``)
    noun: str = "customers"
    #: one line each on the funnel's options (``options_notes``: what it counts, the column it holds)
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Info:
        why = raw.get("not_measured")
        steps = raw.get("unmeasured_steps")
        sale = raw.get("sale")
        return cls(
            not_measured=str(why) if why else None,
            unmeasured={str(k): str(v) for k, v in steps.items()} if isinstance(steps, Mapping) else {},
            hint=str(raw.get("unmeasured_hint") or ""),
            count_label=str(raw.get("count_label") or ""),
            sale=sale if isinstance(sale, str) else None,
            main=bool(raw.get("main")),
            noun=str(raw.get("count_noun") or "customers"),
            notes=tuple(str(n) for n in raw.get("options_notes") or ()),
        )

    @property
    def whole(self) -> bool:
        """Every step measured (the overall conversion means something)."""
        return self.not_measured is None and not self.unmeasured


def measured_steps(section: Section, info: Info) -> Section:
    """The section up to its first step that is not measured (for the charts)."""
    keep: list[Step] = []
    for step in section.steps:
        if step.name in info.unmeasured:
            break
        keep.append(step)
    return replace(section, steps=tuple(keep))


def to_last_measured(section: Section, info: Info) -> Section:
    """The section up to its last measured step, labelled so when shorter (the overview chart)."""
    shown = measured_steps(section, info)
    if info.whole or not shown.steps:
        return shown
    return replace(shown, label=f"{section.label} (to {shown.steps[-1].label})")


def _life_stage(lifecycle: Mapping[str, Any] | None) -> tuple[str, int | None] | None:
    """(label of the lifecycle's sale stage, customers who ever entered it), None without one."""
    if not isinstance(lifecycle, Mapping) or not isinstance(lifecycle.get("sale_stage"), str):
        return None
    sale = lifecycle["sale_stage"]
    for raw in lifecycle.get("stages") or []:
        if isinstance(raw, Mapping) and raw.get("stage") == sale:
            entered = raw.get("entered")
            return str(raw.get("label") or sale), entered if isinstance(entered, int) else None
    return None


def reconcile_sentence(section: Section, info: Info, lifecycle: Mapping[str, Any] | None) -> str | None:
    """One line, with both numbers, on why this funnel's buyers and the lifecycle's differ (none
    when the funnel counts chains: its sale count is not a number of buyers)."""
    life = _life_stage(lifecycle)
    if life is None or info.sale is None or info.sale in info.unmeasured or info.noun != "customers":
        return None
    step = next((s for s in section.steps if s.name == info.sale), None)
    if step is None or step.customers is None or life[1] is None:
        return None
    window = section.window or "the window"
    model = str((lifecycle or {}).get("model") or "the main model")
    return (
        f"Buyers, two definitions: {step.customers:,} reached {step.label} in order within {window} "
        f"({section.label} funnel); {life[1]:,} ever entered {life[0]}, in any order and with no window "
        f"(the lifecycle of {model}). The funnel counts only customers who passed every earlier stage, "
        f"in order, within {window} of their first; the lifecycle counts everyone with one of the stage's "
        "events."
    )


def not_measured_list(models: list[Section], infos: list[Info], blocks: Mapping[str, str]) -> tuple[str, str]:
    """The card that lists what the report could not measure, and its contents line."""
    items = [
        f'<li class="nm"><a href="#{s.anchor}">{_e(s.label)}</a>: {_e(i.not_measured)}</li>'
        for s, i in zip(models, infos, strict=True)
        if i.not_measured is not None
    ]
    items += [f'<li class="nm"><b>{_e(name)}</b>: {_e(why)}</li>' for name, why in blocks.items()]
    if not items:
        return "", ""
    return (
        '<section class="card nm" id="not-measured"><h2>Not measured</h2>'
        '<p class="note">The report shows no numbers for these sections (a count of zero would claim '
        "that nobody did it): the source has no events for them, or they cannot count what the options "
        "given ask for; each says why.</p>"
        f'<ul class="findings">{"".join(items)}</ul></section>'
    ), str(len(items))


def overview_counts(
    models: list[Section], infos: list[Info], lifecycle: Mapping[str, Any] | None
) -> str | None:
    """The reconciling line of the main model (else the first that has one), for the overview."""
    order = sorted(range(len(models)), key=lambda i: not infos[i].main)
    for i in order:
        line = reconcile_sentence(models[i], infos[i], lifecycle)
        if line:
            return line
    return None
