"""Issue 11 tried from outside, as a new user with only the README: a shop's own clickstream (event
names nobody here chose), a suggested model, the report and the dashboard on it. Each test is a
finding of that walk-through that failed before its fix."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli import cli
from hourglass.interfaces.cli.serve import serve_cmd
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.model.draft import draft_model
from hourglass.model.event_stats import EventProfile, EventStat

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# a small clickstream in the style of a real shop's export (user_id, event, timestamp; its own names)
JOURNEYS = {
    "u1": ["catalog", "product1", "cart", "payment_done", "refund"],
    "u2": ["main", "catalog", "product2", "cart", "payment_done"],
    "u3": ["catalog", "product1", "catalog"],
    "u4": ["main", "catalog", "cart"],
    "u5": ["catalog", "product2", "cart", "payment_done"],
    "u6": ["main"],
}
MODEL = """\
name: my-shop
label: My shop
kind: funnel
sale: bought
stages:
- name: browse
  label: Browse
  events: [catalog, main]
- name: look
  label: Look at a product
  events: ['product*']
- name: basket
  label: Basket
  events: [cart]
- name: bought
  label: Bought
  events: [payment_done]
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("outside")
    lines = ["user_id,event,timestamp"]
    for day, (user, events) in enumerate(JOURNEYS.items(), start=1):
        lines += [f"{user},{e},2024-03-{day:02d} 10:{m:02d}:00" for m, e in enumerate(events)]
    path = folder / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    (folder / "my_model.yaml").write_text(MODEL)
    return path


def test_serve_takes_the_users_model(shop: Path) -> None:
    """`hourglass serve shop.csv --model my_model.yaml`: the hourglass and journeys pages use it
    (before, serve had no --model: those pages failed with HG117 on any log without the built-in
    models' events, and the overview did not show the user's model)."""
    model = str(shop.parent / "my_model.yaml")
    src = load_source(str(shop), models=[model])
    assert src.default_model == model
    with TestClient(create_app(src), base_url="http://127.0.0.1") as client:
        for page in ("/lifecycle", "/journeys"):
            r = client.get(page)
            assert r.status_code == 200, r.text
            assert "Look at a product" in r.text or "look" in r.text
            assert f'value="{model}"' in r.text  # the form shows the model in use
            assert re.search(r'<datalist id="hg-models"><option value="[^"]*my_model.yaml">', r.text)
        overview = client.get("/")
        assert overview.status_code == 200
        first = overview.text.find("My shop")
        assert 0 <= first < overview.text.find("Sales funnel")  # the user's model comes first
        # another model in the URL still wins, and the default is not written into links
        r = client.get("/lifecycle?model=aida")
        assert r.status_code == 400 and "HG117" in r.text


