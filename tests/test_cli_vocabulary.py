"""One vocabulary across the command line (docs/cli.md): every option documented there, with help
text and the value kind the page gives it; examples in every command's help; renamed flags that fail
with a coded error naming the new one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# commands where a breakdown makes sense (docs/cli.md, "--by")
BY_COMMANDS = {"funnel", "lifecycle", "flywheel", "retention", "journeys", "paths", "transitions", "report"}
FORMATS = {
    frozenset({"table", "json", "csv"}),
    frozenset({"table", "json"}),
    frozenset({"yaml", "json"}),
}


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the CLI imports a command when it is used
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        path = (*prefix, name)
        yield " ".join(path), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)


COMMANDS = dict(_commands())


def _options(cmd: click.Command, *, hidden: bool = False) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and p.hidden == hidden and p.name != "help"]


def _long(opt: click.Option) -> list[str]:
    return [o for o in [*opt.opts, *opt.secondary_opts] if o.startswith("--")]


def _doc_table(heading: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows


DOCUMENTED = {
    flag
    for row in _doc_table("Every flag")
    for flag in re.findall(r"`(--[a-z][a-z-]*)`", row[0] + " " + row[2])
}


def test_the_doc_lists_flags() -> None:
    assert {"--steps", "--out", "--by", "--depth", "--goal", "--customers"} <= DOCUMENTED


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented_and_has_help(name: str) -> None:
    cmd = COMMANDS[name]
    for opt in _options(cmd):
        assert opt.help and opt.help.strip(), f"{name} {opt.opts}: no help text"
        for flag in _long(opt):
            assert flag in DOCUMENTED, f"{name} {flag}: not in docs/cli.md's table"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_flags_mean_one_thing(name: str) -> None:
    for opt in _options(COMMANDS[name]):
        flags = set(_long(opt))
        t = opt.type
        if "--steps" in flags:
            assert t is click.STRING, f"{name} --steps must be a comma list, not {t.name}"
        if "--depth" in flags or "--size" in flags or "--top" in flags:
            assert isinstance(t, click.types.IntParamType), f"{name} {flags}: a number"
        if "--out" in flags or "--customers" in flags:
            assert isinstance(t, click.Path) and not t.dir_okay, f"{name} {flags}: a file, not a directory"
        if "--out-dir" in flags:
            assert isinstance(t, click.Path) and not t.file_okay, f"{name} --out-dir: a directory"
        if "--format" in flags:
            assert isinstance(t, click.Choice) and frozenset(t.choices) in FORMATS, f"{name} --format"
        assert "--sale-stage" not in flags, f"{name}: --sale-stage is --goal"


@pytest.mark.parametrize("name", sorted(BY_COMMANDS))
def test_by_wherever_a_breakdown_makes_sense(name: str) -> None:
    flags = {f for opt in _options(COMMANDS[name]) for f in _long(opt)}
    assert "--by" in flags


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_examples(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output, f"{name}: no examples in --help"
    after = result.output.split("Examples:", 1)[1]
    examples = [line.strip() for line in after.splitlines() if line.strip().startswith("hourglass ")]
    assert examples, f"{name}: the examples block has no 'hourglass ...' line"
    assert all(e.startswith(f"hourglass {name.split()[0]}") for e in examples[:1])


def test_top_level_help_is_whole_and_has_examples() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    assert "..." not in listed, "a command's description is cut in 'hourglass --help'"
    for name in cli.list_commands(click.Context(cli)):
        assert re.search(rf"^\s+{name}\s", listed, re.M), name
    assert "Examples:" in result.output


RENAMED = [row[:3] for row in _doc_table("Renamed flags")]


@pytest.mark.parametrize(("old", "new", "command"), RENAMED, ids=[r[0] + "/" + r[2] for r in RENAMED])
def test_renamed_flags_fail_naming_the_new_one(old: str, new: str, command: str, tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_text("customer_id,event,timestamp\nc1,visit,2024-01-01 10:00:00\n", encoding="utf-8")
    old_flag, _, old_value = old.strip("`").partition(" ")
    new_flag = new.strip("`").split(" ")[0]
    value = {"N": "5", "DIR": str(tmp_path / "d")}.get(old_value, old_value or "sale")
    for cmd in (c.strip() for c in command.split(",")):
        args = [cmd] + ([] if cmd == "demo" else [str(source)]) + [old_flag, value]
        result = CliRunner().invoke(cli, args)
        text = result.output  # stdout and stderr as a terminal shows them
        assert result.exit_code == 2, f"{args}: {text}"
        assert new_flag in text, f"{args}: the error does not name {new_flag}: {text}"
        assert not (tmp_path / "d").exists()
