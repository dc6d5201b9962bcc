"""Journey models: named, ordered (funnel) or cyclic (hourglass, flywheel) lists of stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.steps import Step

__all__ = ["KINDS", "JourneyModel"]

KINDS: tuple[str, ...] = ("funnel", "hourglass", "flywheel", "custom")


@dataclass(frozen=True)
class JourneyModel:
    """A model: ``stages`` in their ideal order. ``kind`` says how to draw and read it: a funnel
    ends at the sale, an hourglass widens again after it, a flywheel loops back to the start.
    ``sale`` names the stage where a customer becomes a purchaser; ``purchases`` lists the events
    that count as purchases (first and repeat) for after-sale metrics."""

    name: str
    kind: str
    stages: tuple[Step, ...]
    label: str = ""
    description: str = ""
    source: str = ""
    sale: str | None = None
    purchases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(
                f"model '{self.name}': unknown kind '{self.kind}'{did_you_mean(self.kind, KINDS)}",
                code="HG105",
                hint="kind is one of: " + ", ".join(KINDS),
            )
        if not self.stages:
            raise SpecError(
                f"model '{self.name}' has no stages",
                code="HG105",
                hint="list the stages under 'stages:' (see hourglass models show hourglass)",
            )
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SpecError(
                f"model '{self.name}': stage names repeat: {', '.join(dupes)}",
                code="HG105",
                hint="give every stage its own name",
            )
        if self.sale is not None and self.sale not in names:
            raise SpecError(
                f"model '{self.name}': the sale stage '{self.sale}' is not one of its stages"
                f"{did_you_mean(self.sale, names)}",
                code="HG105",
                hint="stages: " + ", ".join(names),
            )

    @property
    def sale_index(self) -> int | None:
        """0-based index of the sale stage (None when the model names none)."""
        if self.sale is None:
            return None
        return [s.name for s in self.stages].index(self.sale)

    @property
    def purchase_step(self) -> Step | None:
        """The step an event must match to count as a purchase: the ``purchases`` events if given,
        else the sale stage itself (its globs and filters included); None without either."""
        if self.purchases:
            return Step("purchases", self.purchases)
        if self.sale is None:
            return None
        return self.stage(self.sale)

    @property
    def purchase_events(self) -> tuple[str, ...]:
        """Events that count as a purchase (repeat rate, purchases per customer): ``purchases`` if
        given, else the sale stage's event names (empty when there is no sale stage)."""
        if self.purchases:
            return self.purchases
        if self.sale is None:
            return ()
        return self.stage(self.sale).events

    def stage(self, name: str) -> Step:
        for s in self.stages:
            if s.name == name:
                return s
        names = [s.name for s in self.stages]
        raise SpecError(
            f"model '{self.name}' has no stage '{name}'{did_you_mean(name, names)}",
            code="HG106",
            hint="its stages: " + ", ".join(names),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> JourneyModel:
        check_keys(
            data,
            ("name", "label", "kind", "description", "stages", "sale", "purchases"),
            where=source or "a model",
        )
        for key in ("name", "stages"):
            if key not in data:
                raise SpecError(
                    f"{source or 'the model'}: missing '{key}'",
                    code="HG105",
                    hint="a model file needs name and stages (see hourglass models show hourglass)",
                )
        stages = data["stages"]
        if not isinstance(stages, list):
            raise SpecError(
                f"{source or 'the model'}: 'stages' must be a list",
                code="HG105",
                hint="write each stage as a list item under 'stages:' (- name: ...)",
            )
        return cls(
            name=str(data["name"]),
            kind=str(data.get("kind", "funnel")),
            stages=tuple(Step.of(s) for s in stages),
            label=str(data.get("label", "")),
            description=str(data.get("description", "")).strip(),
            source=source,
            sale=None if data.get("sale") is None else str(data["sale"]),
            purchases=tuple(str(e) for e in (data.get("purchases") or ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "description": self.description,
            "stages": [s.to_dict() for s in self.stages],
            **({"sale": self.sale} if self.sale else {}),
            **({"purchases": list(self.purchases)} if self.purchases else {}),
        }
