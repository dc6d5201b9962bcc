"""``hourglass models``: the built-in journey models."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml
from rich.table import Table

from hourglass.ingest.config import load_model
from hourglass.interfaces.cli._common import handle_errors, stdout_console
from hourglass.model.presets import PRESETS

__all__ = ["models_cmd"]


@click.group("models", invoke_without_command=True)
@click.pass_context
def models_cmd(ctx: click.Context) -> None:
    """List the built-in journey models (show one with: hourglass models show NAME)."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(header_style="bold")
    for col in ("name", "kind", "label", "stages"):
        table.add_column(col)
    for m in PRESETS.values():
        table.add_row(m.name, m.kind, m.label, " → ".join(s.name for s in m.stages))
    stdout_console().print(table)


@models_cmd.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@handle_errors
def show_cmd(name: str, fmt: str) -> None:
    """Print a model as a file you can copy, edit and pass to --model."""
    model = load_model(name)
    data: dict[str, Any] = model.to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"# hourglass journey model '{model.name}'. Save as {model.name}.yaml, map the events to\n"
        "# your own names and use it with: hourglass funnel SOURCE --model "
        f"{model.name}.yaml\n# stage keys: name, label, events (names or globs with * ?), "
        "where (e.g. 'revenue > 0')"
    )
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), nl=False)
