"""``hourglass demo``: the whole product on a simulated shop, end to end."""

from __future__ import annotations

import click
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hourglass.interfaces.cli._common import handle_errors, stdout_console
from hourglass.model.presets import PRESETS

__all__ = ["demo_cmd"]


@click.command("demo")
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="customers to simulate (at least 1)",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="random seed (same seed, same shop)",
)
@click.option(
    "--out",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="where to write demo.duckdb, events.parquet, spend.csv and report.html",
)
@handle_errors
def demo_cmd(customers: int, seed: int, out_dir: str) -> None:
    """Simulate an online shop, run the funnel of every built-in model, the hourglass lifecycle and
    the journey analyses, and write an HTML report."""
    from hourglass.interfaces.demo import (  # not at import
        DEMO_WINDOW,
        largest_loss,
        prepare_out_dir,
        run_demo,
    )

    prepare_out_dir(out_dir)  # a directory that cannot be written fails before the progress display
    console = stdout_console()
    total = 4 + len(PRESETS) + 5  # + lifecycle and the four journey analyses
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=total)
        seen = [0]

        def step(msg: str) -> None:
            if seen[0]:
                progress.advance(task)
            seen[0] += 1
            progress.update(task, description=msg)

        run = run_demo(out_dir, customers=customers, seed=seed, step=step)
        progress.update(task, completed=total, description="done")
    table = Table(
        title=f"Every model on one event log (window {DEMO_WINDOW})",
        title_justify="left",
        header_style="bold",
    )
    for col in ("model", "entered", "reached the end", "overall", "largest loss"):
        table.add_column(col, justify="left" if col in ("model", "largest loss") else "right")
    for name, result in run.results.items():
        rows = result.rows()
        first, last = rows[0], rows[-1]
        loss = largest_loss(result)
        conv = last["conversion_from_first"]
        table.add_row(
            f"{PRESETS[name].label} ({len(rows)} stages)",
            f"{first['customers']:,} at {first['step']}",
            f"{last['customers']:,} at {last['step']}",
            "-" if conv is None else f"{100 * conv:.1f}%",
            f"{loss[0]} → {loss[1]}: {100 * loss[2]:.0f}% lost" if loss else "-",
        )
    console.print(table)
    if run.lifecycle is not None:
        life = run.lifecycle.to_dict()
        k = life.get("k_factor")
        console.print(
            f"hourglass: {life['purchasers']:,} purchasers of {life['customers']:,} customers; "
            f"repeat rate {100 * (life.get('repeat_rate') or 0):.1f}%; "
            f"K-factor {'-' if k is None else f'{k:.3f}'}"
        )
    console.print(f"{run.events:,} events, {run.customers:,} customers, {run.seconds:.1f} s")
    if run.timings:
        console.print("  " + ", ".join(f"{name} {sec:.1f} s" for name, sec in run.timings.items()))
    console.print(f"events: {run.duckdb_path} (table events) and {run.parquet_path}")
    if run.spend_path is not None:
        console.print(f"spend:  {run.spend_path}")
    console.print(f"report: [bold]{run.report_path.resolve()}[/]")
    console.print(f"next:   hourglass funnel {run.duckdb_path} --model hourglass --by channel")