def test_serve_checks_its_models_before_listening(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hourglass.interfaces.dashboard.server as server

    calls: list[Any] = []
    monkeypatch.setattr(server, "run", lambda *a: calls.append(a))
    r = CliRunner().invoke(serve_cmd, [str(shop), "--model", "no_such_model"])
    assert r.exit_code == 2 and "HG106" in r.output and not calls
    r = CliRunner().invoke(serve_cmd, [str(shop), "--model", str(shop.parent / "my_model.yaml")])
    assert r.exit_code == 0, r.output
    assert calls


def test_report_set_measures_after_sale(shop: Path, tmp_path: Path) -> None:
    """The report's "not measured" tiles say "name yours with --set remorse_events=EVENT": the
    report now takes --set like lifecycle (before: "No such option '--set'")."""
    out = tmp_path / "r.html"
    model = str(shop.parent / "my_model.yaml")
    args = ["report", str(shop), "--model", model, "--out", str(out)]
    r = CliRunner().invoke(cli, [*args, "--set", "remorse_events=refund"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    tile = html[html.index(">Buyer&#x27;s remorse<") :][:120]
    assert "not measured" not in tile and "33.3%" in tile  # 1 of 3 purchasers refunded
    r = CliRunner().invoke(cli, [*args, "--set", "remorse_events"])
    assert r.exit_code == 2 and "HG120" in r.output


def test_a_suggested_models_label_has_no_folders() -> None:
    """The draft's label is shown in chart axes and the contents: 'Suggested from shop.csv', not
    'Suggested from /home/me/exports/shop.csv' (cut to 'Suggested from /home/m...')."""
    stats = (EventStat("visit", 10, 5, 5, 0.0), EventStat("purchase", 3, 2, 0, 1.0))
    for source in ("/home/me/exports/shop.csv", r"C:\exports\shop.csv", "shop.csv"):
        model = draft_model(EventProfile(stats, 5, 13, 2, source=source)).model
        assert model.label == "Suggested from shop.csv"


def test_suggest_table_shares_round_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,356 of 3,751 customers is 36.15...%: the table said 36.1% (the JSON's 4 digits, 0.3615,
    rounded again) while the model file's comment said 36.2%."""
    from hourglass.interfaces.cli import models as models_cli

    stats = (
        EventStat("catalog", 9000, 3751, 3751, 0.0),
        EventStat("delivery_choice", 1686, 1356, 0, 0.5),
        EventStat("payment_done", 706, 653, 0, 1.0),
    )
    profile = EventProfile(stats, 3751, 11392, 3, source="shop.csv")
    suggestion = draft_model(profile)
    printed: list[str] = []
    monkeypatch.setattr(models_cli, "stdout_console", lambda: _Recorder(printed))
    models_cli._tables(suggestion, None)
    row = next(line for line in "\n".join(printed).splitlines() if "delivery_choice" in line)
    assert "36.2%" in row, row


class _Recorder:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def print(self, obj: Any, *args: Any, **kwargs: Any) -> None:
        from rich.console import Console

        console = Console(width=200, record=True)
        with console.capture() as cap:
            console.print(obj)
        self.into.append(cap.get())


def test_models_help_lists_whole_descriptions() -> None:
    r = CliRunner().invoke(cli, ["models", "--help"], terminal_width=80)
    listed = r.output.split("Commands:", 1)[1]
    assert "..." not in listed, listed


HELPED = ["funnel", "journeys", "paths", "transitions", "journey", "followers", "models suggest", "serve"]


@pytest.mark.parametrize("command", HELPED)
def test_help_names_the_kind_of_value(command: str) -> None:
    """docs/cli.md's value kinds (TIME, COLUMN, NAME|FILE, STAGE, N...) in --help, not click's
    generic TEXT / INTEGER."""
    r = CliRunner().invoke(cli, [*command.split(), "--help"], terminal_width=120)
    assert r.exit_code == 0
    generic = re.findall(r"^\s+(--[a-z-]+(?:, --[a-z-]+)?) (TEXT|INTEGER)\b", r.output, re.M)
    assert not generic, generic


def test_order_alone_stages_keep_the_event_name_as_label() -> None:
    """'Seite ansehen' becomes the stage id Seite_ansehen; charts and the report show the label,
    which was the id with its underscores."""
    stats = (EventStat("Seite ansehen", 3, 3, 3, 0.0), EventStat("Kauf abgeschlossen", 1, 1, 0, 1.0))
    model = draft_model(EventProfile(stats, 3, 4, 2, source="de.csv")).model
    assert [(s.name, s.label) for s in model.stages] == [
        ("Seite_ansehen", "Seite ansehen"),
        ("Kauf_abgeschlossen", "Kauf abgeschlossen"),
    ]


def test_report_journey_map_and_funnel_table_fit(shop: Path, tmp_path: Path) -> None:
    """A source without a channel drew a 'channel: (none)' legend over the journey map; the funnel
    table's 'Customers reached ... in order within 90d' header did not wrap and pushed the table
    past its card."""
    from hourglass.interfaces.reports._journey_charts import journey_map_figure

    out = tmp_path / "r.html"
    model = str(shop.parent / "my_model.yaml")
    r = CliRunner().invoke(cli, ["report", str(shop), "--model", model, "--out", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert '<th rowspan="2" class="count">' in html and "th.count { white-space: normal" in html
    timeline: list[dict[str, Any]] = [
        {"timestamp": "2024-03-01T10:00:00", "stages": ["browse"], "event": "catalog"},
        {"timestamp": "2024-03-01T10:01:00", "stages": ["look"], "event": "product1", "channel": None},
    ]
    journey = {"customer": "u1", "timeline": timeline}
    fig = journey_map_figure(journey, ["browse", "look"], labels={"look": "Look at a product"})
    assert list(fig.data[1].y) == ["browse", "Look at a product"] and not fig.layout.showlegend
    with_channel = {"customer": "u1", "timeline": [{**e, "channel": "ads"} for e in timeline]}
    assert journey_map_figure(with_channel, ["browse", "look"]).layout.showlegend


def test_cli_journey_text_on_a_source_without_channels(shop: Path) -> None:
    """`journey --sample` printed a channel column of '-' on a source with no channel, times to the
    microsecond and counts without separators; followers' 'as of' likewise."""
    model = str(shop.parent / "my_model.yaml")
    r = CliRunner().invoke(cli, ["journey", str(shop), "--model", model, "--sample", "1", "--clusters", "1"])
    assert r.exit_code == 0, r.output
    assert "channel" not in r.output and re.search(r"  browse\s+2024-03-0\dT10:00:00\s", r.output), r.output
    r = CliRunner().invoke(cli, ["followers", str(shop), "--model", model])
    assert r.exit_code == 0 and re.search(r"as of\s+2024-03-06T10:00:00\)", r.output), r.output


def test_paths_note_says_nothing_of_no_other_paths() -> None:
    """'the other 0 took 0 other paths' when the top paths are all of them."""
    from hourglass.interfaces.reports._journeys_section import _paths_note

    paths = {
        "customers": 3,
        "depth": 4,
        "top": [{"path": ["a"], "customers": 3}],
        "other": {"customers": 0, "paths": 0},
    }
    note = _paths_note(paths)
    assert "3 customers (100.0%)" in note and "the other" not in note
    assert "the other 2 took 1 other paths" in _paths_note(
        {**paths, "customers": 5, "other": {"customers": 2, "paths": 1}}
    )


def test_stage_people_link_to_journeys_keeps_the_model(shop: Path) -> None:
    """On /lifecycle/people?model=FILE a customer linked to /journeys?customer=ID: the journeys page
    then used the default model (HG117 on a shop's own log)."""
    model = str(shop.parent / "my_model.yaml")
    with TestClient(create_app(load_source(str(shop))), base_url="http://127.0.0.1") as client:
        r = client.get("/lifecycle/people", params={"model": model, "stage": "browse", "kind": "entered"})
        assert r.status_code == 200, r.text
        link = re.search(r'href="(/journeys\?[^"]*customer=u1)"', r.text)
        assert link, r.text
        page = client.get(link.group(1).replace("&amp;", "&"))
        assert page.status_code == 200 and "HG117" not in page.text


def test_funnel_table_does_not_count_a_typo_as_zero(shop: Path) -> None:
    """`funnel shop.csv --steps catalog,kart,payment_done`: 'kart' matches no event, and the table
    printed 0 customers, 0.0% and 'dropped 5' for it and 0 for every step after it (the note came
    after the table, on stderr). Now those cells say not measured; an open funnel still counts the
    steps after it."""
    r = CliRunner().invoke(
        cli, ["funnel", str(shop), "--steps", "catalog,kart,payment_done"], terminal_width=200
    )
    assert r.exit_code == 0, r.output
    kart = next(line for line in r.output.splitlines() if "│ kart" in line)
    after = next(line for line in r.output.splitlines() if "│ payment_done" in line)
    assert (
        "not measured (no such event)" in kart
        and "0.0%" not in kart
        and re.search(r"│\s+0\s+│", kart) is None
    )
    assert "not measured (after kart)" in after and "0.0%" not in after
    assert "did you mean 'cart'" in r.output
    r = CliRunner().invoke(
        cli, ["funnel", str(shop), "--steps", "catalog,kart,payment_done", "--open"], terminal_width=200
    )
    after = next(line for line in r.output.splitlines() if "│ payment_done" in line)
    assert "not measured" not in after and re.search(r"│\s+3\s+│", after)


def test_dashboard_overview_says_how_to_serve_a_model(shop: Path) -> None:
    with TestClient(create_app(load_source(str(shop))), base_url="http://127.0.0.1") as client:
        page = client.get("/").text
    assert "not measured" in page and "hourglass serve SOURCE --model my.yaml" in page


def test_a_stage_named_after_a_preset_says_what_the_preset_calls_it() -> None:
    """The real shop's draft read 'desire: named like trial events (cart, ...)': the words of the
    lexicon's role, not of the stage; now it adds ', which aida calls desire'."""
    stats = (
        EventStat("catalog", 14518, 3611, 2686, 0.0),
        EventStat("product1", 1515, 1122, 0, 0.5),
        EventStat("cart", 2842, 1924, 0, 0.43),
        EventStat("payment_done", 706, 653, 0, 1.0),
    )
    s = draft_model(EventProfile(stats, 3751, 19581, 4, source="shop.csv"))
    reasons = {d.step.name: d.reason for d in s.stages}
    for name, reason in reasons.items():
        role = re.match(r"named like (\w+) events", reason)
        if role and role.group(1) != name:
            assert f"which {s.preset} calls {name}" in reason, reasons
    assert any("calls" in r for r in reasons.values()), reasons


@pytest.mark.parametrize("command", ["journeys", "paths", "transitions", "followers", "journey"])
def test_journey_commands_print_their_notes(command: str, shop: Path) -> None:
    """A model stage no event matches ('wishlist'): its note, with the closest names, was only in
    the JSON's meta; the tables printed without it."""
    model = shop.parent / "partly.yaml"
    model.write_text(MODEL.replace("events: [cart]", "events: [cart]\n- name: wish\n  events: [wishlist]"))
    extra = ["--customer", "u1"] if command == "journey" else []
    r = CliRunner().invoke(cli, [command, str(shop), "--model", str(model), *extra])
    assert r.exit_code == 0, r.output
    assert "note: stage 'wish': no event named 'wishlist'" in r.output, r.output
