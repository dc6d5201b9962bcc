"""``hourglass funnel --view``: the funnel's other views, rendered by the modules that own them.

``steps`` is the funnel itself (interfaces/cli/funnel.py). ``trend``, ``time`` and ``events`` are
rendered by ``hourglass.interfaces.cli._funnel_trend.render`` (the funnel over time); ``dropoff``,
``between`` and ``correlation`` by ``hourglass.interfaces.cli._funnel_explore.render`` (the funnel
explained). Both take ``render(view, events, spec, options, fmt) -> str``: the loaded events, the
checked FunnelSpec, the FunnelViewOptions and the format; the text is written as it is."""

from __future__ import annotations

import importlib
from typing import Any

import click

from hourglass.model.errors import SpecError
from hourglass.model.spec import VIEWS, FunnelSpec, FunnelViewOptions

__all__ = ["TAKES", "VIEW_MODULES", "check_view_options", "echo_or_write", "render_view", "resolve_at"]

#: the module (under hourglass.interfaces.cli) that renders each view
VIEW_MODULES = {
    "trend": "_funnel_trend",
    "time": "_funnel_trend",
    "events": "_funnel_trend",
    "dropoff": "_funnel_explore",
    "between": "_funnel_explore",
    "correlation": "_funnel_explore",
}

#: the view options (flags) each view takes; another one given is HG125, never ignored silently
TAKES: dict[str, frozenset[str]] = {
    "steps": frozenset(),
    "trend": frozenset({"--period"}),
    "time": frozenset(),
    "events": frozenset({"--session-gap"}),
    "dropoff": frozenset({"--at", "--top", "--depth"}),
    "between": frozenset({"--at", "--top", "--depth"}),
    "correlation": frozenset({"--at", "--top", "--properties", "--to"}),
}
assert set(TAKES) == set(VIEWS) and set(VIEW_MODULES) == set(VIEWS) - {"steps"}


def check_view_options(view: str, given: dict[str, Any]) -> None:
    """HG125 when a view option (``--period``, ``--at``, ...) is given to a view that does not take it,
    or a view's own option goes with ``--show-sql`` (the SQL is the funnel's only)."""
    for flag, value in given.items():
        if value is not None and flag not in TAKES[view]:
            takers = [v for v in VIEWS if flag in TAKES[v]]
            raise SpecError(
                f"{flag} does not apply to --view {view}",
                code="HG125",
                hint=f"{flag} goes with --view {' or '.join(takers)}; drop it, or choose one of those views",
            )


def resolve_at(at: str | None, spec: FunnelSpec, flag: str = "--at") -> int | None:
    """``--at`` (or ``--to``): a step name or a 1-based number as the step's number (1..n), else HG124."""
    if at is None:
        return None
    n = len(spec.steps)
    names = [s.name for s in spec.steps]
    text = at.strip()
    if text.isdigit():
        k = int(text)
        if 1 <= k <= n:
            return k
        raise SpecError(
            f"{flag} {at}: the funnel has steps 1 to {n}",
            code="HG124",
            hint=f"give a step number from 1 to {n}, or a step name: {', '.join(names)}",
        )
    hits = [k for k, name in enumerate(names, start=1) if name == text]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise SpecError(
            f"{flag} {at}: the step name '{text}' is steps {', '.join(map(str, hits))}",
            code="HG124",
            hint=f"give the step's number instead: {flag} {hits[0]}",
        )
    from hourglass.model._suggest import did_you_mean

    raise SpecError(
        f"{flag} {at}: no step of the funnel is named '{text}'{did_you_mean(text, names)}",
        code="HG124",
        hint=f"give a step name ({', '.join(names)}) or a number from 1 to {n}",
    )


def render_view(view: str, events: Any, spec: FunnelSpec, options: FunnelViewOptions) -> str:
    """The view's text, from the module that renders it (HG125 when that module is not there yet)."""
    name = f"hourglass.interfaces.cli.{VIEW_MODULES[view]}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise SpecError(
            f"--view {view} is not built yet",
            code="HG125",
            hint="run the funnel's steps (drop --view, or --view steps) until this version has the view",
        ) from None
    text = module.render(view, events, spec, options, options.format)
    if not isinstance(text, str):
        raise TypeError(f"{name}.render returned {type(text).__name__}, not text")
    return text


def echo_or_write(text: str, out: str | None) -> None:
    """The view's text on stdout or in ``--out`` (whole or not at all), not when a file of the source
    changed while it was read (HG209)."""
    from hourglass.engine.snapshot import check_unchanged

    check_unchanged()
    if out:
        from hourglass.ingest.outputs import write_text_atomically

        write_text_atomically(out, text, option="--out")
    else:
        click.echo(text, nl=not text.endswith("\n"))
