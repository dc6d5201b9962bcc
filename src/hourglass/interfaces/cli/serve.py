"""``hourglass serve``: the dashboard on a source, in the browser."""

from __future__ import annotations

import secrets
import time
from typing import Any

import click

from hourglass.interfaces.cli._common import mapping_from, source_options, stderr

__all__ = ["serve_cmd"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.argument("source")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    metavar="N",
    default=8050,
    show_default=True,
    help="the port to listen on",
)
@click.option(
    "--host",
    metavar="ADDR",
    default="127.0.0.1",
    show_default=True,
    help="the address to listen on; any other than loopback needs a token (one is made if none is given)",
)
@click.option(
    "--token",
    envvar="HOURGLASS_TOKEN",
    metavar="TOKEN",
    help="required on every request (Authorization: Bearer TOKEN, or ?token=TOKEN once) "
    "[env: HOURGLASS_TOKEN]",
)
@click.option(
    "--spend",
    type=click.Path(dir_okay=False, exists=True),
    help="CSV of channel, period, cost: CAC and ROI on the hourglass page",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="NAME|FILE",
    help="a built-in model or a model file, repeatable: the pages offer it first, and the first is the "
    "hourglass and journeys pages' model [default: hourglass]",
)
@source_options
def serve_cmd(
    source: str,
    port: int,
    host: str,
    token: str | None,
    spend: str | None,
    models: tuple[str, ...],
    **kw: Any,
) -> None:
    """Every analysis of SOURCE as an interactive page in the browser (loopback only by default).

    Pages: every model side by side, the funnel builder (steps, window, dates, breakdown; click a
    bar for the customers behind it, as CSV), the hourglass, and the real journeys. Every view is
    a URL: bookmark it to save it. Load a store (hourglass ingest) for the fastest pages.

    \b
    Examples:
      hourglass serve demo-out/demo.duckdb
      hourglass serve shop.csv --port 8080
      hourglass serve shop.csv --model my_model.yaml
      hourglass serve store.duckdb --spend spend.csv
      HOURGLASS_TOKEN=s3cret hourglass serve store.duckdb --host 0.0.0.0
    """
    from hourglass.interfaces.dashboard import create_app, load_source
    from hourglass.interfaces.dashboard.server import run

    mapping = mapping_from(kw)
    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(18)
    started = time.perf_counter()
    src = load_source(
        source,
        columns=mapping,
        engine=kw["engine"],
        table=kw["table"],
        config=kw["config_path"],
        spend=spend,
        models=models,
    )
    app = create_app(src, token=token, loopback_only=host in LOOPBACK, persist=True, wait_s=1.0)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    stderr.print(
        f"{src.label}: {src.rows:,} events, {len(src.names)} event names, loaded in "
        f"{time.perf_counter() - started:.1f} s",
        markup=False,
    )
    stderr.print(f"dashboard: {url}  (Ctrl-C stops)", markup=False, soft_wrap=True)
    if host not in LOOPBACK:
        stderr.print(
            f"listening on {host}:{port}: from another machine, use this machine's address; every "
            "request needs the token",
            markup=False,
            soft_wrap=True,
        )
    run(app, host, port)
