"""Steps: which events put a customer in a funnel step or a model stage."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hourglass.model._suggest import check_keys
from hourglass.model.errors import SpecError

__all__ = ["OPERATORS", "Filter", "Step", "parse_filter"]

OPERATORS: tuple[str, ...] = ("==", "!=", ">=", "<=", ">", "<", "in", "not_in")
_FILTER_RE = re.compile(
    r"^\s*(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?P<op>==|!=|>=|<=|>|<|=|not\s+in\b|in\b)\s*(?P<value>.+?)\s*$"
)
_NAME_RE = re.compile(r"^[^\s,]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # no event name has one; NUL broke the engine's SQL (HG699)

Scalar = str | int | float | bool


def _scalar(text: str) -> Scalar:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Filter:
    """``column op value``; ``value`` is a tuple for ``in``/``not_in``. A filter on NULL never holds."""

    column: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise SpecError(
                f"unknown filter operator '{self.op}'",
                code="HG103",
                hint="use one of: " + ", ".join(OPERATORS),
            )
        if self.op in ("in", "not_in") and not isinstance(self.value, tuple):
            raise SpecError(
                f"'{self.op}' needs a list, e.g. channel in [ads, search]",
                code="HG103",
                hint="write the values in brackets: channel in [ads, search]",
            )

    def __str__(self) -> str:
        if isinstance(self.value, tuple):
            inner = ", ".join(_literal(v) for v in self.value)
            return f"{self.column} {self.op.replace('_', ' ')} [{inner}]"
        return f"{self.column} {self.op} {_literal(self.value)}"


def _literal(value: Scalar) -> str:
    """Text that parses back to the same value: strings that would read as numbers, booleans or
    contain separators are quoted."""
    if isinstance(value, str) and (
        _scalar(value) != value or any(c in value for c in ",[]'\" ") or not value
    ):
        return "'" + value + "'" if "'" not in value else '"' + value + '"'
    return str(value)


def parse_filter(text: str | Sequence[Any] | Filter) -> Filter:
    """Parse ``"revenue > 0"``, ``"channel in [ads, search]"`` or ``(column, op, value)``."""
    if isinstance(text, Filter):
        return text
    if not isinstance(text, str):
        if not isinstance(text, list | tuple) or len(text) != 3:
            raise SpecError(
                f"a filter is 'column op value', got {text!r}",
                code="HG103",
                hint="e.g. revenue > 0, channel = ads, channel in [ads, search]",
            )
        col, op, value = list(text)
        return Filter(str(col), str(op), tuple(value) if isinstance(value, list | tuple) else value)
    m = _FILTER_RE.match(text)
    if not m:
        raise SpecError(
            f"cannot read the filter '{text}'",
            code="HG103",
            hint="write it as 'column op value', e.g. 'revenue > 0' or 'channel in [ads, search]'",
        )
    op = re.sub(r"\s+", "_", m["op"])
    op = "==" if op == "=" else op
    raw = m["value"]
    if op in ("in", "not_in"):
        if not (raw.startswith("[") and raw.endswith("]")):
            raise SpecError(
                f"'{text}': the list must be in brackets, e.g. [ads, search]",
                code="HG103",
                hint="write the values in brackets: channel in [ads, search]",
            )
        items = tuple(_scalar(v) for v in raw[1:-1].split(",") if v.strip())
        return Filter(m["col"], op, items)
    return Filter(m["col"], op, _scalar(raw))


@dataclass(frozen=True)
class Step:
    """A funnel step or model stage: ``events`` are names or glob patterns (``*``, ``?``)."""

    name: str
    events: tuple[str, ...]
    where: tuple[Filter, ...] = ()
    label: str = ""
    #: a funnel step that counts when present and never blocks the chain (docs/semantics.md)
    optional: bool = False

    def __post_init__(self) -> None:
        if not self.name or not _NAME_RE.match(self.name):
            raise SpecError(
                f"invalid step name {self.name!r}: no spaces or commas",
                code="HG104",
                hint="use letters, digits, _ - . (a label may hold any text)",
            )
        if not self.events:
            raise SpecError(
                f"step '{self.name}' has no events",
                code="HG104",
                hint="give at least one event name or pattern",
            )
        for text in (self.name, *self.events):
            if _CONTROL.search(text):
                raise SpecError(
                    f"step {self.name!r}: {text!r} has a control character",
                    code="HG104",
                    hint="write the event names as they appear in the source, without control characters "
                    "(a NUL byte, a tab, a line break)",
                )
        for pattern in self.events:
            if not pattern or any(c in pattern for c in "[]"):
                raise SpecError(
                    f"step '{self.name}': invalid event pattern {pattern!r}",
                    code="HG104",
                    hint="patterns support only * (any characters) and ? (one character)",
                )

    @property
    def display(self) -> str:
        return self.label or self.name

    @classmethod
    def of(cls, item: str | Mapping[str, Any] | Step) -> Step:
        """A step from an event name, a dict (``name``, ``events``, ``where``, ``label``) or a Step."""
        if isinstance(item, Step):
            return item
        if isinstance(item, str):
            return cls(name=item, events=(item,))
        if not isinstance(item, Mapping):
            raise SpecError(
                f"a stage or step is a name or a mapping of name and events, not {item!r}",
                code="HG105",
                hint="write each stage as '- name: NAME' with 'events: [...]' under it, or as an event name "
                "(quote names YAML reads as numbers, booleans or null: '7', 'true', 'null')",
            )
        check_keys(item, ("name", "label", "events", "where", "optional"), where="a step")
        optional = item.get("optional", False)
        if not isinstance(optional, bool):
            raise SpecError(
                f"step '{item.get('name')}': optional is true or false, not {optional!r}",
                code="HG104",
                hint="write optional: true (or leave it out: a step is required by default)",
            )
        if "name" not in item:
            raise SpecError(
                "a step needs a 'name'",
                code="HG104",
                hint="give each step a name: {name: signup, events: [signup]}",
            )
        events = item.get("events", [item["name"]])
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list | tuple):
            raise SpecError(
                f"step '{item['name']}': events must be a name or a list of names, not {events!r}",
                code="HG104",
                hint="write events: [signup, register] (quote names YAML reads as numbers or booleans)",
            )
        for e in events:
            if isinstance(e, bool) or e is None:
                # YAML reads yes/no/on/off/true/false as booleans and ~ / null as nothing
                raise SpecError(
                    f"step '{item['name']}': the event {e!r} is not a name",
                    code="HG104",
                    hint="quote event names that YAML reads as booleans or null: "
                    "'yes', 'no', 'on', 'off', 'null'",
                )
        where = item.get("where", [])
        if not isinstance(where, list | tuple):
            where = [where]
        for w in where:
            if not isinstance(w, str | list | tuple | Filter):  # YAML's null, 7, true: a TypeError (HG699)
                raise SpecError(
                    f"step '{item['name']}': the filter {w!r} is not text",
                    code="HG103",
                    hint="write each filter as text, e.g. 'revenue > 0' or 'channel in [ads, search]'",
                )
        return cls(
            name=str(item["name"]),
            events=tuple(str(e) for e in events),
            where=tuple(parse_filter(w) for w in where),
            label=str(item.get("label", "")),
            optional=optional,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.label:
            data["label"] = self.label
        data["events"] = list(self.events)
        if self.where:
            data["where"] = [str(f) for f in self.where]
        if self.optional:
            data["optional"] = True
        return data
