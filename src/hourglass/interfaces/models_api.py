"""``hourglass.suggest_model(source)``: a journey model drafted from a source's event names, and the
model file to edit (docs/models.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hourglass.engine import Engine
from hourglass.ingest.config import Config, load_config
from hourglass.model.draft import Suggestion, draft_model
from hourglass.model.event_stats import EventProfile, EventStat
from hourglass.model.schema import ColumnMapping

__all__ = ["model_yaml", "set_aside_reason", "suggest_model", "write_model"]

#: the most event names listed and drafted from
MAX_TOP = 1000


def suggest_model(
    source: Any,
    *,
    name: str | None = None,
    top: int = 30,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> Suggestion:
    """A model drafted from the ``top`` event names by customers (``.model`` works wherever a model
    does; ``.profile`` is the evidence; :func:`model_yaml` writes it as a file to edit)::

        s = hourglass.suggest_model("shop.csv")
        print(hourglass.model_yaml(s))
        hourglass.funnel("shop.csv", model=s.model)
    """
    from hourglass.engine.event_names import event_profile
    from hourglass.interfaces.api import events
    from hourglass.model.errors import SpecError

    if not 1 <= top <= MAX_TOP:
        raise SpecError(
            f"top must be in 1..{MAX_TOP}, got {top}",
            code="HG132",
            hint="list from 1 to 1000 event names (--top 30 is the default)",
        )
    cfg = config if isinstance(config, Config) else load_config(config)
    ev = events(source, columns=columns, engine=engine, table=table, config=cfg)
    profile = event_profile(ev, top)
    return draft_model(profile, name=name or _default_name(source))


def _default_name(source: Any) -> str:
    if isinstance(source, str) and source:
        stem = Path(source.split(":", 1)[0] if ".duckdb:" in source else source).name.split(".", 1)[0]
        if stem and not any(c in stem for c in " ,*?[]"):
            return stem
    return "suggested"


def set_aside_reason(event: str, setting: str | None) -> str:
    """Why an event is not in the suggested stages."""
    if setting is None:
        return "a model's event patterns cannot hold [ or ]: match it with ? in their place"
    return f"after the sale or friction; lifecycle: --set {setting}={event}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _stat_line(s: EventStat, profile: EventProfile) -> str:
    pos = "no order (one-event journeys)" if s.position is None else f"typical position {s.position:.2f}"
    return (
        f"{s.event}: {s.customers:,} customers ({_pct(s.share(profile.customers))}), "
        f"first event for {_pct(s.first_share(profile.customers))}, {pos}"
    )


def _comment(text: str, indent: str = "") -> str:
    return "".join(f"{indent}# {line}".rstrip() + "\n" for line in text.splitlines())


def model_yaml(suggestion: Suggestion, *, source: str | None = None) -> str:
    """The suggested model as a YAML model file (``--model FILE`` reads it), with comments giving
    each stage's evidence: its events, their customers and typical positions."""
    p, m = suggestion.profile, suggestion.model
    where = source or p.source or "SOURCE"
    head = [
        f"hourglass journey model drafted by 'hourglass models suggest' from {where}",
        f"({p.customers:,} customers, {p.events:,} events, {p.names:,} event names).",
        "Edit it (stage names, labels, which events go where), then use it:",
        f"  hourglass funnel {where} --model THIS_FILE",
        "Stages are in the order customers typically reach them. Typical position: where an event first",
        "occurs among a customer's distinct events (0 = the journey's first, 1 = its last), the median",
        "over its customers. Stage keys: name, label, events (names or globs with * ?), where",
        "(e.g. 'revenue > 0'); 'sale' names the stage that makes a purchaser.",
    ]
    if suggestion.preset:
        head.append(
            f"Stage names follow the built-in model '{suggestion.preset}' where the event names allow."
        )
    head += [
        f"Not a stage: {event} ({set_aside_reason(event, setting)})"
        for event, setting in suggestion.set_aside
    ]
    if p.left_out:
        head.append(
            f"Not listed: {p.left_out:,} event names with fewer customers "
            f"(more with: hourglass models suggest {where} --top N)"
        )
    data = m.to_dict()
    stages = data.pop("stages")
    out = _comment("\n".join(head))
    out += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    out += "stages:\n"
    for stage, drafted in zip(stages, suggestion.stages, strict=True):
        evidence = [f"{stage['name']}: {drafted.reason}"]
        evidence += [f"  {_stat_line(s, p)}" for s in drafted.events]
        out += _comment("\n".join(evidence))
        out += yaml.safe_dump([stage], sort_keys=False, allow_unicode=True, width=100)
    return out


def write_model(suggestion: Suggestion, path: str | Path, *, source: str | None = None) -> None:
    """Write :func:`model_yaml` to ``path``, whole or not at all (a temporary file next to it, then
    renamed: a full disk leaves no half-written model); a coded error when it cannot be written."""
    from hourglass.ingest.outputs import write_text_atomically

    write_text_atomically(path, model_yaml(suggestion, source=source), option="--out")
