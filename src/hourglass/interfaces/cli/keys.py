"""``hourglass keys create|list|revoke``: the collector's write keys (docs/collector.md, "Keys")."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hourglass.interfaces.cli._common import handle_errors, rich_table, stderr, stdout_console

__all__ = ["keys_cmd"]

_DATA = click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="the collector's data directory (hourglass collect --data DIR)",
)


@click.group("keys")
def keys_cmd() -> None:
    """The collector's write keys: one per site or app, each writing into one project.

    The key is printed once by 'create'; DIR/keys.json keeps only its SHA-256. A revoked key is
    refused by a running collector from its next request on.

    \b
    Examples:
      hourglass keys create --data collector/ --project shop --name web
      hourglass keys list --data collector/
      hourglass keys revoke --data collector/ k_3f9a1c20be
    """


@keys_cmd.command("create")
@_DATA
@click.option(
    "--project",
    required=True,
    metavar="NAME",
    help="the project the key writes into (letters, digits, '_', '-'; it names the project's store)",
)
@click.option(
    "--name", default="", metavar="LABEL", help="a label for the key (where it is used: web, ios, ...)"
)
@handle_errors
def create_cmd(data: Path, project: str, name: str) -> None:
    """Create a write key of a project and print it (once: only its hash is kept).

    \b
    Examples:
      hourglass keys create --data collector/ --project shop
      hourglass keys create --data collector/ --project shop --name ios
    """
    from hourglass.interfaces.server.keys import KeyStore

    key, record = KeyStore(data).create(project, name)
    click.echo(key)
    stderr.print(
        f"key {record.id} of project {record.project!r} created; it is shown only now: keep it "
        "(revoke it with: hourglass keys revoke --data DIR " + record.id + ")",
        markup=False,
        soft_wrap=True,
    )


@keys_cmd.command("list")
@_DATA
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="output format",
)
@handle_errors
def list_cmd(data: Path, fmt: str) -> None:
    """Every key of the data directory: id, project, name, created, revoked (never the key itself).

    \b
    Examples:
      hourglass keys list --data collector/
      hourglass keys list --data collector/ --format json
    """
    from hourglass.interfaces.server.keys import KeyStore

    rows = KeyStore(data).as_rows()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        stderr.print(
            f"no keys in {data}: create one with hourglass keys create --data DIR --project P", markup=False
        )
        return
    columns = [
        (c, c, lambda v: "" if v is None else str(v)) for c in ("id", "project", "name", "created", "revoked")
    ]
    stdout_console().print(rich_table(rows, columns, title=f"keys of {data}"))


@keys_cmd.command("revoke")
@_DATA
@click.argument("key_id", metavar="KEY_ID")
@handle_errors
def revoke_cmd(data: Path, key_id: str) -> None:
    """Revoke a key by its id (or the key itself): refused from the collector's next request on.

    \b
    Examples:
      hourglass keys revoke --data collector/ k_3f9a1c20be
    """
    from hourglass.interfaces.server.keys import KeyStore

    record = KeyStore(data).revoke(key_id)
    stderr.print(f"key {record.id} of project {record.project!r} revoked at {record.revoked}", markup=False)
