"""Every command that takes a model checks it against the source's event names first (issue 11):
a model of another shop's names is HG117 with the source's own events, never tables of zeros; a
stage that matches nothing is a note in ``meta.notes`` with the closest names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces import journeys_api
from hourglass.interfaces.cli import cli
from hourglass.model.errors import HourglassError

SHOP = """customer_id,event,timestamp
a,catalog,2024-01-01 10:00:00
a,product1,2024-01-01 10:01:00
a,cart,2024-01-01 10:02:00
a,payment_done,2024-01-01 10:03:00
b,catalog,2024-01-02 10:00:00
b,product2,2024-01-02 10:01:00
c,main,2024-01-03 10:00:00
"""
# two of the hourglass's events renamed: awareness and sale match, the rest do not
PARTLY = SHOP.replace("catalog", "visit").replace("payment_done", "purchase")

ANALYSES: dict[str, Callable[..., Any]] = {
    "journeys": journeys_api.journeys,
    "transitions": journeys_api.transitions,
    "paths": journeys_api.paths,
    "journey": lambda src, model: journeys_api.journey(src, model, customer="a"),
    "followers": journeys_api.followers,
    "lifecycle": hourglass.lifecycle,
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    path.write_text(SHOP, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_a_model_matching_no_event_is_hg117(name: str, shop: Path) -> None:
    with pytest.raises(HourglassError) as e:
        ANALYSES[name](str(shop), "hourglass")
    assert e.value.code == "HG117"
    assert "catalog" in (e.value.hint or "")
    assert "models suggest" in (e.value.hint or "")


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_stages_matching_nothing_are_notes(name: str, tmp_path: Path) -> None:
    path = tmp_path / "partly.csv"
    path.write_text(PARTLY, encoding="utf-8")
    result = ANALYSES[name](str(path), "hourglass")
    notes = result.to_dict()["meta"]["notes"]
    assert any("stage 'interest'" in n for n in notes), notes
    assert not any("stage 'awareness'" in n for n in notes), notes


@pytest.mark.parametrize("command", ["journeys", "paths", "transitions", "followers", "lifecycle", "funnel"])
def test_the_cli_says_so_and_exits_2(command: str, shop: Path) -> None:
    args = [command, str(shop), "--model", "hourglass"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "HG117" in result.output and "catalog" in result.output


@pytest.mark.parametrize("command", ["journeys", "paths", "lifecycle"])
def test_the_cli_prints_the_notes(command: str, tmp_path: Path) -> None:
    path = tmp_path / "partly.csv"
    path.write_text(PARTLY, encoding="utf-8")
    result = CliRunner().invoke(cli, [command, str(path), "--model", "hourglass"])
    assert result.exit_code == 0, result.output
    assert "note: stage 'interest'" in result.output
