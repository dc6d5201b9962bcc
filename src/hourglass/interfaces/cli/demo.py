"""``hourglass demo``: the whole product on a simulated shop, end to end."""

from __future__ import annotations

import click
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hourglass.interfaces.cli._common import handle_errors, stdout_console
from hourglass.model.errors import SpecError
from hourglass.model.presets import PRESETS

__all__ = ["MAX_SIZE", "demo_cmd", "renamed_flag"]

#: the most customers the demo simulates: the simulator holds them in memory, about 1 KB each (100,000
#: customers: 240 MB and 10 s); 10**23 was HG699 and 10**9 would run out of memory
MAX_SIZE = 1_000_000


def renamed_flag(old: str, new: str, example: str) -> SpecError:
    """The error of a flag's old spelling (docs/cli.md, "Renamed flags"): it names the new one."""
    return SpecError(
        f"{old} was renamed to {new}",
        code="HG150",
        hint=f"use {new}: {example}",
    )


@click.command("demo")
@click.option(
    "--size",
    type=click.IntRange(1, MAX_SIZE),
    default=50_000,
    show_default=True,
    help=f"how many customers to simulate (1 to {MAX_SIZE:,}; about 1 KB of memory each)",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="random seed (same seed, same shop)",
)
@click.option(
    "--out-dir",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="the directory of demo.duckdb, events.parquet, spend.csv and report.html",
)
@click.option("--customers", "old_customers", hidden=True, help="renamed: --size N")
@click.option("--out", "old_out", hidden=True, help="renamed: --out-dir DIR")
@handle_errors
def demo_cmd(size: int, seed: int, out_dir: str, old_customers: str | None, old_out: str | None) -> None:
    """Simulate an online shop, run the funnel of every built-in model, the hourglass lifecycle and
    the journey analyses, and write an HTML report (the same report as 'hourglass report').

    \b
    Examples:
      hourglass demo
      hourglass demo --size 5000 --seed 1 --out-dir small-demo
    """
    if old_customers is not None:
        raise renamed_flag("--customers N", "--size N", f"hourglass demo --size {old_customers}")
    if old_out is not None:
        raise renamed_flag("--out DIR", "--out-dir DIR", f"hourglass demo --out-dir {old_out}")
    from hourglass.interfaces.demo import (  # not at import
        DEMO_WINDOW,
        largest_loss,
        prepare_out_dir,
        run_demo,
    )

    prepare_out_dir(out_dir)  # a directory that cannot be written fails before the progress display
    console = stdout_console()
    total = 3 + len(PRESETS) + 6  # simulate, write, load; the funnels; lifecycle, 4 journeys, report
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

        run = run_demo(out_dir, size=size, seed=seed, step=step)
        progress.update(task, completed=total, description="done")
    table = Table(
        title=f"Every model on one event log (reached in order within {DEMO_WINDOW}; "
        "largest loss: the step that lost the most customers)",
        title_justify="left",
        header_style="bold",
    )
    for col in ("model", "entered", "reached the end", "overall", "largest loss"):
        table.add_column(col, justify="right" if col in ("entered", "reached the end", "overall") else "left")
    for name, result in run.results.items():
        rows = result.rows()
        first, last = rows[0], rows[-1]
        loss = largest_loss(result)
        conv = last["conversion_from_first"]
        table.add_row(
            f"{PRESETS[name].label} ({len(rows)} stages)",
            f"{first['customers']:,} at {first['step']}",
            f"{last['customers']:,} at {last['step']}",
            "-"
            if conv is None
            else (f"{100 * conv:.1f}%" if conv >= 0.001 or conv == 0 else f"{100 * conv:.2g}%"),
            f"{loss[0]} → {loss[1]}: {loss[3]:,} ({100 * loss[2]:.0f}%)" if loss else "-",
        )
    console.print(table)
    if run.lifecycle is not None:
        life = run.lifecycle.to_dict()
        k, repeat, buyers = life.get("k_factor"), life.get("repeat_rate"), life.get("purchasers")
        console.print(
            f"hourglass: {'not measured' if buyers is None else f'{buyers:,}'} purchasers "
            "(ever entered sale, any order) of "
            f"{life['customers']:,} customers; "
            f"repeat rate {'not measured' if repeat is None else f'{100 * repeat:.1f}%'}; "
            f"K-factor {'not measured' if k is None else f'{k:.3f}'}"
        )
    console.print(f"{run.events:,} events, {run.customers:,} customers, {run.seconds:.1f} s")
    if run.timings:
        console.print("  " + ", ".join(f"{name} {sec:.1f} s" for name, sec in run.timings.items()))
    console.print(f"events: {run.duckdb_path} (table events) and {run.parquet_path}")
    if run.spend_path is not None:
        console.print(f"spend:  {run.spend_path}")
    console.print(f"report: [bold]{run.report_path.resolve()}[/]")
    pq, spend = run.parquet_path, run.spend_path
    console.print(f"dashboard: hourglass serve {run.duckdb_path} --spend {spend}   (http://127.0.0.1:8050/)")
    console.print(f"next:   hourglass report {pq} --model aida --spend {spend} --out aida-report.html")
    console.print(f"        hourglass funnel {pq} --model hourglass --by channel")
    console.print(f"        hourglass lifecycle {pq} --spend {spend}")
    console.print(f"        hourglass journeys {pq} --by channel")
    console.print(f"        hourglass flywheel {pq} --spend {spend}")
    console.print(f"        hourglass attribution {pq} --spend {spend}")
    console.print(f"        hourglass models suggest {pq}")
