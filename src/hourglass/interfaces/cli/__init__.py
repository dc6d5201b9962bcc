"""``hourglass`` command line. Each command is a thin renderer of the Python API's results."""

from __future__ import annotations

import click

from hourglass import __version__
from hourglass.interfaces.cli.demo import demo_cmd
from hourglass.interfaces.cli.funnel import funnel_cmd
from hourglass.interfaces.cli.ingest import ingest_cmd
from hourglass.interfaces.cli.journeys import (
    followers_cmd,
    journey_cmd,
    journeys_cmd,
    paths_cmd,
    transitions_cmd,
)
from hourglass.interfaces.cli.lifecycle import lifecycle_cmd
from hourglass.interfaces.cli.models import models_cmd
from hourglass.interfaces.cli.validate import validate_cmd

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="hourglass")
def cli() -> None:
    """hourglass: customer-journey analytics (funnel, hourglass, flywheel, ...) on DuckDB or Spark."""


for _cmd in (
    funnel_cmd,
    lifecycle_cmd,
    journeys_cmd,
    transitions_cmd,
    paths_cmd,
    journey_cmd,
    followers_cmd,
    ingest_cmd,
    validate_cmd,
    models_cmd,
    demo_cmd,
):
    cli.add_command(_cmd)


def main() -> None:
    cli(prog_name="hourglass")
